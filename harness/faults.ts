// Fault injection for the reliability tests (test/reliability): NOTDNS_FAULT=<point>[,<point>...] makes a run fail
// on purpose at well-defined points, so every exit path of the runner (and its teardown) can be exercised without
// breaking a real tool. Only the runner reads it (harness/run/variant.ts, one call per point); unset, it does nothing.
//
//   up        right after the cluster is up (before the ENA simulator is installed)
//   ena       right after the ENA simulator is installed (before any workload starts)
//   deploy    after the Metrics Service is deployed, before the Alerting Engine starts
//   steady    at the start of a {steady} step
//   rollout   in the middle of a rollout: when the first old pod starts its graceful stop
//   observe   at the start of an {observe} step
//   recover   at the start of a {recover} step
//   collect   after the last step, before the results are assembled
//   uncaught  at a {steady} step, an exception thrown from a timer callback, outside any promise chain:
//             what a bug in an event handler looks like (the run must still be torn down and reported, exit 3)
//
// The injected error is a harness error (exit code 3, `error` set in results.json), exactly like a real failure at
// that point: teardown must still run, in reverse order of set-up, and leave nothing behind.
import { NotdnsError } from './errors.js';

export const FAULT_POINTS = ['up', 'ena', 'deploy', 'steady', 'rollout', 'observe', 'recover', 'collect', 'uncaught'] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

/** The fault points named by NOTDNS_FAULT (unknown names are an error: a typo must not silently test nothing). */
export function configuredFaults(env: string | undefined = process.env.NOTDNS_FAULT): Set<FaultPoint> {
  const names = (env ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names) {
    if (!(FAULT_POINTS as readonly string[]).includes(n)) {
      throw new NotdnsError(`NOTDNS_FAULT=${env}: "${n}" is not a fault point.`, {
        kind: 'usage',
        hint: `Use one or more of ${FAULT_POINTS.join(', ')} (comma-separated), or unset NOTDNS_FAULT.`,
      });
    }
  }
  return new Set(names as FaultPoint[]);
}

/** The error to raise at `point` when NOTDNS_FAULT names it, else undefined. */
export function fault(point: FaultPoint): NotdnsError | undefined {
  if (!configuredFaults().has(point)) return undefined;
  return new NotdnsError(`injected fault at "${point}" (NOTDNS_FAULT=${process.env.NOTDNS_FAULT}).`, {
    kind: 'harness',
    phase: point,
    hint: 'This failure was requested by the NOTDNS_FAULT environment variable (reliability tests); unset it for a real run.',
  });
}

/** NOTDNS_FAULT=uncaught: throw from a timer callback, an exception that no caller can catch. */
export function scheduleUncaught(): void {
  if (!configuredFaults().has('uncaught')) return;
  setTimeout(() => {
    throw new Error('injected uncaught exception (NOTDNS_FAULT=uncaught)');
  }, 10);
}
