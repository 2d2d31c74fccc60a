// One variant: a fresh cluster, then the stages up → ena → deploy → probes → steps → collect, each registering
// its undo on one teardown stack that unwinds in reverse order whatever happens (success, verdict, harness
// error, Ctrl-C). A workload that dies while nothing stops it aborts the variant as a harness error.
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { NotdnsError } from '../errors.js';
import { spawnLong, stopProcess } from '../exec.js';
import { log } from '../log.js';
import { activeRuns } from '../names.js';
import { distDir, stateRoot } from '../paths.js';
import { Recorder } from '../probes/recorder.js';
import type { Cluster, ClusterNode, PodHandle } from '../providers/types.js';
import type { VariantResult } from '../results.js';
import type { TargetContext } from '../expect.js';
import type { VariantConfig } from '../spec/schema.js';
import { sleep } from '../wait.js';
import { installEna, type EnaInstall } from '../ena-install.js';
import { fault, scheduleUncaught, type FaultPoint } from '../faults.js';
import { TeardownStack } from '../teardown.js';
import { alertingEngineArgs, alertingEngineRuntimeArgs, GRPC_PORT, metricsServiceArgs } from './workloads.js';
import { plannedSeconds, stepDef } from './steps.js';
import { summarize } from './summary.js';
import type { RunExperimentOptions } from './index.js';

/** The state one variant's stages share. */
interface VariantRun {
  readonly cfg: VariantConfig;
  readonly o: RunExperimentOptions;
  readonly vid: string;
  readonly stateDir: string;
  readonly logDir: string;
  /** Every load loop ends by itself after this (planned time + 120 s). */
  readonly maxSeconds: number;
  readonly stack: TeardownStack;
  /** Aborted by the user's signal or by a dead workload. */
  readonly signal: AbortSignal;
  readonly broken: AbortController;
  phase: string;
  cluster?: Cluster;
  ena?: EnaInstall;
  recorder?: Recorder;
  serverNodes: readonly ClusterNode[];
  clientNodes: readonly ClusterNode[];
  replaced: VariantResult['replacedPods'];
}

type Stage = (v: VariantRun) => Promise<void>;

/** The stages in order; each registers its teardown on the stack as soon as it has something to undo. */
const STAGES: [string, Stage][] = [['bring-up', up], ['ena', ena], ['deploy', deploy], ['probes', probes], ['steps', steps], ['collect', collect]];

export async function runVariant(cfg: VariantConfig, runId: string, o: RunExperimentOptions): Promise<{ result: VariantResult; ctx: TargetContext }> {
  // each variant gets its own cluster (run id + variant index keep names distinct and sweepable)
  const vid = `${runId.slice(0, 4)}${(Object.keys(o.experiment.variants).indexOf(cfg.name) + 16).toString(16).slice(-2)}`;
  const broken = new AbortController();
  const v: VariantRun = {
    cfg, o, vid, stateDir: join(stateRoot, vid), logDir: join(o.outDir, 'logs', cfg.name), maxSeconds: plannedSeconds(cfg) + 120,
    stack: new TeardownStack('runner', vid), broken, signal: o.signal ? AbortSignal.any([o.signal, broken.signal]) : broken.signal,
    phase: 'bring-up', serverNodes: [], clientNodes: [], replaced: [],
  };
  activeRuns.add(vid);
  await mkdir(v.logDir, { recursive: true });
  const p = o.progress;
  const startedAt = new Date().toISOString();
  // named before anything exists: after a crash this is what `notdns down` needs
  p.log(`${cfg.name}: run ${runId}, resources nd-${vid}-*, state ${v.stateDir} (if notdns dies: notdns down ${vid})`);
  try {
    for (const [phase, stage] of STAGES) {
      if (phase !== 'steps') v.phase = phase; // the steps name their own phases (steady, rollout, ...)
      await stage(v);
    }
    const rec = v.recorder!, cluster = v.cluster!;
    const series = rec.allSeries();
    const serverPods = Object.fromEntries(cluster.pods('metrics-service').map((x) => [x.name, x.node]));
    const ctx: TargetContext = { floodedNodes: [...new Set(v.replaced.map((r) => r.node))], serverNodes: v.serverNodes.map((n) => n.name), serverPods };
    const result: VariantResult = {
      name: cfg.name, description: cfg.description, startedAt, durationSeconds: rec.now(),
      config: { topology: cfg.topology, ena: cfg.ena, workloads: cfg.workloads, steps: cfg.steps },
      series, markers: rec.markers, replacedPods: v.replaced, summary: summarize(series, ctx, rec),
    };
    p.done(`${cfg.name}: ${rec.samples} samples${rec.skipped ? `, ${rec.skipped} skipped` : ''}`);
    return { result, ctx };
  } catch (err) {
    if (err instanceof NotdnsError && !err.phase) err.phase = v.phase;
    p.fail(`${cfg.name}: ${(err as Error).message.split('\n')[0]}`);
    throw err;
  } finally {
    p.start(`${cfg.name}: tear down`);
    const problems = await v.stack.unwind();
    for (const e of problems) { log.error({ problem: e }, 'teardown failed'); p.log(`teardown problem: ${e}; run \`notdns down --all\``); }
    await o.provider.sweep(vid).catch(() => undefined);
    activeRuns.delete(vid);
    p.done(`${cfg.name}: torn down`);
  }
}

function throwFault(point: FaultPoint): void {
  const f = fault(point);
  if (f) throw f;
}

async function up(v: VariantRun): Promise<void> {
  const { cfg, o } = v;
  o.progress.start(`${cfg.name}: bring up ${o.provider.name} (${cfg.topology.nodes} nodes)`);
  const cluster = await o.provider.up({ ...cfg.topology }, v.vid, { stateDir: v.stateDir, signal: o.signal, onProgress: (l) => o.progress.log(`  ${l}`), logDir: v.logDir });
  v.cluster = cluster;
  v.stack.push('cluster', () => cluster.destroy());
  cluster.onUnexpectedExit((pod, how, logFile) => {
    log.info({ pod: pod.name, how, phase: v.phase }, 'workload died');
    v.broken.abort(new NotdnsError(`the ${pod.app} workload of pod ${pod.name} ${how} during ${v.phase}, and nothing had asked it to stop. `
      + 'This is a harness fault, not a verdict: the measurements of this variant are incomplete, so no expectation was evaluated.', {
      kind: 'harness', phase: v.phase, hint: `Its log is ${logFile}. If something outside notdns killed it (the OOM killer, a stray kill), run again; otherwise the log says why it stopped.`,
    }));
  });
  v.serverNodes = cluster.nodes.slice(0, cfg.topology.serverNodes);
  v.clientNodes = cluster.nodes.slice(cfg.topology.serverNodes);
  throwFault('up');
}

async function ena(v: VariantRun): Promise<void> {
  const cluster = v.cluster!, cfg = v.cfg;
  const e = await installEna(cluster, cfg, v.stateDir);
  v.ena = e;
  v.stack.push('ena', () => e.remove());
  throwFault('ena');
  v.o.progress.log(`  ${e.describe}`);
  v.signal.throwIfAborted();
}

async function deploy(v: VariantRun): Promise<void> {
  const { cfg, o } = v, cluster = v.cluster!;
  o.progress.start(`${cfg.name}: deploy workloads`);
  const ms = await cluster.deploy({ app: 'metrics-service', replicas: cfg.workloads.metricsService.replicas, nodes: v.serverNodes.map((n) => n.name),
    args: metricsServiceArgs(cfg, cluster.dns.nodeLocal, v.maxSeconds) });
  throwFault('deploy');
  const ae = await cluster.deploy({ app: 'alerting-engine', replicas: cfg.workloads.alertingEngine.instances, nodes: v.clientNodes.map((n) => n.name),
    args: alertingEngineArgs(cfg, ms.map((x) => x.ip), v.maxSeconds, cluster.podCidr),
    runtimeArgs: alertingEngineRuntimeArgs(cfg.workloads.alertingEngine.channelsPerBackend * ms.length) });
  o.progress.log(`  ${ms.length} Metrics Service pod(s) on ${v.serverNodes.map((n) => n.name).join(', ')}; ${ae.length} Alerting Engine pod(s) × ${cfg.workloads.alertingEngine.channelsPerBackend} channels/backend on ${v.clientNodes.map((n) => n.name).join(', ')}`);
  await o.onCluster?.(cluster, cfg);
}

async function probes(v: VariantRun): Promise<void> {
  const { cfg, o } = v, cluster = v.cluster!;
  const dnsChecked = cfg.topology.nodeLocalDns ? v.serverNodes : [];
  const rec = new Recorder(cluster, {
    ena: v.ena!.read, checkNodes: [...dnsChecked],
    onSample: (h) => o.progress.update(Object.fromEntries(Object.entries(h).map(([k, x]) => [k, Math.round(x)]))),
    // a reader that keeps failing is a broken harness (exit 3), never zeros or a verdict on missing data
    onBroken: (err) => { err.phase = v.phase; v.broken.abort(err); },
  });
  v.recorder = rec;
  // the established-connection probe: an agent in the node's namespace keeps one TCP connection to the echo service
  const agents = cluster.echo ? dnsChecked.flatMap((n) => (n.netns ? [spawnLong('node', [join(distDir, 'harness', 'probes', 'estab-agent.js'),
    cluster.echo!.host, String(cluster.echo!.port), String(v.maxSeconds)], {
    ns: n.netns, onLine: (l) => { try { rec.estabUpdate(n.name, JSON.parse(l)); } catch { /* partial line */ } },
  })] : [])) : [];
  v.stack.push('probes', async () => { await rec.stop().catch(() => undefined); await Promise.all(agents.map((a) => stopProcess(a, 500))); });
  rec.start();
}

async function steps(v: VariantRun): Promise<void> {
  const { cfg, o } = v, cluster = v.cluster!, rec = v.recorder!;
  const grace = cfg.workloads.metricsService.gracefulStopSeconds;
  const aePods = () => cluster.pods('alerting-engine');
  let backendsBusy = Promise.resolve();
  const pushBackends = (live: PodHandle[]) => {
    const backends = live.map((x) => `${x.ip}:${GRPC_PORT}`);
    backendsBusy = backendsBusy.then(() => Promise.all(aePods().map((a) => a.control('/backends', { backends }).catch((err) => log.warn({ err, pod: a.name }, 'backend update failed')))).then(() => undefined));
  };
  const stopping = new Set<string>();
  const liveServers = () => cluster.pods('metrics-service').filter((x) => !stopping.has(x.name) && !v.replaced.some((r) => r.name === x.name));
  const runtime = (kind: string) => ({
    mark: (label: string) => rec.mark('step', label),
    sleep: async (seconds: number) => {
      o.progress.start(`${cfg.name}: ${kind}`, { totalSeconds: seconds });
      await sleep(seconds * 1000, v.signal);
    },
    rollout: async (batch: number) => {
      o.progress.start(`${cfg.name}: rollout of metrics-service (graceful stop ${grace}s)`, { totalSeconds: grace });
      await cluster.rollout('metrics-service', { batch, gracefulStopSeconds: grace, signal: v.signal }, {
        onPodReady: (pod) => { rec.mark('pod-ready', `${pod.name} ready (${pod.ip})`); pushBackends(liveServers()); },
        onPodStopping: (pod) => {
          stopping.add(pod.name);
          throwFault('rollout');
          rec.markOld(pod.ip);
          rec.mark('pod-stopping', `${pod.name} graceful stop (${pod.ip})`);
          v.replaced.push({ name: pod.name, ip: pod.ip, node: pod.node, stoppingAt: rec.now(), deletedAt: null });
          pushBackends(liveServers());
        },
        onPodDeleted: (pod) => {
          rec.mark('pod-deleted', `${pod.name} deleted: ${pod.ip} unbound${cfg.topology.unreachableOnDelete ? ' (unreachable route)' : ''}`);
          const r = v.replaced.find((x) => x.name === pod.name);
          if (r) r.deletedAt = rec.now();
        },
      });
      await backendsBusy;
    },
  });
  for (const step of cfg.steps) {
    const def = stepDef(step);
    const kind = Object.keys(step)[0]!;
    v.phase = kind;
    if (def.fault) throwFault(def.fault);
    if (kind === 'steady') scheduleUncaught();
    v.signal.throwIfAborted();
    await def.run(step as never, runtime(kind));
  }
}

async function collect(v: VariantRun): Promise<void> {
  v.o.progress.start(`${v.cfg.name}: collect`);
  throwFault('collect');
  v.signal.throwIfAborted();
  await v.recorder!.stop();
}
