import { NotdnsError } from './errors.js';

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** The one wait helper: poll `cond` every intervalMs until it returns a truthy value or timeoutMs passes. */
export async function waitFor<T>(
  what: string,
  cond: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  opts: { timeoutMs: number; intervalMs?: number; signal?: AbortSignal; hint?: string },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) {
      throw new NotdnsError(
        `timed out after ${opts.timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message ?? last})` : ''}`,
        {
          kind: 'harness',
          cause: last,
          hint: opts.hint ?? 'Re-run with --verbose; the log in the output folder shows the commands that ran.',
        },
      );
    }
    await sleep(opts.intervalMs ?? 100, opts.signal);
  }
}
