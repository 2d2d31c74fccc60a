// Time-series arithmetic for reports: counter → per-second rate (resets and gaps handled), totals, peaks,
// and lookups by probe. Pure functions on the results data model.
import type { ExpectationResult, Results, Series, VariantResult } from '../results.js';

/** A chart point; null value = a gap (the line is broken there). */
export type Point = [number, number | null];

function sortedPoints(points: readonly (readonly [number, number])[]): [number, number][] {
  const out = points.filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1])).map((p) => [p[0], p[1]] as [number, number]);
  for (let i = 1; i < out.length; i++) {
    if (out[i]![0] < out[i - 1]![0]) return out.sort((a, b) => a[0] - b[0]);
  }
  return out;
}

/** The typical sampling interval: the median of positive time deltas (1 s when it cannot be told). */
export function sampleInterval(points: readonly (readonly [number, number])[]): number {
  const ds: number[] = [];
  for (let i = 1; i < points.length; i++) {
    const d = points[i]![0] - points[i - 1]![0];
    if (d > 0) ds.push(d);
  }
  if (!ds.length) return 1;
  ds.sort((a, b) => a - b);
  return ds[Math.floor(ds.length / 2)]!;
}

/**
 * Per-second rate of a cumulative counter, one point per sample after the first (at the later sample's time).
 * - A decrease is a counter reset (process restart, interface re-created): the new value counts as the increase
 *   since the reset, as Prometheus' rate() does.
 * - A gap (more than 2.5× the usual interval between samples) breaks the line with a null point, then the
 *   next rate is the average over the gap.
 * - Duplicate timestamps are skipped.
 */
export function counterRate(points: readonly (readonly [number, number])[]): Point[] {
  const p = sortedPoints(points);
  const out: Point[] = [];
  if (p.length < 2) return out;
  const gap = sampleInterval(p) * 2.5;
  for (let i = 1; i < p.length; i++) {
    const [t0, v0] = p[i - 1]!, [t1, v1] = p[i]!;
    const dt = t1 - t0;
    if (dt <= 0) continue;
    const dv = v1 >= v0 ? v1 - v0 : v1;
    if (dt > gap) out.push([t0 + dt / 2, null]);
    out.push([t1, dv / dt]);
  }
  return out;
}

/** Total increase of a counter over the series (resets handled like counterRate). */
export function counterIncrease(points: readonly (readonly [number, number])[]): number {
  const p = sortedPoints(points);
  let sum = 0;
  for (let i = 1; i < p.length; i++) {
    const v0 = p[i - 1]![1], v1 = p[i]![1];
    if (p[i]![0] === p[i - 1]![0]) continue;
    sum += v1 >= v0 ? v1 - v0 : v1;
  }
  return sum;
}

/** What a chart plots for a series: the rate for counters, the values for gauges. */
export function chartPoints(s: Series): Point[] {
  return s.kind === 'counter' ? counterRate(s.points) : sortedPoints(s.points);
}

export function maxOf(points: readonly Point[]): number | null {
  let m: number | null = null;
  for (const [, v] of points) if (v !== null && (m === null || v > m)) m = v;
  return m;
}

export function minOf(points: readonly Point[]): number | null {
  let m: number | null = null;
  for (const [, v] of points) if (v !== null && (m === null || v < m)) m = v;
  return m;
}

/**
 * Sum several point lists on a common time grid (used for "all targets" rates). Times are matched after
 * rounding to the sampling resolution; a time missing from one list counts as 0 from that list.
 */
export function sumPoints(lists: readonly Point[][]): Point[] {
  const acc = new Map<number, number | null>();
  for (const l of lists) {
    for (const [t, v] of l) {
      const k = Math.round(t * 1000) / 1000;
      const prev = acc.get(k);
      acc.set(k, v === null ? (prev ?? null) : (prev ?? 0) + v);
    }
  }
  return [...acc.entries()].sort((a, b) => a[0] - b[0]);
}

export function seriesOf(v: VariantResult, probe: string): Series[] {
  return v.series.filter((s) => s.probe === probe);
}

/** Node names of a variant: targets of the per-node probes plus the nodes replaced pods ran on. */
export function nodeNames(v: VariantResult): Set<string> {
  const perNode = new Set(['syn.in', 'syn.out', 'ct.count', 'martian.drops', 'tcp.activeOpens', 'icmp.destUnreachIn']);
  const out = new Set<string>();
  for (const s of v.series) if (perNode.has(s.probe) || s.probe.startsWith('ena.')) out.add(s.target);
  for (const p of v.replacedPods) out.add(p.node);
  out.delete('all');
  return out;
}

/**
 * For probes recorded both per pod and per node (dns.lookups, dns.errors): the per-node series when there are
 * any, else all of them. Keeps charts and totals from counting the same errors twice.
 */
export function preferNodeSeries(v: VariantResult, probe: string): Series[] {
  const all = seriesOf(v, probe);
  const nodes = nodeNames(v);
  const perNode = all.filter((s) => nodes.has(s.target));
  return perNode.length ? perNode : all;
}

/** The unit of a probe as recorded in a results file (first series that has it). */
export function unitOf(results: Results, probe: string, variant?: string): string | undefined {
  for (const v of results.variants) {
    if (variant && variant !== 'compare' && v.name !== variant) continue;
    const s = v.series.find((x) => x.probe === probe);
    if (s) return s.unit;
  }
  return undefined;
}

export function unitForExpectation(results: Results, e: ExpectationResult): string | undefined {
  return unitOf(results, e.probe, e.variant);
}

export interface Headline {
  key: string;
  label: string;
  value: number;
  /** How to format it: a count, a rate, seconds, or a percentage (0..100). */
  format: 'count' | 'rate' | 'seconds' | 'percent';
  /** true when a larger value is worse (shown in red when not 0). */
  badWhenHigh?: boolean;
}

/**
 * The numbers worth a glance for one variant, computed from its series the same way for every run (so two
 * runs or two variants can be compared). Only the ones whose probes were recorded are returned.
 */
export function headlines(v: VariantResult): Headline[] {
  const out: Headline[] = [];
  const totalOf = (ss: Series[]) => ss.reduce((a, s) => a + (s.kind === 'counter' ? counterIncrease(s.points) : 0), 0);
  const syn = seriesOf(v, 'syn.toOldPodIps');
  if (syn.length) {
    out.push({ key: 'peakSynToOldPodIps', label: 'peak SYN/s to old pod IPs', value: maxOf(sumPoints(syn.map(chartPoints))) ?? 0, format: 'rate', badWhenHigh: true });
  }
  const martian = seriesOf(v, 'martian.drops');
  if (martian.length) out.push({ key: 'martianDrops', label: 'martian drops', value: totalOf(martian), format: 'count', badWhenHigh: true });
  const exceeded = seriesOf(v, 'ena.allowanceExceeded');
  if (exceeded.length) out.push({ key: 'allowanceExceeded', label: 'ENA allowance exceeded (packets)', value: totalOf(exceeded), format: 'count', badWhenHigh: true });
  const avail = seriesOf(v, 'ena.allowanceAvailable');
  if (avail.length) {
    const mins = avail.map((s) => minOf(chartPoints(s))).filter((x): x is number => x !== null);
    if (mins.length) out.push({ key: 'minAllowanceAvailable', label: 'lowest allowance available', value: Math.min(...mins), format: 'count' });
  }
  const ct = seriesOf(v, 'ct.count');
  if (ct.length) {
    const maxes = ct.map((s) => maxOf(chartPoints(s))).filter((x): x is number => x !== null);
    if (maxes.length) out.push({ key: 'peakConntrack', label: 'peak conntrack entries (node)', value: Math.max(...maxes), format: 'count' });
  }
  const dnsErr = preferNodeSeries(v, 'dns.errors');
  if (dnsErr.length) {
    const errors = totalOf(dnsErr);
    out.push({ key: 'dnsErrors', label: 'DNS errors', value: errors, format: 'count', badWhenHigh: true });
    const lookups = totalOf(preferNodeSeries(v, 'dns.lookups'));
    if (lookups > 0) out.push({ key: 'dnsErrorRatio', label: 'DNS error ratio', value: (100 * errors) / lookups, format: 'percent', badWhenHigh: true });
  }
  const grpcErr = seriesOf(v, 'grpc.errors');
  const grpcCalls = totalOf(seriesOf(v, 'grpc.calls'));
  if (grpcErr.length && grpcCalls > 0) {
    out.push({ key: 'grpcErrorRatio', label: 'gRPC error ratio', value: (100 * totalOf(grpcErr)) / grpcCalls, format: 'percent', badWhenHigh: true });
  } else if (grpcErr.length) {
    out.push({ key: 'grpcErrors', label: 'gRPC errors', value: totalOf(grpcErr), format: 'count', badWhenHigh: true });
  }
  const p99 = seriesOf(v, 'grpc.latencyP99');
  if (p99.length) {
    const maxes = p99.map((s) => maxOf(chartPoints(s))).filter((x): x is number => x !== null);
    if (maxes.length) out.push({ key: 'peakGrpcP99', label: 'peak gRPC p99', value: Math.max(...maxes), format: 'seconds' });
  }
  const estabBad = [...seriesOf(v, 'estab.timeouts'), ...seriesOf(v, 'estab.failed')];
  if (estabBad.length) out.push({ key: 'estabFailures', label: 'long-lived conn. failures', value: totalOf(estabBad), format: 'count', badWhenHigh: true });
  return out;
}

/**
 * The numbers of a variant's `summary` (runner.ts summarize) with a human label, and the headline that shows the
 * same number, if there is one: a report shows that number once, as the headline.
 */
export const SUMMARY_NUMBERS: Record<string, { label: string; headline?: string }> = {
  synToOldPodIpsTotal: { label: 'SYNs to old pod IPs' },
  synToOldPodIpsPeakPerSecond: { label: 'peak SYN/s to old pod IPs', headline: 'peakSynToOldPodIps' },
  allowanceExceededFlooded: { label: 'ENA allowance exceeded (flooded nodes)' },
  allowanceExceededAll: { label: 'ENA allowance exceeded (packets)', headline: 'allowanceExceeded' },
  martianDrops: { label: 'martian drops', headline: 'martianDrops' },
  dnsErrors: { label: 'DNS errors', headline: 'dnsErrors' },
  dnsLookups: { label: 'DNS lookups' },
  dnsCheckFailed: { label: 'failed DNS checks (dig)' },
  grpcErrors: { label: 'gRPC errors', headline: 'grpcErrors' },
  grpcCalls: { label: 'gRPC calls' },
  connectAttempts: { label: 'gRPC connect attempts' },
  estabFailed: { label: 'long-lived conn. failures', headline: 'estabFailures' },
  samplesSkipped: { label: 'probe samples skipped' },
};

/** The label of a summary number: from SUMMARY_NUMBERS, else its key in words (`fooBarDNS` → `foo bar DNS`). */
export function summaryLabel(key: string): string {
  return SUMMARY_NUMBERS[key]?.label
    ?? key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2').replace(/\b[A-Z][a-z]+\b/g, (w) => w.toLowerCase());
}

/** The headline key a summary number duplicates (the same key, or the one SUMMARY_NUMBERS names). */
export function summaryHeadline(key: string): string {
  return SUMMARY_NUMBERS[key]?.headline ?? key;
}
