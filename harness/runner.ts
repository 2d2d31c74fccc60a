// One run: for each variant, a fresh cluster → ENA simulator → DNS → workloads → probes → steps → teardown;
// then expectations and reports. Teardown always runs (finally), in reverse order of set-up.
import { hostname, cpus, release } from 'node:os';
import { join } from 'node:path';
import { mkdir, readFile } from 'node:fs/promises';
import type { ResultPromise } from 'execa';
import { NotdnsError, inPhase } from './errors.js';
import { spawnLong, stopProcess } from './exec.js';
import { log } from './log.js';
import { activeRuns, newRunId } from './names.js';
import { distDir, repoRoot, stateRoot } from './paths.js';
import { Recorder, type EnaReader } from './probes/recorder.js';
import type { Cluster, PodHandle, Provider, Topology } from './providers/types.js';
import { ResultsSchema, RESULTS_SCHEMA_VERSION, type ExpectationResult, type Results, type VariantResult } from './results.js';
import { evaluate, evaluateCompare, statOf, type TargetContext } from './expect.js';
import { expandVariant } from './spec/load.js';
import { waitOf, type Experiment, type Reconnect, type VariantConfig } from './spec/schema.js';
import { sleep } from './wait.js';
import { didYouMean } from './suggest.js';
import { POD_SUPERNET } from './providers/lab/addresses.js';
import { installEna, type EnaInstall } from './ena-install.js';
import { configuredFaults, fault, scheduleUncaught } from './faults.js';

export interface Progress {
  start(phase: string, opts?: { totalSeconds?: number }): void;
  update(counters: Record<string, number | string>): void;
  log(line: string): void;
  done(message?: string): void;
  fail(message: string): void;
}

export interface RunExperimentOptions {
  experiment: Experiment;
  file: string;
  provider: Provider;
  variants?: string[];
  fast?: boolean;
  outDir: string;
  progress: Progress;
  signal?: AbortSignal;
  /** Per-variant hook with the live cluster (tests use it to look inside). */
  onCluster?(cluster: Cluster, variant: VariantConfig): Promise<void> | void;
}

const GRPC_PORT = 50051;
/** V8's young generation at 1 MB: ~30 MB less RSS for a small Alerting Engine (measured); above ~1000 channels GC
 *  would then starve the calls, so big ones keep the default. Not for the Metrics Service: its DNS timeouts are
 *  timed in its event loop, and the extra GC pauses during reconnect storms turned into spurious DNS timeouts. */
export const SMALL_POD_V8 = ['--max-semi-space-size=1'];
/** Node.js flags for an Alerting Engine with this many channels in total. */
export const alertingEngineRuntimeArgs = (channels: number): string[] => (channels <= 1000 ? SMALL_POD_V8 : []);

export function alertingEngineArgs(cfg: VariantConfig, backends: string[], maxSeconds: number): string[] {
  const ae = cfg.workloads.alertingEngine;
  const args = ['--backends', backends.map((ip) => `${ip}:${GRPC_PORT}`).join(','), '--discovery', ae.discovery,
    '--channels-per-backend', String(ae.channelsPerBackend), '--call-interval-ms', String(ae.callIntervalMs),
    '--call-deadline-ms', String(ae.callDeadlineMs), '--dns-propagation-seconds', String(ae.dnsPropagationSeconds),
    '--allow-cidr', POD_SUPERNET, '--max-duration-seconds', String(Math.ceil(maxSeconds))];
  return [...args, ...reconnectArgs(ae.reconnect)];
}

/** 'grpc-defaults' = what the talk's fix did: remove the options, so C-core's defaults apply
 *  (initial backoff 1 s, max 120 s, min connect timeout 20 s). */
export function reconnectArgs(r: Reconnect): string[] {
  if (r === 'grpc-defaults') return ['--connect-timeout-ms', '20000'];
  return ['--initial-backoff-ms', String(r.initialMs), '--max-backoff-ms', String(r.maxMs), '--connect-timeout-ms', String(r.connectTimeoutMs)];
}

export function metricsServiceArgs(cfg: VariantConfig, dnsServer: string, maxSeconds: number): string[] {
  const ms = cfg.workloads.metricsService;
  return ['--port', String(GRPC_PORT), '--graceful-stop-seconds', String(ms.gracefulStopSeconds),
    '--dns-server', dnsServer, '--dns-lookups-per-second', String(cfg.topology.nodeLocalDns ? ms.dnsLookupsPerSecond : 0),
    '--dns-timeout-ms', String(ms.dnsTimeoutMs), '--max-duration-seconds', String(Math.ceil(maxSeconds))];
}

export function plannedSeconds(cfg: VariantConfig): number {
  return cfg.steps.reduce((a, s) => a + (waitOf(s)?.seconds
    ?? ('rollout' in s ? cfg.workloads.metricsService.gracefulStopSeconds * Math.ceil(cfg.workloads.metricsService.replicas / s.rollout.batch) + 2 : 0)), 0);
}

function topologyOf(cfg: VariantConfig): Topology {
  return { ...cfg.topology };
}

async function toolVersion(): Promise<string> {
  return JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')).version as string;
}

/** The variants a run will go through (all unless some are named); unknown names are bad usage. */
export function selectVariants(e: Experiment, requested?: readonly string[]): string[] {
  const names = requested?.length ? [...requested] : Object.keys(e.variants);
  for (const n of names) if (!e.variants[n]) {
    throw new NotdnsError(`experiment ${e.name} has no variant "${n}".`, { kind: 'usage', hint: `${didYouMean(n, Object.keys(e.variants), { sentence: true })}Use --variant with one of: ${Object.keys(e.variants).join(', ')}.` });
  }
  return names;
}

export async function runExperiment(o: RunExperimentOptions): Promise<Results> {
  const e = o.experiment;
  const names = selectVariants(e, o.variants);
  configuredFaults(); // a bad NOTDNS_FAULT is bad input, refused before anything is created
  const startedAt = new Date().toISOString();
  const variants: VariantResult[] = [];
  const ctxs: Record<string, TargetContext> = {};
  const expectations: ExpectationResult[] = [];
  let error: Results['error'];
  const runId = newRunId();
  try {
    for (const name of names) {
      o.signal?.throwIfAborted();
      const cfg = expandVariant(e, name, { fast: o.fast });
      const { result, ctx } = await runVariant(cfg, runId, o);
      variants.push(result);
      ctxs[name] = ctx;
      expectations.push(...evaluate(result, e.expect[name] ?? [], ctx));
    }
    // a comparison needs both of its variants: with --variant it may have only one, then it is not evaluated
    const ran = new Set(variants.map((v) => v.name));
    const comparable = e.compare.filter((c) => c.ratio.every((n) => ran.has(n)));
    if (comparable.length < e.compare.length) o.progress.log(`${e.compare.length - comparable.length} comparison(s) not evaluated: their variants were not all run`);
    expectations.push(...evaluateCompare(variants, comparable, ctxs));
  } catch (err) {
    // aborted by a signal: interrupted; aborted with a harness error as the reason (an internal error): that error
    const reason: unknown = o.signal?.aborted ? o.signal.reason : undefined;
    const ne = o.signal?.aborted && !(reason instanceof NotdnsError) ? new NotdnsError('the run was interrupted; everything it created was torn down.', { kind: 'interrupted', cause: err })
      : inPhase('run', reason ?? err);
    error = { kind: ne.kind, phase: ne.phase, message: ne.message, hint: ne.hint };
    throw Object.assign(ne, { partial: await assemble() });
  }
  return assemble();

  async function assemble(): Promise<Results> {
    const r: Results = {
      schemaVersion: RESULTS_SCHEMA_VERSION, tool: { name: 'notdns', version: await toolVersion() }, runId,
      experiment: { name: e.name, description: e.description, file: o.file }, provider: o.provider.name,
      profile: o.fast ? 'fast' : 'normal',
      host: { hostname: hostname(), kernel: release(), cpus: cpus().length, node: process.version },
      startedAt, finishedAt: new Date().toISOString(), variants,
      verdict: { pass: !error && expectations.length > 0 && expectations.every((x) => x.pass), expectations }, error,
    };
    return ResultsSchema.parse(r);
  }
}

async function runVariant(cfg: VariantConfig, runId: string, o: RunExperimentOptions): Promise<{ result: VariantResult; ctx: TargetContext }> {
  // each variant gets its own cluster (run id + variant index keep names distinct and sweepable)
  const vid = `${runId.slice(0, 4)}${(Object.keys(o.experiment.variants).indexOf(cfg.name) + 16).toString(16).slice(-2)}`;
  const stateDir = join(stateRoot, vid);
  activeRuns.add(vid);
  const logDir = join(o.outDir, 'logs', cfg.name);
  await mkdir(logDir, { recursive: true });
  const p = o.progress;
  const planned = plannedSeconds(cfg);
  const maxSeconds = planned + 120;
  const startedAt = new Date().toISOString();
  // named before anything exists: after a crash this is what `notdns down` needs
  p.log(`${cfg.name}: run ${runId}, resources nd-${vid}-*, state ${stateDir} (if notdns dies: notdns down ${vid})`);
  p.start(`${cfg.name}: bring up ${o.provider.name} (${cfg.topology.nodes} nodes)`);
  // set-up/teardown steps of this level go to the log (the lab logs its own): teardown is their reverse
  const trace = (what: 'set up' | 'tear down', name: string) => log.info({ [what === 'set up' ? 'setup' : 'teardown']: name, scope: 'runner', run: vid }, what);
  let cluster: Cluster | undefined;
  let ena: EnaInstall | undefined;
  let recorder: Recorder | undefined;
  const agents: ResultPromise[] = [];
  // a workload that dies while nothing stops it is a harness fault, not a verdict: it aborts the variant
  const broken = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, broken.signal]) : broken.signal;
  let phase = 'bring-up';
  try {
    cluster = await o.provider.up(topologyOf(cfg), vid, { stateDir, signal: o.signal, onProgress: (l) => p.log(`  ${l}`), logDir } as Parameters<Provider['up']>[2]);
    trace('set up', 'cluster');
    (cluster as Cluster & Partial<UnexpectedExits>).onUnexpectedExit?.((pod, how, logFile) => {
      log.info({ pod: pod.name, how, phase }, 'workload died');
      broken.abort(new NotdnsError(`the ${pod.app} workload of pod ${pod.name} ${how} during ${phase}, and nothing had asked it to stop. `
        + 'This is a harness fault, not a verdict: the measurements of this variant are incomplete, so no expectation was evaluated.', {
        kind: 'harness', phase, hint: `Its log is ${logFile}. If something outside notdns killed it (the OOM killer, a stray kill), run again; otherwise the log says why it stopped.`,
      }));
    });
    const serverNodes = cluster.nodes.slice(0, cfg.topology.serverNodes);
    const clientNodes = cluster.nodes.slice(cfg.topology.serverNodes);
    throwFault('up');
    ena = await installEna(cluster, cfg, stateDir);
    trace('set up', 'ena');
    throwFault('ena');
    p.log(`  ENA simulator on ${cluster.nodes.length} nodes: ${cfg.ena.enabled ? `allowance ${cfg.ena.conntrackAllowance} flows, unreplied idle ${cfg.ena.timeouts.unrepliedSeconds}s` : 'counting only'}`);
    signal.throwIfAborted();

    p.start(`${cfg.name}: deploy workloads`);
    phase = 'deploy';
    const ms = await cluster.deploy({ app: 'metrics-service', replicas: cfg.workloads.metricsService.replicas, nodes: serverNodes.map((n) => n.name),
      args: metricsServiceArgs(cfg, cluster.dns.nodeLocal, maxSeconds) });
    throwFault('deploy');
    const ae = await cluster.deploy({ app: 'alerting-engine', replicas: cfg.workloads.alertingEngine.instances, nodes: clientNodes.map((n) => n.name),
      args: alertingEngineArgs(cfg, ms.map((x) => x.ip), maxSeconds),
      runtimeArgs: alertingEngineRuntimeArgs(cfg.workloads.alertingEngine.channelsPerBackend * ms.length) });
    p.log(`  ${ms.length} Metrics Service pod(s) on ${serverNodes.map((n) => n.name).join(', ')}; ${ae.length} Alerting Engine pod(s) × ${cfg.workloads.alertingEngine.channelsPerBackend} channels/backend on ${clientNodes.map((n) => n.name).join(', ')}`);
    await o.onCluster?.(cluster, cfg);

    trace('set up', 'probes');
    const rec = recorder = new Recorder(cluster, {
      ena: ena.read as EnaReader, checkNodes: cfg.topology.nodeLocalDns ? serverNodes : [],
      onSample: (h) => p.update(Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Math.round(v)]))),
    });
    if (cfg.topology.nodeLocalDns) {
      for (const n of serverNodes) {
        const ns = (n as { ns?: string }).ns;
        if (!ns) continue;
        agents.push(spawnLong('node', [join(distDir, 'harness', 'probes', 'estab-agent.js'), cluster.dns.upstream, '7', String(maxSeconds)], {
          ns, onLine: (l) => { try { rec.estabUpdate(n.name, JSON.parse(l)); } catch { /* partial line */ } },
        }));
      }
    }
    rec.start();
    const replaced: VariantResult['replacedPods'] = [];
    const aePods = () => cluster!.pods('alerting-engine');
    let backendsBusy = Promise.resolve();
    const pushBackends = (live: PodHandle[]) => {
      const backends = live.map((x) => `${x.ip}:${GRPC_PORT}`);
      backendsBusy = backendsBusy.then(() => Promise.all(aePods().map((a) => a.control('/backends', { backends }).catch((err) => log.warn({ err, pod: a.name }, 'backend update failed')))).then(() => undefined));
    };
    const stopping = new Set<string>();
    const liveServers = () => cluster!.pods('metrics-service').filter((x) => !stopping.has(x.name) && !replaced.some((r) => r.name === x.name));

    for (const step of cfg.steps) {
      const wait = waitOf(step);
      if (wait) {
        rec.mark('step', wait.kind);
        throwFault(wait.kind);
        if (wait.kind === 'steady') scheduleUncaught();
        phase = wait.kind;
        signal.throwIfAborted();
        p.start(`${cfg.name}: ${wait.kind}`, { totalSeconds: wait.seconds });
        await sleep(wait.seconds * 1000, signal);
      } else if ('rollout' in step) {
        rec.mark('step', 'rollout');
        phase = 'rollout';
        signal.throwIfAborted();
        p.start(`${cfg.name}: rollout of metrics-service (graceful stop ${cfg.workloads.metricsService.gracefulStopSeconds}s)`, { totalSeconds: cfg.workloads.metricsService.gracefulStopSeconds });
        await cluster.rollout('metrics-service', { batch: step.rollout.batch, gracefulStopSeconds: cfg.workloads.metricsService.gracefulStopSeconds, signal }, {
          onPodReady: (pod) => { rec.mark('pod-ready', `${pod.name} ready (${pod.ip})`); pushBackends(liveServers()); },
          onPodStopping: (pod) => {
            stopping.add(pod.name);
            const f = fault('rollout');
            if (f) throw f;
            rec.markOld(pod.ip);
            rec.mark('pod-stopping', `${pod.name} graceful stop (${pod.ip})`);
            replaced.push({ name: pod.name, ip: pod.ip, node: pod.node, stoppingAt: rec.now(), deletedAt: null });
            pushBackends(liveServers());
          },
          onPodDeleted: (pod) => {
            rec.mark('pod-deleted', `${pod.name} deleted: ${pod.ip} unbound${cfg.topology.unreachableOnDelete ? ' (unreachable route)' : ''}`);
            const r = replaced.find((x) => x.name === pod.name);
            if (r) r.deletedAt = rec.now();
          },
        });
        await backendsBusy;
        rec.mark('step', 'rollout done');
      }
    }
    p.start(`${cfg.name}: collect`);
    throwFault('collect');
    signal.throwIfAborted();
    phase = 'collect';
    await rec.stop();
    const series = rec.allSeries();
    const floodedNodes = [...new Set(replaced.map((r) => r.node))];
    const serverPods = Object.fromEntries(cluster.pods('metrics-service').map((x) => [x.name, x.node]));
    const ctx: TargetContext = { floodedNodes, serverNodes: serverNodes.map((n) => n.name), serverPods };
    const result: VariantResult = {
      name: cfg.name, description: cfg.description, startedAt, durationSeconds: rec.now(),
      config: { topology: cfg.topology, ena: cfg.ena, workloads: cfg.workloads, steps: cfg.steps },
      series, markers: rec.markers, replacedPods: replaced, summary: summarize(series, ctx, rec),
    };
    p.done(`${cfg.name}: ${rec.samples} samples${rec.skipped ? `, ${rec.skipped} skipped` : ''}`);
    return { result, ctx };
  } catch (err) {
    if (err instanceof NotdnsError && !err.phase) err.phase = phase;
    p.fail(`${cfg.name}: ${(err as Error).message.split('\n')[0]}`);
    throw err;
  } finally {
    p.start(`${cfg.name}: tear down`);
    if (recorder || agents.length) trace('tear down', 'probes');
    await recorder?.stop().catch(() => undefined);
    await Promise.all(agents.map((a) => stopProcess(a, 500)));
    if (ena) trace('tear down', 'ena');
    await ena?.remove().catch((err) => log.error({ err }, 'ENA removal failed'));
    if (cluster) trace('tear down', 'cluster');
    await cluster?.destroy().catch((err) => { log.error({ err }, 'teardown failed'); p.log(`teardown problem: ${(err as Error).message}; run \`notdns down --all\``); });
    await o.provider.sweep(vid).catch(() => undefined);
    activeRuns.delete(vid);
    p.done(`${cfg.name}: torn down`);
  }
}

/** Lab clusters report workloads that exit on their own (LabCluster.onUnexpectedExit). */
interface UnexpectedExits {
  onUnexpectedExit(cb: (pod: PodHandle & { app: string }, how: string, logFile: string) => void): void;
}

function throwFault(point: Parameters<typeof fault>[0]): void {
  const f = fault(point);
  if (f) throw f;
}

function summarize(series: VariantResult['series'], ctx: TargetContext, rec: Recorder): Record<string, number> {
  // the same counter arithmetic (resets, gaps) as the expectations: expect.ts statOf over the whole run
  const all = { from: -Infinity, to: Infinity };
  const tot = (probe: string, only?: string[]) => series.filter((s) => s.probe === probe && (!only || only.includes(s.target)))
    .reduce((a, s) => a + (statOf(s, 'total', all) ?? 0), 0);
  const peak = (probe: string) => {
    const s = series.find((x) => x.probe === probe);
    return Math.max(0, (s && statOf(s, 'peakRate', all)) ?? 0);
  };
  return {
    synToOldPodIpsTotal: tot('syn.toOldPodIps'), synToOldPodIpsPeakPerSecond: Math.round(peak('syn.toOldPodIps')),
    allowanceExceededFlooded: tot('ena.allowanceExceeded', ctx.floodedNodes), allowanceExceededAll: tot('ena.allowanceExceeded'),
    martianDrops: tot('martian.drops'), dnsErrors: tot('dns.errors'), dnsLookups: tot('dns.lookups'),
    dnsCheckFailed: tot('dnscheck.failed'), grpcErrors: tot('grpc.errors'), grpcCalls: tot('grpc.calls'),
    connectAttempts: tot('grpc.connectAttempts'), estabFailed: tot('estab.failed'), samplesSkipped: rec.skipped,
  };
}
