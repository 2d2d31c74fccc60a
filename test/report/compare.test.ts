import assert from 'node:assert/strict';
import { compareExitCode, compareResults, renderComparison } from '../../harness/report/compare.js';
import { stripAnsi } from '../../harness/report/ansi.js';
import { clone, makeResults } from './helpers.js';

describe('report: compare two runs', () => {
  it('finds nothing between a run and itself', () => {
    const a = makeResults();
    const c = compareResults(a, clone(a));
    assert.equal(c.regressions.length, 0);
    assert.equal(c.fixed.length, 0);
    assert.equal(compareExitCode(c), 0);
    assert.ok(c.numbers.length > 0 && c.numbers.every((n) => n.relChange === 0 || n.relChange === null));
    assert.match(renderComparison(c, { color: false }), /no regressions$/);
  });

  it('detects an expectation that flipped from pass to fail (and exits 1)', () => {
    const a = makeResults();
    const b = clone(a);
    const target = b.verdict.expectations.find((e) => e.pass && e.measured !== null && e.measured !== 0)!;
    target.pass = false;
    target.measured = target.measured! * 3;
    b.verdict.pass = false;
    const c = compareResults(a, b);
    assert.equal(c.regressions.length, 1);
    assert.equal(c.regressions[0]!.label, target.label);
    assert.equal(c.regressions[0]!.variant, target.variant);
    assert.ok(Math.abs(c.regressions[0]!.relChange! - 2) < 1e-9, 'relative change of the measured value');
    assert.equal(c.expectations[0]!.change, 'regressed', 'flipped expectations come first');
    assert.equal(compareExitCode(c), 1);
    const text = renderComparison(c, { color: false });
    const line = text.split('\n').find((l) => l.startsWith('REGRESSED'));
    assert.ok(line?.includes(target.variant) && line.includes('+200%'), line);
    assert.match(text, /1 regression: /);
  });

  it('reports a fix, new and removed expectations, without calling them regressions', () => {
    const a = makeResults();
    const b = clone(a);
    const failing = b.verdict.expectations.find((e) => !e.pass && e.measured !== null)!;
    failing.pass = true;
    const removed = b.verdict.expectations.splice(
      b.verdict.expectations.findIndex((e) => e.pass && e !== failing),
      1,
    )[0]!;
    b.verdict.expectations.push({ ...removed, label: `${removed.label} (renamed)` });
    const c = compareResults(a, b);
    assert.equal(c.regressions.length, 0);
    assert.deepEqual(
      c.fixed.map((d) => d.label),
      [failing.label],
    );
    assert.ok(c.expectations.some((d) => d.change === 'removed' && d.label === removed.label));
    assert.ok(c.expectations.some((d) => d.change === 'added'));
    assert.equal(compareExitCode(c), 0);
    assert.equal(compareExitCode(c, { strict: true }), 1, 'strict: a passing expectation that disappeared counts');
  });

  it('compares headline numbers per variant with their relative change', () => {
    const a = makeResults({ seed: 1 });
    const b = makeResults({ seed: 2 });
    const c = compareResults(a, b);
    const syn = c.numbers.find((n) => n.variant === 'baseline' && n.key === 'peakSynToOldPodIps')!;
    assert.ok(syn.a !== null && syn.b !== null);
    assert.ok(Math.abs(syn.relChange! - (syn.b - syn.a) / syn.a) < 1e-12);
    const text = stripAnsi(renderComparison(c, { color: true }));
    assert.match(text, /peak SYN\/s to old pod IPs/);
    assert.match(text, /numbers? changed/);
  });

  it('notes harness errors and different variants', () => {
    const a = makeResults();
    const b = makeResults({ error: true, variants: ['baseline'] });
    const c = compareResults(a, b);
    assert.deepEqual(c.onlyInA, ['fix']);
    assert.ok(c.notes.some((n) => /run B had a harness error/.test(n)));
  });
});
