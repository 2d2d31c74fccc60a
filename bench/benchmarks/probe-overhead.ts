// 4. Cost of measuring.
//  a) The sampler: the harness's probe Recorder (harness/probes/recorder.ts) sampling a realistic cluster every second
//     for 30 s: the flagship's lab (3 nodes, node-local DNS), the ENA simulator on every node (allowance on the server
//     nodes, counting on the client node, as installEna does), the flagship's workloads (2 Metrics Service, 2 Alerting
//     Engine x 400 channels). Per sample: /proc/net reads per node, one bpftool per node (readEnaStats), pod metrics
//     over the admin sockets, /proc/<pid>/net/snmp per pod. CPU = this process's utime+stime plus the CPU of the
//     children it waited for (bpftool, ip netns exec), from /proc/self/stat, over the window.
//     Jitter: the actual start-to-start intervals of the samples (the time each sample starts reading the nodes).
//  b) The tc program: kernel.bpf_stats_enabled=1 for the duration, run_time_ns / run_cnt of every ENA program of the
//     lab (bpftool prog show pinned ...), during the sampler window (flagship steady load) and under a ~20k SYN/s
//     hping3 flood from a pod on the client node to a pod on a server node (4 paced hping3, usleep pacing), as program
//     time per SYN above the workloads' own traffic, projected to 20k SYN/s.
import { installEna, type EnaInstall } from '../../harness/ena-install.js';
import { Recorder, type EnaReader } from '../../harness/probes/recorder.js';
import type { LabCluster } from '../../harness/providers/lab/lab.js';
import { sleep } from '../../harness/wait.js';
import { enaProgStats, FLAGSHIP_TOPOLOGY, hping, withBpfStats, withLab, type BpfProgStats } from '../lib/lab.js';
import { procCpu } from '../lib/proc.js';
import { quantile, round } from '../lib/stats.js';
import type { BenchOutput, Benchmark, Row } from '../lib/types.js';
import { deployFlagship, flagshipConfig } from '../lib/workloads.js';

const WINDOW_S = 30;
const FLOOD_S = 7;
const FLOOD_RATE = 20_000;
const HPING_PROCS = 4;

interface ProgWindow {
  runTimeNs: number;
  runCnt: number;
  seconds: number;
  nsPerRun: number;
  cpuPctOfCore: number;
}

function progDelta(a: BpfProgStats, b: BpfProgStats, seconds: number): ProgWindow {
  const runTimeNs = b.runTimeNs - a.runTimeNs,
    runCnt = b.runCnt - a.runCnt;
  return { runTimeNs, runCnt, seconds, nsPerRun: runCnt ? runTimeNs / runCnt : NaN, cpuPctOfCore: (100 * runTimeNs) / (seconds * 1e9) };
}

export const probeOverhead: Benchmark = {
  name: 'probes',
  title: 'Probe overhead: sampler CPU and jitter, tc program cost',
  budgetSeconds: 75,
  async run(ctx): Promise<BenchOutput> {
    const cfg = await flagshipConfig();
    return withLab(FLAGSHIP_TOPOLOGY, async (cluster, lab) => {
      // the ENA simulator exactly as the runner installs it (allowance on the server nodes, counting on the others)
      const ena = await installEna(cluster, cfg, lab.stateDir);
      try {
        const { ms, ae } = await deployFlagship(cluster, cfg, 180);
        ctx.log(
          `  flagship cluster up: ${ms.length} Metrics Service, ${ae.length} Alerting Engine pods, ENA on ${ena.handles.length} nodes`,
        );
        await sleep(3000); // AE channels connected, steady calls
        return await withBpfStats(async () => {
          const sampler = await samplerWindow(ctx.log, cluster, ena);
          const flood = await floodWindow(ctx.log, cluster, ena, sampler.prog);
          return report(sampler, flood, cluster.pods().length);
        });
      } finally {
        await ena.remove().catch(() => undefined);
      }
    });
  },
};

async function samplerWindow(log: (l: string) => void, cluster: LabCluster, ena: EnaInstall) {
  const starts: number[] = [],
    ends: number[] = [];
  // the Recorder reads cluster.nodes first thing in every sample: that access is the sample's start
  const watched = Object.create(cluster, {
    nodes: {
      get: () => {
        starts.push(performance.now());
        return cluster.nodes;
      },
    },
  }) as LabCluster;
  const rec = new Recorder(watched, { ena: ena.read as EnaReader, onSample: () => ends.push(performance.now()) });
  const handles = ena.handles;
  const c0 = await procCpu('self'),
    b0 = await enaProgStats(handles),
    t0 = performance.now();
  rec.start();
  await sleep(WINDOW_S * 1000);
  const c1 = await procCpu('self'),
    b1 = await enaProgStats(handles),
    t1 = performance.now();
  const n = starts.length;
  await rec.stop();
  const secs = (t1 - t0) / 1000;
  const intervals = starts.slice(1, n).map((s, i) => s - starts[i]!);
  const durations = ends.slice(0, n).map((e, i) => e - starts[i]!);
  const self = (c1.self - c0.self) / secs,
    children = (c1.children - c0.children) / secs;
  const prog = progDelta(b0, b1, secs);
  log(
    `  sampler: ${n} samples in ${round(secs, 1)} s, CPU ${round(100 * (self + children), 2)} % of a core (self ${round(100 * self, 2)}, children ${round(100 * children, 2)}); interval p50 ${round(quantile(intervals, 0.5), 1)} ms p99 ${round(quantile(intervals, 0.99), 1)} ms; tc program ${round(prog.cpuPctOfCore, 3)} % (${round(prog.nsPerRun)} ns/packet, ${round(prog.runCnt / secs)} packets/s)`,
  );
  return { samples: n, skipped: rec.skipped, seconds: secs, selfCores: self, childrenCores: children, intervals, durations, prog };
}

async function floodWindow(log: (l: string) => void, cluster: LabCluster, ena: EnaInstall, base: ProgWindow) {
  const tgt = await cluster.plumbPod('tgt', 'node1');
  const src = await cluster.plumbPod('hp', 'node3');
  const handles = ena.handles;
  const syns = async () => (await ena.read(cluster.node('node1')))?.synsByDst?.[tgt.ip] ?? 0;
  const per = FLOOD_RATE / HPING_PROCS;
  const floods = Array.from({ length: HPING_PROCS }, () => hping(src.ns, tgt.ip, 50051, FLOOD_S, per));
  await sleep(1500);
  const s0 = await syns(),
    b0 = await enaProgStats(handles),
    t0 = performance.now();
  await sleep((FLOOD_S - 3) * 1000);
  const s1 = await syns(),
    b1 = await enaProgStats(handles),
    t1 = performance.now();
  await Promise.all(floods);
  const secs = (t1 - t0) / 1000;
  const synPerS = (s1 - s0) / secs;
  const prog = progDelta(b0, b1, secs);
  // program time the SYNs cost (every hop: egress of the client node, ingress of the server node, the RSTs back),
  // above the workloads' own traffic measured in the sampler window
  const nsPerSyn = (prog.runTimeNs / secs - base.runTimeNs / base.seconds) / Math.max(1, synPerS);
  const at20k = base.cpuPctOfCore + (100 * nsPerSyn * FLOOD_RATE) / 1e9;
  log(
    `  flood: ${round(synPerS)} SYN/s on the wire; tc program ${round(prog.cpuPctOfCore, 2)} % of a core (${round(prog.nsPerRun)} ns/run, ${round(prog.runCnt / secs)} runs/s, ${round(nsPerSyn)} ns per SYN) -> ${round(at20k, 2)} % at ${FLOOD_RATE} SYN/s`,
  );
  return { synPerS, prog, nsPerSyn, at20kPct: at20k, hpingProcs: HPING_PROCS };
}

function report(s: Awaited<ReturnType<typeof samplerWindow>>, f: Awaited<ReturnType<typeof floodWindow>>, pods: number): BenchOutput {
  const cpu = 100 * (s.selfCores + s.childrenCores);
  const q = (xs: number[], p: number) => round(quantile(xs, p), 1);
  const rows: Row[] = [
    {
      metric: `sampler CPU (1 s interval, 3 nodes + ENA + ${pods} pods, ${round(s.seconds)} s)`,
      value: round(cpu, 2),
      unit: '% of a core',
      target: { text: '< 5 % of one core', op: '<', value: 5 },
      note: `harness process ${round(100 * s.selfCores, 2)} % + its children (bpftool, ip netns exec) ${round(100 * s.childrenCores, 2)} %`,
    },
    { metric: 'sample interval p50', value: q(s.intervals, 0.5), unit: 'ms', note: `${s.intervals.length} intervals` },
    {
      metric: 'sample interval p99',
      value: q(s.intervals, 0.99),
      unit: 'ms',
      note: `max ${q(s.intervals, 1)} ms, min ${q(s.intervals, 0)} ms; ${s.skipped} ticks skipped (previous sample still running)`,
    },
    { metric: 'sample duration p50 / p99', value: q(s.durations, 0.5), unit: 'ms', note: `p99 ${q(s.durations, 0.99)} ms` },
    {
      metric: `tc program at ${FLOOD_RATE / 1000}k SYN/s (flood measured at ${round(f.synPerS)} SYN/s)`,
      value: round(f.at20kPct, 2),
      unit: '% of a core',
      target: { text: '< 5 % of one core', op: '<', value: 5 },
      note: `${round(f.nsPerSyn)} ns of program time per SYN (all hops); ${round(f.prog.nsPerRun)} ns per program run (run_time_ns/run_cnt) during the flood, ${round(f.prog.runCnt / f.prog.seconds)} runs/s; measured ${round(f.prog.cpuPctOfCore, 2)} % at the measured rate`,
    },
    {
      metric: 'tc program at flagship steady load',
      value: round(s.prog.cpuPctOfCore, 3),
      unit: '% of a core',
      note: `${round(s.prog.nsPerRun)} ns per run, ${round(s.prog.runCnt / s.seconds)} runs/s`,
    },
  ];
  const hist = (xs: number[]) => {
    const edges = [900, 990, 999, 1001, 1010, 1050, 1100, Infinity];
    const counts = edges.map(() => 0);
    for (const x of xs) counts[edges.findIndex((e) => x < e)]!++;
    let lo = 0;
    return edges.map((e, i) => {
      const r = `| ${lo}–${e === Infinity ? '∞' : e} | ${counts[i]} |`;
      lo = e;
      return r;
    });
  };
  return {
    rows,
    sections: [
      {
        title: 'Sample intervals (ms, start to start)',
        markdown: ['| interval (ms) | samples |', '|---|---:|', ...hist(s.intervals)].join('\n'),
      },
    ],
    notes: [
      'The sampler here is the Recorder without the dig +tcp checks and estab agents the runner adds (those are probes of their own, run every 2 s in separate processes).',
      "bpf_stats counts only the programs' own run time (not the GC timer callback); kernel.bpf_stats_enabled is restored afterwards.",
    ],
    raw: { sampler: s, flood: f },
  };
}
