// Every subprocess goes through here: argument arrays (no shell), a timeout, an optional AbortSignal,
// and one error type that keeps the command line, exit code and stderr (see errors.ts).
import { execa, type ResultPromise } from 'execa';
import { NotdnsError } from './errors.js';
import { log } from './log.js';

export interface RunOptions {
  /** Run inside this network namespace (`ip netns exec NS ...`). */
  ns?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  input?: string;
  /** Return the result instead of throwing on a non-zero exit. */
  reject?: boolean;
  env?: Record<string, string>;
  cwd?: string;
}

export interface RunResult {
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  failed: boolean;
  durationMs: number;
}

export function nsArgv(ns: string | undefined, cmd: string, args: readonly string[]): [string, string[]] {
  return ns ? ['ip', ['netns', 'exec', ns, cmd, ...args]] : [cmd, [...args]];
}

export function commandLine(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export async function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [c, a] = nsArgv(opts.ns, cmd, args);
  const line = commandLine(c, a);
  const t0 = performance.now();
  log.debug({ cmd: line }, 'exec');
  const r = await execa(c, a, {
    reject: false,
    timeout: opts.timeoutMs ?? 30_000,
    cancelSignal: opts.signal,
    input: opts.input,
    env: opts.env,
    cwd: opts.cwd,
    stripFinalNewline: true,
    stdin: opts.input === undefined ? 'ignore' : 'pipe',
  }).catch((e: unknown) => {
    throw new NotdnsError(`could not start ${c}: ${(e as Error).message}`, {
      kind: 'environment',
      command: line,
      cause: e,
      hint: `Install the missing tool (\`notdns doctor\` prints the apt-get command) and try again.`,
    });
  });
  const res: RunResult = {
    command: line,
    exitCode: r.exitCode ?? -1,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    failed: r.failed,
    durationMs: performance.now() - t0,
  };
  if (r.failed && (opts.reject ?? true)) {
    if ((r as { code?: string }).code === 'ENOENT' || /ENOENT/.test(String(r.message))) {
      throw new NotdnsError(`${c} is not installed (or not on PATH).`, {
        kind: 'environment',
        command: line,
        hint: 'Run `notdns doctor`: it lists the missing Debian packages and the apt-get command that installs them.',
      });
    }
    const why = r.timedOut
      ? `timed out after ${opts.timeoutMs ?? 30_000} ms`
      : r.isCanceled
        ? 'was cancelled'
        : `exited with code ${r.exitCode}`;
    throw new NotdnsError(`command ${why}: ${res.stderr.trim().split('\n').slice(-3).join(' | ') || '(no stderr)'}`, {
      kind: 'command',
      command: line,
      cause: r,
    });
  }
  return res;
}

/** Run a batch of commands through one `ip -batch` / `tc -batch` style stdin, failing on the first error. */
export async function batch(tool: 'ip' | 'tc', lines: readonly string[], opts: RunOptions = {}): Promise<void> {
  if (lines.length === 0) return;
  const args = opts.ns ? ['-n', opts.ns, '-batch', '-'] : ['-batch', '-'];
  const res = await run(tool, args, { ...opts, ns: undefined, input: lines.join('\n') + '\n', reject: false });
  if (res.exitCode !== 0) {
    throw new NotdnsError(`${tool} -batch failed: ${res.stderr.trim().split('\n').slice(0, 4).join(' | ')}`, {
      kind: 'command',
      command: `${tool} ${args.join(' ')} <<< ${lines.length} lines (first: ${lines[0]})`,
    });
  }
}

let outliveHarness = false;
/**
 * `notdns up`: the lab's daemons (nsd, unbound, namespace sentinels) keep running after the CLI exits; they live in
 * the lab's namespaces, so `notdns down` (which kills every process in them) still removes them. Runs never set it.
 */
export function keepLongProcessesAfterExit(): void {
  outliveHarness = true;
}

/** Start a long-lived process (optionally in a netns). The caller owns it: stop it with stopProcess(). */
export function spawnLong(
  cmd: string,
  args: readonly string[],
  opts: { ns?: string; env?: Record<string, string>; logFile?: string; onLine?: (line: string) => void } = {},
): ResultPromise {
  const [c, a] = nsArgv(opts.ns, cmd, args);
  log.debug({ cmd: commandLine(c, a) }, 'spawn');
  const out = opts.logFile ? ({ file: opts.logFile, append: true } as const) : 'ignore';
  const detach = outliveHarness && !opts.onLine;
  const p = execa(c, a, {
    reject: false,
    stdin: 'ignore',
    stdout: opts.onLine ? 'pipe' : out,
    stderr: out,
    env: opts.env,
    cleanup: !detach,
    detached: detach,
    buffer: false,
  });
  if (detach) p.unref();
  if (opts.onLine) {
    let rest = '';
    p.stdout?.setEncoding('utf8');
    p.stdout?.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) if (l) opts.onLine!(l);
    });
  }
  return p;
}

/** SIGTERM, wait up to graceMs, then SIGKILL. Resolves when the process is gone. */
export async function stopProcess(p: ResultPromise, graceMs = 2000): Promise<void> {
  if (p.exitCode !== null && p.exitCode !== undefined) return;
  const done = p.then(
    () => undefined,
    () => undefined,
  );
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(t);
}
