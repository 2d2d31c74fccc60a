// Shared by the reliability tests: run bin/notdns as a child (as a user would), watch its output, send it signals,
// and look at what it left on the host: namespaces nd-<id>-*, processes inside them, processes it started (found by
// an environment tag every descendant inherits), bpffs mounts and state dirs under /run/notdns.
// Other engineers run labs on this machine too: every check is scoped to the ids of the runs a test started.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, stateRoot } from '../../harness/paths.js';
import { listNamespaces } from '../../harness/providers/lab/lab.js';
import { run } from '../../harness/exec.js';
import { rng } from '../rng.js';

export const CLI = join(repoRoot, 'bin', 'notdns');

/** A tiny lab experiment (2 nodes, 1+1 pods, 20 channels): ~10 s from start to torn down. */
export function tinySpec(name = 'reliability-tiny', opts: { expectValue?: number; variants?: string[] } = {}): string {
  const variants = opts.variants ?? ['only'];
  return `name: ${name}
description: tiny experiment for the reliability tests
topology: { nodes: 2, serverNodes: 1 }
ena: { enabled: false }
workloads:
  metricsService: { replicas: 1, gracefulStopSeconds: 1, dnsLookupsPerSecond: 0 }
  alertingEngine: { instances: 1, channelsPerBackend: 20, dnsPropagationSeconds: 1 }
steps: [{ steady: 2 }, { rollout: { batch: 1 } }, { observe: 2 }]
variants: { ${variants.map((v) => `${v}: {}`).join(', ')} }
expect:
${variants.map((v) => `  ${v}: [{ probe: 'grpc.calls', stat: 'total', op: '>=', value: ${opts.expectValue ?? 1} }]`).join('\n')}
`;
}

export async function tempDir(prefix = 'notdns-rel-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function writeSpec(dir: string, file: string, text: string): Promise<string> {
  const p = join(dir, file);
  await writeFile(p, text);
  return p;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

export interface CliRun {
  child: ChildProcess;
  pid: number;
  /** Value of NOTDNS_TEST_TAG in the environment of the harness and everything it starts. */
  tag: string;
  startedAt: number;
  stdout: string;
  stderr: string;
  exit?: Exit;
  exited: Promise<Exit>;
  /** Variant run ids (the <id> of nd-<id>-*) the harness announced. */
  ids(): string[];
  /** Resolves with the first stderr/stdout line matching re (rejects on timeout or exit). */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
  /** The last progress line printed (✔/✖ phase lines and log lines). */
  lastLine(): string;
}

/** Start `bin/notdns ARGS` as a child process. */
export function startCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; detached?: boolean; cwd?: string; wrap?: string[] } = {},
): CliRun {
  const tag = randomBytes(6).toString('hex');
  const [cmd, ...pre] = opts.wrap?.length ? opts.wrap : [CLI];
  const argv = opts.wrap?.length ? [...pre, CLI, ...args] : args;
  const child = spawn(cmd!, argv, {
    env: { ...process.env, NO_COLOR: '1', CI: 'true', NOTDNS_TEST_TAG: tag, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.detached,
    cwd: opts.cwd,
  });
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  const lines: string[] = [];
  const r: CliRun = {
    child,
    pid: child.pid!,
    tag,
    startedAt: Date.now(),
    stdout: '',
    stderr: '',
    exited: new Promise<Exit>((resolve) =>
      child.once('exit', (code, signal) => {
        r.exit = { code, signal, at: Date.now() };
        resolve(r.exit);
      }),
    ),
    ids: () => [...new Set(lines.flatMap((l) => [...l.matchAll(/nd-([0-9a-f]{6})-\*/g)].map((m) => m[1]!)))],
    waitForLine(re, timeoutMs = 60_000) {
      const hit = lines.find((l) => re.test(l));
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`no line matching ${re} within ${timeoutMs} ms; output:\n${r.stderr.slice(-2000)}`)),
          timeoutMs,
        );
        const w = {
          re,
          resolve: (l: string) => {
            clearTimeout(t);
            resolve(l);
          },
        };
        waiters.push(w);
        void r.exited.then(() => {
          clearTimeout(t);
          if (waiters.includes(w))
            reject(new Error(`exited (${JSON.stringify(r.exit)}) before a line matching ${re}; output:\n${r.stderr.slice(-2000)}`));
        });
      });
    },
    lastLine: () => lines.filter((l) => l.trim()).at(-1) ?? '',
  };
  const feed = (which: 'stdout' | 'stderr') => {
    let rest = '';
    child[which]!.setEncoding('utf8');
    child[which]!.on('data', (chunk: string) => {
      r[which] += chunk;
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      for (const l of parts) {
        lines.push(l);
        for (const w of [...waiters])
          if (w.re.test(l)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(l);
          }
      }
    });
  };
  feed('stdout');
  feed('stderr');
  return r;
}

/** Run the CLI to completion (for short commands: down, bad input). */
export function cliSync(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; wrap?: string[]; timeoutMs?: number } = {},
): { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number } {
  const t0 = Date.now();
  const [cmd, ...pre] = opts.wrap?.length ? opts.wrap : [CLI];
  const r = spawnSync(cmd!, opts.wrap?.length ? [...pre, CLI, ...args] : args, {
    env: { ...process.env, NO_COLOR: '1', CI: 'true', ...opts.env },
    encoding: 'utf8',
    cwd: opts.cwd,
    timeout: opts.timeoutMs ?? 120_000,
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ms: Date.now() - t0 };
}

export interface Leftovers {
  namespaces: string[];
  /** "ns: pid comm" for every process still inside one of the run's namespaces. */
  nsProcesses: string[];
  /** "pid cmdline" for every live process carrying the run's environment tag (the harness and all it started). */
  tagged: string[];
  /** bpffs (and any other) mounts at or below /run/notdns/<id>. */
  mounts: string[];
  stateDirs: string[];
}

export function isClean(l: Leftovers): boolean {
  return Object.values(l).every((v) => v.length === 0);
}

export function describeLeftovers(l: Leftovers): string {
  if (isClean(l)) return 'nothing';
  return [
    `${l.namespaces.length} namespace(s)${l.namespaces.length ? ` [${l.namespaces.join(' ')}]` : ''}`,
    `${l.nsProcesses.length} process(es) in them`,
    `${l.tagged.length} process(es) it started`,
    `${l.mounts.length} mount(s)${l.mounts.length ? ` [${l.mounts.join(' ')}]` : ''}`,
    `${l.stateDirs.length} state dir(s)${l.stateDirs.length ? ` [${l.stateDirs.join(' ')}]` : ''}`,
  ].join(', ');
}

async function comm(pid: string): Promise<string> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replace(/\0/g, ' ').trim().slice(0, 160);
}

/** Live processes whose environment carries NOTDNS_TEST_TAG=tag (zombies and the dying excluded). */
export async function taggedProcesses(tag: string): Promise<string[]> {
  const out: string[] = [];
  const needle = `NOTDNS_TEST_TAG=${tag}`;
  for (const pid of (await readdir('/proc')).filter((d) => /^\d+$/.test(d))) {
    const env = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
    if (!env.split('\0').includes(needle)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    if (/\) [ZX] /.test(stat)) continue;
    out.push(`${pid} ${await comm(pid)}`);
  }
  return out;
}

/** What runs `ids` (and processes tagged `tag`) left on the host. */
export async function leftovers(ids: readonly string[], tag?: string): Promise<Leftovers> {
  const namespaces = (await listNamespaces()).filter((n) => ids.some((id) => n.startsWith(`nd-${id}-`))).sort();
  const nsProcesses: string[] = [];
  for (const ns of namespaces) {
    const pids = (await run('ip', ['netns', 'pids', ns], { reject: false })).stdout.split(/\s+/).filter(Boolean);
    for (const pid of pids) nsProcesses.push(`${ns}: ${pid} ${await comm(pid)}`);
  }
  const mounts = (await readFile('/proc/mounts', 'utf8'))
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[1] && ids.some((id) => f[1] === join(stateRoot, id) || f[1]!.startsWith(join(stateRoot, id) + '/')))
    .map((f) => `${f[2]} ${f[1]}`);
  const stateDirs = ids.map((id) => join(stateRoot, id)).filter((d) => existsSync(d));
  return { namespaces, nsProcesses, tagged: tag ? await taggedProcesses(tag) : [], mounts, stateDirs };
}

/** Host-wide counts (other engineers' labs included), for the evidence printed by the tests. */
export async function hostWide(): Promise<string> {
  const ns = (await listNamespaces()).filter((n) => n.startsWith('nd-')).length;
  const bpf = (await readFile('/proc/mounts', 'utf8'))
    .split('\n')
    .filter((l) => l.split(' ')[1]?.startsWith(stateRoot + '/') && l.split(' ')[2] === 'bpf').length;
  const dirs = (await readdir(stateRoot).catch(() => [] as string[])).length;
  const wl = (await run('pgrep', ['-f', 'dist/workloads/'], { reject: false })).stdout.split('\n').filter(Boolean).length;
  return `host-wide: ${ns} nd-* namespace(s), ${bpf} bpffs mount(s) under ${stateRoot}, ${dirs} state dir(s), ${wl} workload process(es) (other engineers' included)`;
}

/** Wait until `cond` holds (poll), or throw with `what`. */
export async function until(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The tests print the seed; RELIABILITY_SEED=<n> replays it. */
export { rng };

export function seed(): number {
  return process.env.RELIABILITY_SEED ? Number(process.env.RELIABILITY_SEED) : Math.floor(Math.random() * 2 ** 31);
}

/** A one-paragraph harness message: "notdns: ..." head, no stack frames. */
export function assertNoStack(text: string): void {
  if (/^\s+at .+[:(].*\d+:\d+\)?$/m.test(text)) throw new Error(`a stack trace was printed:\n${text}`);
}

/** The results.json of a run, parsed. */
export async function readResults(
  dir: string,
): Promise<{ runId: string; error?: { kind: string; phase?: string; message: string; hint?: string }; verdict: { pass: boolean } }> {
  return JSON.parse(await readFile(join(dir, 'results.json'), 'utf8'));
}

/** set-up / tear-down steps from a run's notdns.log, by scope ("lab", "runner"). */
export async function traceOf(logFile: string): Promise<{ setup: Record<string, string[]>; teardown: Record<string, string[]> }> {
  const setup: Record<string, string[]> = {},
    teardown: Record<string, string[]> = {};
  for (const line of (await readFile(logFile, 'utf8')).split('\n')) {
    if (!line.startsWith('{')) continue;
    let j: { setup?: string; teardown?: string; scope?: string };
    try {
      j = JSON.parse(line);
    } catch {
      continue;
    }
    if (!j.scope) continue;
    if (j.setup) {
      setup[j.scope] ??= [];
      setup[j.scope]!.push(j.setup);
    }
    if (j.teardown) {
      teardown[j.scope] ??= [];
      teardown[j.scope]!.push(j.teardown);
    }
  }
  return { setup, teardown };
}
