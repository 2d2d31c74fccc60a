// Ctrl-C and SIGTERM: the first one aborts the run (teardown runs in the runner's finally blocks, in reverse
// order); a second one forces: sweep everything of this process' runs and exit 130.
import type { Provider } from './providers/types.js';
import { activeRuns } from './names.js';

export interface SignalControl { signal: AbortSignal; dispose(): void }

export function installSignalHandlers(progress: { log(line: string): void }, provider: Provider): SignalControl {
  const ctl = new AbortController();
  let count = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      progress.log(`${sig}: stopping, tearing everything down (press Ctrl-C again to force)`);
      ctl.abort(new Error(`interrupted by ${sig}`));
      return;
    }
    progress.log(`${sig} again: forcing cleanup`);
    Promise.all([...activeRuns].map((id) => provider.sweep(id).catch(() => undefined))).finally(() => process.exit(130));
    setTimeout(() => process.exit(130), 10_000).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: ctl.signal,
    dispose: () => { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal); },
  };
}
