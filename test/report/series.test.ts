import assert from 'node:assert/strict';
import { counterIncrease, counterRate, headlines, preferNodeSeries, sumPoints } from '../../harness/report/series.js';
import { niceScale } from '../../harness/report/charts.js';
import { makeResults } from './helpers.js';

describe('report: series arithmetic', () => {
  it('derives a per-second rate from a counter', () => {
    const pts: [number, number][] = [
      [0, 0],
      [1, 10],
      [2, 30],
      [3, 60],
    ];
    assert.deepEqual(counterRate(pts), [
      [1, 10],
      [2, 20],
      [3, 30],
    ]);
    assert.equal(counterIncrease(pts), 60);
  });

  it('treats a decrease as a counter reset', () => {
    const pts: [number, number][] = [
      [0, 100],
      [1, 110],
      [2, 5],
      [3, 15],
    ];
    assert.deepEqual(counterRate(pts), [
      [1, 10],
      [2, 5],
      [3, 10],
    ]);
    assert.equal(counterIncrease(pts), 25);
  });

  it('breaks the line over a gap and averages the rate across it', () => {
    const pts: [number, number][] = [
      [0, 0],
      [1, 10],
      [2, 20],
      [7, 70],
      [8, 80],
    ];
    const r = counterRate(pts);
    assert.deepEqual(r, [
      [1, 10],
      [2, 10],
      [4.5, null],
      [7, 10],
      [8, 10],
    ]);
  });

  it('sorts, skips duplicate timestamps and non-finite values', () => {
    const pts: [number, number][] = [
      [2, 20],
      [0, 0],
      [1, 10],
      [1, 10],
      [3, NaN],
    ];
    assert.deepEqual(counterRate(pts), [
      [1, 10],
      [2, 10],
    ]);
  });

  it('sums rates on a common grid', () => {
    assert.deepEqual(
      sumPoints([
        [
          [1, 1],
          [2, 2],
        ],
        [
          [1, 10],
          [2, null],
          [3, 5],
        ],
      ]),
      [
        [1, 11],
        [2, 2],
        [3, 5],
      ],
    );
  });

  it('prefers per-node series for probes recorded per pod and per node', () => {
    const v = makeResults().variants[0]!;
    const all = v.series.filter((s) => s.probe === 'dns.errors');
    const chosen = preferNodeSeries(v, 'dns.errors');
    assert.ok(chosen.length > 0 && chosen.length < all.length);
    assert.ok(chosen.every((s) => /^node\d$/.test(s.target)));
  });

  it('computes headline numbers from the series (the generated baseline floods, the fix does not)', () => {
    const [base, fix] = makeResults().variants;
    const hb = new Map(headlines(base!).map((h) => [h.key, h.value]));
    const hf = new Map(headlines(fix!).map((h) => [h.key, h.value]));
    assert.ok(hb.get('peakSynToOldPodIps')! > hf.get('peakSynToOldPodIps')!);
    assert.ok(hb.get('allowanceExceeded')! > 0);
    assert.equal(hf.get('allowanceExceeded'), 0);
    assert.equal(
      hb.get('allowanceExceeded'),
      base!.summary.allowanceExceededAll,
      'same as the generator computed for the client node (others never exceed)',
    );
  });

  it('picks nice y scales', () => {
    assert.deepEqual(niceScale(12_300), { max: 15_000, interval: 5000 });
    assert.deepEqual(niceScale(0.9), { max: 1, interval: 0.25 });
    assert.deepEqual(niceScale(null), { max: 1, interval: 0.25 });
    assert.deepEqual(niceScale(0), { max: 1, interval: 0.25 });
    const s = niceScale(3.48);
    assert.ok(s.max >= 3.48 && s.max <= 5);
  });
});
