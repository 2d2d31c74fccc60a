// Windows and stats of expectations, on a hand-made timeline: steady 0-10 s, rollout 10-20 s, observe 20-40 s,
// recover 40-50 s. A counter of DNS errors rises during the flood (12-30 s) and stays flat afterwards.
import assert from 'node:assert/strict';
import { evaluate, measure, windowOf, type TargetContext } from '../../harness/expect.js';
import type { VariantResult } from '../../harness/results.js';

const markers = [
  { t: 0, kind: 'step', label: 'steady' },
  { t: 10, kind: 'step', label: 'rollout' },
  { t: 20, kind: 'step', label: 'rollout done' },
  { t: 20, kind: 'step', label: 'observe' },
  { t: 40, kind: 'step', label: 'recover' },
] as VariantResult['markers'];

function counter(probe: string, target: string, rate: (t: number) => number): VariantResult['series'][number] {
  const points: [number, number][] = [];
  let v = 0;
  for (let t = 0; t <= 50; t++) {
    v += t > 0 ? rate(t) : 0;
    points.push([t, v]);
  }
  return { probe, target, unit: 'n', kind: 'counter', points } as VariantResult['series'][number];
}

const variant = {
  name: 'baseline',
  durationSeconds: 50,
  markers,
  series: [
    counter('dns.errors', 'ms-1-1', (t) => (t > 12 && t <= 30 ? 20 : 0)),
    counter('dnscheck.ok', 'node1', (t) => (t % 2 === 0 && (t <= 12 || t > 32) ? 1 : 0)),
  ],
} as unknown as VariantResult;
const ctx: TargetContext = { floodedNodes: ['node1'], serverNodes: ['node1', 'node2'], serverPods: { 'ms-1-1': 'node1' } };

describe('expectation windows', () => {
  it('maps every window onto the step markers', () => {
    assert.deepEqual(windowOf(variant, 'all'), { from: 0, to: 50 });
    assert.deepEqual(windowOf(variant, 'steady'), { from: 0, to: 10 });
    assert.deepEqual(windowOf(variant, 'rollout'), { from: 10, to: 50 });
    assert.deepEqual(windowOf(variant, 'after-rollout'), { from: 20, to: 50 });
    assert.deepEqual(windowOf(variant, 'recovery'), { from: 40, to: 50 });
  });

  it('reads a recovery: errors during the flood, none and answered checks in the recover step', () => {
    const m = (probe: string, window: 'all' | 'recovery', target = 'flooded-node-pods') =>
      measure(variant, { probe, target, stat: 'total', window } as never, ctx);
    assert.equal(m('dns.errors', 'all'), 18 * 20);
    assert.equal(m('dns.errors', 'recovery'), 0);
    assert.equal(m('dnscheck.ok', 'recovery', 'flooded-nodes'), 5, 'checks at 42, 44, 46, 48, 50');
    const [ok, bad] = evaluate(
      variant,
      [
        { probe: 'dns.errors', target: 'flooded-node-pods', window: 'recovery', stat: 'total', op: '==', value: 0 },
        { probe: 'dns.errors', target: 'flooded-node-pods', window: 'after-rollout', stat: 'total', op: '==', value: 0 },
      ] as never,
      ctx,
    );
    assert.equal(ok!.pass, true);
    assert.equal(bad!.pass, false, 'the same expectation fails over a window that includes the flood');
    assert.equal(bad!.measured, 10 * 20);
  });
});
