// What both workloads share on the command line and at run time: flag parsers that name the expected form,
// exit code 2 for every usage error, one JSON line per event on stdout, and a bounded, signal-aware lifetime.
import { Command, InvalidArgumentError } from 'commander';

export const EXIT_USAGE = 2;

/** A commander program whose usage errors print one line ("<name>: error: option '--x <n>' argument 'y' is
 * invalid. expected ...") and exit 2; --help exits 0. */
export function createProgram(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .helpOption('-h, --help', 'show this help and exit')
    .configureOutput({ outputError: (msg, write) => write(`${name}: ${msg.replace(/\s+$/, '')}\n`) })
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE));
}

/** Report a usage error found after parsing (flag combinations, values checked against each other) and exit 2. */
export function usageError(program: Command, flag: string, message: string): never {
  program.error(`error: ${flag}: ${message}`, { exitCode: EXIT_USAGE, code: 'notdns.usage' });
  throw new Error('unreachable'); // program.error exits
}

export function intArg(min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v.trim());
    if (!/^-?\d+$/.test(v.trim()) || n < min || n > max) throw new InvalidArgumentError(`expected an integer in ${min}..${max}`);
    return n;
  };
}

export function numberArg(min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v.trim());
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`expected a number in ${min}..${max}`);
    return n;
  };
}

/** Wrap a parser that throws plain Errors so commander reports it as an invalid argument. */
export function argFrom<T>(parse: (v: string) => T): (v: string) => T {
  return (v) => {
    try {
      return parse(v);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
  };
}

/** Same, for repeatable flags: every occurrence is appended to the list. */
export function repeatable<T>(parse: (v: string) => T): (v: string, prev: T[] | undefined) => T[] {
  const p = argFrom(parse);
  return (v, prev) => [...(prev ?? []), p(v)];
}

export type EventLog = (event: string, fields?: Record<string, unknown>) => void;

/** One JSON object per line on stdout: {"ts":..., "workload":..., "event":..., ...fields}. */
export function eventLog(workload: string): EventLog {
  return (event, fields = {}) => {
    process.stdout.write(JSON.stringify({ ts: new Date().toISOString(), workload, event, ...fields }) + '\n');
  };
}

export type StopReason = 'SIGTERM' | 'SIGINT' | 'max-duration' | 'lease-expired';

/**
 * The process's lifetime: the first SIGTERM/SIGINT or the end of --max-duration-seconds calls stop(reason) once,
 * then exits 0. A second signal while stopping calls force() (if given) and exits 0 at once.
 * An uncaught error is logged as a "fatal" event and exits 1. Returns the same stop, for other reasons (a lease).
 */
export function manageLifetime(opts: {
  maxDurationSeconds: number;
  log: EventLog;
  stop: (reason: StopReason) => Promise<void>;
  force?: () => void;
}): (reason: StopReason) => void {
  let stopping = false;
  const begin = (reason: StopReason) => {
    if (stopping) {
      opts.log('forced-exit', { reason });
      opts.force?.();
      process.exit(0);
    }
    stopping = true;
    clearTimeout(timer);
    opts.log('stopping', { reason });
    opts.stop(reason).then(
      () => {
        opts.log('exit', { code: 0 });
        process.exit(0);
      },
      (e: unknown) => {
        opts.log('fatal', { error: (e as Error)?.message ?? String(e) });
        process.exit(1);
      },
    );
  };
  const timer = setTimeout(() => begin('max-duration'), opts.maxDurationSeconds * 1000);
  process.on('SIGTERM', () => begin('SIGTERM'));
  process.on('SIGINT', () => begin('SIGINT'));
  const fatal = (e: unknown) => {
    opts.log('fatal', { error: (e as Error)?.stack ?? String(e) });
    process.exit(1);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  return begin;
}

export const MAX_DURATION_LIMIT_S = 7 * 24 * 3600;
