// What reports read off the series: lookups by probe, node names, units and headline numbers. The arithmetic
// (counter → per-second rate with resets and gaps, totals, peaks, sums) is ../series.ts, shared with the
// expectations; it is re-exported here for the report modules. Which probes are per node, units of probes not
// recorded and the headline definitions come from the probe catalog (../probes/catalog.ts).
import type { ExpectationResult, Results, Series, VariantResult } from '../results.js';
import {
  HEADLINES,
  headlineContext,
  headlineFormat,
  headlineValue,
  nodeTargets,
  preferNodes,
  summaryKey,
  probeDef,
  type HeadlineFormat,
  type ProbeId,
} from '../probes/catalog.js';

export { chartPoints, counterIncrease, counterRate, maxOf, minOf, sampleInterval, sumPoints, type Point } from '../series.js';

/** The series of a probe (a catalog id: the compiler catches a report reading a probe nothing records). */
export function seriesOf(v: VariantResult, probe: ProbeId): Series[] {
  return v.series.filter((s) => s.probe === probe);
}

/** Node names of a variant: targets of the per-node probes (catalog scope 'node') plus the nodes replaced pods ran on. */
export function nodeNames(v: VariantResult): Set<string> {
  const out = nodeTargets(v.series);
  for (const p of v.replacedPods) out.add(p.node);
  out.delete('all');
  return out;
}

/**
 * For a probe recorded both per node and per pod (dns.lookups, dns.errors in some results): the per-node series
 * when there are any, else all of them. Keeps charts and totals from counting the same errors twice.
 */
export function preferNodeSeries(v: VariantResult, probe: ProbeId): Series[] {
  return preferNodes(v.series, probe, nodeNames(v));
}

/** The unit of a probe as recorded in a results file (first series that has it), else the catalog's. */
export function unitOf(results: Results, probe: string, variant?: string): string | undefined {
  for (const v of results.variants) {
    if (variant && variant !== 'compare' && v.name !== variant) continue;
    const s = v.series.find((x) => x.probe === probe);
    if (s) return s.unit;
  }
  return probeDef(probe)?.unit;
}

export function unitForExpectation(results: Results, e: ExpectationResult): string | undefined {
  return unitOf(results, e.probe, e.variant);
}

export interface Headline {
  key: string;
  label: string;
  value: number;
  /** How to format it: a count, a rate, seconds, or a percentage (0..100). */
  format: HeadlineFormat;
  /** true when a larger value is worse (shown in red when not 0). */
  badWhenHigh?: boolean;
}

/**
 * The numbers worth a glance for one variant (the `report` rows of catalog.ts HEADLINES), computed from its series
 * the same way for every run (so two runs or two variants can be compared). Only the ones whose probes were
 * recorded are returned.
 */
export function headlines(v: VariantResult): Headline[] {
  const ctx = headlineContext(v.series, [...new Set(v.replacedPods.map((p) => p.node))]);
  const values = new Map<string, number>();
  for (const h of HEADLINES) {
    const x = h.report ? headlineValue(h, v.series, ctx) : undefined;
    if (x !== undefined) values.set(h.key, x);
  }
  const out: Headline[] = [];
  for (const h of HEADLINES) {
    const value = values.get(h.key);
    if (value === undefined || (typeof h.report === 'object' && values.has(h.report.unless))) continue;
    out.push({ key: h.key, label: h.label, value, format: headlineFormat(h), ...(h.badWhenHigh ? { badWhenHigh: true } : {}) });
  }
  return out;
}

/**
 * The numbers of a variant's `summary` (run/summary.ts summarize) with a human label, and the headline that shows the
 * same number, if there is one: a report shows that number once, as the headline.
 */
export const SUMMARY_NUMBERS: Record<string, { label: string; headline?: string }> = {
  ...Object.fromEntries(
    HEADLINES.flatMap((h) => {
      const k = summaryKey(h);
      return k ? [[k, { label: h.label, ...(h.report ? { headline: h.key } : {}) }]] : [];
    }),
  ),
  samplesSkipped: { label: 'probe samples skipped' },
};

/** The label of a summary number: from SUMMARY_NUMBERS, else its key in words (`fooBarDNS` → `foo bar DNS`). */
export function summaryLabel(key: string): string {
  return (
    SUMMARY_NUMBERS[key]?.label ??
    key
      .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
      .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
      .replace(/\b[A-Z][a-z]+\b/g, (w) => w.toLowerCase())
  );
}

/** The headline key a summary number duplicates (the same key, or the one SUMMARY_NUMBERS names). */
export function summaryHeadline(key: string): string {
  return SUMMARY_NUMBERS[key]?.headline ?? key;
}
