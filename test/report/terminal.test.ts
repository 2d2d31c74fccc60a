import assert from 'node:assert/strict';
import { renderVerdict, verdictLine } from '../../harness/report/terminal.js';
import { stripAnsi, useColor } from '../../harness/report/ansi.js';
import { expectationMessage, fmtChange, fmtClock, fmtNum, fmtSeconds } from '../../harness/report/format.js';
import { unitForExpectation } from '../../harness/report/series.js';
import { makeResults } from './helpers.js';

describe('report: terminal verdict', () => {
  it('lists failures first, then the table, then "N/M expectations failed"', () => {
    const r = makeResults();
    const text = renderVerdict(r, { color: false });
    const ex = r.verdict.expectations;
    const failed = ex.filter((e) => !e.pass);
    assert.ok(failed.length > 0);
    const lines = text.split('\n');
    const lastLine = lines[lines.length - 1]!;
    assert.equal(lastLine, `${failed.length}/${ex.length} expectations failed`);

    const tableHeader = lines.findIndex((l) => /^variant\s+expectation\s+measured/.test(l));
    assert.ok(tableHeader > 0, 'there is a table');
    for (const e of failed) {
      const msg = expectationMessage(e, unitForExpectation(r, e));
      const at = lines.findIndex((l) => l.includes(msg));
      assert.ok(at >= 0 && at < tableHeader, `failure "${msg}" is listed before the table`);
    }
    // One table row per expectation, with its result.
    const rows = lines.slice(tableHeader + 2, lines.length - 2).filter((l) => /\s(pass|FAIL)$/.test(l));
    assert.equal(rows.length, ex.length);
    assert.equal(rows.filter((l) => l.endsWith('FAIL')).length, failed.length);
    assert.ok(!/\u001b\[/.test(text), 'no escape codes without color');
  });

  it('says "all N expectations passed" when nothing failed', () => {
    const r = makeResults();
    r.verdict.expectations = r.verdict.expectations.filter((e) => e.pass);
    r.verdict.pass = true;
    const text = renderVerdict(r, { color: false });
    assert.ok(text.endsWith(`all ${r.verdict.expectations.length} expectations passed`));
    assert.ok(!/failed expectation/.test(text));
  });

  it('puts a harness error at the top with its fix', () => {
    const r = makeResults({ error: true });
    const text = renderVerdict(r, { color: false });
    const lines = text.split('\n');
    const at = lines.findIndex((l) => l.startsWith('HARNESS ERROR'));
    assert.ok(at >= 0 && at < 4);
    assert.ok(text.includes(r.error!.message));
    assert.ok(text.includes(`Fix: ${r.error!.hint}`));
    assert.match(verdictLine(r), /^harness error during rollout; \d+\/\d+ expectations failed$/);
  });

  it('colours only when asked, and the colours do not change the text', () => {
    const r = makeResults();
    const saved = process.env.NO_COLOR;
    try {
      delete process.env.NO_COLOR;
      const colored = renderVerdict(r, { color: true });
      assert.match(colored, /\u001b\[31m/);
      assert.equal(stripAnsi(colored), renderVerdict(r, { color: false }));
      process.env.NO_COLOR = '1';
      assert.ok(!/\u001b\[/.test(renderVerdict(r, { color: true })), 'NO_COLOR wins over the caller');
    } finally {
      if (saved === undefined) delete process.env.NO_COLOR;
      else process.env.NO_COLOR = saved;
    }
  });

  it('useColor: TTY only, NO_COLOR wins, FORCE_COLOR forces', () => {
    assert.equal(useColor({ isTTY: true }, {}), true);
    assert.equal(useColor({ isTTY: false }, {}), false);
    assert.equal(useColor({}, {}), false);
    assert.equal(useColor({ isTTY: true }, { NO_COLOR: '1' }), false);
    assert.equal(useColor({ isTTY: true }, { TERM: 'dumb' }), false);
    assert.equal(useColor({ isTTY: false }, { FORCE_COLOR: '1' }), true);
    assert.equal(useColor({ isTTY: false }, { FORCE_COLOR: '1', NO_COLOR: '1' }), false);
  });

  it('formats numbers the way people read them', () => {
    assert.equal(fmtNum(1234), '1,234');
    assert.equal(fmtNum(12_345), '12.3k');
    assert.equal(fmtNum(999_960), '1M');
    assert.equal(fmtNum(4_500_000), '4.5M');
    assert.equal(fmtNum(0.1234), '0.123');
    assert.equal(fmtNum(12.34), '12.3');
    assert.equal(fmtNum(0), '0');
    assert.equal(fmtNum(-2500), '-2,500');
    assert.equal(fmtNum(null), 'n/a');
    assert.equal(fmtSeconds(0.12), '0.12 s');
    assert.equal(fmtSeconds(0.045), '45 ms');
    assert.equal(fmtSeconds(125), '2m 05s');
    assert.equal(fmtClock(65), '1:05');
    assert.equal(fmtChange(100, 50), '-50%');
    assert.equal(fmtChange(100, 2000), '×20');
    assert.equal(fmtChange(0, 5), 'new');
  });
});
