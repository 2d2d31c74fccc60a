// 1. Lab bring-up and teardown time vs size. A lab is the built-in provider's cluster (vpc + dns host + N nodes with
// node-local DNS) plus network-only pods made with plumbPod (namespace, veth, Cilium ENI-style routes and rules):
// that is the lab's own cost, with no workload start-up in it. One extra row starts the flagship's real workload
// pods (2 Metrics Service + 2 Alerting Engine x 400 channels) instead.
//   up   = provider.up() + every pod plumbed (deploy-style: in parallel, at most PLUMB_CONCURRENCY at a time)
//   down = cluster.destroy() (pods, DNS daemons, sentinels, namespaces, state dir); a sweep afterwards must find nothing.
import { listNamespaces, type LabCluster } from '../../harness/providers/lab/lab.js';
import type { Topology } from '../../harness/providers/types.js';
import { FLAGSHIP_TOPOLOGY, newLabRun, provider, sweepRun } from '../lib/lab.js';
import { median, pool, round } from '../lib/stats.js';
import type { BenchContext, BenchOutput, Benchmark, Row } from '../lib/types.js';
import { deployFlagship, flagshipConfig } from '../lib/workloads.js';

/** Pods plumbed at once (each is 3 short `ip` processes). */
export const PLUMB_CONCURRENCY = 8;
const NODES = [2, 5, 10, 20];
const PODS_PER_NODE = [1, 5, 20];

interface Sample {
  nodes: number;
  pods: number;
  workloads: boolean;
  upMs: number;
  downMs: number;
  /** Bring-up phases, ms from the start: namespaces, nodes wired, DNS up, pods done. */
  phases: Record<string, number>;
  leftovers: number;
}

async function once(topology: Topology, pods: number, workloads: boolean): Promise<Sample> {
  const lab = newLabRun();
  const phases: Record<string, number> = {};
  let cluster: LabCluster | undefined;
  let destroyed = false;
  const t0 = performance.now();
  const mark = (k: string) => {
    phases[k] = round(performance.now() - t0);
  };
  try {
    cluster = await provider.up(topology, lab.runId, {
      stateDir: lab.stateDir,
      onProgress: (l) =>
        mark(
          l.startsWith('namespaces') ? 'namespaces' : l.includes('nodes wired') ? 'nodes' : l.startsWith('DNS') ? 'dns' : l.slice(0, 20),
        ),
    });
    mark('cluster');
    const c = cluster;
    if (workloads) {
      await deployFlagship(c, await flagshipConfig(), 120);
    } else {
      const where = Array.from({ length: pods }, (_, i) => c.nodes[i % c.nodes.length]!.name);
      await pool(where, PLUMB_CONCURRENCY, (node) => c.plumbPod('p', node));
    }
    mark('pods');
    const upMs = performance.now() - t0;
    const d0 = performance.now();
    destroyed = true;
    await c.destroy();
    const downMs = performance.now() - d0;
    const leftovers = (await listNamespaces()).filter((n) => n.startsWith(`nd-${lab.runId}-`)).length;
    return { nodes: topology.nodes, pods: workloads ? 4 : pods, workloads, upMs, downMs, phases, leftovers };
  } finally {
    if (!destroyed) await cluster?.destroy().catch(() => undefined);
    await sweepRun(lab.runId).catch(() => undefined);
  }
}

interface Failure {
  nodes: number;
  pods: number;
  workloads: boolean;
  error: string;
}
const failures: Failure[] = [];

/** `reps` good repetitions; a bring-up that fails is recorded and retried (at most 2 failures per size). */
async function repeat(
  ctx: BenchContext,
  label: string,
  reps: number,
  topology: Topology,
  pods: number,
  workloads = false,
): Promise<Sample[]> {
  const out: Sample[] = [];
  let failed = 0;
  while (out.length < reps) {
    if (out.length > 0 && performance.now() > ctx.deadline) {
      ctx.log(`  ${label}: out of time after ${out.length} repetition(s)`);
      break;
    }
    try {
      const s = await once(topology, pods, workloads);
      ctx.log(
        `  ${label} #${out.length + 1}: up ${round(s.upMs)} ms, down ${round(s.downMs)} ms${s.leftovers ? `, ${s.leftovers} LEFTOVER namespaces` : ''}`,
      );
      out.push(s);
    } catch (e) {
      const error = (e as Error).message.split('\n')[0]!;
      failures.push({ nodes: topology.nodes, pods, workloads, error });
      ctx.log(`  ${label}: bring-up FAILED (${error}); retrying with a fresh lab`);
      if (++failed >= 2) break;
    }
  }
  return out;
}

const ms = (xs: Sample[], k: 'upMs' | 'downMs') => xs.map((x) => round(x[k]));

export const labLifecycle: Benchmark = {
  name: 'lab',
  title: 'Lab bring-up and teardown vs size',
  budgetSeconds: 150,
  async run(ctx): Promise<BenchOutput> {
    const rows: Row[] = [];
    const all: Sample[] = [];
    failures.length = 0;
    // the target: the flagship's 3 nodes with 10 network-only pods
    const head = await repeat(ctx, '3 nodes + 10 pods', 5, FLAGSHIP_TOPOLOGY, 10);
    all.push(...head);
    rows.push({
      metric: 'up: 3 nodes + 10 pods',
      value: median(ms(head, 'upMs')) / 1000,
      unit: 's',
      samples: ms(head, 'upMs').map((x) => x / 1000),
      target: { text: '< 3 s', op: '<', value: 3 },
    });
    rows.push({
      metric: 'down: 3 nodes + 10 pods',
      value: median(ms(head, 'downMs')) / 1000,
      unit: 's',
      samples: ms(head, 'downMs').map((x) => x / 1000),
      target: { text: '< 2 s', op: '<', value: 2 },
    });

    const grid: Sample[][] = [];
    const gridDeadline = ctx.deadline - 25_000; // keep time for the workload row
    for (const n of NODES) {
      for (const ppn of PODS_PER_NODE) {
        const reps = n * ppn >= 200 ? 1 : n * ppn >= 50 ? 2 : 3;
        if (performance.now() > gridDeadline) {
          ctx.log(`  skipping ${n} nodes x ${ppn} pods: out of time`);
          continue;
        }
        const s = await repeat(
          { ...ctx, deadline: gridDeadline },
          `${n} nodes x ${ppn} pods/node`,
          reps,
          { ...FLAGSHIP_TOPOLOGY, nodes: n },
          n * ppn,
        );
        grid.push(s);
        all.push(...s);
      }
    }
    const wl = await repeat(ctx, '3 nodes + flagship workloads', 2, FLAGSHIP_TOPOLOGY, 0, true);
    all.push(...wl);
    rows.push({
      metric: 'up: 3 nodes + 4 real workload pods',
      value: median(ms(wl, 'upMs')) / 1000,
      unit: 's',
      samples: ms(wl, 'upMs').map((x) => x / 1000),
      note: '2 Metrics Service + 2 Alerting Engine (400 channels each), ready',
    });
    rows.push({
      metric: 'down: 3 nodes + 4 real workload pods',
      value: median(ms(wl, 'downMs')) / 1000,
      unit: 's',
      samples: ms(wl, 'downMs').map((x) => x / 1000),
    });
    const leftovers = all.reduce((a, s) => a + s.leftovers, 0);
    rows.push({ metric: 'namespaces left after destroy()', value: leftovers, unit: 'ns', target: { text: '= 0', op: '==', value: 0 } });
    rows.push({
      metric: 'failed bring-ups',
      value: failures.length,
      unit: `of ${all.length + failures.length}`,
      note: failures.length ? [...new Set(failures.map((f) => `${f.nodes} nodes: ${f.error}`))].join('; ') : '',
    });

    const med = (xs: Sample[], k: 'upMs' | 'downMs') => round(median(ms(xs, k)) / 1000, 2);
    const phase = (xs: Sample[], k: string) => round(median(xs.map((x) => x.phases[k] ?? NaN)) / 1000, 2);
    const table = [
      '| nodes | pods/node | pods | reps | up (s) | down (s) | namespaces+nodes wired (s) | DNS up (s) | pods plumbed (s) | up per pod (ms) |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ];
    for (const g of grid) {
      const s = g[0];
      if (!s) continue;
      const podMs = median(g.map((x) => x.phases.pods! - x.phases.cluster!)) / s.pods;
      table.push(
        `| ${s.nodes} | ${s.pods / s.nodes} | ${s.pods} | ${g.length} | ${med(g, 'upMs')} | ${med(g, 'downMs')} | ${phase(g, 'nodes')} | ${round(phase(g, 'dns') - phase(g, 'nodes'), 2)} | ${round(phase(g, 'pods') - phase(g, 'cluster'), 2)} | ${round(podMs)} |`,
      );
    }
    for (const [label, g] of [
      ['3 (target row)', head],
      ['3 + workloads', wl],
    ] as const) {
      if (!g[0]) continue;
      table.push(
        `| ${label} | – | ${g[0]!.pods} | ${g.length} | ${med(g, 'upMs')} | ${med(g, 'downMs')} | ${phase(g, 'nodes')} | ${round(phase(g, 'dns') - phase(g, 'nodes'), 2)} | ${round(phase(g, 'pods') - phase(g, 'cluster'), 2)} | – |`,
      );
    }
    return {
      rows,
      sections: [
        { title: 'Lab size grid (medians; every lab has node-local DNS on each node, pods are network-only)', markdown: table.join('\n') },
      ],
      notes: [
        `Pods plumbed ${PLUMB_CONCURRENCY} at a time. Columns after "down" split the bring-up: time until every node is wired (namespaces, veths, routes, sysctls, nft, sentinel), then DNS (nsd + one unbound per node), then the pods.`,
      ],
      raw: { samples: all, failures, plumbConcurrency: PLUMB_CONCURRENCY },
    };
  },
};
