// The terminal side of the CLI: output into a reader that went away, and text wrapped to the terminal's width.

/**
 * A reader that closes early (`notdns list | head`, `grep -q`, a pager quit with q) ends the output, not the
 * command: a write into the closed pipe fails with EPIPE, and without a listener Node throws that as an
 * unhandled 'error' with a stack trace. Here it is dropped (later writes go nowhere), so the command finishes
 * as it would have (a run still tears its lab down) and exits with its own code. Other errors stay fatal.
 */
export function tolerateClosedOutput(streams: NodeJS.WritableStream[] = [process.stdout, process.stderr]): void {
  for (const s of streams) {
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') return;
      throw e;
    });
  }
}

/** Columns of the terminal stdout is on; 80 when it is not a terminal (a pipe, a file). */
export function outputColumns(stream: { isTTY?: boolean; columns?: number } = process.stdout): number {
  return stream.isTTY && stream.columns && stream.columns > 0 ? stream.columns : 80;
}

/**
 * Word-wrap `text` (one paragraph; its line breaks and runs of spaces count as one space) to `width` columns,
 * every line starting with `indent`. A word longer than the line stays whole on a line of its own.
 */
export function wrapText(text: string, width: number, indent = ''): string {
  const room = Math.max(20, width - indent.length);
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > room) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.map((l) => indent + l).join('\n');
}

/**
 * Two columns, the second wrapped: `term  description`, continuation lines under the description. A term longer
 * than `maxTerm` gets a line of its own, its description starting on the next line in the same column.
 */
export function twoColumns(
  rows: readonly (readonly [string, string])[],
  width: number,
  opts: { indent?: string; maxTerm?: number } = {},
): string {
  const indent = opts.indent ?? '  ';
  const maxTerm = Math.min(opts.maxTerm ?? 32, Math.max(8, Math.floor(width / 2) - indent.length));
  const termWidth = Math.max(0, ...rows.map(([t]) => t.length).filter((n) => n <= maxTerm));
  const descCol = indent.length + termWidth + 2;
  const pad = ' '.repeat(descCol);
  return rows
    .map(([t, d]) => {
      if (!d) return indent + t;
      const body = wrapText(d, width, pad);
      return t.length > termWidth ? `${indent}${t}\n${body}` : `${indent}${t.padEnd(termWidth)}  ${body.slice(descCol)}`;
    })
    .join('\n');
}
