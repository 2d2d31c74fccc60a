// Ctrl-C, SIGTERM and SIGHUP (the terminal or ssh session went away): the first one aborts the run (teardown runs
// in the runner's finally blocks, in reverse order); a second one forces: sweep everything of this process' runs
// and exit 130. Without a handler, SIGHUP would kill the harness on the spot and leave the whole lab behind.
import type { Provider } from './providers/types.js';
import { activeRuns } from './names.js';

export interface SignalControl { signal: AbortSignal; dispose(): void }

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
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const s of signals) process.on(s, onSignal);
  return {
    signal: ctl.signal,
    dispose: () => { for (const s of signals) process.off(s, onSignal); },
  };
}
