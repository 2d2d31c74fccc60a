// Labs for the benchmarks: every lab gets a fresh run id (namespaces nd-<runid>-...), is registered here while it
// exists, and is always destroyed and swept (try/finally; on SIGINT/SIGTERM run.ts calls cleanupAll()).
// Traffic only ever flows between namespaces the benchmark created.
import { join } from 'node:path';
import { LabProvider, type LabCluster } from '../../harness/providers/lab/lab.js';
import type { Topology } from '../../harness/providers/types.js';
import { newRunId } from '../../harness/names.js';
import { stateRoot } from '../../harness/paths.js';
import { run } from '../../harness/exec.js';
import {
  attachEna,
  detachEna,
  enaBpffsDir,
  enaPinDir,
  ensureBpffs,
  readEnaStats,
  releaseBpffs,
  type EnaHandle,
  type EnaTimeouts,
} from '../../harness/ena/index.js';

export const provider = new LabProvider();

/** The flagship's lab (rollout-syn-flood): 3 nodes, 2 of them server nodes, node-local DNS on every node. */
export const FLAGSHIP_TOPOLOGY: Topology = {
  nodes: 3,
  serverNodes: 2,
  eniHasAddress: false,
  unreachableOnDelete: false,
  nodeLocalDns: true,
};

const live = new Set<string>();
const cleanups = new Set<() => Promise<void>>();

export interface LabRun {
  runId: string;
  stateDir: string;
}

export function newLabRun(): LabRun {
  const runId = newRunId();
  live.add(runId);
  return { runId, stateDir: join(stateRoot, runId) };
}

/** Sweep a run's leftovers (processes in its namespaces, namespaces, bpffs mounts, state dir) and forget it. */
export async function sweepRun(runId: string): Promise<string[]> {
  const { removed } = await provider.sweep(runId);
  live.delete(runId);
  return removed;
}

/** Bring up a lab, run fn, then ENA detach + destroy + sweep whatever happened. */
export async function withLab<T>(topology: Topology, fn: (cluster: LabCluster, lab: LabRun & { ena: EnaSet }) => Promise<T>): Promise<T> {
  const lab = newLabRun();
  const ena = new EnaSet(lab.stateDir);
  let cluster: LabCluster | undefined;
  try {
    cluster = await provider.up(topology, lab.runId, { stateDir: lab.stateDir });
    return await fn(cluster, { ...lab, ena });
  } finally {
    await ena.remove().catch(() => undefined);
    await cluster?.destroy().catch(() => undefined);
    await sweepRun(lab.runId).catch(() => undefined);
  }
}

/** Register an extra cleanup step (e.g. a sysctl to restore) for cleanupAll() on a signal. */
export function onCleanup(fn: () => Promise<void>): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** Best effort: run registered cleanups and sweep every lab still registered (signal handler). */
export async function cleanupAll(): Promise<void> {
  for (const fn of cleanups) await fn().catch(() => undefined);
  cleanups.clear();
  for (const id of [...live]) await sweepRun(id).catch(() => undefined);
}

/** The ENA simulator on some nodes of one lab, in the lab's private bpffs. */
export class EnaSet {
  readonly handles = new Map<string, EnaHandle>();
  private bpffs?: string;
  constructor(private readonly stateDir: string) {}

  async attach(node: LabCluster['nodes'][number], allowance: number, timeouts?: Partial<EnaTimeouts>): Promise<EnaHandle> {
    this.bpffs ??= await ensureBpffs(enaBpffsDir(this.stateDir));
    // lab nodes share the host's filesystem: read the pins from here (as installEna does for the lab)
    const h = await attachEna(node, {
      allowance,
      pinDir: enaPinDir(this.bpffs, node.name),
      stateDir: this.stateDir,
      timeouts,
      readOnHost: true,
    });
    this.handles.set(node.name, h);
    return h;
  }

  get(node: string): EnaHandle {
    const h = this.handles.get(node);
    if (!h) throw new Error(`no ENA simulator on ${node}`);
    return h;
  }

  read(node: string) {
    return readEnaStats(this.get(node));
  }

  async remove(): Promise<void> {
    for (const h of this.handles.values()) await detachEna(h).catch(() => undefined);
    this.handles.clear();
    if (this.bpffs) await releaseBpffs(this.bpffs).catch(() => undefined);
    this.bpffs = undefined;
  }
}

export interface BpfProgStats {
  runTimeNs: number;
  runCnt: number;
}

/** run_time_ns / run_cnt of the ENA programs pinned by `h` (kernel.bpf_stats_enabled=1 must be on to move). */
export async function enaProgStats(handles: Iterable<EnaHandle>): Promise<BpfProgStats> {
  const lines: string[] = [];
  for (const h of handles) for (const p of ['ena_ingress', 'ena_egress']) lines.push(`prog show pinned ${h.pinDir}/progs/${p}`);
  const r = await run('bpftool', ['-j', 'batch', 'file', '-'], { input: lines.join('\n') + '\n', timeoutMs: 15_000 });
  const items = JSON.parse(r.stdout) as { output?: { run_time_ns?: number; run_cnt?: number } }[];
  let runTimeNs = 0,
    runCnt = 0;
  for (const it of items) {
    runTimeNs += it.output?.run_time_ns ?? 0;
    runCnt += it.output?.run_cnt ?? 0;
  }
  return { runTimeNs, runCnt };
}

/** Turn kernel.bpf_stats_enabled on for the duration of fn, then put back what it was (also on a signal). */
export async function withBpfStats<T>(fn: () => Promise<T>): Promise<T> {
  const before = (await run('sysctl', ['-n', 'kernel.bpf_stats_enabled'])).stdout.trim();
  const restore = async () => {
    await run('sysctl', ['-qw', `kernel.bpf_stats_enabled=${before}`], { reject: false });
  };
  const forget = onCleanup(restore);
  try {
    await run('sysctl', ['-qw', 'kernel.bpf_stats_enabled=1']);
    return await fn();
  } finally {
    await restore();
    forget();
  }
}

/** Per-packet time hping3 spends beyond its -i interval (usleep slack + send), measured: -i u50 gives ~11k/s. */
const HPING_OVERHEAD_US = 45;

export interface HpingRun {
  /** What hping3 says it sent (parsed from its statistics; NaN if it printed none). */
  transmitted: number;
  wallMs: number;
}

/**
 * hping3 SYNs from namespace `ns` to dst:port for `seconds` (bounded by timeout(1) with SIGINT, so hping3 prints its
 * statistics). rate 'flood' = --flood (as fast as it can); a number = -i u<interval> paced by usleep, whose timer
 * slack (50 µs by default) and the send itself add ~45 µs per packet on the machines we know: the interval is shortened
 * by that much, but the real rate still varies, so measure it on the wire.
 */
export async function hping(ns: string, dst: string, port: number, seconds: number, rate: 'flood' | number): Promise<HpingRun> {
  const pace = rate === 'flood' ? ['--flood'] : ['-i', `u${Math.max(1, Math.round(1e6 / rate - HPING_OVERHEAD_US))}`];
  const t0 = performance.now();
  const r = await run('timeout', ['-s', 'INT', '-k', '2', String(seconds), 'hping3', '-q', '-S', '-p', String(port), ...pace, dst], {
    ns,
    reject: false,
    timeoutMs: (seconds + 10) * 1000,
  });
  const m = /(\d+) packets tra\w*mitted/.exec(r.stdout + r.stderr);
  return { transmitted: m ? Number(m[1]) : NaN, wallMs: performance.now() - t0 };
}
