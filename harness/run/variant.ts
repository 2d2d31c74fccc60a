// One variant: a fresh cluster, then the stages up → ena → deploy → probes → steps → collect, each registering
// its undo on one teardown stack that unwinds in reverse order whatever happens (success, verdict, harness
// error, Ctrl-C). A workload that dies while nothing stops it aborts the variant as a harness error.
// A stop condition that holds (or `notdns stop`) removes the fault first, then aborts the variant (harness/stop.ts):
// its result says `stopped`, and the rest of the run is skipped.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import { NotdnsError } from '../errors.js';
import { spawnLong, stopProcess } from '../exec.js';
import { log } from '../log.js';
import { activeRuns } from '../names.js';
import { distDir, stateRoot } from '../paths.js';
import { Recorder } from '../probes/recorder.js';
import type { Cluster, ClusterNode, PodHandle } from '../providers/types.js';
import type { Stopped, VariantResult } from '../results.js';
import { PromqlStopWatch } from '../probes/prometheus.js';
import {
  checkStopConditions,
  stopLabel,
  LEASE_FILE,
  LEASE_SECONDS,
  STOP_REQUEST,
  stopRequested,
  writeHarnessInfo,
  HARNESS_FILE,
} from '../stop.js';
import type { TargetContext } from '../expect.js';
import type { PromqlStopCondition, VariantConfig } from '../spec/schema.js';
import { sleep } from '../wait.js';
import { installEna, type EnaInstall } from '../ena-install.js';
import { fault, scheduleUncaught, type FaultPoint } from '../faults.js';
import { TeardownStack } from '../teardown.js';
import { alertingEngineArgs, alertingEngineRuntimeArgs, GRPC_PORT, metricsServiceArgs } from './workloads.js';
import { dnsRecordsAfter, publishDnsRecords, usesDnsDiscovery } from './dns-discovery.js';
import { plannedSeconds, stepDef } from './steps.js';
import { clientEnv, clientGuardArgs } from './client.js';
import { summarize } from './summary.js';
import type { RunExperimentOptions } from './index.js';

/** The state one variant's stages share. */
interface VariantRun {
  readonly cfg: VariantConfig;
  readonly o: RunExperimentOptions;
  readonly vid: string;
  readonly runId: string;
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
  /** Set once a stop condition tripped or `notdns stop` asked; `stopping` removes the fault. */
  stopped?: Stopped;
  stopping?: Promise<void>;
  /** The ENA simulator was detached by the stop: the recorder reads it no more. */
  enaRemoved: boolean;
  /** Lab: the dead-man lease file (the Alerting Engine stops when it gets old). */
  lease?: string;
}

/** Seconds the recorder keeps sampling after a stop removed the fault: the series show the flood is gone. */
export const AFTER_STOP_SECONDS = 3;

/** The reason a stopped variant is aborted with (not an error: runVariant returns its result). */
class Stop extends Error {}

/** Stop hooks of the variants of this process, for SIGUSR2 from `notdns stop` (one listener, installed once, never
 *  removed: without a listener SIGUSR2 would kill the harness on the spot, leaving the lab behind). */
const stopHooks = new Set<() => void>();
let usr2Installed = false;
function onStopSignal(hook: () => void): () => void {
  if (!usr2Installed) {
    usr2Installed = true;
    process.on('SIGUSR2', () => {
      for (const h of stopHooks) h();
    });
  }
  stopHooks.add(hook);
  return () => stopHooks.delete(hook);
}

type Stage = (v: VariantRun) => Promise<void>;

/** The stages in order; each registers its teardown on the stack as soon as it has something to undo. */
const STAGES: [string, Stage][] = [
  ['bring-up', up],
  ['safety', safety],
  ['ena', ena],
  ['deploy', deploy],
  ['probes', probes],
  ['steps', steps],
  ['collect', collect],
];

export async function runVariant(
  cfg: VariantConfig,
  runId: string,
  o: RunExperimentOptions,
): Promise<{ result: VariantResult; ctx: TargetContext; epochMs?: number }> {
  // each variant gets its own cluster (run id + variant index keep names distinct and sweepable)
  const vid = `${runId.slice(0, 4)}${(Object.keys(o.experiment.variants).indexOf(cfg.name) + 16).toString(16).slice(-2)}`;
  const broken = new AbortController();
  const v: VariantRun = {
    cfg,
    o,
    vid,
    runId,
    stateDir: join(stateRoot, vid),
    logDir: join(o.outDir, 'logs', cfg.name),
    maxSeconds: plannedSeconds(cfg) + 120,
    stack: new TeardownStack('runner', vid),
    broken,
    signal: o.signal ? AbortSignal.any([o.signal, broken.signal]) : broken.signal,
    phase: 'bring-up',
    serverNodes: [],
    clientNodes: [],
    replaced: [],
    enaRemoved: false,
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
      v.signal.throwIfAborted();
      await stage(v);
    }
    if (v.stopped) await v.stopping; // tripped by the last sample (collect): the fault removal has run
    return assembleResult(v, startedAt);
  } catch (err) {
    if (v.stopped && !o.signal?.aborted) {
      // stopped by a condition or `notdns stop`: the fault is being removed; keep sampling a little so the series
      // show it, then the normal teardown (finally)
      await v.stopping;
      if (v.recorder) {
        p.start(`${cfg.name}: stopped; observing ${AFTER_STOP_SECONDS}s after the fault was removed`, { totalSeconds: AFTER_STOP_SECONDS });
        await sleep(AFTER_STOP_SECONDS * 1000, o.signal).catch(() => undefined);
        await v.recorder.stop();
      }
      p.fail(
        `${cfg.name}: STOPPED at t=${v.stopped.t}s by ${v.stopped.by}: ${v.stopped.label}${v.stopped.value !== null ? ` (measured ${round(v.stopped.value)})` : ''}`,
      );
      return assembleResult(v, startedAt);
    }
    if (err instanceof NotdnsError && !err.phase) err.phase = v.phase;
    p.fail(`${cfg.name}: ${(err as Error).message.split('\n')[0]}`);
    throw err;
  } finally {
    p.start(`${cfg.name}: tear down`);
    const problems = await v.stack.unwind();
    for (const e of problems) {
      log.error({ problem: e }, 'teardown failed');
      p.log(`teardown problem: ${e}; run \`notdns down --all\``);
    }
    await o.provider.sweep(vid).catch(() => undefined);
    activeRuns.delete(vid);
    p.done(`${cfg.name}: torn down`);
  }
}

function assembleResult(v: VariantRun, startedAt: string): { result: VariantResult; ctx: TargetContext; epochMs?: number } {
  const { cfg } = v,
    rec = v.recorder,
    cluster = v.cluster;
  const series = rec?.allSeries() ?? [];
  const ctx = liveContext(v);
  const result: VariantResult = {
    name: cfg.name,
    description: cfg.description,
    startedAt,
    durationSeconds: rec?.now() ?? 0,
    config: { topology: cfg.topology, ena: cfg.ena, workloads: cfg.workloads, steps: cfg.steps, abort: cfg.abort },
    series,
    markers: rec?.markers ?? [],
    replacedPods: v.replaced,
    summary: rec && cluster ? summarize(series, ctx, rec, !!cfg.workloads.client && !cfg.workloads.client.metricsPort) : {},
    ...(v.stopped ? { stopped: v.stopped } : {}),
  };
  if (rec && !v.stopped) v.o.progress.done(`${cfg.name}: ${rec.samples} samples${rec.skipped ? `, ${rec.skipped} skipped` : ''}`);
  return { result, ctx, epochMs: rec?.epochMs };
}

/** The targets of the expectations and stop conditions, as far as the run has got. */
function liveContext(v: VariantRun): TargetContext {
  const serverPods = Object.fromEntries((v.cluster?.pods('metrics-service') ?? []).map((x) => [x.name, x.node]));
  return { floodedNodes: [...new Set(v.replaced.map((r) => r.node))], serverNodes: v.serverNodes.map((n) => n.name), serverPods };
}

const round = (x: number) => Math.round(x * 100) / 100;

/**
 * Stop the variant: mark the time axis, remove the fault FIRST (every Alerting Engine pod stops its load, the ENA
 * simulator is detached from every node), then abort the variant; runVariant observes a few seconds and tears
 * down as usual. Called once; later calls do nothing.
 */
function stopVariant(v: VariantRun, by: Stopped['by'], label: string, value: number | null): void {
  if (v.stopped || v.signal.aborted) return;
  const rec = v.recorder,
    t = rec?.now() ?? 0;
  const stopped: Stopped = { by, label, t, value, faultRemovedAt: null };
  v.stopped = stopped;
  v.o.metrics?.setStopped(v.runId, v.cfg.name, true);
  rec?.mark(
    'stop-condition',
    `${by === 'condition' ? 'stop condition' : 'notdns stop'}: ${label}${value !== null ? ` (measured ${round(value)})` : ''}`,
  );
  v.o.progress.log(
    `${v.cfg.name}: STOP at t=${t}s (${by}): ${label}${value !== null ? `, measured ${round(value)}` : ''}; removing the fault first, then tearing down`,
  );
  log.info({ stopped }, 'stop');
  v.stopping = (async () => {
    const done: string[] = [];
    let ok = true;
    const ae = v.cluster?.pods('alerting-engine') ?? [];
    const r = await Promise.allSettled(ae.map((a) => a.control('/stop-load', {})));
    const failed = r.filter((x) => x.status === 'rejected').length;
    if (failed) {
      ok = false;
      log.warn({ failed: r.map((x) => (x.status === 'rejected' ? String(x.reason) : 'ok')) }, 'stop-load failed');
    }
    done.push(`load stopped on ${ae.length - failed}/${ae.length} Alerting Engine pod(s)`);
    if (v.ena?.handles.length) {
      v.enaRemoved = true;
      const n = v.ena.handles.length;
      await v.ena.remove().then(
        () => done.push(`ENA simulator detached from ${n} node(s)`),
        (e: unknown) => {
          ok = false;
          done.push(`ENA simulator detach failed (${(e as Error).message.split('\n')[0]}); the teardown retries`);
        },
      );
    }
    stopped.detail = done.join('; ');
    if (ok) stopped.faultRemovedAt = rec?.now() ?? 0;
    rec?.mark('note', `fault removed: ${stopped.detail}`);
    v.o.progress.log(
      `${v.cfg.name}: ${ok ? `fault removed at t=${stopped.faultRemovedAt}s` : 'fault NOT fully removed'}: ${stopped.detail}`,
    );
  })().catch((e: unknown) => {
    log.error({ err: e }, 'fault removal failed');
  });
  v.broken.abort(new Stop(label));
}

/** After every sample: a stop condition that holds, or a `notdns stop` request, stops the variant. */
function checkLive(v: VariantRun): void {
  if (v.stopped || v.signal.aborted || !v.recorder) return;
  if (stopRequested(v.stateDir)) {
    stopVariant(v, 'notdns stop', 'stopped by `notdns stop`', null);
    return;
  }
  const rec = v.recorder;
  const trip = checkStopConditions({ series: rec.allSeries(), markers: rec.markers, now: rec.now() }, v.cfg.abort, liveContext(v));
  if (trip) stopVariant(v, 'condition', trip.label, trip.value);
}

/**
 * The run's safety net, once the cluster exists: harness.json (for `notdns stop`) and, on the lab, the dead-man
 * lease (renewed every second; the Alerting Engine stops when it is older than LEASE_SECONDS) and its watchdog
 * (detaches the ENA simulator when the harness is gone or the lease expired).
 */
async function safety(v: VariantRun): Promise<void> {
  const { cfg } = v,
    cluster = v.cluster!;
  await mkdir(v.stateDir, { recursive: true });
  await rm(join(v.stateDir, STOP_REQUEST), { force: true });
  await writeHarnessInfo(v.stateDir, {
    pid: process.pid,
    runId: v.runId,
    vid: v.vid,
    variant: cfg.name,
    startedAt: new Date().toISOString(),
  });
  const offSignal = onStopSignal(() => {
    if (stopRequested(v.stateDir)) stopVariant(v, 'notdns stop', 'stopped by `notdns stop`', null);
  });
  v.stack.push('stop switch', async () => {
    offSignal();
    await rm(join(v.stateDir, HARNESS_FILE), { force: true });
  });
  if (!cluster.capabilities.sharesHostFiles) return; // the workloads could not see the lease file
  const lease = join(v.stateDir, LEASE_FILE);
  await writeFile(lease, `${process.pid}\n`);
  v.lease = lease;
  const renew = setInterval(() => {
    const now = new Date();
    utimes(lease, now, now).catch(() => undefined);
  }, 1000);
  const wd = spawn(
    process.execPath,
    [
      join(distDir, 'harness', 'watchdog.js'),
      String(process.pid),
      lease,
      String(LEASE_SECONDS),
      v.stateDir,
      join(v.logDir, 'watchdog.log'),
    ],
    {
      detached: true,
      stdio: 'ignore',
    },
  );
  wd.on('error', (e) => log.warn({ err: e }, 'watchdog did not start'));
  wd.unref();
  v.stack.push('dead-man lease', async () => {
    clearInterval(renew);
    await rm(lease, { force: true }); // the watchdog sees it gone and exits by itself
    if (wd.pid && wd.exitCode === null) {
      try {
        process.kill(wd.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
  });
}

function throwFault(point: FaultPoint): void {
  const f = fault(point);
  if (f) throw f;
}

async function up(v: VariantRun): Promise<void> {
  const { cfg, o } = v;
  o.progress.start(`${cfg.name}: bring up ${o.provider.name} (${cfg.topology.nodes} nodes)`);
  const cluster = await o.provider.up({ ...cfg.topology }, v.vid, {
    stateDir: v.stateDir,
    signal: o.signal,
    onProgress: (l) => o.progress.log(`  ${l}`),
    logDir: v.logDir,
    maxSeconds: v.maxSeconds,
  });
  v.cluster = cluster;
  v.stack.push('cluster', () => cluster.destroy());
  cluster.onUnexpectedExit((pod, how, logFile) => {
    log.info({ pod: pod.name, how, phase: v.phase }, 'workload died');
    v.broken.abort(
      new NotdnsError(
        `the ${pod.app} workload of pod ${pod.name} ${how} during ${v.phase}, and nothing had asked it to stop. ` +
          'This is a harness fault, not a verdict: the measurements of this variant are incomplete, so no expectation was evaluated.',
        {
          kind: 'harness',
          phase: v.phase,
          hint: `Its log is ${logFile}. If something outside notdns killed it (the OOM killer, a stray kill), run again; otherwise the log says why it stopped.`,
        },
      ),
    );
  });
  v.serverNodes = cluster.nodes.slice(0, cfg.topology.serverNodes);
  v.clientNodes = cluster.nodes.slice(cfg.topology.serverNodes);
  throwFault('up');
}

async function ena(v: VariantRun): Promise<void> {
  const cluster = v.cluster!,
    cfg = v.cfg;
  const e = await installEna(cluster, cfg, v.stateDir);
  v.ena = e;
  v.stack.push('ena', () => e.remove());
  throwFault('ena');
  v.o.progress.log(`  ${e.describe}`);
  v.signal.throwIfAborted();
}

async function deploy(v: VariantRun): Promise<void> {
  const { cfg, o } = v,
    cluster = v.cluster!;
  o.progress.start(`${cfg.name}: deploy workloads`);
  const ms = await cluster.deploy({
    app: 'metrics-service',
    replicas: cfg.workloads.metricsService.replicas,
    nodes: v.serverNodes.map((n) => n.name),
    args: metricsServiceArgs(cfg, cluster.dns.nodeLocal, v.maxSeconds),
  });
  throwFault('deploy');
  const dnsName = usesDnsDiscovery(cfg) ? await publishDnsRecords(cluster, cfg, ms, (l) => o.progress.log(`  ${l}`)) : undefined;
  const lease = v.lease ? { file: v.lease, seconds: LEASE_SECONDS } : undefined;
  const client = cfg.workloads.client; // a custom client takes the Alerting Engine's place (docs/client-contract.md)
  const ae = await cluster.deploy({
    app: 'alerting-engine',
    replicas: cfg.workloads.alertingEngine.instances,
    nodes: v.clientNodes.map((n) => n.name),
    args: client
      ? cluster.capabilities.sharesHostFiles
        ? clientGuardArgs(
            cfg,
            client,
            ms.map((x) => x.ip),
            v.maxSeconds,
            v.stateDir,
            lease,
          )
        : []
      : alertingEngineArgs(
          cfg,
          ms.map((x) => x.ip),
          v.maxSeconds,
          cluster.podCidr,
          lease,
          cluster.dns.nodeLocal,
          dnsName,
        ),
    runtimeArgs: client ? [] : alertingEngineRuntimeArgs(cfg.workloads.alertingEngine.channelsPerBackend * ms.length),
    ...(client ? { client: { ...client, env: clientEnv(cfg, v.maxSeconds) } } : {}),
  });
  o.progress.log(
    `  ${ms.length} Metrics Service pod(s) on ${v.serverNodes.map((n) => n.name).join(', ')}; ${ae.length} ${client ? `custom client pod(s) (${(client.command ?? [client.image]).join(' ')})` : 'Alerting Engine pod(s)'} × ${cfg.workloads.alertingEngine.channelsPerBackend} channels/backend on ${v.clientNodes.map((n) => n.name).join(', ')}`,
  );
  await o.onCluster?.(cluster, cfg);
}

async function probes(v: VariantRun): Promise<void> {
  const { cfg, o } = v,
    cluster = v.cluster!;
  const dnsChecked = cfg.topology.nodeLocalDns ? v.serverNodes : [];
  const rec = new Recorder(cluster, {
    ena: (n) => (v.enaRemoved ? Promise.resolve(undefined) : v.ena!.read(n)),
    checkNodes: [...dnsChecked],
    onSample: (h) => {
      o.progress.update(Object.fromEntries(Object.entries(h).map(([k, x]) => [k, Math.round(x)])));
      checkLive(v);
    },
    sink: o.metrics ? (probe, target, x) => o.metrics!.sample(v.runId, cfg.name, probe, target, x) : undefined,
    // a reader that keeps failing is a broken harness (exit 3), never zeros or a verdict on missing data
    onBroken: (err) => {
      err.phase = v.phase;
      v.broken.abort(err);
    },
  });
  v.recorder = rec;
  o.metrics?.setStopped(v.runId, cfg.name, false);
  // promql stop conditions: asked of Prometheus every few seconds (probes/prometheus.ts PromqlStopWatch)
  const promqlStops = cfg.abort.filter((c): c is PromqlStopCondition => 'promql' in c);
  const promUrl = o.prometheusUrl ?? o.experiment.prometheus?.url;
  if (promqlStops.length && promUrl) {
    // an answer that comes back once the steps are over (collect, teardown) is ignored: the measurement has ended
    const watch = new PromqlStopWatch(promUrl, promqlStops, rec, {
      trip: (t) => {
        if (v.phase !== 'collect') stopVariant(v, 'condition', stopLabel(t.condition), t.value);
      },
      broken: (err) => {
        if (v.phase === 'collect') return;
        err.phase = v.phase;
        v.broken.abort(err);
      },
    });
    watch.start();
    v.stack.push('promql stop conditions', async () => watch.stop());
  }
  // the established-connection probe: an agent in the node's namespace keeps one TCP connection to the echo service
  const agents = cluster.echo
    ? dnsChecked.flatMap((n) =>
        n.netns
          ? [
              spawnLong(
                'node',
                [
                  join(distDir, 'harness', 'probes', 'estab-agent.js'),
                  cluster.echo!.host,
                  String(cluster.echo!.port),
                  String(v.maxSeconds),
                ],
                {
                  ns: n.netns,
                  onLine: (l) => {
                    try {
                      rec.estabUpdate(n.name, JSON.parse(l));
                    } catch {
                      /* partial line */
                    }
                  },
                },
              ),
            ]
          : [],
      )
    : [];
  // where a node has no netns of its own here (kind), the provider runs the agent itself
  const stops: (() => Promise<void>)[] = [];
  v.stack.push('probes', async () => {
    await rec.stop().catch(() => undefined);
    await Promise.all(agents.map((a) => stopProcess(a, 500)));
    await Promise.all(stops.map((s) => s().catch(() => undefined)));
  });
  if (cluster.startEstabAgent)
    for (const n of dnsChecked.filter((x) => !x.netns))
      stops.push(await cluster.startEstabAgent(n, v.maxSeconds, (x) => rec.estabUpdate(n.name, x)));
  rec.start();
}

async function steps(v: VariantRun): Promise<void> {
  const { cfg, o } = v,
    cluster = v.cluster!,
    rec = v.recorder!;
  const grace = cfg.workloads.metricsService.gracefulStopSeconds;
  const aePods = () => cluster.pods('alerting-engine');
  let backendsBusy = Promise.resolve();
  // DNS discovery: the name's A records change after the propagation delay; the clients resolve on their own
  const dnsUpdate = usesDnsDiscovery(cfg) ? dnsRecordsAfter(cluster, cfg, rec, v.clientNodes, v.stack) : undefined;
  const pushBackends = (live: PodHandle[]) => {
    if (dnsUpdate) return dnsUpdate(live);
    const backends = live.map((x) => `${x.ip}:${GRPC_PORT}`);
    backendsBusy = backendsBusy.then(() =>
      Promise.all(
        aePods().map((a) => a.control('/backends', { backends }).catch((err) => log.warn({ err, pod: a.name }, 'backend update failed'))),
      ).then(() => undefined),
    );
  };
  const stopping = new Set<string>();
  const liveServers = () =>
    cluster.pods('metrics-service').filter((x) => !stopping.has(x.name) && !v.replaced.some((r) => r.name === x.name));
  const runtime = (kind: string) => ({
    mark: (label: string) => rec.mark('step', label),
    sleep: async (seconds: number) => {
      o.progress.start(`${cfg.name}: ${kind}`, { totalSeconds: seconds });
      await sleep(seconds * 1000, v.signal);
    },
    rollout: async (batch: number) => {
      o.progress.start(`${cfg.name}: rollout of metrics-service (graceful stop ${grace}s)`, { totalSeconds: grace });
      await cluster.rollout(
        'metrics-service',
        { batch, gracefulStopSeconds: grace, signal: v.signal },
        {
          onPodReady: (pod) => {
            rec.mark('pod-ready', `${pod.name} ready (${pod.ip})`);
            pushBackends(liveServers());
          },
          onPodStopping: (pod) => {
            stopping.add(pod.name);
            throwFault('rollout');
            rec.markOld(pod.ip);
            rec.mark('pod-stopping', `${pod.name} graceful stop (${pod.ip})`);
            v.replaced.push({ name: pod.name, ip: pod.ip, node: pod.node, stoppingAt: rec.now(), deletedAt: null });
            pushBackends(liveServers());
          },
          onPodDeleted: (pod) => {
            rec.mark(
              'pod-deleted',
              `${pod.name} deleted: ${pod.ip} unbound${cfg.topology.unreachableOnDelete ? ' (unreachable route)' : ''}`,
            );
            const r = v.replaced.find((x) => x.name === pod.name);
            if (r) r.deletedAt = rec.now();
          },
        },
      );
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
