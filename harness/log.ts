// One logger for the harness. Quiet on the terminal (warnings and up unless --verbose); everything at debug level
// goes to <out>/notdns.log once a run has an output folder (setLogFile).
import { pino, type Logger, type StreamEntry } from 'pino';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

let current: Logger = pino({ level: process.env.NOTDNS_LOG_LEVEL ?? 'warn' }, pino.destination(2));

export const log: Logger = new Proxy({} as Logger, {
  get(_t, prop) {
    const v = (current as unknown as Record<string | symbol, unknown>)[prop];
    return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(current) : v;
  },
});

export function configureLog(opts: { verbose?: boolean; file?: string }): void {
  const streams: StreamEntry[] = [{ level: (opts.verbose ? 'debug' : 'warn') as pino.Level, stream: pino.destination(2) }];
  if (opts.file) {
    mkdirSync(dirname(opts.file), { recursive: true });
    streams.push({ level: 'debug' as pino.Level, stream: pino.destination({ dest: opts.file, sync: true }) });
  }
  current = pino({ level: 'debug' }, pino.multistream(streams));
}
