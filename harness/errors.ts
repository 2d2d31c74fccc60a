// Two kinds of failure, kept apart on purpose (as in cilium-cli's Fail vs Fatal):
//  - a *deviation* is a result: an expectation that did not hold (see expect.ts), never an exception;
//  - a *harness error* means notdns itself could not do its job: bad input, a missing tool, a command that failed.
// Every harness error carries a one-paragraph message naming the problem and the fix, never a stack trace alone.

export type ErrorKind = 'spec' | 'usage' | 'environment' | 'command' | 'harness' | 'interrupted';

export interface NotdnsErrorOptions {
  kind: ErrorKind;
  /** What to do about it, in one or two sentences. */
  hint?: string;
  /** Which phase of a run was going on (up, deploy, rollout, probe, report, down). */
  phase?: string;
  cause?: unknown;
  /** For command failures: the command line that failed. */
  command?: string;
}

export class NotdnsError extends Error {
  readonly kind: ErrorKind;
  readonly hint?: string;
  phase?: string;
  readonly command?: string;

  constructor(message: string, opts: NotdnsErrorOptions) {
    super(message, { cause: opts.cause });
    this.name = 'NotdnsError';
    this.kind = opts.kind;
    this.hint = opts.hint;
    this.phase = opts.phase;
    this.command = opts.command;
  }

  /** The paragraph a user sees. */
  explain(): string {
    const parts = [this.message.trim()];
    if (this.command) parts.push(`Command: ${this.command}`);
    if (this.hint) parts.push(`Fix: ${this.hint}`);
    return parts.join('\n');
  }
}

export function isNotdnsError(e: unknown): e is NotdnsError {
  return e instanceof NotdnsError;
}

/** Wrap anything thrown in a phase into a NotdnsError that says which phase broke. */
export function inPhase(phase: string, e: unknown): NotdnsError {
  if (e instanceof NotdnsError) {
    if (!e.phase) e.phase = phase;
    return e;
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new NotdnsError(`notdns failed during "${phase}": ${msg}`, {
    kind: 'harness',
    phase,
    cause: e,
    hint: 'This is a harness error, not an experiment verdict. Re-run with --verbose and look at the log in the output folder; `notdns down --all` removes anything left behind.',
  });
}

/** Format any error for the terminal: our errors as their paragraph, others with their stack under --verbose. */
export function formatError(e: unknown, verbose = false): string {
  if (e instanceof NotdnsError) {
    const head = `notdns: ${e.kind === 'spec' ? 'invalid experiment' : e.kind === 'environment' ? 'this machine is not ready' : e.kind === 'usage' ? 'bad usage' : e.kind === 'interrupted' ? 'interrupted' : 'error'}${e.phase ? ` (phase: ${e.phase})` : ''}`;
    let s = `${head}\n${e.explain()}`;
    if (verbose && e.cause instanceof Error && e.cause.stack) s += `\nCause: ${e.cause.stack}`;
    return s;
  }
  if (e instanceof Error)
    return `notdns: unexpected error: ${e.message}${verbose && e.stack ? `\n${e.stack}` : '\n(re-run with --verbose for the stack)'}`;
  return `notdns: unexpected error: ${String(e)}`;
}
