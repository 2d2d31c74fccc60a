// Ctrl-C, SIGTERM and SIGHUP (the terminal or ssh session went away): the first one aborts the run (teardown runs
// in the runner's finally blocks, in reverse order); a second one forces: sweep everything of this process' runs
// and exit 130. Without a handler, SIGHUP would kill the harness on the spot and leave the whole lab behind.
// An internal error no caller catches (uncaught exception, unhandled rejection) aborts the run the same way, so the
// lab is still torn down; it is then reported as a harness error (exit 3), not as an interruption.
import type { Provider } from './providers/types.js';
import { activeRuns } from './names.js';
import { NotdnsError } from './errors.js';
import { log } from './log.js';

export interface SignalControl {
  signal: AbortSignal;
  dispose(): void;
  /** The internal error that aborted the run, if one did. */
  crash?: NotdnsError;
}

export function installSignalHandlers(progress: { log(line: string): void }, provider: Provider): SignalControl {
  const ctl = new AbortController();
  let count = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    count++;
    // after a hangup the terminal is gone: writing progress to it fails (EIO/EPIPE), which must not stop the teardown
    if (sig === 'SIGHUP') for (const s of [process.stdout, process.stderr]) s.on('error', () => undefined);
    if (count === 1) {
      progress.log(`${sig}: stopping, tearing everything down (press Ctrl-C again to force)`);
      ctl.abort(new Error(`interrupted by ${sig}`));
      return;
    }
    progress.log(`${sig} again: forcing cleanup`);
    Promise.all([...activeRuns].map((id) => provider.sweep(id).catch(() => undefined))).finally(() => process.exit(130));
    setTimeout(() => process.exit(130), 10_000).unref();
  };
  const c: SignalControl = {
    signal: ctl.signal,
    dispose: () => {
      for (const s of signals) process.off(s, onSignal);
      process.off('uncaughtException', onCrash);
      process.off('unhandledRejection', onCrash);
    },
  };
  const onCrash = (e: unknown) => {
    log.info({ err: e }, 'internal error (uncaught)'); // to notdns.log (with the stack), not the terminal
    if (c.crash) return; // the first one is reported; the teardown is already under way
    const msg = e instanceof Error ? e.message : String(e);
    c.crash = new NotdnsError(`notdns hit an internal error: ${msg}. The run was stopped and torn down.`, {
      kind: 'harness',
      cause: e,
      hint: 'This is a bug in notdns, not a verdict: report it with notdns.log from the output folder (it has the stack). `notdns down --all` removes anything left behind.',
    });
    progress.log(`internal error: ${msg}; tearing everything down`);
    if (!ctl.signal.aborted) ctl.abort(c.crash);
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const s of signals) process.on(s, onSignal);
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  return c;
}
