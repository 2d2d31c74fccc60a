// Expectations are read off the recorded series. A deviation is a result (pass: false), never an exception.
//   windows: steady = the steady steps; rollout = from the rollout's start to the end of the run (the flood
//            outlives the rollout until clients learn the new backends); after-rollout = after the last old pod
//            was deleted; recovery = the {recover} steps (from the first one to the end); all.
//   stats:   counters: total (sum of increases), peakRate (max per-second increase), meanRate;
//            gauges: max, min, mean, last.
//   targets: sum (over all targets), max (the largest single target), flooded-nodes (nodes that hosted a
//            replaced pod), other-nodes, server-pods (Metrics Service pods), flooded-node-pods, or a name.
import type { CompareExpectation, Expectation } from './spec/schema.js';
import type { ExpectationResult, Marker, Series, VariantResult } from './results.js';
import { statOf, sumSeries, type Window } from './series.js';
import { probeLabel } from './probes/catalog.js';

// the series arithmetic lives in series.ts (shared with the reports); these were always part of this module's API
export { statOf, sumSeries, type Window };

export function windowOf(v: Pick<VariantResult, 'markers' | 'durationSeconds'>, w: Expectation['window']): Window {
  const m = v.markers.filter((x) => x.kind === 'step');
  const start = (label: string) => m.find((x) => x.label.startsWith(label))?.t;
  const end = v.durationSeconds;
  const rolloutStart = start('rollout');
  const rolloutEnd = start('rollout done');
  switch (w) {
    case 'steady':
      return { from: start('steady') ?? 0, to: rolloutStart ?? end };
    case 'rollout':
      return { from: rolloutStart ?? end, to: end };
    case 'after-rollout':
      return { from: rolloutEnd ?? end, to: end };
    case 'recovery':
      return { from: start('recover') ?? end, to: end };
    default:
      return { from: 0, to: end };
  }
}

export interface TargetContext {
  floodedNodes: string[];
  serverNodes: string[];
  /** pod name → node name, for Metrics Service pods */
  serverPods: Record<string, string>;
}

export function selectSeries(v: VariantResult, e: Pick<Expectation, 'probe' | 'target'>, ctx: TargetContext): Series[] {
  const all = v.series.filter((s) => s.probe === e.probe);
  switch (e.target) {
    case 'sum':
    case 'max':
      return all;
    case 'flooded-nodes':
      return all.filter((s) => ctx.floodedNodes.includes(s.target));
    case 'other-nodes':
      return all.filter((s) => ctx.serverNodes.includes(s.target) && !ctx.floodedNodes.includes(s.target));
    case 'server-pods':
      return all.filter((s) => s.target in ctx.serverPods);
    case 'flooded-node-pods':
      return all.filter((s) => ctx.floodedNodes.includes(ctx.serverPods[s.target] ?? ''));
    default:
      return all.filter((s) => s.target === e.target);
  }
}

export function measure(v: VariantResult, e: Pick<Expectation, 'probe' | 'target' | 'stat' | 'window'>, ctx: TargetContext): number | null {
  const list = selectSeries(v, e, ctx);
  const w = windowOf(v, e.window);
  if (e.target === 'max') {
    const vals = list.map((s) => statOf(s, e.stat, w)).filter((x): x is number => x !== null);
    return vals.length ? Math.max(...vals) : null;
  }
  const s = sumSeries(list);
  return s ? statOf(s, e.stat, w) : null;
}

export function holds(measured: number | null, op: Expectation['op'], value: number): boolean {
  if (measured === null || !Number.isFinite(measured)) return false;
  switch (op) {
    case '>=':
      return measured >= value;
    case '>':
      return measured > value;
    case '<=':
      return measured <= value;
    case '<':
      return measured < value;
    case '==':
      return Math.abs(measured - value) < 1e-9;
  }
}

const STAT_LABEL: Record<string, string> = {
  total: 'total',
  peakRate: 'peak /s',
  meanRate: 'mean /s',
  max: 'max',
  min: 'min',
  mean: 'mean',
  last: 'last',
};

export function labelOf(e: Expectation | CompareExpectation): string {
  const what = `${STAT_LABEL[e.stat] ?? e.stat} ${probeLabel(e.probe)}`;
  const tgt = e.target === 'sum' ? '' : ` [${e.target}]`;
  const win = e.window === 'all' ? '' : ` (${e.window})`;
  if ('ratio' in e) return `${what}${tgt}${win}: ${e.ratio[0]}/${e.ratio[1]} ${e.op} ${e.value}`;
  return `${what}${tgt}${win} ${e.op} ${e.value}`;
}

export function evaluate(variant: VariantResult, list: Expectation[], ctx: TargetContext): ExpectationResult[] {
  return list.map((e) => {
    const m = measure(variant, e, ctx);
    return {
      variant: variant.name,
      label: labelOf(e),
      probe: e.probe,
      stat: e.stat,
      op: e.op,
      threshold: e.value,
      measured: m,
      pass: holds(m, e.op, e.value),
      detail: e.why,
    };
  });
}

export function evaluateCompare(
  variants: VariantResult[],
  list: CompareExpectation[],
  ctxs: Record<string, TargetContext>,
): ExpectationResult[] {
  return list.map((c) => {
    const [a, b] = c.ratio.map((n) => variants.find((v) => v.name === n));
    let m: number | null = null,
      detail = c.why;
    if (a && b) {
      const ma = measure(a, c, ctxs[a.name]!),
        mb = measure(b, c, ctxs[b.name]!);
      if (ma !== null && mb !== null) {
        m = ma / Math.max(mb, 1);
        detail = `${c.ratio[0]}=${ma.toFixed(1)} ${c.ratio[1]}=${mb.toFixed(1)}${c.why ? `; ${c.why}` : ''}`;
      }
    } else detail = `variant(s) not run: ${c.ratio.filter((n) => !variants.some((v) => v.name === n)).join(', ')}`;
    return {
      variant: 'compare',
      label: labelOf(c),
      probe: c.probe,
      stat: c.stat,
      op: c.op,
      threshold: c.value,
      measured: m,
      pass: holds(m, c.op, c.value),
      detail,
    };
  });
}

export type { Marker };
