// The verdict as printed at the end of a run: harness error (if any), failures first, the full table, and one
// closing line (`3/14 expectations failed` / `all 14 expectations passed`).
import type { Results } from '../results.js';
import { colorFor, style, table } from './ansi.js';
import { expectationMessage, fmtExpectationValue, plural } from './format.js';
import { unitForExpectation } from './series.js';

export interface VerdictOptions {
  /** Colour the output; default: useColor(process.stdout) (a TTY). NO_COLOR in the environment always wins. */
  color?: boolean;
  /** Longest expectation label in the table (longer ones are cut; the failure list always shows them whole). */
  maxLabel?: number;
}

/** The closing line, also used by the HTML banner and progress output. */
export function verdictLine(results: Results): string {
  const all = results.verdict.expectations;
  const ex = all.filter((e) => !e.na);
  const failed = ex.filter((e) => !e.pass).length;
  const na = all.length - ex.length;
  let line: string;
  if (!ex.length) line = na ? `no expectation applies on ${results.provider} (${na} n/a)` : 'no expectations were evaluated';
  else if (failed) line = `${failed}/${ex.length} expectations failed`;
  else line = `all ${plural(ex.length, 'expectation')} passed`;
  if (ex.length && na) line += ` (${na} n/a on ${results.provider})`;
  if (results.error) line = `harness error${results.error.phase ? ` during ${results.error.phase}` : ''}; ${line}`;
  return line;
}

export function renderVerdict(results: Results, opts: VerdictOptions = {}): string {
  const color = colorFor(opts.color);
  const s = style(color);
  const ex = results.verdict.expectations;
  const failed = ex.filter((e) => !e.pass && !e.na);
  const out: string[] = [];

  out.push(
    s.bold(`notdns ${results.experiment.name}`) +
      s.dim(
        `  run ${results.runId} · ${results.provider} · ${results.profile} · ${results.variants.map((v) => v.name).join(', ') || 'no variants'}`,
      ),
  );
  out.push('');

  if (results.error) {
    const e = results.error;
    out.push(s.red(s.bold(`HARNESS ERROR${e.phase ? ` (phase: ${e.phase})` : ''}: ${e.kind}`)));
    out.push(`  ${e.message}`);
    if (e.hint) out.push(`  ${s.yellow('Fix:')} ${e.hint}`);
    out.push(s.dim('  This is not a verdict: the run did not complete, so the expectations below are partial.'));
    out.push('');
  }

  for (const v of results.variants.filter((x) => x.stopped)) {
    const st = v.stopped!;
    out.push(s.red(s.bold(`STOPPED: variant ${v.name} at t=${st.t}s by ${st.by}`)));
    out.push(`  ${st.label}${st.value !== null ? ` (measured ${Math.round(st.value * 100) / 100})` : ''}`);
    out.push(
      `  ${st.faultRemovedAt !== null ? `fault removed at t=${st.faultRemovedAt}s` : 'the fault could not be removed at once; the teardown removed it'}${st.detail ? `: ${st.detail}` : ''}`,
    );
    out.push(s.dim('  Not a verdict: its expectations were not evaluated, the variants after it were not run (exit 4).'));
    out.push('');
  }

  if (failed.length) {
    out.push(s.red(s.bold(`${plural(failed.length, 'failed expectation')}:`)));
    for (const e of failed) {
      out.push(`  ${s.red('✗')} ${s.dim(`[${e.variant}]`)} ${expectationMessage(e, unitForExpectation(results, e))}`);
      if (e.detail) out.push(`      ${s.dim(e.detail)}`);
    }
    out.push('');
  }

  if (ex.length) {
    const rows = ex.map((e) => {
      const unit = unitForExpectation(results, e);
      if (e.na) return [e.variant, e.label, 'n/a', `${e.op} ${fmtExpectationValue(e, e.threshold, unit)}`, 'n/a'];
      return [
        e.variant,
        e.label,
        fmtExpectationValue(e, e.measured, unit),
        `${e.op} ${fmtExpectationValue(e, e.threshold, unit)}`,
        e.pass ? 'pass' : 'FAIL',
      ];
    });
    out.push(
      table(
        [
          { header: 'variant' },
          { header: 'expectation', max: opts.maxLabel ?? 72 },
          { header: 'measured', align: 'right' },
          { header: 'threshold' },
          { header: 'result' },
        ],
        rows,
        (ri, ci, padded) => {
          if (ex[ri]!.na) return s.dim(padded);
          if (ci !== 4) return ci === 2 && !ex[ri]!.pass ? s.red(padded) : padded;
          return ex[ri]!.pass ? s.green(padded) : s.red(s.bold(padded));
        },
        s,
      ),
    );
    out.push('');
    const na = ex.filter((e) => e.na);
    if (na.length) {
      out.push(s.dim(`${plural(na.length, 'expectation')} n/a (not evaluated):`));
      for (const e of na) out.push(s.dim(`  [${e.variant}] ${e.label}: ${e.na}`));
      out.push('');
    }
  }

  const line = verdictLine(results);
  out.push(results.error || failed.length ? s.red(s.bold(line)) : ex.length ? s.green(s.bold(line)) : s.yellow(line));
  return out.join('\n');
}
