// Arithmetic on recorded time series, the one implementation that expectations (expect.ts), summaries
// (probes/catalog.ts) and reports (report/*.ts) share. Pure functions on [t, v] points.
//   points:   sorted by time first; a non-finite value is dropped; samples with the same timestamp collapse
//             into one (the last one recorded wins: for a cumulative counter it is the newest reading).
//   counters: cumulative; an increase is v₁ − v₀ between neighbouring samples, and a decrease is a counter reset
//             (a new process, an interface re-created): the new value is the increase since the reset, as
//             Prometheus' rate() does.
//   windows:  a counter's increase belongs to a window when its interval ends inside (from, to]; a gauge's sample
//             when its time is inside [from, to].
//   gaps:     a gap of more than 2.5× the median sampling interval breaks a chart's line (a null point); the
//             next rate is the average over the gap, and totals and stats simply span it.
import type { Series } from './results.js';

/** Points as recorded ([t, v], t in seconds). */
export type Points = readonly (readonly [number, number])[];
/** A chart point; null value = a gap (the line is broken there). */
export type Point = [number, number | null];
export interface Window {
  from: number;
  to: number;
}
/** The whole series. */
export const ALL: Window = { from: -Infinity, to: Infinity };
/** The stats an expectation, a summary or a headline reads off a series (spec/schema.ts STATS). */
export type Stat = 'total' | 'peakRate' | 'meanRate' | 'max' | 'min' | 'mean' | 'last';
export const COUNTER_STATS: readonly Stat[] = ['total', 'peakRate', 'meanRate'];

/** A gap in the samples: more than this many median intervals between two samples. */
export const GAP_FACTOR = 2.5;
const EPS = 1e-9;

/** Sorted by time, finite values only, one sample per timestamp (the last one recorded). */
export function cleanPoints(points: Points): [number, number][] {
  const out = points.filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1])).map((p) => [p[0], p[1]] as [number, number]);
  let sorted = true;
  for (let i = 1; i < out.length && sorted; i++) if (out[i]![0] < out[i - 1]![0]) sorted = false;
  if (!sorted) out.sort((a, b) => a[0] - b[0]); // stable: equal timestamps keep their recorded order
  const dedup: [number, number][] = [];
  for (const p of out) {
    if (dedup.length && dedup[dedup.length - 1]![0] === p[0]) dedup[dedup.length - 1] = p;
    else dedup.push(p);
  }
  return dedup;
}

/** One step of a counter: increase d over dt seconds, ending at t. */
export interface Increase {
  t: number;
  d: number;
  dt: number;
}

/** A counter as increases per sampling interval (resets counted from the new value), those ending in the window. */
export function increases(points: Points, w: Window = ALL): Increase[] {
  const p = cleanPoints(points);
  const out: Increase[] = [];
  for (let i = 1; i < p.length; i++) {
    const [t0, v0] = p[i - 1]!,
      [t1, v1] = p[i]!;
    if (t1 <= w.from || t1 > w.to + EPS) continue;
    out.push({ t: t1, d: v1 >= v0 ? v1 - v0 : v1, dt: t1 - t0 });
  }
  return out;
}

/** Total increase of a counter in the window. */
export function counterIncrease(points: Points, w: Window = ALL): number {
  return increases(points, w).reduce((a, x) => a + x.d, 0);
}

/** Largest per-second increase over one sampling interval in the window; null without an interval. */
export function peakRate(points: Points, w: Window = ALL): number | null {
  const inc = increases(points, w);
  return inc.length ? Math.max(...inc.map((x) => x.d / x.dt)) : null;
}

/** Increase per second over the sampled part of the window; null without an interval. */
export function meanRate(points: Points, w: Window = ALL): number | null {
  const inc = increases(points, w);
  const dur = inc.reduce((a, x) => a + x.dt, 0);
  return dur > 0 ? inc.reduce((a, x) => a + x.d, 0) / dur : null;
}

/**
 * The latest per-second rate of a counter (0 before it has two samples): what a live view shows, every second,
 * of series that are appended in time order; so only the last few readings are looked at.
 */
export function lastRate(points: Points): number {
  const last = increases(points.slice(-4)).at(-1);
  return last ? last.d / last.dt : 0;
}

/** The values of a gauge sampled inside [from, to]. */
export function gaugeValues(points: Points, w: Window = ALL): number[] {
  return cleanPoints(points)
    .filter(([t]) => t >= w.from - EPS && t <= w.to + EPS)
    .map(([, v]) => v);
}

/** max / min / mean / last of the samples in the window; null without a sample. */
export function gaugeStat(points: Points, stat: 'max' | 'min' | 'mean' | 'last', w: Window = ALL): number | null {
  const vals = gaugeValues(points, w);
  if (vals.length === 0) return null;
  switch (stat) {
    case 'max':
      return Math.max(...vals);
    case 'min':
      return Math.min(...vals);
    case 'mean':
      return vals.reduce((a, b) => a + b, 0) / vals.length;
    case 'last':
      return vals[vals.length - 1]!;
  }
}

/**
 * One number from one series. Counters: total, peakRate, meanRate (gauge stats read their raw cumulative
 * values). Gauges: max, min, mean, last; a rate of a gauge makes no sense and is null (not measurable).
 */
export function statOf(s: Pick<Series, 'kind' | 'points'>, stat: Stat, w: Window = ALL): number | null {
  if (s.kind === 'counter' && COUNTER_STATS.includes(stat)) {
    if (stat === 'total') return counterIncrease(s.points, w);
    return stat === 'peakRate' ? peakRate(s.points, w) : meanRate(s.points, w);
  }
  if (stat === 'max' || stat === 'min' || stat === 'mean' || stat === 'last') return gaugeStat(s.points, stat, w);
  return null;
}

/** The typical sampling interval: the median of positive time deltas (1 s when it cannot be told). */
export function sampleInterval(points: Points): number {
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
 * Per-second rate of a counter for a chart: one point per sample after the first (at the later sample's time),
 * resets counted from the new value; across a gap a null point at the gap's middle breaks the line, then the
 * next rate is the average over the gap.
 */
export function counterRate(points: Points): Point[] {
  const p = cleanPoints(points);
  const out: Point[] = [];
  if (p.length < 2) return out;
  const gap = sampleInterval(p) * GAP_FACTOR;
  for (const { t, d, dt } of increases(p)) {
    if (dt > gap) out.push([t - dt / 2, null]);
    out.push([t, d / dt]);
  }
  return out;
}

/** What a chart plots for a series: the rate for counters, the values for gauges. */
export function chartPoints(s: Pick<Series, 'kind' | 'points'>): Point[] {
  return s.kind === 'counter' ? counterRate(s.points) : cleanPoints(s.points);
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
 * Sum several series of one probe sample by sample. Counters are summed as increases, so a pod that comes (its
 * first reading counts as 0) or goes creates no jump; gauges add the values sampled at the same time.
 */
export function sumSeries(list: Series[]): Series | undefined {
  if (list.length === 0) return undefined;
  if (list.length === 1) return list[0];
  const first = list[0]!;
  const byT = new Map<number, number>();
  if (first.kind === 'counter') {
    for (const s of list) {
      const p = cleanPoints(s.points);
      if (p.length) byT.set(p[0]![0], byT.get(p[0]![0]) ?? 0);
      for (const x of increases(p)) byT.set(x.t, (byT.get(x.t) ?? 0) + x.d);
    }
    const ts = [...byT.keys()].sort((a, b) => a - b);
    let acc = 0;
    return {
      ...first,
      target: 'sum',
      points: ts.map((t) => {
        acc += byT.get(t)!;
        return [t, acc] as [number, number];
      }),
    };
  }
  for (const s of list) for (const [t, v] of cleanPoints(s.points)) byT.set(t, (byT.get(t) ?? 0) + v);
  const ts = [...byT.keys()].sort((a, b) => a - b);
  return { ...first, target: 'sum', points: ts.map((t) => [t, byT.get(t)!] as [number, number]) };
}

/**
 * Sum several chart point lists on a common time grid (e.g. the rate over all targets). Times are matched after
 * rounding to the millisecond; a time missing from one list counts as 0 from that list; a gap stays a gap
 * only where no list has a value.
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
