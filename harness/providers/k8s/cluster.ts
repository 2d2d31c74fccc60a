// What kind and kubeconfig clusters share: workloads as Deployments (server-side apply), pod handles, and
// rollouts driven by the Deployment controller and observed through a pod watch (rollout.ts).
// The providers differ in how they reach nodes (docker exec vs a privileged DaemonSet) and pods' admin ports
// (curl from the pod's node vs the API server's pod proxy), and in what they do when a pod is deleted.
import type { V1Pod } from '@kubernetes/client-node';
import { NotdnsError } from '../../errors.js';
import { log } from '../../log.js';
import { sleep } from '../../wait.js';
import type { WorkloadMetrics } from '../../../workloads/common/metrics-types.js';
import type {
  AppName,
  Capabilities,
  Cluster,
  ClusterNode,
  PodHandle,
  ProviderName,
  RolloutEvents,
  RolloutOptions,
  UnexpectedExit,
  WorkloadDeployment,
} from '../types.js';
import type { KubeClient } from './client.js';
import { flagValue, renderWorkload, rolloutPatch } from './manifests.js';
import {
  alertingEngineLeaseArgs,
  deadlineFor,
  LeaseRenewer,
  type LeaseTarget,
  NODE_RENEW_ARGV,
  ownerReference,
  type RunOwner,
  withRunLease,
} from './lease.js';
import { podView, RolloutTracker, type PodView } from './rollout.js';

/** How the harness talks HTTP to a pod's admin port. */
export interface AdminTransport {
  request(pod: PodView & { app: AppName }, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: string }>;
}

/** How the harness reads a pod's own /proc/net files, where the provider can enter pods (Capabilities.podNetns). */
export type PodProcNetReader = (pod: { name: string; node: string; namespace: string }, file: string) => Promise<string>;

export class K8sPod implements PodHandle {
  readonly readProcNet?: (file: string) => Promise<string>;

  constructor(
    readonly name: string,
    readonly app: AppName,
    readonly node: string,
    readonly ip: string,
    readonly uid: string,
    private readonly transport: AdminTransport,
    procNet?: { read: PodProcNetReader; namespace: string },
  ) {
    if (procNet) this.readProcNet = (file) => procNet.read({ name, node, namespace: procNet.namespace }, file);
  }

  private view(): PodView & { app: AppName } {
    return { name: this.name, uid: this.uid, node: this.node, ip: this.ip, ready: true, deleting: false, app: this.app };
  }

  async metrics(): Promise<WorkloadMetrics> {
    const r = await this.transport.request(this.view(), 'GET', '/metrics.json');
    if (r.status !== 200)
      throw new NotdnsError(`GET /metrics.json on pod ${this.name} (${this.ip}): HTTP ${r.status}: ${r.body.slice(0, 200)}`, {
        kind: 'harness',
      });
    return JSON.parse(r.body) as WorkloadMetrics;
  }

  async control(path: string, body: unknown): Promise<unknown> {
    const r = await this.transport.request(this.view(), 'POST', path, body);
    let parsed: unknown;
    try {
      parsed = r.body ? JSON.parse(r.body) : undefined;
    } catch {
      parsed = r.body;
    }
    if (r.status < 200 || r.status >= 300) {
      const msg = (parsed as { error?: string } | undefined)?.error ?? r.body.slice(0, 200);
      throw new NotdnsError(`POST ${path} on pod ${this.name}: HTTP ${r.status}: ${msg}`, { kind: 'harness' });
    }
    return parsed;
  }
}

/** Why a pod's workload is gone although nothing asked it to stop: a container terminated or restarted, or the
 *  pod failed; undefined while it is fine. Pods being deleted (a rollout's old pods, teardown) are expected to stop. */
export function unexpectedExitOf(p: V1Pod): string | undefined {
  if (p.metadata?.deletionTimestamp) return undefined;
  if (p.status?.phase === 'Failed') return `failed (${p.status.reason ?? 'no reason given'})`;
  for (const c of p.status?.containerStatuses ?? []) {
    const t = c.state?.terminated ?? (c.restartCount > 0 ? c.lastState?.terminated : undefined);
    if (t)
      return `container ${c.name} ${t.signal ? `was killed by signal ${t.signal}` : `exited with code ${t.exitCode}`}${t.reason ? ` (${t.reason})` : ''}${c.restartCount > 0 ? `, restarted ${c.restartCount}×` : ''}`;
  }
  return undefined;
}

export interface K8sClusterOptions {
  provider: ProviderName;
  capabilities: Capabilities;
  /** The pod network (the load generator's --allow-cidr). */
  podCidr: string;
  runId: string;
  namespace: string;
  client: KubeClient;
  nodes: ClusterNode[];
  dns: { upstream: string; nodeLocal: string };
  transport: AdminTransport;
  /** Pods' own /proc/net files (absent: PodHandle.readProcNet is not there). */
  podProcNet?: PodProcNetReader;
  image: string;
  /** Time for a Deployment to become available (image pulls on real clusters). */
  deployTimeoutMs?: number;
  /** The run's owner object (k8s/lease.ts): the workloads become its dependents and get the dead-man lease. */
  runOwner?: RunOwner;
}

export abstract class K8sCluster implements Cluster {
  readonly provider: ProviderName;
  readonly capabilities: Capabilities;
  readonly podCidr: string;
  readonly runId: string;
  readonly nodes: ClusterNode[];
  readonly dns: { upstream: string; nodeLocal: string };
  readonly namespace: string;
  readonly client: KubeClient;
  /** Things this cluster does differently from the real system it stands for, in words for the report. */
  readonly emulations: string[] = [];
  protected readonly podList: K8sPod[] = [];
  protected readonly transport: AdminTransport;
  private readonly podProcNet?: PodProcNetReader;
  protected readonly image: string;
  private readonly deployTimeoutMs: number;
  private readonly exitWatchers: UnexpectedExit[] = [];
  private readonly reported = new Set<string>();
  private stopExitWatch?: () => void;
  private destroyed = false;
  /** The dead-man lease (k8s/lease.ts), when the provider created the run's owner object. */
  readonly runOwner?: RunOwner;
  private renewer?: LeaseRenewer;

  constructor(o: K8sClusterOptions) {
    this.provider = o.provider;
    this.capabilities = o.capabilities;
    this.podCidr = o.podCidr;
    this.runId = o.runId;
    this.namespace = o.namespace;
    this.client = o.client;
    this.nodes = o.nodes;
    this.dns = o.dns;
    this.transport = o.transport;
    this.podProcNet = o.podProcNet;
    this.image = o.image;
    this.deployTimeoutMs = o.deployTimeoutMs ?? 300_000;
    this.runOwner = o.runOwner;
  }

  /** The pods whose lease file the harness renews: every Alerting Engine pod (kubeconfig adds its node agents). */
  protected leaseTargets(): LeaseTarget[] {
    return this.podList
      .filter((p) => p.app === 'alerting-engine')
      .map((p) => ({ pod: p.name, container: 'alerting-engine', argv: NODE_RENEW_ARGV }));
  }

  /** Renewals of the same round that are not pod execs (kind: the ENA watchdogs' lease files in the nodes). */
  protected renewOthers(): Promise<{ exitCode: number }>[] {
    return [];
  }

  /** Start renewing the lease (idempotent); the first renewal is one RENEW_SECONDS away, well inside the lease. */
  startLease(): void {
    if (!this.runOwner || this.renewer) return;
    this.renewer = new LeaseRenewer(
      this.client,
      this.namespace,
      this.runOwner,
      () => this.leaseTargets(),
      undefined,
      () => this.renewOthers(),
    );
    this.renewer.start();
  }

  /** The Metrics Service's headless Service (manifests/workloads/metrics-service.yaml) in the run's namespace: DNS
   *  discovery's name where capabilities.dnsRecords is 'kubernetes'. */
  get metricsServiceDnsName(): string {
    return `metrics-service.${this.namespace}.svc.cluster.local`;
  }

  /** Remove what the provider created (the kind cluster, the run's namespace). */
  protected abstract teardown(): Promise<void>;

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.stopExitWatch?.();
    this.renewer?.stop();
    // the owner first: its dependents (workloads, node agents) are garbage-collected with it
    if (this.runOwner)
      await this.client
        .deleteConfigMap(this.namespace, this.runOwner.name)
        .catch((e) => log.warn({ err: e }, 'deleting the run owner failed'));
    await this.teardown();
  }

  /** Dead workloads are seen through a watch on the run's namespace (started with the first watcher). */
  onUnexpectedExit(cb: UnexpectedExit): void {
    this.exitWatchers.push(cb);
    if (this.stopExitWatch) return;
    const watch = (rv?: string) =>
      this.client.watchPods(
        this.namespace,
        '',
        rv,
        (type, pod) => {
          if (this.destroyed || type === 'DELETED') return;
          const why = unexpectedExitOf(pod);
          const uid = pod.metadata?.uid ?? '';
          const h = this.podList.find((x) => x.uid === uid);
          if (!why || !h || this.reported.has(uid)) return;
          this.reported.add(uid);
          for (const w of this.exitWatchers) w(h, why, `kubectl -n ${this.namespace} logs ${h.name} --previous`);
        },
        (err) => {
          // the API server ends watches now and then: watch again unless the cluster is going away
          if (err) log.debug({ err }, 'dead-workload watch ended');
          if (!this.destroyed)
            void watch().then(
              (stop) => {
                this.stopExitWatch = stop;
              },
              (e) => log.warn({ err: e }, 'dead-workload watch failed'),
            );
        },
      );
    this.stopExitWatch = () => undefined; // set before the watch resolves: one watch only
    void watch().then(
      (stop) => {
        if (this.destroyed) stop();
        else this.stopExitWatch = stop;
      },
      (e) => log.warn({ err: e }, 'dead-workload watch failed'),
    );
  }

  /** Called when an old pod is gone (before RolloutEvents.onPodDeleted). */
  protected async afterPodDeleted(_pod: K8sPod): Promise<void> {}
  /** Called when a new pod is ready (before RolloutEvents.onPodReady). */
  protected async afterPodReady(_pod: K8sPod): Promise<void> {}

  protected handle(app: AppName, v: PodView): K8sPod {
    const procNet = this.podProcNet ? { read: this.podProcNet, namespace: this.namespace } : undefined;
    return new K8sPod(v.name, app, v.node, v.ip, v.uid, this.transport, procNet);
  }

  async deploy(d: WorkloadDeployment): Promise<PodHandle[]> {
    const owner = this.runOwner;
    if (owner && d.app === 'alerting-engine' && !d.args.includes('--lease-file'))
      d = { ...d, args: [...d.args, ...alertingEngineLeaseArgs()] };
    const { deployment, service } = renderWorkload(d, { namespace: this.namespace, runId: this.runId, image: this.image, maxSurge: 1 });
    if (owner) {
      const max = Number(flagValue(d.args, '--max-duration-seconds'));
      withRunLease(deployment, { owner, deadlineSeconds: max > 0 ? deadlineFor(max) : undefined, initLease: d.app === 'alerting-engine' });
      if (service) service.metadata = { ...service.metadata, ownerReferences: [ownerReference(owner)] };
    }
    await this.client.apply(service ? [deployment, service] : [deployment]);
    await this.client.waitDeploymentAvailable(this.namespace, d.app, this.deployTimeoutMs);
    const pods = await this.livePods(d.app);
    const handles = pods.map((p) => this.handle(d.app, p));
    for (let i = this.podList.length - 1; i >= 0; i--) if (this.podList[i]!.app === d.app) this.podList.splice(i, 1);
    this.podList.push(...handles);
    this.startLease();
    return handles;
  }

  pods(app?: AppName): PodHandle[] {
    return this.podList.filter((p) => !app || p.app === app);
  }

  /** Ready, not terminating pods of an app, from the API server. */
  async livePods(app: AppName): Promise<PodView[]> {
    const { pods } = await this.client.listPods(this.namespace, `app=${app}`);
    return pods.map(podView).filter((p) => p.ready && !p.deleting && p.ip);
  }

  async rollout(app: AppName, opts: RolloutOptions, events: RolloutEvents = {}): Promise<void> {
    const selector = `app=${app}`;
    const listed = await this.client.listPods(this.namespace, selector);
    const oldViews = listed.pods.map(podView).filter((p) => !p.deleting);
    const oldByUid = new Map(oldViews.map((v) => [v.uid, this.podList.find((h) => h.uid === v.uid) ?? this.handle(app, v)]));
    let queue: Promise<void> = Promise.resolve();
    let failure: unknown;
    const enqueue = (what: string, fn: () => Promise<void> | void) => {
      queue = queue.then(fn).catch((e) => {
        failure ??= e;
        log.error({ err: e, what }, 'rollout event handler failed');
      });
    };
    const tracker = new RolloutTracker(oldViews, oldViews.length, {
      ready: (v) =>
        enqueue('ready', async () => {
          const h = this.handle(app, v);
          this.podList.push(h);
          await this.afterPodReady(h);
          events.onPodReady?.(h);
        }),
      stopping: (v) =>
        enqueue('stopping', () => {
          events.onPodStopping?.(oldByUid.get(v.uid) ?? this.handle(app, v));
        }),
      deleted: (v) =>
        enqueue('deleted', async () => {
          const h = oldByUid.get(v.uid) ?? this.handle(app, v);
          const i = this.podList.indexOf(h);
          if (i >= 0) this.podList.splice(i, 1);
          await this.afterPodDeleted(h);
          events.onPodDeleted?.(h);
        }),
    });

    let stopWatch: (() => void) | undefined;
    let watchEnded = false;
    const startWatch = async (rv?: string) => {
      watchEnded = false;
      stopWatch = await this.client.watchPods(
        this.namespace,
        selector,
        rv,
        (type, pod: V1Pod) => tracker.event(type, podView(pod)),
        (err) => {
          watchEnded = true;
          if (err) log.debug({ err }, 'pod watch ended');
        },
      );
    };
    await startWatch(listed.resourceVersion);
    const stamp = new Date().toISOString();
    const budgetMs = (oldViews.length / Math.max(1, opts.batch) + 1) * (opts.gracefulStopSeconds + 90) * 1000 + 60_000;
    const deadline = Date.now() + budgetMs;
    try {
      await this.client.apply([rolloutPatch(app, this.namespace, stamp, opts)], 'notdns-rollout');
      log.info({ app, stamp, old: oldViews.length, batch: opts.batch }, 'rollout started');
      while (!tracker.done) {
        opts.signal?.throwIfAborted();
        if (failure) throw failure;
        if (Date.now() > deadline) {
          throw new NotdnsError(`rollout of ${app} did not finish within ${Math.round(budgetMs / 1000)} s (${tracker.progress})`, {
            kind: 'harness',
            hint: `kubectl -n ${this.namespace} get pods -o wide; kubectl -n ${this.namespace} rollout status deploy/${app}`,
          });
        }
        if (watchEnded) {
          // the API server closes watches now and then: re-list (that is the truth), then watch again from there
          const again = await this.client.listPods(this.namespace, selector);
          tracker.resync(again.pods.map(podView));
          if (!tracker.done) await startWatch(again.resourceVersion);
        }
        await sleep(200, opts.signal);
      }
      await queue;
      if (failure) throw failure;
    } finally {
      stopWatch?.();
    }
    log.info({ app, progress: tracker.progress }, 'rollout done');
  }
}
