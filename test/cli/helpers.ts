// Run bin/notdns as a user would, without root: synchronously, or with its stdout piped into a reader that
// goes away after one line (`| head -1`).
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../harness/paths.js';

export const CLI = join(repoRoot, 'bin', 'notdns');

const ENV = { NO_COLOR: '1', CI: 'true' };

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function notdns(args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Ran {
  const r = spawnSync(CLI, args, { encoding: 'utf8', cwd: opts.cwd, env: { ...process.env, ...ENV, ...opts.env }, timeout: 60_000 });
  return { code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/**
 * notdns with stdout into a reader that reads one line and closes the pipe (`at: 'line'`), or that closes it
 * before notdns writes anything (`at: 'start'`: every write meets a closed pipe). Resolves with the exit, the
 * line read and all of stderr.
 */
export function notdnsIntoHead(
  args: readonly string[],
  opts: { at?: 'line' | 'start'; cwd?: string } = {},
): Promise<Ran & { line: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(CLI, args, { cwd: opts.cwd, env: { ...process.env, ...ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    if (opts.at === 'start') child.stdout.destroy();
    else {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        if (stdout.includes('\n')) child.stdout.destroy();
      });
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`notdns ${args.join(' ')} did not exit within 60 s`));
    }, 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, line: stdout.split('\n')[0] ?? '' });
    });
  });
}

/** No Node stack trace in `text`. */
export function assertNoStack(text: string): void {
  if (/^\s+at .+[:(].*\d+:\d+\)?$/m.test(text) || /Error: write EPIPE/.test(text)) throw new Error(`a stack trace was printed:\n${text}`);
}
