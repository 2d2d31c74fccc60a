import { chromium, type BrowserContext } from 'playwright-core';
// Synthetic, realistic results for report tests: a rollout at t≈15 s, the old pod deleted at t≈28 s, then in
// `baseline` a SYN flood to its IP that exhausts the ENA conntrack allowance on the client node (DNS and gRPC
// errors follow), while `fix` (default gRPC backoff) sends a short burst that decays. Expectations are computed
// from the generated series with the report's own arithmetic, so tests never hard-code numbers.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../harness/paths.js';
import {
  RESULTS_SCHEMA_VERSION,
  type ExpectationResult,
  type Marker,
  type Results,
  type Series,
  type VariantResult,
} from '../../harness/results.js';
import { chartPoints, counterIncrease, counterRate, maxOf, minOf } from '../../harness/report/series.js';
import { rng } from '../rng.js';

export { rng };

export interface GenOptions {
  seed?: number;
  seconds?: number;
  variants?: ('baseline' | 'fix' | 'cilium-unreachable')[];
  /** Add a harness error (as if the run broke after the variants). */
  error?: boolean;
  /** Labels with characters that need escaping in XML/HTML. */
  nastyLabels?: boolean;
}

export const NODES = ['node1', 'node2', 'node3'];
const SERVER_NODE = 'node1',
  CLIENT_NODE = 'node3';

interface Timeline {
  rollout: number;
  ready: number;
  stopping: number;
  deleted: number;
  observe: number;
}

function timelineOf(seconds: number): Timeline {
  const k = seconds / 60;
  return { rollout: 15 * k, ready: 17 * k, stopping: 18 * k, deleted: 28 * k, observe: 30 * k };
}

/** Intensity of the SYN flood at time t (SYN/s) for a variant. */
function synRate(variant: string, t: number, tl: Timeline, r: () => number): number {
  if (t < tl.deleted) return 0;
  const since = t - tl.deleted;
  if (variant === 'baseline') return 11_000 + 2_500 * Math.sin(since / 4) + 800 * r();
  if (variant === 'fix') return Math.max(0, 320 * Math.exp(-since / 3) + 6 * r());
  return Math.max(0, 900 * Math.exp(-since / 1.5) + 10 * r()); // cilium-unreachable: fast failure, quick stop
}

function counter(probe: string, target: string, unit: string, rates: number[], dt: number): Series {
  let v = 0;
  const points: [number, number][] = rates.map((x, i) => {
    if (i > 0) v += x * dt;
    return [i * dt, Math.round(v)];
  });
  return { probe, target, unit, kind: 'counter', points };
}

function gauge(probe: string, target: string, unit: string, values: number[], dt: number): Series {
  return { probe, target, unit, kind: 'gauge', points: values.map((x, i) => [i * dt, Math.round(x * 10_000) / 10_000]) };
}

function makeVariant(name: string, seconds: number, r: () => number, startedAt: Date): VariantResult {
  const dt = 1;
  const n = Math.floor(seconds / dt) + 1;
  const ts = Array.from({ length: n }, (_, i) => i * dt);
  const tl = timelineOf(seconds);
  const syn = ts.map((t) => synRate(name, t, tl, r));
  const allowance = 4000;
  const series: Series[] = [];

  series.push(counter('syn.toOldPodIps', 'all', 'SYNs', syn, dt));
  for (const node of NODES) {
    const base = ts.map(() => 40 + 10 * r());
    const synIn = node === SERVER_NODE ? syn.map((x, i) => x + base[i]!) : base;
    series.push(counter('syn.in', node, 'SYNs', synIn, dt));
    series.push(counter('martian.drops', node, 'packets', node === SERVER_NODE ? syn.map((x) => x * 0.98) : ts.map(() => 0), dt));

    // The client node's ENA: every unanswered SYN is a new tracked flow.
    const flood = node === CLIENT_NODE;
    let tracked = 300 + 30 * r();
    const avail: number[] = [],
      trackedV: number[] = [],
      exceeded: number[] = [],
      newFlows: number[] = [];
    for (let i = 0; i < n; i++) {
      const incoming = (flood ? syn[i]! : 0) + 20 + 5 * r();
      const expire = tracked / 20; // unreplied flows idle out after ~20 s
      const room = allowance - tracked;
      const admitted = Math.min(incoming, Math.max(0, room + expire));
      tracked = Math.max(0, tracked + admitted - expire);
      trackedV.push(tracked);
      avail.push(Math.max(0, allowance - tracked));
      exceeded.push(Math.max(0, incoming - admitted));
      newFlows.push(admitted);
    }
    series.push(counter('ena.allowanceExceeded', node, 'packets', exceeded, dt));
    series.push(gauge('ena.allowanceAvailable', node, 'flows', avail, dt));
    series.push(gauge('ena.trackedFlows', node, 'flows', trackedV, dt));
    const nf = counter('ena.newFlows', node, 'flows', newFlows, dt);
    if (node === 'node2') {
      // The ENA driver was reloaded at 2/3 of the run: the counter restarts from 0.
      const cut = Math.floor((n * 2) / 3);
      const offset = nf.points[cut]![1];
      nf.points = nf.points.map(([t, v], i) => [t, i >= cut ? v - offset + 3 : v]);
    }
    series.push(nf);
    series.push(
      counter(
        'ena.flowsBySyn',
        node,
        'flows',
        newFlows.map((x) => x * 0.9),
        dt,
      ),
    );
    series.push(
      counter(
        'ena.flowsByFin',
        node,
        'flows',
        newFlows.map((x) => x * 0.07),
        dt,
      ),
    );
    series.push(
      counter(
        'ena.flowsByRst',
        node,
        'flows',
        newFlows.map((x) => x * 0.02),
        dt,
      ),
    );
    series.push(
      counter(
        'ena.flowsByNone',
        node,
        'flows',
        newFlows.map((x) => x * 0.01),
        dt,
      ),
    );
    series.push(
      gauge(
        'ct.count',
        node,
        'entries',
        trackedV.map((x) => 180 + x * 0.4 + 20 * r()),
        dt,
      ),
    );

    const starving = exceeded.map((x) => (x > 0 ? 1 : 0));
    const lookups = ts.map(() => 50 + 8 * r());
    const errors = starving.map((s, i) => (s ? Math.min(lookups[i]!, 18 + 6 * r()) : 0));
    if (name === 'fix' && flood) errors[Math.floor(tl.deleted) + 2] = 3; // a blip: the fix is not perfect
    const dnsLookups = counter('dns.lookups', node, 'lookups', lookups, dt);
    if (node === SERVER_NODE) {
      // The probe missed a few samples.
      const a = Math.floor(n * 0.55),
        b = a + 4;
      dnsLookups.points = dnsLookups.points.filter((_, i) => i < a || i >= b);
    }
    series.push(dnsLookups);
    series.push(counter('dns.errors', node, 'errors', errors, dt));
    series.push(
      counter(
        'estab.ok',
        node,
        'pings',
        ts.map(() => 1),
        dt,
      ),
    );
    series.push(
      counter(
        'estab.failed',
        node,
        'pings',
        starving.map((s, i) => (s && name === 'baseline' && i % 5 === 0 ? 1 : 0)),
        dt,
      ),
    );
  }

  // Per pod: two metrics-service pods (one replaced) and two alerting-engine pods on the client node.
  const floodNodeStarved = (i: number) => (name === 'baseline' ? ts[i]! >= tl.deleted + 2 : false);
  for (const pod of ['metrics-service-7f9c-abcde', 'metrics-service-7f9c-fghij']) {
    series.push(
      counter(
        'dns.lookups',
        pod,
        'lookups',
        ts.map(() => 20 + 4 * r()),
        dt,
      ),
    );
    series.push(
      counter(
        'dns.errors',
        pod,
        'errors',
        ts.map((_, i) => (floodNodeStarved(i) ? 6 + 3 * r() : 0)),
        dt,
      ),
    );
    series.push(
      gauge(
        'dns.latencyP99',
        pod,
        's',
        ts.map((_, i) => (floodNodeStarved(i) ? 1.5 + 2 * r() : 0.004 + 0.003 * r())),
        dt,
      ),
    );
  }
  for (const pod of ['alerting-engine-0', 'alerting-engine-1']) {
    const calls = ts.map(() => 200 + 30 * r());
    const errFrac = ts.map((t) =>
      t < tl.deleted ? 0 : name === 'baseline' ? 0.3 + 0.1 * r() : Math.max(0, 0.2 * Math.exp(-(t - tl.deleted) / 2)),
    );
    series.push(counter('grpc.calls', pod, 'calls', calls, dt));
    series.push(
      counter(
        'grpc.errors',
        pod,
        'calls',
        calls.map((c, i) => c * errFrac[i]!),
        dt,
      ),
    );
    series.push(
      gauge(
        'grpc.latencyP90',
        pod,
        's',
        errFrac.map((f) => 0.012 + f * 2 + 0.004 * r()),
        dt,
      ),
    );
    series.push(
      gauge(
        'grpc.latencyP99',
        pod,
        's',
        errFrac.map((f) => 0.03 + f * 8 + 0.01 * r()),
        dt,
      ),
    );
    series.push(
      gauge(
        'grpc.channelsConnecting',
        pod,
        'channels',
        ts.map((t) => (t < tl.deleted ? 0 : name === 'baseline' ? 200 : Math.round(200 * Math.exp(-(t - tl.deleted) / 5)))),
        dt,
      ),
    );
  }

  const markers: Marker[] = [
    { t: 0, kind: 'step', label: 'steady' },
    { t: tl.rollout, kind: 'step', label: 'rollout metrics-service' },
    { t: tl.ready, kind: 'pod-ready', label: 'metrics-service-7f9c-klmno ready' },
    { t: tl.stopping, kind: 'pod-stopping', label: 'metrics-service-7f9c-abcde stopping' },
    { t: tl.deleted, kind: 'pod-deleted', label: 'metrics-service-7f9c-abcde deleted (10.244.1.17)' },
    { t: tl.observe, kind: 'step', label: 'observe' },
    { t: tl.deleted + 1, kind: 'note', label: 'first DNS error' },
  ];

  return {
    name,
    description:
      name === 'baseline'
        ? 'aggressive reconnect (200–300 ms), as in the incident'
        : name === 'fix'
          ? 'gRPC default reconnect backoff (1 s → 120 s, jittered)'
          : 'Cilium answers for unknown pod IPs with ICMP unreachable',
    startedAt: startedAt.toISOString(),
    durationSeconds: seconds,
    config: {
      topology: { nodes: 3, serverNodes: 2 },
      ena: { enabled: true, conntrackAllowance: allowance },
      reconnect: name === 'baseline' ? { initialMs: 200, maxMs: 300 } : 'grpc-defaults',
    },
    series,
    markers,
    summary: {},
    replacedPods: [
      { name: 'metrics-service-7f9c-abcde', ip: '10.244.1.17', node: SERVER_NODE, stoppingAt: tl.stopping, deletedAt: tl.deleted },
    ],
  };
}

/** Stats as the expectation engine defines them, computed with the report's arithmetic. */
export function stat(v: VariantResult, probe: string, s: 'peakRate' | 'total' | 'max' | 'min', target?: string): number | null {
  const ss = v.series.filter((x) => x.probe === probe && (!target || x.target === target));
  if (!ss.length) return null;
  if (s === 'total') return ss.reduce((a, x) => a + counterIncrease(x.points), 0);
  if (s === 'peakRate') return Math.max(...ss.map((x) => maxOf(counterRate(x.points)) ?? 0));
  if (s === 'max') return Math.max(...ss.map((x) => maxOf(chartPoints(x)) ?? -Infinity));
  return Math.min(...ss.map((x) => minOf(chartPoints(x)) ?? Infinity));
}

function judge(
  variant: string,
  label: string,
  probe: string,
  st: string,
  op: ExpectationResult['op'],
  threshold: number,
  measured: number | null,
  detail?: string,
): ExpectationResult {
  const ok =
    measured !== null &&
    (op === '>='
      ? measured >= threshold
      : op === '>'
        ? measured > threshold
        : op === '<='
          ? measured <= threshold
          : op === '<'
            ? measured < threshold
            : measured === threshold);
  return { variant, label, probe, stat: st, op, threshold, measured, pass: ok, ...(detail ? { detail } : {}) };
}

export function makeResults(opts: GenOptions = {}): Results {
  const r = rng(opts.seed ?? 42);
  const seconds = opts.seconds ?? 60;
  const names = opts.variants ?? ['baseline', 'fix'];
  const t0 = new Date(Date.UTC(2024, 4, 14, 9, 30, 0));
  const variants = names.map((n, i) => makeVariant(n, seconds, r, new Date(t0.getTime() + i * (seconds + 40) * 1000)));
  const ex: ExpectationResult[] = [];
  const amp = opts.nastyLabels ? ' & <"quoted"> \'x\'' : '';
  for (const v of variants) {
    const synPeak = stat(v, 'syn.toOldPodIps', 'peakRate');
    const exceeded = stat(v, 'ena.allowanceExceeded', 'total', CLIENT_NODE);
    const dnsErrors = stat(v, 'dns.errors', 'total', CLIENT_NODE);
    const ct = stat(v, 'ct.count', 'max');
    const p99 = stat(v, 'grpc.latencyP99', 'max');
    // the keys run/summary.ts summarize() writes
    const total = (probe: string) => stat(v, probe, 'total') ?? 0;
    v.summary = {
      synToOldPodIpsTotal: total('syn.toOldPodIps'),
      synToOldPodIpsPeakPerSecond: Math.round(synPeak ?? 0),
      allowanceExceededFlooded: exceeded ?? 0,
      allowanceExceededAll: total('ena.allowanceExceeded'),
      martianDrops: total('martian.drops'),
      dnsErrors: total('dns.errors'),
      dnsLookups: total('dns.lookups'),
      dnsCheckFailed: 0,
      grpcErrors: total('grpc.errors'),
      grpcCalls: total('grpc.calls'),
      connectAttempts: 0,
      estabFailed: 0,
      samplesSkipped: 0,
    };
    if (v.name === 'baseline') {
      ex.push(judge(v.name, 'peak SYN/s to old pod IPs >= 1000 (the flood happens)', 'syn.toOldPodIps', 'peakRate', '>=', 1000, synPeak));
      ex.push(judge(v.name, 'ENA allowance exceeded on the client node', 'ena.allowanceExceeded', 'total', '>=', 1, exceeded));
      ex.push(judge(v.name, `DNS errors on the client node${amp}`, 'dns.errors', 'total', '>=', 1, dnsErrors));
      ex.push(judge(v.name, 'kernel conntrack stays far from its limit', 'ct.count', 'max', '<', 50_000, ct));
      ex.push(
        judge(v.name, 'gRPC p99 stays under 1 s', 'grpc.latencyP99', 'max', '<=', 1, p99, 'max over alerting-engine pods, window all'),
      );
    } else {
      ex.push(judge(v.name, 'peak SYN/s to old pod IPs <= 500', 'syn.toOldPodIps', 'peakRate', '<=', 500, synPeak));
      ex.push(judge(v.name, 'no ENA allowance exceeded', 'ena.allowanceExceeded', 'total', '==', 0, exceeded));
      ex.push(judge(v.name, `no DNS errors on the client node${amp}`, 'dns.errors', 'total', '==', 0, dnsErrors));
      ex.push(
        judge(
          v.name,
          'channels settle after the rollout',
          'grpc.channelsConnecting',
          'last',
          '<=',
          10,
          null,
          'no samples in window after-rollout',
        ),
      );
    }
  }
  const base = variants.find((v) => v.name === 'baseline'),
    fix = variants.find((v) => v.name === 'fix');
  if (base && fix) {
    const a = stat(base, 'syn.toOldPodIps', 'peakRate') ?? 0,
      b = Math.max(1, stat(fix, 'syn.toOldPodIps', 'peakRate') ?? 0);
    ex.push(judge('compare', 'peak SYN/s baseline/fix >= 10', 'syn.toOldPodIps', 'peakRate', '>=', 10, a / b));
  }
  const finished = new Date(t0.getTime() + variants.length * (seconds + 40) * 1000);
  const results: Results = {
    schemaVersion: RESULTS_SCHEMA_VERSION,
    tool: { name: 'notdns', version: '0.1.0-test' },
    runId: `20240514-093000-${(opts.seed ?? 42).toString(36)}`,
    experiment: {
      name: 'rollout-syn-flood',
      description:
        'A Metrics Service rollout while the Alerting Engine reconnects: the SYN flood to the old pod IP exhausts the ENA conntrack allowance and node-local DNS fails.',
      file: 'experiments/rollout-syn-flood.ts',
    },
    provider: 'lab',
    profile: 'fast',
    host: { hostname: 'ci-runner-1', kernel: '6.1.0-test', cpus: 2, node: 'v20.19.0' },
    startedAt: t0.toISOString(),
    finishedAt: finished.toISOString(),
    variants,
    verdict: { pass: ex.every((e) => e.pass), expectations: ex },
  };
  if (opts.error) {
    results.error = {
      kind: 'command',
      phase: 'rollout',
      message: `kubectl rollout status deployment/metrics-service timed out after 120 s${amp}`,
      hint: 'Look at `kubectl describe pod` in notdns.log; `notdns down --all` cleans up.',
    };
    results.verdict.pass = false;
  }
  return results;
}

/** Deep copy (tests mutate copies). */
export function clone<T>(x: T): T {
  return JSON.parse(JSON.stringify(x)) as T;
}

/** test-artifacts/ at the repository root (screenshots, rendered reports for CI to keep). */
export function artifactsDir(): string {
  const d = join(repoRoot, 'test-artifacts');
  mkdirSync(d, { recursive: true });
  return d;
}

/** The Chromium the report tests drive: NOTDNS_CHROMIUM, else Debian's. */
export const CHROMIUM = process.env.NOTDNS_CHROMIUM ?? '/usr/bin/chromium';

/** Headless Chromium with a fresh profile (Playwright takes `userDataDir` as the persistent context's directory),
 *  offline: a page that asks the network for anything fails the tests that count requests. */
export function launchChromium(userDataDir: string, width: number): Promise<BrowserContext> {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    offline: true,
    viewport: { width, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
