// What changed between two runs (a = before, b = after): expectations that flipped, measured values with their
// relative change, and the headline numbers per variant. A regression is an expectation that passed in `a`
// and fails in `b`.
import type { ExpectationResult, Results } from '../results.js';
import { colorFor, style, table } from './ansi.js';
import { fmtChange, fmtExpectationValue, fmtNum, fmtSeconds, plural, relChange } from './format.js';
import { headlines, summaryHeadline, summaryLabel, unitForExpectation, type Headline } from './series.js';

export type ExpectationChange = 'regressed' | 'fixed' | 'still-failing' | 'still-passing' | 'added' | 'removed';

export interface ExpectationDiff {
  variant: string;
  label: string;
  change: ExpectationChange;
  a: ExpectationResult | null;
  b: ExpectationResult | null;
  /** (b - a) / |a| of the measured values; null when not computable. */
  relChange: number | null;
  unit?: string;
}

export interface NumberDiff {
  variant: string;
  key: string;
  label: string;
  a: number | null;
  b: number | null;
  relChange: number | null;
  format: Headline['format'];
}

export interface RunRef {
  runId: string;
  experiment: string;
  startedAt: string;
  toolVersion: string;
  pass: boolean;
  error?: string;
}

export interface Comparison {
  a: RunRef;
  b: RunRef;
  /** Every expectation of either run, flipped ones first. */
  expectations: ExpectationDiff[];
  /** Headline numbers (computed from the series), then the variants' summary numbers that are not headlines. */
  numbers: NumberDiff[];
  regressions: ExpectationDiff[];
  fixed: ExpectationDiff[];
  /** Variants present in only one of the runs. */
  onlyInA: string[];
  onlyInB: string[];
  /** Warnings worth showing (different experiments, harness errors). */
  notes: string[];
}

function ref(r: Results): RunRef {
  return {
    runId: r.runId,
    experiment: r.experiment.name,
    startedAt: r.startedAt,
    toolVersion: r.tool.version,
    pass: r.verdict.pass && !r.error,
    error: r.error ? `${r.error.kind}${r.error.phase ? ` during ${r.error.phase}` : ''}: ${r.error.message}` : undefined,
  };
}

const key = (e: ExpectationResult) => `${e.variant}\u0000${e.label}`;
const ORDER: Record<ExpectationChange, number> = { regressed: 0, fixed: 1, 'still-failing': 2, removed: 3, added: 4, 'still-passing': 5 };

export function compareResults(a: Results, b: Results): Comparison {
  const notes: string[] = [];
  if (a.experiment.name !== b.experiment.name)
    notes.push(
      `different experiments: ${a.experiment.name} vs ${b.experiment.name}; only expectations with the same variant and label are matched`,
    );
  if (a.profile !== b.profile) notes.push(`different profiles: ${a.profile} vs ${b.profile} (--fast scales every duration)`);
  if (a.error) notes.push(`run A had a harness error: ${ref(a).error}`);
  if (b.error) notes.push(`run B had a harness error: ${ref(b).error}`);

  const am = new Map(a.verdict.expectations.map((e) => [key(e), e]));
  const bm = new Map(b.verdict.expectations.map((e) => [key(e), e]));
  const keys = [...new Set([...am.keys(), ...bm.keys()])];
  const expectations: ExpectationDiff[] = keys.map((k) => {
    const ea = am.get(k) ?? null,
      eb = bm.get(k) ?? null;
    const e = (eb ?? ea)!;
    let change: ExpectationChange;
    if (!ea) change = 'added';
    else if (!eb) change = 'removed';
    else if (eb.na)
      change = 'removed'; // not evaluated in b (n/a on its provider)
    else if (ea.pass && !eb.pass) change = 'regressed';
    else if (!ea.pass && eb.pass) change = 'fixed';
    else change = eb.pass ? 'still-passing' : 'still-failing';
    return {
      variant: e.variant,
      label: e.label,
      change,
      a: ea,
      b: eb,
      relChange: relChange(ea?.measured ?? null, eb?.measured ?? null),
      unit: unitForExpectation(b, e) ?? unitForExpectation(a, e),
    };
  });
  expectations.sort((x, y) => ORDER[x.change] - ORDER[y.change]);

  const numbers: NumberDiff[] = [];
  const aNames = a.variants.map((v) => v.name),
    bNames = b.variants.map((v) => v.name);
  for (const name of aNames.filter((n) => bNames.includes(n))) {
    const va = a.variants.find((v) => v.name === name)!,
      vb = b.variants.find((v) => v.name === name)!;
    const ha = new Map(headlines(va).map((h) => [h.key, h])),
      hb = new Map(headlines(vb).map((h) => [h.key, h]));
    for (const k of new Set([...ha.keys(), ...hb.keys()])) {
      const h = (hb.get(k) ?? ha.get(k))!;
      const x = ha.get(k)?.value ?? null,
        y = hb.get(k)?.value ?? null;
      numbers.push({ variant: name, key: k, label: h.label, a: x, b: y, relChange: relChange(x, y), format: h.format });
    }
    // the summary repeats most headlines under another name: one row per number, the headline's
    const labels = new Set([...ha.values(), ...hb.values()].map((h) => h.label));
    for (const k of new Set([...Object.keys(va.summary), ...Object.keys(vb.summary)])) {
      const label = summaryLabel(k);
      if (ha.has(summaryHeadline(k)) || hb.has(summaryHeadline(k)) || labels.has(label)) continue;
      const x = va.summary[k] ?? null,
        y = vb.summary[k] ?? null;
      numbers.push({ variant: name, key: `summary.${k}`, label, a: x, b: y, relChange: relChange(x, y), format: 'count' });
    }
  }

  return {
    a: ref(a),
    b: ref(b),
    expectations,
    numbers,
    regressions: expectations.filter((e) => e.change === 'regressed'),
    fixed: expectations.filter((e) => e.change === 'fixed'),
    onlyInA: aNames.filter((n) => !bNames.includes(n)),
    onlyInB: bNames.filter((n) => !aNames.includes(n)),
    notes,
  };
}

export interface CompareExitOptions {
  /** Also count an expectation that passed in `a` and is missing from `b` as a regression. */
  strict?: boolean;
}

/** 0: no regression; 1: at least one expectation passed in `a` and fails in `b` (or, strict, went missing). */
export function compareExitCode(c: Comparison, opts: CompareExitOptions = {}): 0 | 1 {
  if (c.regressions.length) return 1;
  if (opts.strict && c.expectations.some((e) => e.change === 'removed' && e.a?.pass)) return 1;
  return 0;
}

function fmtNumber(v: number | null, f: Headline['format']): string {
  if (v === null) return '—';
  if (f === 'seconds') return fmtSeconds(v);
  if (f === 'percent') return `${fmtNum(v)}%`;
  if (f === 'rate') return `${fmtNum(v)}/s`;
  return fmtNum(v);
}

const CHANGE_TEXT: Record<ExpectationChange, string> = {
  regressed: 'REGRESSED',
  fixed: 'fixed',
  'still-failing': 'still failing',
  'still-passing': 'pass',
  added: 'new',
  removed: 'removed',
};

export interface RenderCompareOptions {
  color?: boolean;
  /** Show everything: expectations that passed in both runs, numbers that barely moved. */
  all?: boolean;
  /** Numbers whose relative change is below this are counted, not listed (default 0.01 = 1%). */
  minChange?: number;
}

export function renderComparison(c: Comparison, opts: RenderCompareOptions = {}): string {
  const s = style(colorFor(opts.color));
  const out: string[] = [];
  const runLine = (tag: string, r: RunRef) =>
    `  ${tag}  ${r.runId}  ${r.experiment}  ${r.startedAt}  notdns ${r.toolVersion}  ${r.error ? s.red('harness error') : r.pass ? s.green('pass') : s.red('fail')}`;
  out.push(s.bold('notdns compare'));
  out.push(runLine('A', c.a));
  out.push(runLine('B', c.b));
  for (const n of c.notes) out.push(s.yellow(`  note: ${n}`));
  if (c.onlyInA.length) out.push(s.yellow(`  variants only in A: ${c.onlyInA.join(', ')}`));
  if (c.onlyInB.length) out.push(s.yellow(`  variants only in B: ${c.onlyInB.join(', ')}`));
  out.push('');

  const shown = opts.all ? c.expectations : c.expectations.filter((e) => e.change !== 'still-passing');
  const hidden = c.expectations.length - shown.length;
  if (shown.length) {
    out.push(s.bold('Expectations'));
    const fmt = (d: ExpectationDiff, e: ExpectationResult | null) => (e ? fmtExpectationValue(e, e.measured, d.unit) : '—');
    const rows = shown.map((d) => {
      const e = (d.b ?? d.a)!;
      return [
        CHANGE_TEXT[d.change],
        d.variant,
        d.label,
        fmt(d, d.a),
        fmt(d, d.b),
        fmtChange(d.a?.measured ?? null, d.b?.measured ?? null),
        `${e.op} ${fmtExpectationValue(e, e.threshold, d.unit)}`,
      ];
    });
    out.push(
      table(
        [
          { header: 'change' },
          { header: 'variant' },
          { header: 'expectation', max: 60 },
          { header: 'A', align: 'right' },
          { header: 'B', align: 'right' },
          { header: 'Δ', align: 'right' },
          { header: 'threshold' },
        ],
        rows,
        (ri, ci, padded) => {
          if (ci !== 0) return padded;
          const ch = shown[ri]!.change;
          return ch === 'regressed' || ch === 'still-failing'
            ? s.red(padded)
            : ch === 'fixed'
              ? s.green(padded)
              : ch === 'still-passing'
                ? padded
                : s.yellow(padded);
        },
        s,
      ),
    );
  }
  if (hidden)
    out.push(s.dim(`${plural(hidden, 'expectation')} passed in both runs${shown.length ? ' (not shown; --all shows them)' : ''}`));
  out.push('');

  const min = opts.minChange ?? 0.01;
  const listed = opts.all ? c.numbers : c.numbers.filter((n) => (n.relChange === null ? n.a !== n.b : Math.abs(n.relChange) >= min));
  const quiet = c.numbers.length - listed.length;
  if (c.numbers.length) {
    out.push(s.bold('Numbers'));
    if (listed.length) {
      out.push(
        table(
          [
            { header: 'variant' },
            { header: 'number', max: 48 },
            { header: 'A', align: 'right' },
            { header: 'B', align: 'right' },
            { header: 'Δ', align: 'right' },
          ],
          listed.map((n) => [n.variant, n.label, fmtNumber(n.a, n.format), fmtNumber(n.b, n.format), fmtChange(n.a, n.b)]),
          undefined,
          s,
        ),
      );
    }
    out.push(
      s.dim(
        opts.all
          ? `${plural(c.numbers.filter((n) => n.a !== n.b).length, 'number')} changed`
          : `${listed.length} of ${plural(c.numbers.length, 'number')} changed by ${fmtNum(min * 100)}% or more${quiet ? ' (--all shows the rest)' : ''}`,
      ),
    );
    out.push('');
  }

  const r = c.regressions.length;
  if (r) out.push(s.red(s.bold(`${plural(r, 'regression')}: ${c.regressions.map((d) => `[${d.variant}] ${d.label}`).join('; ')}`)));
  else out.push(s.green(s.bold(`no regressions${c.fixed.length ? `; ${plural(c.fixed.length, 'expectation')} fixed` : ''}`)));
  return out.join('\n');
}
