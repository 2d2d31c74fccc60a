// Live progress for long steps (bring-up, rollout, observe). On a TTY: one spinner line (ora) with the phase,
// elapsed/remaining time and key counters, refreshed every second, with log lines printed above it.
// Elsewhere (CI, pipes): plain lines, one per finished phase (plus an occasional heartbeat for long phases), no
// escape codes. `quiet` prints failures only.
import ora, { type Ora } from 'ora';
import { colorFor, stripAnsi, style, truncate } from './ansi.js';
import { fmtClock, fmtNum } from './format.js';

export type Counters = Record<string, number | string>;

/** What ProgressView needs of a stream (process.stderr, or a fake one in tests). */
export interface ProgressStream extends NodeJS.WritableStream {
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Default process.stderr (stdout stays clean for machine-readable output). */
  stream?: ProgressStream;
  /** Print failures only. */
  quiet?: boolean;
  /** Live spinner line; default: the stream is a TTY, TERM is not dumb and CI is not set. */
  interactive?: boolean;
  /** Default: useColor(stream). */
  color?: boolean;
  /** Plain mode: print a "still running" line at most this often, on update() (0: never). Default 60. */
  heartbeatSeconds?: number;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

export interface StartOptions {
  /** Expected duration, for "remaining". */
  totalSeconds?: number;
}

/** `SYN/s 12.3k  exceeded 4.5k  dns err 12` */
export function formatCounters(c: Counters): string {
  return Object.entries(c)
    .map(([k, v]) => `${k} ${typeof v === 'number' ? fmtNum(v) : v}`)
    .join('  ');
}

/** `0:42 / 1:00, 18s left` (or just the elapsed time when the total is unknown). */
export function formatTiming(elapsedSeconds: number, totalSeconds?: number): string {
  if (!totalSeconds || totalSeconds <= 0) return fmtClock(elapsedSeconds);
  const left = totalSeconds - elapsedSeconds;
  return `${fmtClock(elapsedSeconds)} / ${fmtClock(totalSeconds)}${left > 0 ? `, ${fmtClock(left)} left` : ', overtime'}`;
}

function isInteractive(stream: ProgressStream): boolean {
  return !!stream.isTTY && process.env.TERM !== 'dumb' && !process.env.CI;
}

export class ProgressView {
  readonly mode: 'live' | 'plain' | 'quiet';
  private readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly heartbeatMs: number;
  private readonly s: ReturnType<typeof style>;
  private spinner: Ora | null = null;
  private timer: NodeJS.Timeout | null = null;
  private phase: string | null = null;
  private total?: number;
  private startedAt = 0;
  private lastBeat = 0;
  private counters: Counters = {};

  constructor(opts: ProgressOptions = {}) {
    this.stream = opts.stream ?? process.stderr;
    this.now = opts.now ?? Date.now;
    this.heartbeatMs = (opts.heartbeatSeconds ?? 60) * 1000;
    this.mode = opts.quiet ? 'quiet' : (opts.interactive ?? isInteractive(this.stream)) ? 'live' : 'plain';
    this.s = style(this.mode === 'live' && colorFor(opts.color, this.stream));
  }

  /** Begin a phase (ends the previous one as done, if it is still running). */
  start(phase: string, opts: StartOptions = {}): void {
    if (this.phase !== null) this.done();
    this.phase = phase;
    this.total = opts.totalSeconds;
    this.startedAt = this.lastBeat = this.now();
    this.counters = {};
    if (this.mode !== 'live') return;
    this.spinner = ora({ text: this.text(), stream: this.stream, isEnabled: true, discardStdin: false, hideCursor: true }).start();
    this.timer = setInterval(() => this.refresh(), 1000);
    this.timer.unref();
  }

  /** Replace the counters shown (numbers are formatted compactly: 12.3k). */
  update(counters: Counters): void {
    this.counters = { ...counters };
    if (this.mode === 'live') {
      this.refresh();
      return;
    }
    if (this.mode === 'plain' && this.phase !== null && this.heartbeatMs > 0 && this.now() - this.lastBeat >= this.heartbeatMs) {
      this.lastBeat = this.now();
      this.write(`… ${this.line()}`);
    }
  }

  /** A line printed above the live line (as is, in plain mode). */
  log(line: string): void {
    if (this.mode === 'quiet') return;
    if (this.spinner) {
      this.spinner.clear();
      this.stream.write(`${line}\n`);
      this.spinner.render();
    } else {
      this.write(line);
    }
  }

  /** End the current phase successfully: `✔ rollout 1:02  SYN/s 12.3k  exceeded 4.5k — message`. */
  done(message?: string): void {
    if (this.phase === null) {
      if (message && this.mode !== 'quiet') this.write(message);
      return;
    }
    const text = `${this.line(true)}${message ? ` — ${message}` : ''}`;
    if (this.spinner) this.spinner.succeed(this.fit(text));
    else if (this.mode === 'plain') this.write(`✔ ${text}`);
    this.end();
  }

  /** End the current phase as failed; printed in every mode, quiet included. */
  fail(message: string): void {
    const text = this.phase === null ? message : `${this.phase} failed after ${fmtClock(this.elapsed())}: ${message}`;
    if (this.spinner) this.spinner.fail(text);
    else this.write(`✖ ${text}`);
    this.end();
  }

  /** Stop the live line without a verdict (e.g. on SIGINT). */
  stop(): void {
    this.spinner?.stop();
    this.end();
  }

  private end(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.spinner = null;
    this.phase = null;
    this.counters = {};
  }

  private elapsed(): number {
    return (this.now() - this.startedAt) / 1000;
  }

  /** The phase line; `final` (a finished phase) shows the time it took instead of the time left. */
  private line(final = false): string {
    const c = formatCounters(this.counters);
    const timing = final ? fmtClock(this.elapsed()) : formatTiming(this.elapsed(), this.total);
    return `${this.phase ?? ''}  ${timing}${c ? `  ${c}` : ''}`;
  }

  private text(): string {
    const c = formatCounters(this.counters);
    return this.fit(`${this.s.bold(this.phase ?? '')}  ${this.s.dim(formatTiming(this.elapsed(), this.total))}${c ? `  ${c}` : ''}`);
  }

  /** Keep the live line on one terminal row (a wrapped line cannot be redrawn in place). */
  private fit(text: string): string {
    const cols = this.stream.columns ?? 80;
    const max = Math.max(20, cols - 3);
    return stripAnsi(text).length > max ? truncate(stripAnsi(text), max) : text;
  }

  private refresh(): void {
    if (this.spinner) this.spinner.text = this.text();
  }

  private write(line: string): void {
    this.stream.write(`${line}\n`);
  }
}
