// 3. Load generator capacity: how many SYN/s (= connect attempts/s: every attempt is a new socket) ONE Alerting Engine
// process sustains with 1k, 5k, 10k channels aimed at a backend that answers every SYN with a RST (a pod IP on another
// node with nothing listening), with the talk's reconnect settings (backoff 100..300 ms, connect timeout 300 ms) and
// the flagship's call interval (1 s).
// Measured exactly, twice: TcpActiveOpens of the AE pod's namespace (/proc/<pid>/net/snmp: one per connect()), and
// pure SYNs arriving at the target node (ENA simulator in counting mode on its uplinks, synsByDst[target]).
// Reference in the same lab and on the same path: hping3 --flood -S from another pod on the AE's node (timeout 5 s),
// counted by the same ENA counter, before and after the AE runs. Memory per channel = RSS delta (0 -> N channels) / N.
// One more run (5k channels) under node --cpu-prof says where the CPU goes.
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResultPromise } from 'execa';
import type { LabCluster } from '../../harness/providers/lab/lab.js';
import { parseNetstat } from '../../harness/probes/procnet.js';
import { POD_SUPERNET } from '../../harness/providers/lab/addresses.js';
import { distDir } from '../../harness/paths.js';
import { run, spawnLong, stopProcess } from '../../harness/exec.js';
import { sleep, waitFor } from '../../harness/wait.js';
import { fetchMetrics, postControl } from '../../workloads/common/admin-client.js';
import { metricSum } from '../../workloads/common/metrics-types.js';
import { hping, withLab, type EnaSet } from '../lib/lab.js';
import { procCpu, procMem } from '../lib/proc.js';
import { summarizeCpuProfile, type ProfileSummary } from '../lib/cpuprofile.js';
import { median, round } from '../lib/stats.js';
import type { BenchContext, BenchOutput, Benchmark, Row } from '../lib/types.js';
import { aeRuntimeArgs } from '../lib/workloads.js';

const CHANNELS = [1000, 5000, 10_000];
const PROFILE_CHANNELS = 5000;
const PORT = 50051;
const WARMUP_MS = 4000;
const WINDOW_MS = 6000;
const HPING_SECONDS = 5;
/** The talk's client: reconnect backoff 100 ms initial, 300 ms max, connect timeout 300 ms; calls as in the flagship. */
export const AE_FLOOD_ARGS = [
  '--initial-backoff-ms',
  '100',
  '--max-backoff-ms',
  '300',
  '--connect-timeout-ms',
  '300',
  '--call-interval-ms',
  '1000',
];

interface AeSample {
  channels: number;
  nodeFlags: string[];
  profiled: boolean;
  /** connect() calls per second (TcpActiveOpens of the pod's netns). */
  connectsPerS: number;
  /** pure SYNs per second arriving at the target node (ENA counter). */
  synPerS: number;
  /** CPU of the AE process in the window, in cores (1 = one core busy), and its user/system split. */
  cpuCores: number;
  userCores: number;
  systemCores: number;
  rss0Mb: number;
  rssMb: number;
  kbPerChannel: number;
  /** From the AE's own metrics at the end (cumulative since the backend set was applied). */
  attempts: number;
  refused: number;
  connectTimeouts: number;
  channelsByState: Record<string, number>;
  /** ms it took to apply the backend set (create the channels). */
  applyMs: number;
}

interface HpingSample {
  synPerS: number;
  transmitted: number;
  wallMs: number;
}

async function synsTo(ena: EnaSet, ip: string): Promise<{ n: number; t: number }> {
  const s = await ena.read('node1');
  return { n: s.synsByDst[ip] ?? 0, t: performance.now() };
}

async function hpingRef(ena: EnaSet, ns: string, target: string): Promise<HpingSample> {
  // read the counter 1 s in and 1 s before the end: the steady rate, without hping3's start and stop
  const run = hping(ns, target, PORT, HPING_SECONDS, 'flood');
  await sleep(1000);
  const a = await synsTo(ena, target);
  await sleep((HPING_SECONDS - 2) * 1000);
  const b = await synsTo(ena, target);
  const r = await run;
  return { synPerS: (b.n - a.n) / ((b.t - a.t) / 1000), transmitted: r.transmitted, wallMs: r.wallMs };
}

// The floor under any Node.js client: a bare net.connect loop (no gRPC) keeping 256 connects in flight, each RST
// answered by the next connect at once; it stops by itself after the given seconds.
const NODE_CONNECT_LOOP = `const net=require('net');const [ip,port,secs]=process.argv.slice(1);const end=Date.now()+secs*1000;
function go(){if(Date.now()>end)return;const s=net.connect({host:ip,port:+port});s.on('error',()=>{s.destroy();go()});s.on('connect',()=>{s.destroy();go()})}
for(let i=0;i<256;i++)go();`;

async function nodeConnectRef(ena: EnaSet, ns: string, target: string): Promise<HpingSample> {
  const t0 = performance.now();
  const run = runIn(ns, [
    'timeout',
    '-k',
    '2',
    String(HPING_SECONDS + 2),
    'node',
    '-e',
    NODE_CONNECT_LOOP,
    target,
    String(PORT),
    String(HPING_SECONDS),
  ]);
  await sleep(1000);
  const a = await synsTo(ena, target);
  await sleep((HPING_SECONDS - 2) * 1000);
  const b = await synsTo(ena, target);
  await run;
  return { synPerS: (b.n - a.n) / ((b.t - a.t) / 1000), transmitted: NaN, wallMs: performance.now() - t0 };
}

function runIn(ns: string, argv: string[]): Promise<unknown> {
  return run(argv[0]!, argv.slice(1), { ns, reject: false, timeoutMs: 20_000 });
}

/** An Alerting Engine in a fresh pod on node2 (like cluster.startPod, plus node flags), no backends yet. */
async function startAe(
  cluster: LabCluster,
  channels: number,
  nodeFlags: string[],
): Promise<{ proc: ResultPromise; admin: string; ns: string; pid: number }> {
  const pod = await cluster.plumbPod('ae', 'node2');
  const admin = `unix:${join(cluster.stateDir, `${pod.name}.sock`)}`;
  const proc = spawnLong(
    'node',
    [
      ...nodeFlags,
      join(distDir, 'workloads', 'alerting-engine', 'main.js'),
      '--admin',
      admin,
      '--channels-per-backend',
      String(channels),
      ...AE_FLOOD_ARGS,
      '--allow-cidr',
      POD_SUPERNET,
      '--max-channels',
      String(channels),
      '--max-duration-seconds',
      '60',
    ],
    { ns: pod.ns, logFile: join(cluster.logDir, `${pod.name}.log`) },
  );
  proc.catch(() => undefined);
  await waitFor(
    `alerting-engine in ${pod.name}`,
    async () => {
      if (proc.exitCode !== null && proc.exitCode !== undefined) throw new Error(`alerting-engine exited with code ${proc.exitCode}`);
      return fetchMetrics(admin).then(() => true);
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
  return { proc, admin, ns: pod.ns, pid: proc.pid! };
}

async function aeRun(
  ctx: BenchContext,
  cluster: LabCluster,
  ena: EnaSet,
  target: string,
  channels: number,
  profileDir?: string,
): Promise<AeSample> {
  // the runner's V8 flags for an AE of this size, plus the profiler for the profiled run
  const flags = [...aeRuntimeArgs(channels), ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])];
  const ae = await startAe(cluster, channels, flags);
  try {
    await sleep(500);
    const rss0 = (await procMem(ae.pid)).rssMb;
    const t0 = performance.now();
    await postControl(ae.admin, '/backends', { backends: [`${target}:${PORT}`] }, 30_000);
    const applyMs = performance.now() - t0;
    await sleep(WARMUP_MS);
    const read = async () => ({
      t: performance.now(),
      snmp: parseNetstat(await readFile(`/proc/${ae.pid}/net/snmp`, 'utf8')),
      cpu: await procCpu(ae.pid),
      syn: await synsTo(ena, target),
    });
    const a = await read();
    await sleep(WINDOW_MS);
    const b = await read();
    const mem = await procMem(ae.pid);
    const secs = (b.t - a.t) / 1000;
    const m = await fetchMetrics(ae.admin, 15_000);
    const states: Record<string, number> = {};
    for (const v of m.find((x) => x.name === 'ae_channels')?.values ?? []) if (v.value) states[String(v.labels.state)] = v.value;
    const s: AeSample = {
      channels,
      nodeFlags: flags.filter((f) => !f.startsWith('--cpu-prof')),
      profiled: !!profileDir,
      connectsPerS: (b.snmp.TcpActiveOpens! - a.snmp.TcpActiveOpens!) / secs,
      synPerS: (b.syn.n - a.syn.n) / ((b.syn.t - a.syn.t) / 1000),
      cpuCores: (b.cpu.self - a.cpu.self) / secs,
      userCores: (b.cpu.user - a.cpu.user) / secs,
      systemCores: (b.cpu.system - a.cpu.system) / secs,
      rss0Mb: rss0,
      rssMb: mem.rssMb,
      kbPerChannel: ((mem.rssMb - rss0) * 1024) / channels,
      attempts: metricSum(m, 'ae_connect_attempts_total'),
      refused: metricSum(m, 'ae_connect_errors_total', { kind: 'refused' }),
      connectTimeouts: metricSum(m, 'ae_connect_timeouts_total'),
      channelsByState: states,
      applyMs,
    };
    ctx.log(
      `  ${channels} channels${profileDir ? ' (--cpu-prof)' : ''}: ${round(s.synPerS)} SYN/s on the wire, ${round(s.connectsPerS)} connect()/s, AE CPU ${round(s.cpuCores * 100)} % of a core (user ${round(s.userCores * 100)}, system ${round(s.systemCores * 100)}), RSS ${round(rss0)} -> ${round(mem.rssMb)} MB (${round(s.kbPerChannel, 1)} KB/channel)`,
    );
    return s;
  } finally {
    // SIGTERM: the AE closes its channels and exits 0 (and writes its --cpu-prof profile)
    await stopProcess(ae.proc, 10_000).catch(() => undefined);
  }
}

export const loadgen: Benchmark = {
  name: 'loadgen',
  title: 'Load generator capacity (one Alerting Engine process vs hping3)',
  budgetSeconds: 90,
  async run(ctx): Promise<BenchOutput> {
    const profDir = await mkdtemp(join(tmpdir(), 'nd-bench-prof-'));
    try {
      return await withLab(
        { nodes: 2, serverNodes: 1, eniHasAddress: false, unreachableOnDelete: false, nodeLocalDns: false },
        async (cluster, lab) => {
          const target = await cluster.plumbPod('tgt', 'node1'); // nothing listens: every SYN gets a RST from the pod's kernel
          const hp = await cluster.plumbPod('hp', 'node2');
          await lab.ena.attach(cluster.node('node1'), 0); // counting only: never drops
          const refs: HpingSample[] = [];
          refs.push(await hpingRef(lab.ena, hp.ns, target.ip));
          ctx.log(`  hping3 --flood: ${round(refs[0]!.synPerS)} SYN/s on the wire`);
          const ae: AeSample[] = [];
          for (const n of CHANNELS) ae.push(await aeRun(ctx, cluster, lab.ena, target.ip, n));
          refs.push(await hpingRef(lab.ena, hp.ns, target.ip));
          ctx.log(`  hping3 --flood: ${round(refs[1]!.synPerS)} SYN/s on the wire`);
          const bare = await nodeConnectRef(lab.ena, hp.ns, target.ip);
          ctx.log(`  bare node net.connect loop: ${round(bare.synPerS)} SYN/s on the wire`);
          let profile: ProfileSummary | undefined, profiled: AeSample | undefined;
          if (performance.now() < ctx.deadline - 15_000) {
            profiled = await aeRun(ctx, cluster, lab.ena, target.ip, PROFILE_CHANNELS, profDir);
            const f = (await readdir(profDir)).find((x) => x.endsWith('.cpuprofile'));
            if (f) profile = await summarizeCpuProfile(join(profDir, f), 12);
          } else ctx.log('  no time left for the profiled run');
          return report(ae, refs, bare, profiled, profile);
        },
      );
    } finally {
      await rm(profDir, { recursive: true, force: true });
    }
  },
};

function report(
  ae: AeSample[],
  refs: HpingSample[],
  bare: HpingSample,
  profiled: AeSample | undefined,
  profile: ProfileSummary | undefined,
): BenchOutput {
  const ref = median(refs.map((r) => r.synPerS));
  const best = ae.reduce((a, b) => (b.synPerS > a.synPerS ? b : a));
  const usPerAttempt = (s: AeSample) => (1e6 * s.cpuCores) / Math.max(1, s.connectsPerS);
  const rows: Row[] = [
    {
      metric: 'hping3 --flood -S (reference, same path)',
      value: round(ref),
      unit: 'SYN/s',
      samples: refs.map((r) => round(r.synPerS)),
      note: 'before and after the AE runs',
    },
    {
      metric: 'bare Node.js net.connect loop (no gRPC), one process',
      value: round(bare.synPerS),
      unit: 'SYN/s',
      note: `${round((100 * bare.synPerS) / ref)} % of hping3: the ceiling for any Node.js client here`,
    },
    ...ae.map(
      (s): Row => ({
        metric: `AE ${s.channels / 1000}k channels`,
        value: round(s.synPerS),
        unit: 'SYN/s',
        note: `${round(s.connectsPerS)} connect()/s; ${round((100 * s.synPerS) / ref)} % of hping3; AE CPU ${round(s.cpuCores * 100)} % of a core`,
        ...(s === best ? { target: { text: '≥ 20,000 SYN/s (best of 1k/5k/10k)', op: '>=', value: 20_000 } as const } : {}),
      }),
    ),
    {
      metric: `AE/hping3 (best: ${best.channels / 1000}k channels)`,
      value: round((100 * best.synPerS) / ref, 1),
      unit: '%',
      target: { text: '≥ 50 %', op: '>=', value: 50 },
    },
    {
      metric: 'AE CPU per connect attempt (best)',
      value: round(usPerAttempt(best)),
      unit: 'µs',
      note: `user ${round((1e6 * best.userCores) / best.connectsPerS)} µs + system ${round((1e6 * best.systemCores) / best.connectsPerS)} µs`,
    },
    {
      metric: 'AE memory per channel',
      value: round(median(ae.map((s) => s.kbPerChannel)), 1),
      unit: 'KB',
      samples: ae.map((s) => round(s.kbPerChannel, 1)),
      note: 'RSS delta 0 → N channels under the flood, median of 1k/5k/10k',
    },
  ];
  const table = [
    '| channels | SYN/s (wire, ENA) | connect()/s (TcpActiveOpens) | per channel /s | % of hping3 | AE CPU (% of a core: user + system) | CPU µs / attempt | RSS 0 ch → N ch (MB) | KB/channel | channels by state at the end |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const s of [...ae, ...(profiled ? [profiled] : [])]) {
    table.push(
      `| ${s.channels}${s.nodeFlags.length ? ` (\`${s.nodeFlags.join(' ')}\`)` : ''}${s.profiled ? ' (--cpu-prof)' : ''} | ${round(s.synPerS)} | ${round(s.connectsPerS)} | ${round(s.synPerS / s.channels, 2)} | ${round((100 * s.synPerS) / ref, 1)} | ${round(s.cpuCores * 100)} (${round(s.userCores * 100)} + ${round(s.systemCores * 100)}) | ${round(usPerAttempt(s))} | ${round(s.rss0Mb)} → ${round(s.rssMb)} | ${round(s.kbPerChannel, 1)} | ${Object.entries(
        s.channelsByState,
      )
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')} |`,
    );
  }
  table.push(`| hping3 --flood | ${refs.map((r) => round(r.synPerS)).join(' / ')} | – | – | 100 | – | – | – | – | – |`);
  table.push(`| bare net.connect loop | ${round(bare.synPerS)} | – | – | ${round((100 * bare.synPerS) / ref, 1)} | – | – | – | – | – |`);
  const sections = [
    {
      title: `Alerting Engine (\`${AE_FLOOD_ARGS.join(' ')}\`) → RST-ing pod IP on another node; warm-up ${WARMUP_MS / 1000} s, window ${WINDOW_MS / 1000} s`,
      markdown: table.join('\n'),
    },
  ];
  if (profile) {
    sections.push({
      title: `Where the Alerting Engine's CPU goes (node --cpu-prof, ${PROFILE_CHANNELS / 1000}k channels, whole process lifetime, ${round(profile.totalMs / 1000, 1)} s sampled)`,
      markdown: [
        '| area | self time % |',
        '|---|---:|',
        ...profile.areas.map(([a, p]) => `| ${a} | ${p} |`),
        '',
        '| top functions (self time) | % |',
        '|---|---:|',
        ...profile.functions.map(([f, p]) => `| \`${f}\` | ${p} |`),
      ].join('\n'),
    });
  }
  return {
    rows,
    sections,
    raw: { ae, profiled, hping3: refs, nodeNetConnect: bare, profile, args: AE_FLOOD_ARGS, warmupMs: WARMUP_MS, windowMs: WINDOW_MS },
  };
}
