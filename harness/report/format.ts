// Number formatting shared by the terminal verdict, JUnit messages, compare tables and the HTML report.
// The aim is numbers that read at a glance: 1,234 / 12.3k / 4.5M / 0.12 s / 45 ms / 0.0123.
import type { ExpectationResult } from '../results.js';

const SUFFIXES: [number, string][] = [
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];

function trimZeros(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** Three significant digits, no exponent for ordinary magnitudes, trailing zeros dropped. */
function sig3(v: number): string {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a < 0.001) return trimZeros(v.toExponential(1)).replace(/\.0e/, 'e');
  const digits = Math.max(0, 2 - Math.floor(Math.log10(a)));
  return trimZeros(v.toFixed(Math.min(digits, 6)));
}

/**
 * A number for humans: integers below 10,000 with thousands separators (1,234), larger values compact
 * (12.3k, 4.5M), fractions with three significant digits (0.123, 12.3). null → 'n/a'.
 */
export function fmtNum(v: number | null | undefined): string {
  if (v === null || v === undefined) return 'n/a';
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '-∞';
  const a = Math.abs(v);
  if (a >= 10_000) {
    for (const [k, s] of SUFFIXES) {
      if (a >= k * 0.9995) {
        const x = v / k;
        // 999.96k would print as "1000k": move up a unit instead.
        if (Math.abs(Number(sig3(x))) >= 1000 && k < 1e12) continue;
        return `${sig3(x)}${s}`;
      }
    }
  }
  if (a >= 100) return Math.round(v).toLocaleString('en-US');
  return sig3(v);
}

/** Axis ticks: compact from 1,000 up (2.5k, 15k, 1.2M) so every tick of an axis reads the same way. */
export function fmtAxis(v: number): string {
  if (Math.abs(v) >= 1000 && Math.abs(v) < 10_000) return `${sig3(v / 1000)}k`;
  return fmtNum(v);
}

/** Exact-ish: thousands separators, up to 3 decimals (for tables where the precise value matters). */
export function fmtExact(v: number | null | undefined): string {
  if (v === null || v === undefined) return 'n/a';
  if (!Number.isFinite(v)) return fmtNum(v);
  return v.toLocaleString('en-US', { maximumFractionDigits: Math.abs(v) < 1 ? 4 : 3 });
}

/** A duration or latency in seconds: 45 ms, 0.12 s, 12.3 s, 2m 05s. */
export function fmtSeconds(v: number | null | undefined): string {
  if (v === null || v === undefined) return 'n/a';
  if (!Number.isFinite(v)) return fmtNum(v);
  const a = Math.abs(v);
  if (a === 0) return '0 s';
  if (a < 0.001) return `${sig3(v * 1e6)} µs`;
  if (a < 0.1) return `${sig3(v * 1000)} ms`;
  if (a < 60) return `${sig3(v)} s`;
  const m = Math.floor(a / 60),
    s = Math.round(a - m * 60);
  return `${v < 0 ? '-' : ''}${m}m ${String(s).padStart(2, '0')}s`;
}

/** Elapsed time for progress lines and x axes: 42s, 1:05, 1:02:03. */
export function fmtClock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const h = Math.floor(s / 3600),
    m = Math.floor((s % 3600) / 60),
    r = s % 60;
  return h ? `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}` : `${m}:${String(r).padStart(2, '0')}`;
}

/** Relative change a → b: +12%, -40%, ×12.5 for large increases, 'new' when a is 0. */
export function fmtChange(a: number | null, b: number | null): string {
  const r = relChange(a, b);
  if (r === null) return a === 0 && b !== null && b !== 0 ? 'new' : '';
  if (r === 0) return '±0%';
  if (r >= 9) return `×${sig3(1 + r)}`;
  const pct = r * 100;
  if (Math.abs(pct) < 0.05) return '≈0%';
  const s = Math.abs(pct) >= 10 ? String(Math.round(pct)) : pct.toFixed(1).replace(/\.0$/, '');
  return `${pct > 0 ? '+' : ''}${s}%`;
}

/** (b - a) / |a|; null when either is missing or a is 0 and b isn't. */
export function relChange(a: number | null, b: number | null): number | null {
  if (a === null || b === null || !Number.isFinite(a) || !Number.isFinite(b)) return null;
  if (a === 0) return b === 0 ? 0 : null;
  return (b - a) / Math.abs(a);
}

export function isSecondsUnit(unit: string | undefined): boolean {
  return !!unit && /^(s|sec|secs|second|seconds)$/i.test(unit.trim());
}

/** Format a value in a series' unit: seconds as durations, everything else as a plain number. */
export function fmtValue(v: number | null | undefined, unit?: string): string {
  return isSecondsUnit(unit) ? fmtSeconds(v) : fmtNum(v);
}

/**
 * Format an expectation's measured value or threshold. Rates get "/s", latencies (seconds) read as time,
 * compare ratios get "×". The unit comes from the series of the expectation's probe when known.
 */
export function fmtExpectationValue(e: Pick<ExpectationResult, 'variant' | 'stat'>, v: number | null, unit?: string): string {
  if (v === null) return 'n/a';
  if (e.variant === 'compare') return `${fmtNum(v)}×`;
  if (/rate/i.test(e.stat)) return `${fmtNum(v)}/s`;
  return fmtValue(v, unit);
}

/** "<label>: measured X vs threshold <op> Y" — the one-line form used by JUnit, the terminal and the HTML. */
export function expectationMessage(e: ExpectationResult, unit?: string): string {
  const measured = e.measured === null ? 'n/a (not measured)' : fmtExpectationValue(e, e.measured, unit);
  return `${e.label}: measured ${measured} vs threshold ${e.op} ${fmtExpectationValue(e, e.threshold, unit)}`;
}

/** Pluralise: plural(3, 'expectation') → '3 expectations'. */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? word : many}`;
}
