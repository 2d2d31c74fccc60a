// The flagship's workloads (rollout-syn-flood, baseline variant, --fast), deployed exactly like the runner does:
// Metrics Service replicas on the server nodes, Alerting Engine instances on the client nodes.
import { loadExperiment, expandVariant } from '../../harness/spec/load.js';
import { alertingEngineArgs, alertingEngineRuntimeArgs, metricsServiceArgs } from '../../harness/run/workloads.js';
import type { VariantConfig } from '../../harness/spec/schema.js';
import type { LabCluster, LabPod } from '../../harness/providers/lab/lab.js';

/** Node.js flags the runner gives an Alerting Engine of this many channels (the Metrics Service gets none). */
export const aeRuntimeArgs = alertingEngineRuntimeArgs;

export async function flagshipConfig(variant = 'baseline'): Promise<VariantConfig> {
  const { experiment } = await loadExperiment('rollout-syn-flood');
  return expandVariant(experiment, variant, { fast: true });
}

export interface Deployed {
  ms: LabPod[];
  ae: LabPod[];
}

/** Metrics Service pods (idle until something calls them). */
export async function deployMetricsService(cluster: LabCluster, cfg: VariantConfig, maxSeconds: number): Promise<LabPod[]> {
  const servers = cluster.nodes.slice(0, cfg.topology.serverNodes);
  return (await cluster.deploy({
    app: 'metrics-service',
    replicas: cfg.workloads.metricsService.replicas,
    nodes: servers.map((n) => n.name),
    args: metricsServiceArgs(cfg, cluster.dns.nodeLocal, maxSeconds),
  })) as LabPod[];
}

/** Alerting Engine pods calling `backends`; channelsPerBackend overrides the experiment's value. */
export async function deployAlertingEngine(
  cluster: LabCluster,
  cfg: VariantConfig,
  backends: string[],
  maxSeconds: number,
  opts: { instances?: number; channelsPerBackend?: number } = {},
): Promise<LabPod[]> {
  const clients = cluster.nodes.slice(cfg.topology.serverNodes);
  const c: VariantConfig =
    opts.channelsPerBackend === undefined
      ? cfg
      : {
          ...cfg,
          workloads: { ...cfg.workloads, alertingEngine: { ...cfg.workloads.alertingEngine, channelsPerBackend: opts.channelsPerBackend } },
        };
  return (await cluster.deploy({
    app: 'alerting-engine',
    replicas: opts.instances ?? cfg.workloads.alertingEngine.instances,
    nodes: clients.map((n) => n.name),
    args: alertingEngineArgs(c, backends, maxSeconds, cluster.podCidr),
    runtimeArgs: aeRuntimeArgs(c.workloads.alertingEngine.channelsPerBackend * backends.length),
  })) as LabPod[];
}

export async function deployFlagship(cluster: LabCluster, cfg: VariantConfig, maxSeconds: number): Promise<Deployed> {
  const ms = await deployMetricsService(cluster, cfg, maxSeconds);
  const ae = await deployAlertingEngine(
    cluster,
    cfg,
    ms.map((p) => p.ip),
    maxSeconds,
  );
  return { ms, ae };
}

export function pidOf(p: LabPod): number {
  const pid = p.proc.pid;
  if (!pid) throw new Error(`pod ${p.name} has no pid`);
  return pid;
}
