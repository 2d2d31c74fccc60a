// The ENA simulator's dead-man switch on a kind node. The harness attaches the simulator from the host through
// `docker exec` (no node agent on kind), so right after attaching it on a node container it starts a detached
// watchdog there (`docker exec -d <node> bash -c SCRIPT`, bash + coreutils + iproute2: what kindest/base has):
//  - every WATCHDOG_CHECK_SECONDS it compares the lease file's mtime (ms) with the clock; the harness renews the
//    file with `docker exec <node> touch FILE` in its Kubernetes lease round (k8s/lease.ts, every RENEW_SECONDS);
//  - once the lease is older than K8S_LEASE_SECONDS it deletes the simulator's tc filters (pref/handle as detachEna
//    deletes them) on ingress and egress of every uplink it was attached to, the clsact qdiscs attachEna added if
//    they are then empty, and the pins dir (programs and maps are freed with it), then exits;
//  - a missing lease file counts as renewed when the watchdog started (a grace of one lease: no removal during
//    the install race);
//  - at a normal teardown the harness stops it (SIGTERM by its pidfile, then waits for it) before detachEna.
// Worst case: K8S_LEASE_SECONDS + WATCHDOG_CHECK_SECONDS after the last renewal (docs/kind.md, measured in the
// kind-node look-alike test).
import type { EnaHandle } from '../../ena/index.js';
import { run } from '../../exec.js';
import { K8S_LEASE_SECONDS } from '../k8s/lease.js';
import { dockerBin, dockerExecArgv, NODE_FILE_DIR, type KindNode } from './node.js';

export const WATCHDOG_DIR = `${NODE_FILE_DIR}/ena-deadman`;
export const WATCHDOG_CHECK_SECONDS = 1;

export interface WatchdogPaths {
  lease: string;
  pidfile: string;
  log: string;
}

/** Files of the watchdog in a node container (one simulator per node container). */
export function watchdogPaths(dir = WATCHDOG_DIR): WatchdogPaths {
  return { lease: `${dir}/lease`, pidfile: `${dir}/pid`, log: `${dir}/log` };
}

export interface WatchdogSpec {
  uplinks: readonly string[];
  pinDir: string;
  tc: { pref: number; handle: number };
  /** Uplinks where attachEna added clsact: removed again once both hooks are empty. */
  createdQdisc?: readonly string[];
  leaseSeconds?: number;
  paths?: WatchdogPaths;
}

const SAFE = /^[\w./@:-]+$/;

function safe(what: string, v: string): string {
  if (!SAFE.test(v)) throw new Error(`ENA watchdog: unsafe ${what} "${v}"`);
  return v;
}

/** The watchdog's bash script (pure; tested, and run under bash with a stub tc in test/kind/ena-watchdog.test.ts). */
export function enaWatchdogScript(s: WatchdogSpec): string {
  const p = s.paths ?? watchdogPaths();
  const maxMs = Math.round((s.leaseSeconds ?? K8S_LEASE_SECONDS) * 1000);
  const handle = `0x${s.tc.handle.toString(16)}`;
  const up = s.uplinks.map((u) => safe('uplink', u));
  const q = (s.createdQdisc ?? []).map((u) => safe('uplink', u));
  const dels = up.flatMap((u) =>
    ['ingress', 'egress'].map(
      (dir) => `  tc filter del dev ${u} ${dir} protocol all pref ${s.tc.pref} handle ${handle} bpf && echo "deleted ${u} ${dir}"`,
    ),
  );
  const qdels = q.map(
    (u) => `  [ -z "$(tc filter show dev ${u} ingress)$(tc filter show dev ${u} egress)" ] && tc qdisc del dev ${u} clsact`,
  );
  const pins = safe('pin dir', s.pinDir);
  return [
    `lease=${safe('lease', p.lease)}; pidf=${safe('pidfile', p.pidfile)}; max=${maxMs}`,
    `exec >>${safe('log', p.log)} 2>&1`,
    'echo $$ >"$pidf"',
    'trap \'kill $s 2>/dev/null; wait $s 2>/dev/null; rm -f "$pidf"; echo stopped; exit 0\' TERM INT',
    'start=$(date +%s%3N); s=',
    'echo "watching $lease (${max} ms)"',
    'while :; do',
    '  m=$(stat -c %.3Y "$lease" 2>/dev/null | tr -d .)',
    '  [ -n "$m" ] || m=$start',
    '  age=$(( $(date +%s%3N) - m ))',
    '  [ "$age" -gt "$max" ] && break',
    `  sleep ${WATCHDOG_CHECK_SECONDS} & s=$!; wait $s; s=`,
    'done',
    'echo "lease expired (${age} ms > ${max} ms): detaching the ENA simulator"',
    ...dels,
    ...qdels,
    `  rm -rf ${pins}/progs ${pins}/maps; [ ! -d ${pins} ] || rmdir ${pins}`,
    'rm -f "$pidf"; echo "done at $(date +%s%3N)"',
  ].join('\n');
}

/** argv of `docker` starting the watchdog detached in a node container (pure; tested). */
export function watchdogStartArgv(container: string, script: string): string[] {
  return dockerExecArgv(container, 'bash', ['-c', script], { detach: true });
}

/** Inside the node: create the lease file (renewed now), before the watchdog starts. */
export function leaseInitArgv(paths = watchdogPaths()): string[] {
  return ['sh', '-c', 'mkdir -p "${1%/*}" && touch "$1"', 'sh', paths.lease];
}

/** Inside the node: one renewal. */
export function leaseRenewArgv(paths = watchdogPaths()): string[] {
  return ['touch', paths.lease];
}

/** Inside the node: SIGTERM the watchdog by its pidfile, wait up to 3 s for it to go (SIGKILL then), remove the
 *  lease and pidfile. Exit 0 also when it had already gone (expired, or never started). */
export function watchdogStopArgv(paths = watchdogPaths()): string[] {
  const script = [
    'p=$(cat "$1" 2>/dev/null)',
    'if [ -n "$p" ] && kill "$p" 2>/dev/null; then',
    '  i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done',
    '  kill -0 "$p" 2>/dev/null && kill -9 "$p"',
    'fi',
    'rm -f "$1" "$2"; true',
  ].join('\n');
  return ['sh', '-c', script, 'sh', paths.pidfile, paths.lease];
}

/** What stops the watchdog at a normal teardown. */
export type Disarm = () => Promise<void>;

/**
 * Start the watchdog for a simulator attached on `node` (after attachEna): the lease file is created first, then
 * the detached bash. Returns the function that stops it (call before detachEna).
 */
export async function armEnaWatchdog(
  node: KindNode,
  h: Pick<EnaHandle, 'uplinks' | 'pinDir' | 'tc' | 'createdQdisc'>,
  opts: { leaseSeconds?: number; paths?: WatchdogPaths } = {},
): Promise<Disarm> {
  const paths = opts.paths ?? watchdogPaths();
  const [c, ...a] = leaseInitArgv(paths);
  await node.exec(c!, a, { timeoutMs: 15_000 });
  const script = enaWatchdogScript({ ...h, leaseSeconds: opts.leaseSeconds, paths });
  await run(dockerBin(), watchdogStartArgv(node.container, script), { timeoutMs: 15_000 });
  return async () => {
    const [sc, ...sa] = watchdogStopArgv(paths);
    await node.exec(sc!, sa, { timeoutMs: 15_000, reject: false });
  };
}
