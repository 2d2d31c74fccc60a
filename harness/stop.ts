// Stopping a run early, safely: stop conditions (`abort:` in an experiment), `notdns stop <run-id>` from another
// terminal, and the dead-man lease.
//  - A stop condition has the form of an expectation and is measured the same way (expect.ts measure()) on the
//    live series after every sample, window up to now. It TRIPS when it holds. No data = no trip. A promql stop
//    condition is asked of Prometheus every few seconds instead (probes/prometheus.ts PromqlStopWatch).
//  - On a trip (or `notdns stop`) the variant removes the fault first (every Alerting Engine pod stops its load,
//    the ENA simulator is detached), marks the time axis, then aborts and tears down as usual (run/variant.ts).
//    The run ends with exit code 4 (EXIT_STOPPED) and results.json's variant says `stopped`.
//  - `notdns stop` writes STOP_REQUEST into the variant's state dir and sends SIGUSR2 to the harness, whose pid
//    is in HARNESS_FILE; the harness checks the file on the signal and after every sample.
//  - Dead-man lease: the harness touches LEASE_FILE in the variant's state dir every second. On the lab the
//    Alerting Engine stops by itself when the lease is older than LEASE_SECONDS (--lease-file), and a watchdog
//    (harness/watchdog.ts) detaches the ENA simulator when the harness pid is gone or the lease expired.
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { holds, labelOf, measure, type TargetContext } from './expect.js';
import { promqlLabel } from './probes/prometheus.js';
import type { Marker, Series, VariantResult } from './results.js';
import type { Budget, StopCondition } from './spec/schema.js';

/** Exit code of a run stopped by a stop condition or by `notdns stop`. */
export const EXIT_STOPPED = 4;
/** The file `notdns stop` writes into a variant's state dir. */
export const STOP_REQUEST = 'stop-request';
/** The harness' pid and ids, in a variant's state dir while it runs. */
export const HARNESS_FILE = 'harness.json';
/** The dead-man lease: its mtime is renewed every second while the harness lives. */
export const LEASE_FILE = 'lease';
/** A lease older than this (seconds) means the harness is gone: whatever it started stops. */
export const LEASE_SECONDS = 5;

export interface Trip {
  condition: StopCondition;
  label: string;
  value: number;
}

/** The first stop condition that holds on the series recorded so far (up to `now`), or undefined. */
export function checkStopConditions(
  live: { series: Series[]; markers: Marker[]; now: number },
  conditions: readonly StopCondition[],
  ctx: TargetContext,
): Trip | undefined {
  if (conditions.length === 0) return undefined;
  const v = { series: live.series, markers: live.markers, durationSeconds: live.now } as VariantResult;
  for (const c of conditions) {
    if ('promql' in c) continue; // asked of Prometheus every few seconds (probes/prometheus.ts PromqlStopWatch)
    if ('budget' in c) {
      const spent = budgetSpent(c, v, live.now, ctx);
      if (spent !== null && spent >= c.value) return { condition: c, label: stopLabel(c), value: spent };
      continue;
    }
    const m = measure(v, c, ctx);
    if (m !== null && holds(m, c.op, c.value)) return { condition: c, label: stopLabel(c), value: m };
  }
  return undefined;
}

/** What a budget has spent so far: maxFaultSeconds = seconds since the probes started (the workloads' load and the
 *  ENA simulator are in place from then until the stop removes them); maxSynsSent = pure SYNs sent by every node
 *  (syn.out, counted by the ENA simulator; no data = no trip). */
export function budgetSpent(b: Budget, v: VariantResult, now: number, ctx: TargetContext): number | null {
  if (b.budget === 'maxFaultSeconds') return now;
  return measure(v, { probe: BUDGET_PROBE.maxSynsSent, target: 'sum', stat: 'total', window: 'all' }, ctx);
}

/** The probe a budget is measured on (none: the harness' own clock). */
export const BUDGET_PROBE = { maxFaultSeconds: undefined, maxSynsSent: 'syn.out' } as const;

/** "stop if <expectation label>", or "stop if budget maxSynsSent (50000) is spent". */
export function stopLabel(c: StopCondition): string {
  if ('promql' in c) return `stop if ${promqlLabel(c)}`;
  if ('budget' in c) return `stop if budget ${c.budget} (${c.value}${c.budget === 'maxFaultSeconds' ? ' s' : ''}) is spent`;
  return `stop if ${labelOf({ ...c })}`;
}

export interface HarnessInfo {
  pid: number;
  runId: string;
  vid: string;
  variant: string;
  startedAt: string;
}

export async function writeHarnessInfo(stateDir: string, info: HarnessInfo): Promise<void> {
  await writeFile(join(stateDir, HARNESS_FILE), JSON.stringify(info) + '\n');
}

/** The running variants under the state root that match `id` (a variant's id nd-<id>-*, or the run id). */
export async function findRunning(stateRoot: string, id: string): Promise<(HarnessInfo & { stateDir: string })[]> {
  const out: (HarnessInfo & { stateDir: string })[] = [];
  for (const d of await readdir(stateRoot).catch(() => [] as string[])) {
    const stateDir = join(stateRoot, d);
    let info: HarnessInfo;
    try {
      info = JSON.parse(await readFile(join(stateDir, HARNESS_FILE), 'utf8')) as HarnessInfo;
    } catch {
      continue;
    }
    if (info.vid !== id && info.runId !== id) continue;
    if (!pidAlive(info.pid)) continue;
    out.push({ ...info, stateDir });
  }
  return out;
}

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `notdns stop`: the request file, then SIGUSR2 (the harness also finds the file after its next sample). */
export async function requestStop(target: HarnessInfo & { stateDir: string }, who: string): Promise<void> {
  await writeFile(join(target.stateDir, STOP_REQUEST), JSON.stringify({ by: who, at: new Date().toISOString() }) + '\n');
  try {
    process.kill(target.pid, 'SIGUSR2');
  } catch {
    /* gone meanwhile: nothing to stop */
  }
}

/** The stop request in a state dir, if any (sync: called after every sample). */
export function stopRequested(stateDir: string): boolean {
  return existsSync(join(stateDir, STOP_REQUEST));
}
