// 5. Memory per lab pod: RSS (VmRSS, and the peak VmHWM) of each workload process, in the flagship's lab:
//   - Metrics Service idle: started, serving, its DNS load on (20 lookups/s through node-local DNS), nobody calling it;
//   - Metrics Service under load: the flagship's Alerting Engines call it (2 x 400 channels, 1 call/s each);
//   - Alerting Engine with 200 channels (100 per backend) and the flagship's one with 400 (200 per backend), connected.
import { sleep } from '../../harness/wait.js';
import { spawnLong, stopProcess } from '../../harness/exec.js';
import type { LabPod } from '../../harness/providers/lab/lab.js';
import { metricSum } from '../../workloads/common/metrics-types.js';
import { FLAGSHIP_TOPOLOGY, withLab } from '../lib/lab.js';
import { procMem, type ProcMem } from '../lib/proc.js';
import { median, round } from '../lib/stats.js';
import type { BenchOutput, Benchmark, Row } from '../lib/types.js';
import { deployAlertingEngine, deployMetricsService, flagshipConfig, pidOf } from '../lib/workloads.js';

const IDLE_S = 4;
const LOAD_S = 12;

const mem = async (pods: LabPod[]): Promise<ProcMem[]> => Promise.all(pods.map((p) => procMem(pidOf(p))));

interface Heap {
  heapTotalMb: number;
  heapUsedMb: number;
  externalMb: number;
}
/** V8 heap and external memory as the workload reports them (prom-client default metrics). */
async function heap(p: LabPod): Promise<Heap> {
  const m = await p.metrics();
  const mb = (n: string) => metricSum(m, n) / 2 ** 20;
  return {
    heapTotalMb: mb('nodejs_heap_size_total_bytes'),
    heapUsedMb: mb('nodejs_heap_size_used_bytes'),
    externalMb: mb('nodejs_external_memory_bytes'),
  };
}

/** RSS of an empty Node.js process (the floor of any workload here): node -e with a timer, 1.5 s after start. */
async function emptyNodeRss(): Promise<ProcMem> {
  const p = spawnLong('node', ['-e', 'setTimeout(() => {}, 10000)']);
  p.catch(() => undefined);
  try {
    await sleep(1500);
    return await procMem(p.pid!);
  } finally {
    await stopProcess(p, 500);
  }
}

export const podMemory: Benchmark = {
  name: 'memory',
  title: 'Memory per lab pod (RSS of each workload process)',
  budgetSeconds: 35,
  async run(ctx): Promise<BenchOutput> {
    const cfg = await flagshipConfig();
    return withLab(FLAGSHIP_TOPOLOGY, async (cluster) => {
      const ms = await deployMetricsService(cluster, cfg, 120);
      await sleep(IDLE_S * 1000);
      const idle = await mem(ms);
      const idleHeap = await Promise.all(ms.map(heap));
      ctx.log(`  Metrics Service idle: ${idle.map((m) => `${round(m.rssMb)} MB`).join(', ')}`);
      const backends = ms.map((p) => p.ip);
      const ae200 = await deployAlertingEngine(cluster, cfg, backends, 120, { instances: 1, channelsPerBackend: 100 });
      const ae400 = await deployAlertingEngine(cluster, cfg, backends, 120, { instances: 1, channelsPerBackend: 200 });
      await sleep(LOAD_S * 1000);
      const [loaded, a200, a400] = await Promise.all([mem(ms), mem(ae200), mem(ae400)]);
      const rps = await Promise.all(ms.map(async (p) => metricSum(await p.metrics(), 'ms_rpcs_total')));
      const heaps = { idle: idleHeap, loaded: await Promise.all(ms.map(heap)), ae200: await heap(ae200[0]!), ae400: await heap(ae400[0]!) };
      const floor = await emptyNodeRss();
      const calls =
        metricSum(await ae200[0]!.metrics(), 'ae_calls_total', { code: 'OK' }) +
        metricSum(await ae400[0]!.metrics(), 'ae_calls_total', { code: 'OK' });
      ctx.log(
        `  under load: Metrics Service ${loaded.map((m) => `${round(m.rssMb)} MB`).join(', ')}; AE 200 ch ${round(a200[0]!.rssMb)} MB, AE 400 ch ${round(a400[0]!.rssMb)} MB; ${calls} OK calls`,
      );
      const target = { text: '< 60 MB', op: '<', value: 60 } as const;
      const row = (metric: string, ms: ProcMem[], note?: string): Row => ({
        metric,
        value: round(median(ms.map((m) => m.rssMb)), 1),
        unit: 'MB',
        samples: ms.length > 1 ? ms.map((m) => round(m.rssMb, 1)) : undefined,
        target,
        note: [`peak (VmHWM) ${round(Math.max(...ms.map((m) => m.hwmMb)), 1)} MB`, note].filter(Boolean).join('; '),
      });
      return {
        rows: [
          row(
            'Metrics Service, idle (RSS)',
            idle,
            `${cfg.workloads.metricsService.dnsLookupsPerSecond} DNS lookups/s, no gRPC calls, ${IDLE_S} s after start`,
          ),
          row(
            'Metrics Service, under load (RSS)',
            loaded,
            `~${round(calls / LOAD_S)} calls/s over both replicas from 600 channels; ${rps.reduce((a, b) => a + b, 0)} RPCs served`,
          ),
          row('Alerting Engine, 200 channels (RSS)', a200, `${LOAD_S} s of 1 call/s per channel`),
          row('Alerting Engine, 400 channels, flagship (RSS)', a400),
        ],
        sections: [
          {
            title: 'Where the memory is (first replica; V8 heap and external memory as the workload reports them)',
            markdown: [
              '| process | RSS (MB) | V8 heap total (MB) | V8 heap used (MB) | external (MB) | RSS outside the V8 heap (MB) |',
              '|---|---:|---:|---:|---:|---:|',
              `| empty Node.js (\`node -e\`), for reference | ${round(floor.rssMb, 1)} | | | | |`,
              ...(
                [
                  ['Metrics Service, idle', idle[0]!, heaps.idle[0]!],
                  ['Metrics Service, under load', loaded[0]!, heaps.loaded[0]!],
                  ['Alerting Engine, 200 channels', a200[0]!, heaps.ae200],
                  ['Alerting Engine, 400 channels', a400[0]!, heaps.ae400],
                ] as const
              ).map(
                ([n, m, h]) =>
                  `| ${n} | ${round(m.rssMb, 1)} | ${round(h.heapTotalMb, 1)} | ${round(h.heapUsedMb, 1)} | ${round(h.externalMb, 1)} | ${round(m.rssMb - h.heapTotalMb, 1)} |`,
              ),
            ].join('\n'),
          },
        ],
        notes: [`An empty Node ${process.version} process is ${round(floor.rssMb)} MB here: every workload starts from that floor.`],
        raw: {
          emptyNode: floor,
          heaps,
          idle,
          loaded,
          ae200: a200,
          ae400: a400,
          rpcsServed: rps,
          okCalls: calls,
          idleSeconds: IDLE_S,
          loadSeconds: LOAD_S,
        },
      };
    });
  },
};
