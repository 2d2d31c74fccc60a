// What reports read off the series: lookups by probe, node names, units and headline numbers. The arithmetic
// (counter → per-second rate with resets and gaps, totals, peaks, sums) is ../series.ts, shared with the
// expectations; it is re-exported here for the report modules.
import type { ExpectationResult, Results, Series, VariantResult } from '../results.js';

import { chartPoints, counterIncrease, maxOf, minOf, sumPoints } from '../series.js';

export { chartPoints, counterIncrease, counterRate, maxOf, minOf, sampleInterval, sumPoints, type Point } from '../series.js';

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
