// harness/series.ts: the one implementation of counter/gauge arithmetic behind expectations, summaries and reports.
import assert from 'node:assert/strict';
import type { Series } from '../../harness/results.js';
import {
  ALL,
  cleanPoints,
  counterIncrease,
  counterRate,
  gaugeStat,
  increases,
  lastRate,
  meanRate,
  peakRate,
  statOf,
  sumSeries,
  type Points,
  type Stat,
  type Window,
} from '../../harness/series.js';
import { rng } from '../rng.js';

const counter = (points: [number, number][]): Series => ({ probe: 'x.c', target: 't', unit: 'n', kind: 'counter', points });
const gauge = (points: [number, number][]): Series => ({ probe: 'x.g', target: 't', unit: 'n', kind: 'gauge', points });

/** expect.ts's statOf as it was before series.ts (increases divided by dt even when dt was 0): the reference on clean data. */
function oldStatOf(s: Series, stat: Stat, w: Window): number | null {
  if (s.kind === 'counter' && ['total', 'peakRate', 'meanRate'].includes(stat)) {
    const inc: { d: number; dt: number }[] = [];
    for (let i = 1; i < s.points.length; i++) {
      const [t0, v0] = s.points[i - 1]!,
        [t1, v1] = s.points[i]!;
      if (t1 <= w.from || t1 > w.to + 1e-9) continue;
      inc.push({ d: v1 >= v0 ? v1 - v0 : v1, dt: t1 - t0 });
    }
    if (stat === 'total') return inc.reduce((a, x) => a + x.d, 0);
    if (inc.length === 0) return null;
    if (stat === 'peakRate') return Math.max(...inc.map((x) => x.d / x.dt));
    const dur = inc.reduce((a, x) => a + x.dt, 0);
    return dur > 0 ? inc.reduce((a, x) => a + x.d, 0) / dur : null;
  }
  const vals = s.points
    .filter(([t]) => t >= w.from - 1e-9 && t <= w.to + 1e-9)
    .map(([, v]) => v)
    .filter(Number.isFinite);
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
    default:
      return null;
  }
}

describe('series arithmetic (harness/series.ts)', () => {
  it('counts a decrease as a reset from the new value, as Prometheus does', () => {
    const pts: [number, number][] = [
      [0, 100],
      [1, 110],
      [2, 5],
      [3, 15],
    ];
    assert.deepEqual(increases(pts), [
      { t: 1, d: 10, dt: 1 },
      { t: 2, d: 5, dt: 1 },
      { t: 3, d: 10, dt: 1 },
    ]);
    assert.equal(counterIncrease(pts), 25);
    assert.equal(peakRate(pts), 10);
    assert.equal(meanRate(pts), 25 / 3);
    assert.deepEqual(counterRate(pts), [
      [1, 10],
      [2, 5],
      [3, 10],
    ]);
  });

  it('breaks a chart line over a gap (> 2.5× the median interval) and averages the rate across it', () => {
    const pts: [number, number][] = [
      [0, 0],
      [1, 10],
      [2, 20],
      [7, 70],
      [8, 80],
    ];
    assert.deepEqual(counterRate(pts), [
      [1, 10],
      [2, 10],
      [4.5, null],
      [7, 10],
      [8, 10],
    ]);
    // totals and stats span the gap: no increase is lost, the rate over it is the average
    assert.equal(counterIncrease(pts), 80);
    assert.equal(peakRate(pts), 10);
    assert.equal(meanRate(pts), 10);
    // 2.5× exactly is not a gap yet
    assert.ok(
      counterRate([
        [0, 0],
        [1, 1],
        [2, 2],
        [4.5, 4.5],
      ]).every(([, v]) => v !== null),
    );
  });

  it('collapses duplicate timestamps (the last reading wins): no Infinity, no lost increase', () => {
    const pts: [number, number][] = [
      [0, 0],
      [1, 10],
      [1, 12],
      [2, 20],
    ];
    assert.deepEqual(cleanPoints(pts), [
      [0, 0],
      [1, 12],
      [2, 20],
    ]);
    assert.equal(counterIncrease(pts), 20);
    assert.equal(peakRate(pts), 12);
    assert.equal(statOf(counter(pts), 'peakRate', ALL), 12);
    assert.equal(oldStatOf(counter(pts), 'peakRate', ALL), Infinity, 'what expectations used to measure');
    assert.deepEqual(counterRate(pts), [
      [1, 12],
      [2, 8],
    ]);
    assert.equal(lastRate(pts), 8);
    assert.equal(
      gaugeStat(
        [
          [0, 1],
          [0, 3],
          [1, 2],
        ],
        'mean',
      ),
      2.5,
      'a gauge sample per timestamp too',
    );
  });

  it('sorts unsorted points and drops non-finite values', () => {
    const sorted: [number, number][] = [
      [0, 0],
      [1, 10],
      [2, 30],
      [3, 60],
      [4, 5],
      [5, 25],
    ];
    const r = rng(7);
    const shuffled = [...sorted, [6, NaN] as [number, number]]
      .map((p) => [r(), p] as const)
      .sort((a, b) => a[0] - b[0])
      .map(([, p]) => p);
    assert.deepEqual(cleanPoints(shuffled), sorted);
    for (const stat of ['total', 'peakRate', 'meanRate', 'max', 'min', 'mean', 'last'] as const) {
      assert.equal(statOf(counter(shuffled), stat, ALL), statOf(counter(sorted), stat, ALL), stat);
    }
    assert.deepEqual(counterRate(shuffled), counterRate(sorted));
    assert.equal(
      counterIncrease([
        [2, 20],
        [0, 0],
        [1, 10],
        [1, 10],
        [3, NaN],
      ]),
      20,
    );
  });

  it('windows: a counter increase belongs to the window its interval ends in, a gauge sample to the window it is in', () => {
    const pts: [number, number][] = [
      [0, 0],
      [1, 1],
      [2, 3],
      [3, 6],
      [4, 10],
      [5, 15],
    ];
    assert.deepEqual(
      increases(pts, { from: 2, to: 4 }).map((x) => x.t),
      [3, 4],
      '(from, to]',
    );
    assert.equal(counterIncrease(pts, { from: 2, to: 4 }), 7);
    assert.equal(peakRate(pts, { from: 2, to: 4 }), 4);
    assert.equal(peakRate(pts, { from: 5, to: 9 }), null, 'no interval ends in the window');
    assert.equal(counterIncrease(pts, { from: 5, to: 9 }), 0);
    assert.equal(gaugeStat(pts, 'min', { from: 2, to: 4 }), 3, '[from, to]');
    assert.equal(gaugeStat(pts, 'last', { from: 2, to: 4 }), 10);
    assert.equal(gaugeStat(pts, 'max', { from: 6, to: 9 }), null);
  });

  it('a gauge has no rate, a counter can be read as raw values', () => {
    assert.equal(
      statOf(
        gauge([
          [0, 1],
          [1, 5],
        ]),
        'peakRate',
        ALL,
      ),
      null,
    );
    assert.equal(
      statOf(
        gauge([
          [0, 1],
          [1, 5],
        ]),
        'total',
        ALL,
      ),
      null,
    );
    assert.equal(
      statOf(
        counter([
          [0, 1],
          [1, 5],
        ]),
        'max',
        ALL,
      ),
      5,
    );
  });

  it('gives expectations the same numbers as before on clean data (sorted, unique timestamps, with resets)', () => {
    const r = rng(11);
    const windows: Window[] = [ALL, { from: 0, to: 30 }, { from: 12.5, to: 40 }, { from: 55, to: 60 }, { from: 70, to: 80 }];
    for (let run = 0; run < 50; run++) {
      const pts: [number, number][] = [];
      let t = 0,
        v = 0;
      for (let i = 0; i < 60; i++) {
        t += r() < 0.1 ? 3 + 4 * r() : 0.5 + r(); // now and then a gap
        v = r() < 0.05 ? Math.floor(10 * r()) : v + Math.floor(100 * r()); // now and then a reset
        pts.push([Math.round(t * 100) / 100, v]);
      }
      for (const s of [counter(pts), gauge(pts)]) {
        for (const w of windows) {
          for (const stat of ['total', 'peakRate', 'meanRate', 'max', 'min', 'mean', 'last'] as const) {
            const a = statOf(s, stat, w),
              b = oldStatOf(s, stat, w);
            if (a === null || b === null) assert.equal(a, b, `${s.kind} ${stat} ${JSON.stringify(w)}`);
            else assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${s.kind} ${stat} ${JSON.stringify(w)}: ${a} vs ${b}`);
          }
        }
      }
    }
  });

  it('sums counters as increases (a pod that appears later adds no jump) and gauges sample by sample', () => {
    const a = counter([
      [0, 0],
      [1, 10],
      [2, 20],
      [3, 30],
    ]);
    const late = counter([
      [2, 500],
      [3, 510],
    ]);
    const sum = sumSeries([a, late])!;
    assert.equal(sum.target, 'sum');
    assert.deepEqual(sum.points, [
      [0, 0],
      [1, 10],
      [2, 20],
      [3, 40],
    ]);
    assert.equal(statOf(sum, 'total', ALL), 40);
    const dup = counter([
      [0, 0],
      [1, 5],
      [1, 7],
      [2, 9],
    ]);
    assert.deepEqual(
      sumSeries([a, dup])!.points,
      [
        [0, 0],
        [1, 17],
        [2, 29],
        [3, 39],
      ],
      'duplicates collapsed before summing',
    );
    assert.deepEqual(
      sumSeries([
        gauge([
          [0, 1],
          [1, 2],
        ]),
        gauge([
          [1, 3],
          [2, 4],
        ]),
      ])!.points,
      [
        [0, 1],
        [1, 5],
        [2, 4],
      ],
    );
    assert.equal(sumSeries([]), undefined);
    assert.equal(sumSeries([a]), a);
  });

  it('lastRate: the newest per-second rate, 0 before two samples', () => {
    assert.equal(lastRate([]), 0);
    assert.equal(lastRate([[0, 5]]), 0);
    assert.equal(
      lastRate([
        [0, 0],
        [1, 10],
        [1.5, 20],
      ]),
      20,
    );
    assert.equal(
      lastRate([
        [0, 100],
        [2, 10],
      ] as Points),
      5,
      'a reset counts from the new value',
    );
  });
});
