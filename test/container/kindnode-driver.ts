// The harness side of the kind-node look-alike test, run by kindnode-lookalike.docker.test.ts as a child process
// under a NON-ROOT user in group docker (as the kind provider runs in CI): everything here goes through harness
// code (KindNode = real `docker exec`/`docker cp`, installNodeDebs, attachEna/readEnaStats/detachEna, the
// unreachable-route argv) and nothing needs root on this machine. It prints one JSON DriverReport on stdout; the
// test makes the assertions. Usage: node dist/test/container/kindnode-driver.js '<DriverArgs as JSON>'
import { attachEna, detachEna, readEnaStats, type EnaStats } from '../../harness/ena/index.js';
import { spawn } from 'node:child_process';
import {
  dockerBin,
  dockerExecArgv,
  installNodeDebs,
  KindNode,
  nsenterNetArgv,
  removeUnreachableRouteArgv,
  unreachableRouteArgv,
} from '../../harness/providers/kind/node.js';
import { parseNetstat } from '../../harness/probes/procnet.js';
import {
  echoServerArgv,
  echoStopArgv,
  estabAgentArgv,
  estabStopArgv,
  parseEstabLine,
  type EstabLine,
} from '../../harness/providers/kind/estab.js';
import { run } from '../../harness/exec.js';
import { K8S_LEASE_SECONDS, LeaseRenewer, RENEW_SECONDS } from '../../harness/providers/k8s/lease.js';
import { armEnaWatchdog, leaseRenewArgv, watchdogPaths } from '../../harness/providers/kind/ena-watchdog.js';
import {
  CLOSED_PORT,
  CONNECT_LOOP,
  CONNECT_ONCE,
  DEAD_POD_IP,
  ECHO_PORT,
  POD_NS,
  podNodeLines,
  podNsLines,
  snmpCounters,
  type Counters,
  type DeadManReport,
  type DriverArgs,
  type DriverReport,
  type EstabReport,
} from './lookalike.js';

const args = JSON.parse(process.argv[2] ?? '{}') as DriverArgs;
const ms: Record<string, number> = {};
async function timed<T>(what: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await f();
  } finally {
    ms[what] = Math.round(performance.now() - t0);
  }
}

function enaCounters(s: EnaStats): Counters {
  return {
    synsOut: s.synsOut,
    synsIn: s.synsIn,
    packetsOut: s.packetsOut,
    packetsIn: s.packetsIn,
    newFlows: s.newFlows,
    flowSyn: s.flowsByFlag.syn,
    allowanceExceeded: s.allowanceExceeded,
    trackedFlows: s.trackedFlows,
    readMs: Math.round(s.readMs),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The estab agent (harness/providers/kind/estab.ts) in the pod netns of the node, through the same docker exec and
 * nsenter the kind provider uses, holding one connection to an echo in the peer look-alike: answering; the node
 * blackholes the peer (the established flow's packets dropped, as a full ENA allowance would drop a new flow's);
 * the route removed (TCP retransmits, the same connection answers again); the echo killed (closed for good).
 */
async function estab(node: KindNode, podNet: string): Promise<EstabReport> {
  const peer = new KindNode(args.peer, args.peerIp);
  const echoPid = '/tmp/notdns-echo.pid',
    agentPid = '/tmp/notdns-estab.pid';
  await run(dockerBin(), ['exec', '-d', args.peer, ...echoServerArgv(echoPid, ECHO_PORT, 60)]);
  await sleep(500);
  const argv = estabAgentArgv({ host: args.peerIp, port: ECHO_PORT, maxSeconds: 40, pidfile: agentPid, netns: podNet });
  const agent = spawn(dockerBin(), dockerExecArgv(node.container, argv[0]!, argv.slice(1)), { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: EstabLine[] = [];
  let buf = '',
    stderr = '';
  agent.stdout.on('data', (d: Buffer) => {
    const ls = (buf + d.toString()).split('\n');
    buf = ls.pop() ?? '';
    for (const l of ls) {
      const x = parseEstabLine(l);
      if (x) lines.push(x);
    }
  });
  agent.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((r) => agent.on('exit', (c) => r(c)));
  const last = () => lines[lines.length - 1] ?? { ok: -1, failed: -1, connected: false };
  const blackhole = ['route', 'replace', 'blackhole', `${args.peerIp}/32`];
  try {
    await sleep(3000);
    const answering = last();
    await node.exec('ip', blackhole);
    await sleep(3500);
    const blackholed = last();
    await node.exec('ip', ['route', 'del', 'blackhole', `${args.peerIp}/32`]);
    await sleep(5000);
    const restored = last();
    await peer.exec(echoStopArgv(echoPid)[0]!, echoStopArgv(echoPid).slice(1));
    await sleep(3000);
    const closed = last();
    await node.exec(estabStopArgv(agentPid)[0]!, estabStopArgv(agentPid).slice(1));
    const exitCode = await Promise.race([exited, sleep(5000).then(() => -1)]);
    return { answering, blackholed, restored, closed, lines: lines.length, exitCode, stderr: stderr.slice(-500) };
  } finally {
    agent.kill('SIGKILL');
    await node.exec('ip', ['route', 'del', 'blackhole', `${args.peerIp}/32`], { reject: false });
    await node.exec('sh', ['-c', '[ -f "$1" ] && kill -9 "$(cat "$1")"; rm -f "$1"; true', 'sh', agentPid], { reject: false });
    await peer.exec(echoStopArgv(echoPid)[0]!, echoStopArgv(echoPid).slice(1), { reject: false });
  }
}

/** The renewal round the kind provider runs (k8s/lease.ts LeaseRenewer with the node containers' touch, as
 *  KindCluster.renewOthers does; no API server here: its pod execs and owner patch are no-ops). */
function nodeLeaseRenewer(node: KindNode): LeaseRenewer {
  const [cmd, ...a] = leaseRenewArgv();
  const client = { exec: async () => ({ exitCode: 0 }), patchConfigMapData: async () => undefined };
  return new LeaseRenewer(
    client,
    'nd-lookalike',
    { name: 'notdns-run-lookalike', uid: 'lookalike' },
    () => [],
    RENEW_SECONDS * 1000,
    () => [node.exec(cmd!, a, { timeoutMs: 5_000, reject: false })],
  );
}

/** Processes left in the node besides its pid 1 (sleep infinity) and this ps. */
async function nodeProcesses(node: KindNode): Promise<string[]> {
  const r = await node.exec('ps', ['-eo', 'pid=,stat=,args=']);
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^1 /.test(l) && !/ ps -eo /.test(l));
}

/**
 * The dead-man switch: attach again, arm the watchdog, renew as the provider does for two rounds, then stop
 * renewing (what a SIGKILLed harness does) and poll both filters until they are gone.
 */
async function deadMan(node: KindNode, pinDir: string): Promise<DeadManReport> {
  const paths = watchdogPaths();
  const POLL_MS = 200;
  const h = await attachEna(node, { allowance: args.allowance, pinDir, readOnHost: false });
  const renewer = nodeLeaseRenewer(node);
  const disarm = await armEnaWatchdog(node, h);
  renewer.start();
  const filters = async () => (await node.exec('sh', ['-c', 'tc filter show dev eth0 ingress; tc filter show dev eth0 egress'])).stdout;
  try {
    await sleep(2 * RENEW_SECONDS * 1000 + 1000);
    const f = await filters();
    const filtersWhileRenewed = /ena_ingress/.test(f) && /ena_egress/.test(f);
    renewer.stop();
    const renewRounds = renewer.rounds;
    await sleep(500); // a renewal in flight lands
    const lastRenewalMs = Number((await node.exec('stat', ['-c', '%.3Y', paths.lease])).stdout.trim().replace('.', ''));
    let goneAtMs = 0,
      prev = Date.now(),
      pollMs = 0;
    while (Date.now() < lastRenewalMs + (K8S_LEASE_SECONDS + 15) * 1000) {
      const out = await filters();
      const now = Date.now();
      if (!/ena_/.test(out)) {
        goneAtMs = now;
        pollMs = now - prev;
        break;
      }
      prev = now;
      await sleep(POLL_MS);
    }
    for (let i = 0; i < 20; i++) {
      if ((await node.exec('test', ['-e', paths.pidfile], { reject: false })).exitCode !== 0) break;
      await sleep(100);
    }
    await sleep(300);
    return {
      leaseSeconds: K8S_LEASE_SECONDS,
      renewRounds,
      filtersWhileRenewed,
      lastRenewalMs,
      goneAtMs,
      goneAfterMs: goneAtMs ? goneAtMs - lastRenewalMs : -1,
      pollMs,
      qdisc: (await node.exec('tc', ['qdisc', 'show', 'dev', 'eth0'])).stdout.trim(),
      pinsLeft: (await node.exec('sh', ['-c', 'find "$1" 2>/dev/null; true', 'sh', pinDir])).stdout.trim(),
      psAfter: await nodeProcesses(node),
      log: (await node.exec('cat', [paths.log], { reject: false })).stdout,
    };
  } finally {
    renewer.stop();
    await disarm();
    await detachEna(h).catch(() => undefined);
    await node.exec('rm', ['-f', paths.log], { reject: false });
  }
}

async function main(): Promise<DriverReport> {
  const node = new KindNode(args.node, args.nodeIp);
  const podNet = `/run/netns/${POD_NS}`;
  const inPod = (cmd: string, a: string[], timeoutMs = 30_000) => node.exec('nsenter', nsenterNetArgv(podNet, cmd, a), { timeoutMs });
  const podSnmp = async () => snmpCounters(parseNetstat((await inPod('cat', ['/proc/net/snmp'])).stdout));
  const filterLines = async (dir: string) => (await node.exec('tc', ['filter', 'show', 'dev', 'eth0', dir])).stdout.trim();

  const pidResolved = (await node.resolvePid()) !== undefined;
  const debsInstalled = await timed('installNodeDebs', () => installNodeDebs(node, args.debDir));
  const bpftoolVersion = (await node.exec('bpftool', ['version'])).stdout.split('\n')[0]!;
  const dig = await node.exec('dig', ['-v']);
  const digVersion = (dig.stdout + dig.stderr).trim();

  // the pod: a netns of the node with a veth to it (what Cilium's CNI makes for a pod)
  await node.exec('ip', ['-batch', '-'], { input: podNodeLines().join('\n') + '\n' });
  await node.exec('ip', ['-n', POD_NS, '-batch', '-'], { input: podNsLines().join('\n') + '\n' });

  const pinDir = `/sys/fs/bpf/notdns/${args.runId}/${node.name}`;
  const h = await timed('attachEna', () => attachEna(node, { allowance: args.allowance, pinDir, readOnHost: false }));
  const wd = watchdogPaths();
  const renewer = nodeLeaseRenewer(node);
  const disarm = await timed('armEnaWatchdog', () => armEnaWatchdog(node, h));
  renewer.start();
  let report: DriverReport;
  const watchdogNormal: DriverReport['watchdogNormal'] = { pidWhileArmed: '', renewRounds: 0, renewFailures: 0, log: '', psAfterStop: [] };
  try {
    const jsonFilters = async (dir: string) =>
      JSON.parse((await node.exec('tc', ['-j', 'filter', 'show', 'dev', 'eth0', dir])).stdout || '[]') as {
        options?: { bpf_name?: string; prog?: { id?: number } };
      }[];
    const all = [...(await jsonFilters('ingress')), ...(await jsonFilters('egress'))];
    const progIds = all.map((f) => f.options?.prog?.id).filter((x): x is number => typeof x === 'number');
    const filtersWhileAttached = { ingress: (await filterLines('ingress')).split('\n'), egress: (await filterLines('egress')).split('\n') };

    const enaBefore = await readEnaStats(h);
    const podSnmpBefore = await podSnmp();
    const loop = await timed('synLoop', () =>
      inPod('bash', ['-c', CONNECT_LOOP, 'bash', args.peerIp, String(CLOSED_PORT), String(args.syns)], 120_000),
    );
    const [sent, refused] = loop.stdout.trim().split(' ').map(Number);
    const podSnmpAfter = await podSnmp();
    const enaAfter = await readEnaStats(h);

    // Cilium #18505 as the kind provider emulates it, through the same argv builders
    await node.exec('ip', unreachableRouteArgv(DEAD_POD_IP));
    const g1 = await node.exec('ip', ['route', 'get', DEAD_POD_IP], { reject: false });
    const showDuring = (await node.exec('ip', ['route', 'show', `${DEAD_POD_IP}/32`])).stdout.trim();
    const icmpBefore = (await podSnmp()).IcmpInDestUnreachs!;
    const connectErr = (await inPod('bash', ['-c', CONNECT_ONCE, 'bash', DEAD_POD_IP, String(CLOSED_PORT)])).stdout.trim();
    const icmpAfter = (await podSnmp()).IcmpInDestUnreachs!;
    await node.exec('ip', removeUnreachableRouteArgv(DEAD_POD_IP));
    // only asked, never sent: with the route gone the node would send it to the docker bridge's gateway
    const g2 = await node.exec('ip', ['route', 'get', DEAD_POD_IP], { reject: false });
    const showAfter = (await node.exec('ip', ['route', 'show', `${DEAD_POD_IP}/32`])).stdout.trim();
    const estabReport = await timed('estab', () => estab(node, podNet));

    report = {
      uid: process.getuid!(),
      gid: process.getgid!(),
      groups: process.getgroups!(),
      pidResolved,
      debsInstalled,
      bpftoolVersion,
      digVersion,
      pinDir,
      progIds,
      filtersWhileAttached,
      synLoop: { sent: sent!, refused: refused! },
      enaBefore: enaCounters(enaBefore),
      enaAfter: enaCounters(enaAfter),
      synsToPeerBefore: enaBefore.synsByDstEgress[args.peerIp] ?? 0,
      synsToPeerAfter: enaAfter.synsByDstEgress[args.peerIp] ?? 0,
      podSnmpBefore,
      podSnmpAfter,
      unreachable: {
        getDuring: { exitCode: g1.exitCode, out: (g1.stdout + g1.stderr).trim() },
        showDuring,
        connectErr,
        icmpBefore,
        icmpAfter,
        getAfter: { exitCode: g2.exitCode, out: (g2.stdout + g2.stderr).trim() },
        showAfter,
      },
      afterDetach: { ingress: '', egress: '', qdisc: '', pinsLeft: '', progsAlive: [] },
      estab: estabReport,
      watchdogNormal,
      deadMan: undefined as unknown as DeadManReport,
      ms,
    };
  } finally {
    // the normal teardown: the watchdog stopped (by its pidfile), then detachEna as before
    renewer.stop();
    watchdogNormal.renewRounds = renewer.rounds;
    watchdogNormal.renewFailures = renewer.failures;
    watchdogNormal.pidWhileArmed = (await node.exec('cat', [wd.pidfile], { reject: false })).stdout.trim();
    await timed('disarmEnaWatchdog', disarm);
    watchdogNormal.log = (await node.exec('cat', [wd.log], { reject: false })).stdout;
    watchdogNormal.psAfterStop = await nodeProcesses(node);
    await node.exec('rm', ['-f', wd.log], { reject: false });
    await timed('detachEna', () => detachEna(h));
  }
  report.afterDetach.ingress = await filterLines('ingress');
  report.afterDetach.egress = await filterLines('egress');
  report.afterDetach.qdisc = (await node.exec('tc', ['qdisc', 'show', 'dev', 'eth0'])).stdout.trim();
  report.afterDetach.pinsLeft = (
    await node.exec('sh', ['-c', 'find "$1" -mindepth 1 2>/dev/null; true', 'sh', `/sys/fs/bpf/notdns/${args.runId}`])
  ).stdout.trim();
  report.deadMan = await timed('deadMan', () => deadMan(node, pinDir));
  for (const id of report.progIds) {
    // programs are global kernel objects: by id, so other runs' ENA programs on this machine do not count
    if ((await node.exec('bpftool', ['prog', 'show', 'id', String(id)], { reject: false })).exitCode === 0)
      report.afterDetach.progsAlive.push(id);
  }
  await node.exec(
    'sh',
    ['-c', 'rmdir "$1" "$2" 2>/dev/null; ip netns del "$3"', 'sh', `/sys/fs/bpf/notdns/${args.runId}`, '/sys/fs/bpf/notdns', POD_NS],
    { reject: false },
  );
  return report;
}

main().then(
  (r) => {
    process.stdout.write(JSON.stringify(r) + '\n');
  },
  (e: unknown) => {
    const err = e as Error & { explain?: () => string };
    process.stderr.write(`kindnode-driver: ${err.explain ? err.explain() : (err.stack ?? String(e))}\n`);
    process.exitCode = 1;
  },
);
