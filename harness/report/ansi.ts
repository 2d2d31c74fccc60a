// Minimal ANSI styling and column layout for terminal output. Colour only when asked (see useColor).

export interface Style {
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

const wrap = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;

export function style(color: boolean): Style {
  if (!color) {
    const id = (s: string) => s;
    return { red: id, green: id, yellow: id, cyan: id, dim: id, bold: id };
  }
  return { red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39), cyan: wrap(36, 39), dim: wrap(2, 22), bold: wrap(1, 22) };
}

/**
 * Whether to colour output written to `stream`: never with NO_COLOR (https://no-color.org), always with
 * FORCE_COLOR (other than 0), otherwise only on a TTY that is not TERM=dumb.
 */
export function useColor(stream: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  if (noColor(env)) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false') return true;
  return !!stream.isTTY && env.TERM !== 'dumb';
}

/** NO_COLOR is set (and not empty): no colour whatever a caller asked for. */
export function noColor(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NO_COLOR !== undefined && env.NO_COLOR !== '';
}

/** The colour decision for a renderer: the caller's wish (default: useColor(stdout)), overruled by NO_COLOR. */
export function colorFor(wish: boolean | undefined, stream: { isTTY?: boolean } = process.stdout): boolean {
  return (wish ?? useColor(stream)) && !noColor();
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

export function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}

/** Display width (ANSI removed; wide characters are not expected in our labels). */
export function visibleLength(s: string): number {
  return [...stripAnsi(s)].length;
}

export function truncate(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, Math.max(0, max - 1)).join('')}…`;
}

export interface Column {
  header: string;
  align?: 'left' | 'right';
  /** Longest cell (before styling); longer cells are cut with an ellipsis. */
  max?: number;
}

/**
 * A plain table: header, a rule, rows. Cells are given unstyled; `paint` may style a cell after padding
 * (so colours do not disturb the alignment).
 */
export function table(
  cols: Column[],
  rows: string[][],
  paint?: (row: number, col: number, padded: string) => string,
  s: Style = style(false),
): string {
  const cells = rows.map((r) => r.map((c, i) => (cols[i]?.max ? truncate(c, cols[i]!.max!) : c)));
  const widths = cols.map((c, i) => Math.max(visibleLength(c.header), ...cells.map((r) => visibleLength(r[i] ?? ''))));
  const pad = (text: string, i: number) => {
    const w = widths[i]!,
      n = w - visibleLength(text);
    if (i === cols.length - 1 && cols[i]!.align !== 'right') return text; // no trailing blanks
    return cols[i]!.align === 'right' ? ' '.repeat(n) + text : text + ' '.repeat(n);
  };
  const sep = '  ';
  const out = [
    s.bold(
      cols
        .map((c, i) => pad(c.header, i))
        .join(sep)
        .trimEnd(),
    ),
  ];
  out.push(s.dim(widths.map((w) => '─'.repeat(w)).join(sep)));
  cells.forEach((r, ri) => {
    out.push(
      r
        .map((c, ci) => (paint ? paint(ri, ci, pad(c, ci)) : pad(c, ci)))
        .join(sep)
        .trimEnd(),
    );
  });
  return out.join('\n');
}
