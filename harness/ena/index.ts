// The simulated AWS ENA connection-tracking allowance: build, load, configure, read, unload, sweep.
// The one module for it; it works on any ClusterNode (lab netns now, kind node container later): every
// command that touches the node's network runs through node.exec, and the object reaches the node via
// node.putFile. The datapath is ena.bpf.c (read its header comment first); README.md has the how-to.
//
// What actually works here (kernel 6.18, iproute2 6.1 with libbpf 1.1.2, bpftool 7.1 / libbpf 1.1),
// checked by hand and by test/ena:
//  - Loading: `bpftool -n prog loadall OBJ PIN/progs pinmaps PIN/maps type classifier` loads both
//    programs and pins them by function name (PIN/progs/ena_ingress, PIN/progs/ena_egress) and every
//    map by name under PIN/maps. The maps carry no `pinning` attribute, so nothing lands in iproute2's
//    shared $TC_BPF_MNT/tc/globals: each node of each run has its own maps. `-n` stops bpftool from
//    mounting a bpffs by itself when PIN is not on one (we check and fail clearly instead).
//  - Attaching: `tc filter replace dev IF ingress|egress protocol all pref P handle H bpf da
//    object-pinned PIN/progs/NAME` (iproute2 6.1 opens the pinned program; it needs no ELF).
//    pref ENA_TC_PREF (1) / handle ENA_TC_HANDLE (0xe4a): the simulator runs FIRST among the classic
//    filters of the hook, and passes what it does not drop on with TC_ACT_UNSPEC, so a CNI filter at a
//    higher pref (Cilium with bpf.enableTCX=false, moved off pref 1) still sees every packet. Filters
//    of the same pref run newest first (cls_bpf adds at the head of its list): do not share pref 1.
//    tcx (Cilium's default on kernels >= 6.6) runs before every classic filter: see README.md.
//  - bpf_timer in a tc program and bpf_for_each_map_elem inside the timer callback are accepted.
//  - Unloading: delete the filters, then `rm` the pins: programs, maps and the armed timer are freed
//    as soon as the last filter and pin are gone (the timer is cancelled when the map's last user
//    reference goes). Unmounting a private bpffs drops all pins under it at once (sweepEna).
//  - A fresh bpffs mount shows `maps.debug` and `progs.debug` (kernel bpf_preload): harmless.
//  - `ip netns exec` sees mounts made later in the root mount namespace (slave propagation), so a
//    bpffs mounted by ensureBpffs on the host is usable by lab nodes. A kind node container needs a
//    bpffs of its own (e.g. /sys/fs/bpf inside it) and bpftool + tc inside it.
//  - Reading: `bpftool -j batch file -` dumps all maps in one process: [{command, output}, ...].
import { createHash, randomBytes } from 'node:crypto';
import { access, mkdir, readFile, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { run, type RunOptions, type RunResult } from '../exec.js';
import { NotdnsError } from '../errors.js';
import { log } from '../log.js';
import { buildDir, repoRoot } from '../paths.js';
import type { ClusterNode } from '../providers/types.js';
import {
  batchAnswers,
  counter,
  parseBatch,
  parseFlows,
  parseIpCounts,
  sumPerCpuArray,
  tcxLinks,
  verifierExcerpt,
  type BatchItem,
  type EnaFlow,
  type TcxLink,
} from './parse.js';

export { parseFlows, tcxLinks, verifierExcerpt, type EnaFlow, type FlowState, type TcxLink } from './parse.js';

// ---------------------------------------------------------------------------------------------------------------
// Defaults

/**
 * tc priority ("pref") of the simulator's filters on ingress and egress of every uplink. Classic tc runs the
 * filters of a hook in ascending pref and stops at the first verdict other than TC_ACT_UNSPEC; the simulator
 * returns TC_ACT_UNSPEC for what it lets through, so at pref 1 it sees every packet first (like the Nitro card
 * in front of the instance) and every filter after it (Cilium's from-netdev/to-netdev at pref >= 2) still sees
 * every packet it did not drop. test/ena/order.test.ts checks both orders.
 */
export const ENA_TC_PREF = 1;
/** tc handle of the simulator's filters: not 1, which is the handle Cilium's legacy tc filters use. */
export const ENA_TC_HANDLE = 0xe4a;

export interface EnaTimeouts {
  /** TCP flow where only one side has sent (a SYN nobody answers). */
  unrepliedSeconds: number;
  /** TCP flow where both sides have sent. */
  establishedSeconds: number;
  /** Flow that saw a FIN or RST. */
  closedSeconds: number;
  /** UDP, one direction or a single request/response (AWS UdpTimeout). */
  udpSeconds: number;
  /** UDP with more than one request/response (AWS UdpStreamTimeout). */
  udpStreamSeconds: number;
}

/**
 * The ENA's other allowances (ena.bpf.c header): per-node token buckets that refill at the rate, hold at most
 * rate x burstMs and start full; 0 = that allowance is off. AWS publishes only the link-local one (1024 packets/s
 * per ENI to the VPC resolver, metadata and time sync); pps and bandwidth depend on the instance type.
 */
export interface EnaRates {
  /** Packets per second, every packet in both directions (pps_allowance_exceeded). */
  pps: number;
  /** Bytes per second received, skb->len (Ethernet frame) (bw_in_allowance_exceeded). */
  bwInBytesPerSec: number;
  /** Bytes per second sent (bw_out_allowance_exceeded). */
  bwOutBytesPerSec: number;
  /** Packets per second sent to 169.254.0.0/16 (linklocal_allowance_exceeded). */
  linklocalPps: number;
  /** Bucket depth: how many ms of the rate a burst may use (default 1000). */
  burstMs: number;
  /** Count the packets that exceed, never drop them. */
  countOnly: boolean;
}

/** AWS's published link-local allowance: 1024 packets per second per ENI. */
export const AWS_LINKLOCAL_PPS = 1024;
/** Largest rate accepted (units/s): rate x burst in ns must stay below 2^64 in the bucket. */
export const MAX_RATE = 1_000_000_000;

/**
 * Defaults, and why:
 *  - established 432000 s: the EC2 default TCP established idle timeout (5 days; configurable per ENI
 *    60..432000 s since Nov 2023; Nitro v6 instance types default to 350 s). The talk's m5 nodes: 432000.
 *  - udp 30 s, udp stream 180 s: the EC2 defaults (UdpTimeout, UdpStreamTimeout).
 *  - unreplied 60 s: EC2 does not document how long a TCP flow that never got an answer stays tracked.
 *    60 s is the usual firewall "SYN idle" lifetime, below Linux's nf_conntrack SYN_SENT (120 s), and
 *    long enough that a flood of retransmitted SYNs to an old pod IP keeps the table full, as in the
 *    incident. Recovery after a flood takes about this long: lower it in short experiments.
 *  - closed 5 s: a connection closed by FIN/RST frees its entry quickly (Linux: CLOSE 10 s); EC2 says
 *    connections are tracked "until closed" and does not give a number.
 *  - gc interval 1000 ms: expiry is accurate to about 1 s; each GC walks the whole table (cap entries).
 */
export const ENA_DEFAULTS = {
  timeouts: {
    unrepliedSeconds: 60,
    establishedSeconds: 432_000,
    closedSeconds: 5,
    udpSeconds: 30,
    udpStreamSeconds: 180,
  } as const satisfies EnaTimeouts,
  gcIntervalMs: 1000,
  gcTimer: true,
  /** Flow table size in counting-only mode (allowance 0): flows beyond it pass untracked. */
  countingCapacity: 65_536,
  /** Entries of each SYN-per-destination LRU map (ingress, egress). */
  synDstEntries: 4096,
  tc: { pref: ENA_TC_PREF, handle: ENA_TC_HANDLE },
  /** Every rate allowance off. */
  rates: { pps: 0, bwInBytesPerSec: 0, bwOutBytesPerSec: 0, linklocalPps: 0, burstMs: 1000, countOnly: false } as const satisfies EnaRates,
} as const;

/** Largest allowance accepted (the flow table is preallocated: about 100 bytes per entry). */
export const MAX_ALLOWANCE = 1 << 22;
/** Debian packages the simulator needs on the machine that builds and on the node that loads. */
export const ENA_PACKAGES = ['clang', 'llvm', 'libbpf-dev', 'bpftool', 'iproute2'] as const;
const APT_HINT = `Install the BPF toolchain: \`apt-get update && apt-get install -y ${ENA_PACKAGES.join(' ')}\` (clang and llvm build ena.bpf.c, libbpf-dev provides <bpf/bpf_helpers.h>, bpftool loads and reads the maps, iproute2 provides tc). \`notdns doctor\` checks all of it.`;

export const ENA_SOURCE = join(repoRoot, 'harness', 'ena', 'ena.bpf.c');

// Keep in sync with `enum ena_stat` and `enum ena_cfg_idx` in ena.bpf.c.
const S = {
  EXCEEDED: 0,
  EXCEEDED_IN: 1,
  EXCEEDED_OUT: 2,
  NEW_FLOWS: 3,
  TRACKED: 4,
  GC_RUNS: 5,
  GC_EVICTED: 6,
  PACKETS: 7,
  PACKETS_IN: 8,
  PACKETS_OUT: 9,
  FLOW_SYN: 10,
  FLOW_SYNACK: 11,
  FLOW_FIN: 12,
  FLOW_RST: 13,
  FLOW_NONE: 14,
  FLOW_UDP: 15,
  SYN_IN: 16,
  SYN_OUT: 17,
  UNTRACKED: 18,
  GC_TIMER_RUNS: 19,
  PPS_EXCEEDED: 20,
  BW_IN_EXCEEDED: 21,
  BW_OUT_EXCEEDED: 22,
  LL_EXCEEDED: 23,
  LL_PACKETS: 24,
} as const;
const CFG = {
  UNREPLIED: 0,
  ESTABLISHED: 1,
  CLOSED: 2,
  UDP: 3,
  UDP_STREAM: 4,
  GC_INTERVAL: 5,
  FLAGS: 6,
  PPS: 7,
  BW_IN: 8,
  BW_OUT: 9,
  LL_PPS: 10,
  RATE_BURST: 11,
  RATE_FLAGS: 12,
} as const;
const CFG_FLAG_NO_TIMER = 1n;
const RATE = { PPS: 1n, BW_IN: 2n, BW_OUT: 4n, LL: 8n, COUNT_ONLY: 16n } as const;
const MAPS = ['ena_flows', 'ena_stats', 'ena_cfg', 'ena_gc', 'ena_syn_in', 'ena_syn_out', 'ena_rate'] as const;
const PROGS = { ingress: 'ena_ingress', egress: 'ena_egress' } as const;

// ---------------------------------------------------------------------------------------------------------------
// Build

export interface CompileOptions {
  /** Flow-table cap (max_entries); 0 = counting only, never drop. */
  allowance: number;
  /** Counting-only table size (allowance 0). */
  countingCapacity?: number;
  /** clang binary (default: `clang` on PATH). */
  clang?: string;
  /** Where objects are cached (default: <buildDir>/ena). */
  outDir?: string;
}

const MULTIARCH: Record<string, string> = {
  x64: 'x86_64-linux-gnu',
  arm64: 'aarch64-linux-gnu',
  arm: 'arm-linux-gnueabihf',
  ppc64: 'powerpc64le-linux-gnu',
  s390x: 's390x-linux-gnu',
};
const compiling = new Map<string, Promise<string>>();

/**
 * Build ena.bpf.c for one allowance (max_entries is fixed when the map is created, so the cap is a -D)
 * and return the object's path. Objects are cached under buildDir/ena by a hash of source + flags, so
 * this costs one clang run (~0.4 s) per distinct cap and nothing afterwards. Safe to call concurrently.
 */
export async function compileEna(opts: CompileOptions): Promise<string> {
  const allowance = checkAllowance(opts.allowance);
  const capacity = checkInt('countingCapacity', opts.countingCapacity ?? ENA_DEFAULTS.countingCapacity, 1, MAX_ALLOWANCE);
  const source = await readFile(ENA_SOURCE, 'utf8').catch((e: unknown) => {
    throw new NotdnsError(`cannot read the ENA simulator source ${ENA_SOURCE}: ${(e as Error).message}`, {
      kind: 'harness',
      hint: 'The repository is incomplete: harness/ena/ena.bpf.c must be next to the compiled harness (dist/ is built from the same checkout).',
    });
  });
  const multiarch = MULTIARCH[process.arch];
  const flags = [
    '-O2',
    '-g',
    '-target',
    'bpf',
    '-mcpu=v3',
    '-Wall',
    ...(multiarch ? [`-I/usr/include/${multiarch}`] : []),
    `-DENA_ALLOWANCE=${allowance}`,
    `-DENA_COUNT_CAPACITY=${capacity}`,
    `-DENA_SYN_DST_ENTRIES=${ENA_DEFAULTS.synDstEntries}`,
  ];
  const hash = createHash('sha256').update(source).update('\0').update(flags.join(' ')).digest('hex').slice(0, 12);
  const outDir = opts.outDir ?? join(buildDir, 'ena');
  const out = join(outDir, `ena-a${allowance}${allowance === 0 ? `-c${capacity}` : ''}-${hash}.o`);
  if (await exists(out)) return out;
  const pending = compiling.get(out);
  if (pending) return pending;
  const p = (async () => {
    const clang = await findTool(opts.clang ?? 'clang');
    await mkdir(outDir, { recursive: true })
      .then(() => access(outDir, fsConstants.W_OK))
      .catch((e: NodeJS.ErrnoException) => {
        throw new NotdnsError(`cannot write the ENA simulator's object to ${outDir}: ${e.code ?? e.message}.`, {
          kind: 'environment',
          cause: e,
          hint: `Build as the user who runs notdns (\`npm run build\` in a checkout it owns), or make ${outDir} writable for it.`,
        });
      });
    const tmp = `${out}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
    const res = await run(clang, [...flags, '-c', ENA_SOURCE, '-o', tmp], { reject: false, timeoutMs: 120_000 });
    if (res.exitCode !== 0) {
      await rm(tmp, { force: true });
      const err = res.stderr;
      const missing = /'(bpf\/bpf_\w+\.h|asm\/\w+\.h|linux\/\w+\.h)' file not found/.exec(err);
      if (missing) {
        throw new NotdnsError(`cannot build the ENA simulator: header <${missing[1]}> is missing.`, {
          kind: 'environment',
          command: res.command,
          hint: missing[1]!.startsWith('bpf/')
            ? APT_HINT
            : `${APT_HINT} <asm/...> and <linux/...> come with linux-libc-dev (apt-get install -y linux-libc-dev).`,
        });
      }
      throw new NotdnsError(`clang could not build the ENA simulator: ${firstLines(err, 6)}`, {
        kind: 'harness',
        command: res.command,
        hint: 'ena.bpf.c does not compile with this clang: clang >= 14 is needed (-mcpu=v3 atomics, BTF).',
      });
    }
    await rename(tmp, out);
    return out;
  })().finally(() => compiling.delete(out));
  compiling.set(out, p);
  return p;
}

// ---------------------------------------------------------------------------------------------------------------
// bpffs

/** The private bpffs of a run: <stateDir>/bpffs. */
export function enaBpffsDir(stateDirOfRun: string): string {
  return join(stateDirOfRun, 'bpffs');
}

/** The pin directory of one node inside a bpffs: <bpffsDir>/ena/<node>. */
export function enaPinDir(bpffsDir: string, nodeName: string): string {
  if (!/^[\w.@+-]+$/.test(nodeName)) throw new NotdnsError(`node name "${nodeName}" cannot be used as a directory name`, { kind: 'usage' });
  return join(bpffsDir, 'ena', nodeName);
}

/** Is `dir` itself the mount point of a bpf filesystem (in this process's mount namespace)? */
export async function isBpffsMount(dir: string): Promise<boolean> {
  const target = resolve(dir);
  return (await bpffsMounts()).includes(target);
}

/** Mount a private bpf filesystem at `dir` (mkdir -p first) unless one is mounted there already. Returns dir. */
export async function ensureBpffs(dir: string): Promise<string> {
  const target = resolve(dir);
  await mkdir(target, { recursive: true, mode: 0o700 });
  if (await isBpffsMount(target)) return target;
  await run('mount', ['-t', 'bpf', '-o', 'mode=0700', 'bpf', target], { timeoutMs: 10_000 }).catch((e: unknown) => {
    throw new NotdnsError(`cannot mount a bpf filesystem at ${target}: ${(e as Error).message}`, {
      kind: 'environment',
      cause: e,
      hint: 'Run as root (CAP_SYS_ADMIN) on a kernel with CONFIG_BPF_SYSCALL; `mount -t bpf bpf DIR` must work.',
    });
  });
  return target;
}

/** Unmount the bpffs at `dir` (drops every pin under it) and remove the directory. Idempotent. */
export async function releaseBpffs(dir: string): Promise<void> {
  const target = resolve(dir);
  if (await isBpffsMount(target)) {
    const r = await run('umount', [target], { reject: false, timeoutMs: 10_000 });
    if (r.exitCode !== 0) await run('umount', ['-l', target], { timeoutMs: 10_000 });
  }
  await rmdir(target).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
}

async function bpffsMounts(): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post || post.split(' ')[0] !== 'bpf') continue;
    const mp = pre.split(' ')[4];
    if (mp) out.push(mp.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Attach / configure / detach

export interface EnaConfig {
  timeouts: EnaTimeouts;
  gcIntervalMs: number;
  /** Periodic GC by bpf_timer (true) or only lazily from the datapath when the table is full (false). */
  gcTimer: boolean;
  /** The rate allowances (pps, bandwidth, link-local); all 0 = off. */
  rates: EnaRates;
}

export interface AttachOptions {
  /** Tracked-flow cap of the node (ENA conntrack allowance); 0 = counting only (never drops). */
  allowance: number;
  /** Per-node, per-run directory on a bpf filesystem, e.g. enaPinDir(enaBpffsDir(runStateDir), node.name). */
  pinDir: string;
  timeouts?: Partial<EnaTimeouts>;
  gcIntervalMs?: number;
  gcTimer?: boolean;
  /** The rate allowances (default: all off). */
  rates?: Partial<EnaRates>;
  countingCapacity?: number;
  /** Interfaces to attach to (default: node.uplinks). */
  uplinks?: readonly string[];
  tc?: { pref: number; handle: number };
  /** The run's state directory: a manifest under <stateDir>/ena lets sweepEna() clean up after a crash. */
  stateDir?: string;
  /**
   * Read/write maps with bpftool on the machine running the harness instead of through node.exec. Only
   * when pinDir is visible at the same path here (lab netns nodes: yes; kind containers: no). Saves the
   * `ip netns exec` of every read (about half of its cost).
   */
  readOnHost?: boolean;
  clang?: string;
}

export interface EnaHandle {
  readonly node: ClusterNode;
  readonly pinDir: string;
  readonly allowance: number;
  /** max_entries of the flow table (allowance, or the counting capacity when allowance is 0). */
  readonly capacity: number;
  readonly uplinks: readonly string[];
  readonly tc: { readonly pref: number; readonly handle: number };
  readonly objPath: string;
  readonly config: Readonly<EnaConfig>;
  /** Uplinks where attachEna added the clsact qdisc (detach removes it again if nothing else uses it). */
  readonly createdQdisc: readonly string[];
  readonly manifest?: string;
  readonly readOnHost: boolean;
}

interface MutableHandle extends EnaHandle {
  config: EnaConfig;
  detached: boolean;
}

interface Manifest {
  node: string;
  netns?: string;
  pinDir: string;
  uplinks: string[];
  tc: { pref: number; handle: number };
  createdQdisc: string[];
  allowance: number;
  attachedAt: string;
}

const attached = new Map<ClusterNode, MutableHandle>();

/** Handles attached by this process (for teardown: `for (const h of attachedEna()) await detachEna(h)`). */
export function attachedEna(): EnaHandle[] {
  return [...attached.values()];
}

/**
 * Build (cached), load and pin the simulator for `node`, write its configuration, and attach it to
 * ingress and egress of every uplink. All uplinks share one flow table. On failure everything done so
 * far is undone.
 */
export async function attachEna(node: ClusterNode, opts: AttachOptions): Promise<EnaHandle> {
  if (attached.get(node)?.detached === false) {
    throw new NotdnsError(`the ENA simulator is already attached to node ${node.name}`, {
      kind: 'usage',
      hint: 'Call detachEna(handle) first (or configureEna() to change timeouts).',
    });
  }
  const allowance = checkAllowance(opts.allowance);
  const capacity =
    allowance > 0 ? allowance : checkInt('countingCapacity', opts.countingCapacity ?? ENA_DEFAULTS.countingCapacity, 1, MAX_ALLOWANCE);
  const config = resolveConfig(opts);
  const pinDir = checkPinDir(opts.pinDir);
  const uplinks = [...(opts.uplinks ?? node.uplinks)];
  if (uplinks.length === 0) throw new NotdnsError(`node ${node.name} has no uplinks to attach the ENA simulator to`, { kind: 'usage' });
  for (const u of uplinks) if (!/^[\w.@:-]{1,15}$/.test(u)) throw new NotdnsError(`bad interface name "${u}"`, { kind: 'usage' });
  const tc = {
    pref: checkInt('tc.pref', opts.tc?.pref ?? ENA_DEFAULTS.tc.pref, 1, 0xffff),
    handle: checkInt('tc.handle', opts.tc?.handle ?? ENA_DEFAULTS.tc.handle, 1, 0xffffffff),
  };

  const objPath = await compileEna({ allowance, countingCapacity: capacity, clang: opts.clang });
  const remoteObj = await node.putFile(objPath);
  const h: MutableHandle = {
    node,
    pinDir,
    allowance,
    capacity,
    uplinks,
    tc,
    objPath,
    config,
    createdQdisc: [],
    detached: false,
    readOnHost: opts.readOnHost ?? false,
    manifest: opts.stateDir ? join(opts.stateDir, 'ena', `${node.name}.json`) : undefined,
  };
  try {
    await loadEnaObject(node, remoteObj, pinDir);
    await writeConfig(h, config);
    // clsact where missing, then both filters on every uplink, in one tc process.
    const q = await nodeTool(node, 'tc', ['-j', 'qdisc', 'show']);
    const withClsact = new Set(
      (JSON.parse(q.stdout || '[]') as { kind: string; dev: string }[]).filter((x) => x.kind === 'clsact').map((x) => x.dev),
    );
    const missing = uplinks.filter((u) => !withClsact.has(u));
    (h.createdQdisc as string[]).push(...missing);
    if (h.manifest) await writeManifest(h); // before touching tc: a crash from here on is sweepable
    const lines = [
      ...missing.map((u) => `qdisc add dev ${u} clsact`),
      ...uplinks.flatMap((u) =>
        (['ingress', 'egress'] as const).map(
          (dir) =>
            `filter replace dev ${u} ${dir} protocol all pref ${tc.pref} handle 0x${tc.handle.toString(16)} bpf da object-pinned ${pinDir}/progs/${PROGS[dir]}`,
        ),
      ),
    ];
    const r = await nodeTool(node, 'tc', ['-batch', '-'], { input: lines.join('\n') + '\n', reject: false });
    if (r.exitCode !== 0) {
      throw new NotdnsError(`tc could not attach the ENA simulator on ${node.name} (${uplinks.join(', ')}): ${firstLines(r.stderr, 4)}`, {
        kind: 'command',
        command: r.command,
        hint: 'The kernel needs sch_clsact and cls_bpf; `tc qdisc add dev IF clsact` must work on the node.',
      });
    }
  } catch (e) {
    await detachEna(h).catch(() => undefined);
    throw e;
  }
  attached.set(node, h);
  return h;
}

/**
 * Load the object's two programs and its maps and pin them under pinDir/progs and pinDir/maps (on the node).
 * Exported for tests and tools; attachEna() is the normal entry. A verifier rejection becomes a
 * NotdnsError quoting the first (and last) lines of the verifier log.
 */
export async function loadEnaObject(node: ClusterNode, objPathOnNode: string, pinDir: string): Promise<void> {
  checkPinDir(pinDir);
  // One shell on the node: create the dir, refuse anything that is not a bpffs, drop stale pins of a previous attempt.
  const prep = await node.exec(
    'sh',
    [
      '-c',
      'mkdir -p "$1" && t=$(stat -f -c %T "$1") && if [ "$t" != bpf_fs ]; then echo "not-bpffs:$t" >&2; exit 3; fi; rm -rf "$1/progs" "$1/maps"',
      'sh',
      pinDir,
    ],
    { reject: false, timeoutMs: 10_000 },
  );
  if (prep.exitCode === 3) {
    throw new NotdnsError(
      `${pinDir} on node ${node.name} is not on a bpf filesystem (${prep.stderr.trim().replace('not-bpffs:', 'it is ')})`,
      {
        kind: 'usage',
        hint: 'Mount a private bpffs for the run first: ensureBpffs(enaBpffsDir(runStateDir)), then pinDir = enaPinDir(bpffsDir, node.name).',
      },
    );
  }
  if (prep.exitCode !== 0)
    throw new NotdnsError(`cannot prepare ${pinDir} on node ${node.name}: ${firstLines(prep.stderr, 3)}`, {
      kind: 'command',
      command: prep.command,
    });
  const r = await nodeTool(
    node,
    'bpftool',
    ['-n', 'prog', 'loadall', objPathOnNode, `${pinDir}/progs`, 'pinmaps', `${pinDir}/maps`, 'type', 'classifier'],
    { reject: false, timeoutMs: 60_000 },
  );
  if (r.exitCode === 0) return;
  await node.exec('rm', ['-rf', `${pinDir}/progs`, `${pinDir}/maps`], { reject: false });
  const v = verifierExcerpt(r.stderr);
  if (v) {
    const shown = [...v.head, ...(v.tail.length ? ['...', ...v.tail] : [])].map((l) => `  ${l}`).join('\n');
    throw new NotdnsError(
      `the kernel's BPF verifier rejected ${v.program ?? 'a program'} of ${objPathOnNode} (verifier log, ${v.total} lines):\n${shown}`,
      {
        kind: 'environment',
        command: r.command,
        hint: 'The last lines name the instruction and the reason. ena.bpf.c is verified on kernel 6.18; it needs >= 5.15 (bpf_timer, bpf_for_each_map_elem, BPF atomics) with BTF. Full log: re-run the command by hand.',
      },
    );
  }
  throw new NotdnsError(`bpftool could not load ${objPathOnNode} on node ${node.name}: ${firstLines(r.stderr, 5)}`, {
    kind: 'command',
    command: r.command,
    hint: 'Loading BPF needs root (CAP_BPF + CAP_NET_ADMIN) on the node.',
  });
}

/** Change timeouts / GC settings of an attached simulator at run time (takes effect at the next GC). */
export async function configureEna(
  h: EnaHandle,
  cfg: { timeouts?: Partial<EnaTimeouts>; gcIntervalMs?: number; gcTimer?: boolean; rates?: Partial<EnaRates> },
): Promise<void> {
  const m = live(h);
  const next = resolveConfig({
    timeouts: { ...m.config.timeouts, ...cfg.timeouts },
    gcIntervalMs: cfg.gcIntervalMs ?? m.config.gcIntervalMs,
    gcTimer: cfg.gcTimer ?? m.config.gcTimer,
    rates: { ...m.config.rates, ...cfg.rates },
  });
  await writeConfig(m, next);
  m.config = next;
}

/**
 * Remove the filters (and the clsact qdisc if attachEna added it and nothing else uses it), then the pins
 * (which frees programs, maps and the GC timer). Idempotent; best effort: every step is tried, the first
 * real failure is thrown at the end. A node that is already gone (netns deleted) counts as detached.
 */
export async function detachEna(h: EnaHandle): Promise<void> {
  const m = h as MutableHandle;
  const errors: string[] = [];
  const step = async (what: string, f: () => Promise<unknown>) => {
    try {
      await f();
    } catch (e) {
      errors.push(`${what}: ${(e as Error).message}`);
    }
  };
  let nodeGone = false;
  await step('filters', async () => {
    const lines = h.uplinks.flatMap((u) =>
      ['ingress', 'egress'].map(
        (dir) => `filter del dev ${u} ${dir} protocol all pref ${h.tc.pref} handle 0x${h.tc.handle.toString(16)} bpf`,
      ),
    );
    const r = await h.node.exec('tc', ['-force', '-batch', '-'], { input: lines.join('\n') + '\n', reject: false, timeoutMs: 15_000 });
    if (
      r.exitCode !== 0 &&
      /Cannot open network namespace|No such file or directory|No such container/i.test(r.stderr) &&
      !/Cannot find|not found/i.test(r.stderr)
    )
      nodeGone = true;
  });
  if (!nodeGone && h.createdQdisc.length > 0) {
    await step('clsact', async () => {
      const idle: string[] = [];
      for (const u of h.createdQdisc) {
        const ing = await h.node.exec('tc', ['-j', 'filter', 'show', 'dev', u, 'ingress'], { reject: false });
        const eg = await h.node.exec('tc', ['-j', 'filter', 'show', 'dev', u, 'egress'], { reject: false });
        if (ing.exitCode === 0 && eg.exitCode === 0 && isEmptyJsonList(ing.stdout) && isEmptyJsonList(eg.stdout)) idle.push(u);
      }
      if (idle.length)
        await h.node.exec('tc', ['-force', '-batch', '-'], {
          input: idle.map((u) => `qdisc del dev ${u} clsact`).join('\n') + '\n',
          reject: false,
        });
    });
  }
  if (!nodeGone || h.readOnHost) {
    // readOnHost: the pins are visible here, remove them even if the node is gone
    await step('pins', async () => {
      const argv = ['-c', 'rm -rf "$1/progs" "$1/maps"; [ ! -d "$1" ] || rmdir "$1"', 'sh', h.pinDir];
      const r = h.readOnHost
        ? await run('sh', argv, { reject: false })
        : await h.node.exec('sh', argv, { reject: false, timeoutMs: 10_000 });
      if (r.exitCode !== 0 && !/No such file/.test(r.stderr)) throw new Error(firstLines(r.stderr, 2));
    });
  }
  if (h.manifest) await step('manifest', () => rm(h.manifest!, { force: true }));
  m.detached = true;
  if (attached.get(h.node) === m) attached.delete(h.node);
  if (errors.length)
    throw new NotdnsError(`could not fully detach the ENA simulator from ${h.node.name}: ${errors.join('; ')}`, { kind: 'command' });
}

// ---------------------------------------------------------------------------------------------------------------
// Read

export interface EnaStats {
  node: string;
  /** 0: counting-only mode. */
  allowance: number;
  /** Packets dropped because a new flow did not fit (ENA conntrack_allowance_exceeded). */
  allowanceExceeded: number;
  exceededIn: number;
  exceededOut: number;
  /**
   * Free entries: allowance - trackedFlows (ENA conntrack_allowance_available). In counting-only mode
   * (allowance 0) the free entries of the counting table (countingCapacity - trackedFlows); nothing is
   * enforced then, and toEthtoolStyle() leaves conntrack_allowance_available out.
   */
  allowanceAvailable: number;
  trackedFlows: number;
  newFlows: number;
  /** Counting-only mode: packets of new flows that passed without an entry (table at countingCapacity). */
  untrackedPackets: number;
  gcRuns: number;
  gcTimerRuns: number;
  gcEvicted: number;
  /** The rate allowances: packets that exceeded each (dropped, or only counted with rates.countOnly). */
  ppsExceeded: number;
  bwInExceeded: number;
  bwOutExceeded: number;
  linklocalExceeded: number;
  /** IPv4 packets sent to 169.254.0.0/16, whether or not the link-local allowance is on (exceeded ones included). */
  linklocalPackets: number;
  /** IPv4 TCP/UDP packets seen on the uplinks (dropped ones included). */
  packets: number;
  packetsIn: number;
  packetsOut: number;
  /** New TCP flows by the flags of their first packet (VPC flow log style). */
  flowsByFlag: { syn: number; synAck: number; fin: number; rst: number; none: number };
  udpFlows: number;
  /** Pure SYNs (SYN without ACK), all destinations, ingress / egress. */
  synsIn: number;
  synsOut: number;
  /** Pure SYNs seen on ingress, per destination IPv4 (dropped ones included). */
  synsByDst: Record<string, number>;
  /** Pure SYNs seen on egress, per destination IPv4. */
  synsByDstEgress: Record<string, number>;
  /** Date.now() when read. */
  readAt: number;
  /** Wall-clock cost of this read (one bpftool process on the node). */
  readMs: number;
}

/**
 * Read all counters of the simulator on a node: ONE `bpftool -j batch` process on the node dumping the
 * stats and both SYN maps. Measured in the lab (2 vCPUs): 6-15 ms through `ip netns exec` (median ~8),
 * ~4-9 ms with readOnHost. (A long-lived `bpftool batch file -` does not answer before stdin is closed,
 * so there is no cheaper reader without a native binding.)
 */
export async function readEnaStats(target: ClusterNode | EnaHandle): Promise<EnaStats> {
  const h = live(target);
  const t0 = performance.now();
  const items = await bpftoolBatch(h, [
    `map dump pinned ${h.pinDir}/maps/ena_stats`,
    `map dump pinned ${h.pinDir}/maps/ena_syn_in`,
    `map dump pinned ${h.pinDir}/maps/ena_syn_out`,
  ]);
  const s = sumPerCpuArray(items[0]!.output, 'ena_stats');
  const tracked = counter(s[S.TRACKED], true);
  return {
    node: h.node.name,
    allowance: h.allowance,
    allowanceExceeded: counter(s[S.EXCEEDED]),
    exceededIn: counter(s[S.EXCEEDED_IN]),
    exceededOut: counter(s[S.EXCEEDED_OUT]),
    allowanceAvailable: Math.max(0, h.capacity - tracked),
    trackedFlows: tracked,
    newFlows: counter(s[S.NEW_FLOWS]),
    untrackedPackets: counter(s[S.UNTRACKED]),
    gcRuns: counter(s[S.GC_RUNS]),
    gcTimerRuns: counter(s[S.GC_TIMER_RUNS]),
    gcEvicted: counter(s[S.GC_EVICTED]),
    ppsExceeded: counter(s[S.PPS_EXCEEDED]),
    bwInExceeded: counter(s[S.BW_IN_EXCEEDED]),
    bwOutExceeded: counter(s[S.BW_OUT_EXCEEDED]),
    linklocalExceeded: counter(s[S.LL_EXCEEDED]),
    linklocalPackets: counter(s[S.LL_PACKETS]),
    packets: counter(s[S.PACKETS]),
    packetsIn: counter(s[S.PACKETS_IN]),
    packetsOut: counter(s[S.PACKETS_OUT]),
    flowsByFlag: {
      syn: counter(s[S.FLOW_SYN]),
      synAck: counter(s[S.FLOW_SYNACK]),
      fin: counter(s[S.FLOW_FIN]),
      rst: counter(s[S.FLOW_RST]),
      none: counter(s[S.FLOW_NONE]),
    },
    udpFlows: counter(s[S.FLOW_UDP]),
    synsIn: counter(s[S.SYN_IN]),
    synsOut: counter(s[S.SYN_OUT]),
    synsByDst: parseIpCounts(items[1]!.output, 'ena_syn_in'),
    synsByDstEgress: parseIpCounts(items[2]!.output, 'ena_syn_out'),
    readAt: Date.now(),
    readMs: performance.now() - t0,
  };
}

export interface EthtoolStyle {
  conntrack_allowance_exceeded: number;
  conntrack_allowance_available?: number;
  bw_in_allowance_exceeded: number;
  bw_out_allowance_exceeded: number;
  pps_allowance_exceeded: number;
  linklocal_allowance_exceeded: number;
}

/** The counters as ENA's `ethtool -S` names them (conntrack_allowance_available only when an allowance is enforced). */
export function toEthtoolStyle(s: EnaStats): EthtoolStyle {
  const rates = {
    bw_in_allowance_exceeded: s.bwInExceeded,
    bw_out_allowance_exceeded: s.bwOutExceeded,
    pps_allowance_exceeded: s.ppsExceeded,
    linklocal_allowance_exceeded: s.linklocalExceeded,
  };
  return s.allowance === 0
    ? { conntrack_allowance_exceeded: s.allowanceExceeded, ...rates }
    : { conntrack_allowance_exceeded: s.allowanceExceeded, conntrack_allowance_available: s.allowanceAvailable, ...rates };
}

/**
 * The tracked flows (debugging, tests; dumps the whole table, so not for the 1 s sampling loop).
 * idleMs/ageMs are computed against this process's CLOCK_MONOTONIC, the clock bpf_ktime_get_ns() uses:
 * right for nodes on the same kernel (lab netns, kind containers).
 */
export async function listEnaFlows(target: ClusterNode | EnaHandle): Promise<EnaFlow[]> {
  const h = live(target);
  const items = await bpftoolBatch(h, [`map dump pinned ${h.pinDir}/maps/ena_flows`]);
  return parseFlows(items[0]!.output, process.hrtime.bigint());
}

/**
 * The tcx links of the node's kernel (`bpftool -j link show` on the node; every network namespace's). A classic tc
 * filter such as the simulator's never sees a packet that a tcx program passed (TCX_PASS), and Cilium deletes every
 * classic filter of a hook when it attaches there with tcx: on a node with tcx links the simulator would be blind.
 * Only meaningful on a node that has a kernel of its own (a real node); lab and kind nodes share this host's kernel.
 */
export async function tcxLinksOnNode(node: ClusterNode): Promise<TcxLink[]> {
  const r = await nodeTool(node, 'bpftool', ['-j', 'link', 'show']);
  return tcxLinks(JSON.parse(r.stdout || '[]'));
}

// ---------------------------------------------------------------------------------------------------------------
// Sweep (notdns down --all)

export interface SweepReport {
  /** Nodes whose filters were removed (from manifests of netns nodes). */
  detached: string[];
  /** bpffs mounts removed. */
  unmounted: string[];
  errors: string[];
}

/**
 * Remove whatever the ENA simulator left behind for one run, from its state directory alone:
 *  1. handles still attached in this process whose manifest is under stateDir: detachEna();
 *  2. other manifests <stateDir>/ena/<node>.json of lab nodes (netns) that still exist: delete our
 *     filters (matched by pref/handle and program name) and the clsact qdisc we added, via `tc -n NS`;
 *  3. every bpffs mounted at or below stateDir (normally <stateDir>/bpffs): unmount, which unpins all
 *     maps and programs of the run; then remove <stateDir>/ena.
 * Nodes that are not network namespaces (kind containers) are gone with their container.
 */
export async function sweepEna(stateDirOfRun: string): Promise<SweepReport> {
  const stateDir = resolve(stateDirOfRun);
  const report: SweepReport = { detached: [], unmounted: [], errors: [] };
  const mdir = join(stateDir, 'ena');
  for (const h of [...attached.values()]) {
    if (h.manifest && resolve(h.manifest).startsWith(mdir + '/')) {
      await detachEna(h).then(
        () => report.detached.push(h.node.name),
        (e: Error) => report.errors.push(e.message),
      );
    }
  }
  const files = await readdir(mdir).catch(() => [] as string[]);
  for (const f of files.filter((x) => x.endsWith('.json'))) {
    try {
      const m = JSON.parse(await readFile(join(mdir, f), 'utf8')) as Manifest;
      if (m.netns && (await exists(`/run/netns/${m.netns}`))) {
        await detachNetnsLeftovers(m);
        report.detached.push(m.node);
      }
    } catch (e) {
      report.errors.push(`${f}: ${(e as Error).message}`);
    }
  }
  const mounts = (await bpffsMounts()).filter((mp) => mp === stateDir || mp.startsWith(stateDir + '/')).sort((a, b) => b.length - a.length);
  for (const mp of mounts) {
    await releaseBpffs(mp).then(
      () => report.unmounted.push(mp),
      (e: Error) => report.errors.push(`umount ${mp}: ${e.message}`),
    );
  }
  await rm(mdir, { recursive: true, force: true }).catch((e: Error) => report.errors.push(e.message));
  return report;
}

async function detachNetnsLeftovers(m: Manifest): Promise<void> {
  const ns = m.netns!;
  const dels: string[] = [];
  for (const u of m.uplinks) {
    for (const dir of ['ingress', 'egress'] as const) {
      const r = await run('tc', ['-n', ns, '-j', 'filter', 'show', 'dev', u, dir], { reject: false });
      if (r.exitCode !== 0) continue;
      const ours = (JSON.parse(r.stdout || '[]') as { pref?: number; options?: { handle?: string; bpf_name?: string } }[]).some(
        (x) => x.pref === m.tc.pref && Number(x.options?.handle) === m.tc.handle && (x.options?.bpf_name ?? '').startsWith(PROGS[dir]),
      );
      if (ours) dels.push(`filter del dev ${u} ${dir} protocol all pref ${m.tc.pref} handle 0x${m.tc.handle.toString(16)} bpf`);
    }
  }
  if (dels.length) await run('tc', ['-n', ns, '-force', '-batch', '-'], { input: dels.join('\n') + '\n', reject: false });
  const qdels: string[] = [];
  for (const u of m.createdQdisc) {
    const ing = await run('tc', ['-n', ns, '-j', 'filter', 'show', 'dev', u, 'ingress'], { reject: false });
    const eg = await run('tc', ['-n', ns, '-j', 'filter', 'show', 'dev', u, 'egress'], { reject: false });
    if (ing.exitCode === 0 && eg.exitCode === 0 && isEmptyJsonList(ing.stdout) && isEmptyJsonList(eg.stdout))
      qdels.push(`qdisc del dev ${u} clsact`);
  }
  if (qdels.length) await run('tc', ['-n', ns, '-force', '-batch', '-'], { input: qdels.join('\n') + '\n', reject: false });
}

// ---------------------------------------------------------------------------------------------------------------
// Internals

function live(target: ClusterNode | EnaHandle): MutableHandle {
  const h = 'pinDir' in target && 'objPath' in target ? (target as MutableHandle) : attached.get(target as ClusterNode);
  if (!h || h.detached) {
    const name = 'pinDir' in target ? (target as EnaHandle).node.name : (target as ClusterNode).name;
    throw new NotdnsError(`the ENA simulator is not attached to node ${name}`, { kind: 'usage', hint: 'Call attachEna(node, ...) first.' });
  }
  return h;
}

function resolveConfig(o: {
  timeouts?: Partial<EnaTimeouts>;
  gcIntervalMs?: number;
  gcTimer?: boolean;
  rates?: Partial<EnaRates>;
}): EnaConfig {
  const t = { ...ENA_DEFAULTS.timeouts, ...o.timeouts };
  for (const [k, v] of Object.entries(t)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > 10 * 365 * 86400) {
      throw new NotdnsError(`ENA timeout ${k} must be a number of seconds > 0, got ${String(v)}`, { kind: 'usage' });
    }
  }
  const gcIntervalMs = o.gcIntervalMs ?? ENA_DEFAULTS.gcIntervalMs;
  if (!Number.isFinite(gcIntervalMs) || gcIntervalMs < 10 || gcIntervalMs > 3_600_000) {
    throw new NotdnsError(`ENA gcIntervalMs must be between 10 and 3600000, got ${gcIntervalMs}`, {
      kind: 'usage',
      hint: 'Each GC walks the whole flow table; below 10 ms it would run continuously.',
    });
  }
  const rates: EnaRates = { ...ENA_DEFAULTS.rates, ...o.rates };
  for (const k of ['pps', 'bwInBytesPerSec', 'bwOutBytesPerSec', 'linklocalPps'] as const)
    checkInt(`rates.${k}`, rates[k], 0, MAX_RATE, '0 = off.');
  checkInt('rates.burstMs', rates.burstMs, 1, 10_000, 'The bucket holds burstMs of the rate (1000: one second).');
  return { timeouts: t, gcIntervalMs, gcTimer: o.gcTimer ?? ENA_DEFAULTS.gcTimer, rates };
}

/** An unsigned integer as `bytes` little-endian hex bytes for `bpftool map update ... key hex ... value hex ...`. */
function hexLE(v: bigint, bytes: number): string {
  const b: string[] = [];
  for (let i = 0; i < bytes; i++) b.push(((v >> BigInt(8 * i)) & 0xffn).toString(16).padStart(2, '0'));
  return b.join(' ');
}

async function writeConfig(h: EnaHandle, c: EnaConfig): Promise<void> {
  const ns = (s: number) => BigInt(Math.round(s * 1e9));
  const slots: [number, bigint][] = [
    [CFG.UNREPLIED, ns(c.timeouts.unrepliedSeconds)],
    [CFG.ESTABLISHED, ns(c.timeouts.establishedSeconds)],
    [CFG.CLOSED, ns(c.timeouts.closedSeconds)],
    [CFG.UDP, ns(c.timeouts.udpSeconds)],
    [CFG.UDP_STREAM, ns(c.timeouts.udpStreamSeconds)],
    [CFG.GC_INTERVAL, BigInt(Math.round(c.gcIntervalMs * 1e6))],
    [CFG.FLAGS, c.gcTimer ? 0n : CFG_FLAG_NO_TIMER],
    [CFG.PPS, BigInt(c.rates.pps)],
    [CFG.BW_IN, BigInt(c.rates.bwInBytesPerSec)],
    [CFG.BW_OUT, BigInt(c.rates.bwOutBytesPerSec)],
    [CFG.LL_PPS, BigInt(c.rates.linklocalPps)],
    [CFG.RATE_BURST, BigInt(c.rates.burstMs) * 1_000_000n],
    [CFG.RATE_FLAGS, rateFlags(c.rates)],
  ];
  await bpftoolBatch(
    h,
    slots.map(([k, v]) => `map update pinned ${h.pinDir}/maps/ena_cfg key hex ${hexLE(BigInt(k), 4)} value hex ${hexLE(v, 8)} any`),
  );
}

/** The CFG_RATE_FLAGS word: which buckets are on, and count-only. 0 when every rate is off (one lookup per packet). */
function rateFlags(r: EnaRates): bigint {
  const on =
    (r.pps ? RATE.PPS : 0n) |
    (r.bwInBytesPerSec ? RATE.BW_IN : 0n) |
    (r.bwOutBytesPerSec ? RATE.BW_OUT : 0n) |
    (r.linklocalPps ? RATE.LL : 0n);
  return on && r.countOnly ? on | RATE.COUNT_ONLY : on;
}

async function bpftoolBatch(h: EnaHandle, lines: string[]): Promise<BatchItem[]> {
  const args = ['-j', 'batch', 'file', '-'],
    opts = { input: lines.join('\n') + '\n', reject: false, timeoutMs: 15_000 };
  const r = h.readOnHost
    ? await run('bpftool', args, opts).catch((e: unknown) => {
        throw e instanceof NotdnsError && e.kind === 'environment' ? missingTool('bpftool', undefined, e.command, e) : e;
      })
    : await nodeTool(h.node, 'bpftool', args, opts);
  let parsed: BatchItem[] | undefined;
  try {
    parsed = parseBatch(r.stdout);
  } catch {
    /* reported below */
  }
  const got = batchAnswers(parsed, lines.length);
  if ('error' in got) {
    const why = got.error ?? (firstLines(r.stderr, 3) || `exit code ${r.exitCode}`);
    const gone = /No such file or directory|ENOENT|bpf obj get/i.test(why);
    throw new NotdnsError(`reading/writing the ENA simulator maps on ${h.node.name} failed: ${why}`, {
      kind: 'command',
      command: `${r.command} <<< ${lines[0]}${lines.length > 1 ? ` (+${lines.length - 1} lines)` : ''}`,
      hint: gone
        ? `The pins under ${h.pinDir} are gone: the bpffs was unmounted or the simulator detached (sweepEna?) while still in use.`
        : undefined,
    });
  }
  if (r.exitCode !== 0)
    log.debug(
      { node: h.node.name, exitCode: r.exitCode, stderr: firstLines(r.stderr, 2) },
      'bpftool batch: every command answered; its trailing batch-file error ignored',
    );
  return got.items;
}

/** Run a tool on the node; a missing tool becomes an 'environment' error naming the Debian packages. */
async function nodeTool(node: ClusterNode, tool: string, args: readonly string[], opts: Omit<RunOptions, 'ns'> = {}): Promise<RunResult> {
  let r: RunResult;
  try {
    r = await node.exec(tool, args, { timeoutMs: 30_000, ...opts, reject: false });
  } catch (e) {
    if (e instanceof NotdnsError && e.kind === 'environment') throw missingTool(tool, node, e.command, e);
    throw e;
  }
  // `ip netns exec` says: exec of "bpftool" failed: No such file or directory; docker: executable file not found.
  if (
    r.exitCode !== 0 &&
    new RegExp(`exec of "${tool}" failed|"${tool}": executable file not found|${tool}: (command )?not found`).test(r.stderr)
  ) {
    throw missingTool(tool, node, r.command);
  }
  if (r.exitCode !== 0 && opts.reject !== false) {
    throw new NotdnsError(`${tool} failed on node ${node.name}: ${firstLines(r.stderr, 4)}`, { kind: 'command', command: r.command });
  }
  return r;
}

function missingTool(tool: string, node: ClusterNode | undefined, command?: string, cause?: unknown): NotdnsError {
  return new NotdnsError(`${tool} is not installed${node ? ` on node ${node.name}` : ''}: the ENA simulator needs it.`, {
    kind: 'environment',
    command,
    cause,
    hint: APT_HINT,
  });
}

async function findTool(name: string): Promise<string> {
  const candidates = name.includes('/') ? [name] : (process.env.PATH ?? '/usr/bin:/bin').split(delimiter).map((d) => join(d, name));
  for (const c of candidates) if (await exists(c, fsConstants.X_OK)) return c;
  throw missingTool(name, undefined);
}

async function writeManifest(h: EnaHandle): Promise<void> {
  const m: Manifest = {
    node: h.node.name,
    netns: h.node.netns,
    pinDir: h.pinDir,
    uplinks: [...h.uplinks],
    tc: { ...h.tc },
    createdQdisc: [...h.createdQdisc],
    allowance: h.allowance,
    attachedAt: new Date().toISOString(),
  };
  await mkdir(dirname(h.manifest!), { recursive: true });
  await writeFile(h.manifest!, JSON.stringify(m, null, 2) + '\n');
}

function checkAllowance(a: number): number {
  return checkInt('allowance', a, 0, MAX_ALLOWANCE, 'Use 0 for counting only (never drop).');
}

function checkInt(what: string, v: number, min: number, max: number, hint?: string): number {
  if (!Number.isInteger(v) || v < min || v > max)
    throw new NotdnsError(`ENA ${what} must be an integer in [${min}, ${max}], got ${String(v)}`, { kind: 'usage', hint });
  return v;
}

function checkPinDir(p: string): string {
  if (!isAbsolute(p) || !/^[\w./@+-]+$/.test(p)) {
    throw new NotdnsError(`ENA pinDir must be an absolute path without spaces or quotes, got "${p}"`, {
      kind: 'usage',
      hint: 'Use enaPinDir(enaBpffsDir(runStateDir), node.name).',
    });
  }
  return p.replace(/\/+$/, '');
}

function isEmptyJsonList(s: string): boolean {
  try {
    const v: unknown = JSON.parse(s || '[]');
    return Array.isArray(v) && v.length === 0;
  } catch {
    return false;
  }
}

function firstLines(s: string, n: number): string {
  return s
    .trim()
    .split('\n')
    .filter((l) => l.trim())
    .slice(0, n)
    .join(' | ');
}

async function exists(p: string, mode = fsConstants.F_OK): Promise<boolean> {
  return access(p, mode).then(
    () => true,
    () => false,
  );
}

// For tests only. forget(): drop a handle from this process's registry without detaching (simulates a crash).
export const _internal = { hexLE, resolveConfig, rateFlags, MAPS, S, CFG, forget: (node: ClusterNode) => attached.delete(node) };
