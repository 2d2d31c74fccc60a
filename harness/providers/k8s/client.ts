// The Kubernetes API as the kind and kubeconfig providers use it, through @kubernetes/client-node (no kubectl):
// server-side apply, reads, waits, a pod watch, exec into a pod, and HTTP through the API server's pod proxy.
import http from 'node:http';
import https from 'node:https';
import { PassThrough, Readable } from 'node:stream';
import {
  AppsV1Api,
  CoreV1Api,
  Exec,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  Watch,
  type KubernetesObject,
  type V1ConfigMap,
  type V1Pod,
  type V1Status,
} from '@kubernetes/client-node';
import { NotdnsError } from '../../errors.js';
import { log } from '../../log.js';
import type { RunResult } from '../../exec.js';
import { waitFor } from '../../wait.js';
import { FIELD_MANAGER } from './manifests.js';

export function loadKubeConfig(opts: { kubeconfig?: string; context?: string } = {}): KubeConfig {
  const kc = new KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromDefault();
  if (opts.context) {
    if (!kc.getContexts().some((c) => c.name === opts.context)) {
      throw new NotdnsError(
        `kubeconfig has no context "${opts.context}" (contexts: ${
          kc
            .getContexts()
            .map((c) => c.name)
            .join(', ') || 'none'
        })`,
        {
          kind: 'usage',
          hint: 'Pass --context with one of the listed names, or point --kubeconfig / KUBECONFIG at the right file.',
        },
      );
    }
    kc.setCurrentContext(opts.context);
  }
  return kc;
}

/** Message of an API error (client-node 1.x ApiException carries the Status JSON in .body). */
export function apiErrorMessage(e: unknown): string {
  const body = (e as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      return (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      return body;
    }
  }
  return (e as Error)?.message ?? String(e);
}

export function isNotFound(e: unknown): boolean {
  return (e as { code?: number }).code === 404 || /\b404\b|not ?found/i.test(apiErrorMessage(e));
}

export function objectRef(o: KubernetesObject): string {
  return `${o.kind}/${o.metadata?.namespace ? o.metadata.namespace + '/' : ''}${o.metadata?.name}`;
}

export class KubeClient {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly objects: KubernetesObjectApi;

  constructor(readonly kc: KubeConfig) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.objects = KubernetesObjectApi.makeApiClient(kc);
  }

  get context(): string {
    return this.kc.getCurrentContext();
  }

  /** Server-side apply, in order (a Namespace before what lives in it, a CRD-backed object after Cilium). */
  async apply(objs: readonly KubernetesObject[], fieldManager = FIELD_MANAGER): Promise<void> {
    for (const o of objs) {
      try {
        await this.objects.patch(o, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply);
        log.debug({ obj: objectRef(o), fieldManager }, 'applied');
      } catch (e) {
        throw new NotdnsError(`server-side apply of ${objectRef(o)} failed: ${apiErrorMessage(e)}`, { kind: 'command', cause: e });
      }
    }
  }

  /** Create a ConfigMap (the run's owner object, k8s/lease.ts); its uid is what ownerReferences need. */
  async createConfigMap(cm: V1ConfigMap): Promise<{ name: string; uid: string }> {
    try {
      const r = await this.core.createNamespacedConfigMap({ namespace: cm.metadata!.namespace!, body: cm });
      return { name: r.metadata!.name!, uid: r.metadata!.uid! };
    } catch (e) {
      throw new NotdnsError(`creating ConfigMap ${cm.metadata?.namespace}/${cm.metadata?.name} failed: ${apiErrorMessage(e)}`, {
        kind: 'command',
        cause: e,
      });
    }
  }

  /** Merge `data` into a ConfigMap (the lease's renewedAt). */
  async patchConfigMapData(namespace: string, name: string, data: Record<string, string>): Promise<void> {
    await this.objects.patch(
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data } as KubernetesObject,
      undefined,
      undefined,
      FIELD_MANAGER,
      undefined,
      PatchStrategy.MergePatch,
    );
  }

  /** Delete a ConfigMap with foreground propagation (its dependents go with it); false if it was not there. */
  async deleteConfigMap(namespace: string, name: string): Promise<boolean> {
    try {
      await this.core.deleteNamespacedConfigMap({ name, namespace, propagationPolicy: 'Foreground' });
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  async serviceClusterIP(namespace: string, name: string): Promise<string> {
    const s = await this.core.readNamespacedService({ name, namespace });
    const ip = s.spec?.clusterIP;
    if (!ip || ip === 'None') throw new NotdnsError(`Service ${namespace}/${name} has no ClusterIP`, { kind: 'harness' });
    return ip;
  }

  async listPods(namespace: string, labelSelector: string): Promise<{ pods: V1Pod[]; resourceVersion?: string }> {
    const l = await this.core.listNamespacedPod({ namespace, labelSelector });
    return { pods: l.items, resourceVersion: l.metadata?.resourceVersion };
  }

  /** Watch pods from a resourceVersion; returns a stop function. `done` is called when the watch ends. */
  async watchPods(
    namespace: string,
    labelSelector: string,
    resourceVersion: string | undefined,
    onEvent: (type: string, pod: V1Pod) => void,
    done: (err?: unknown) => void,
  ): Promise<() => void> {
    const w = new Watch(this.kc);
    const ctl = await w.watch(
      `/api/v1/namespaces/${namespace}/pods`,
      { labelSelector, resourceVersion, allowWatchBookmarks: true },
      (type, obj) => {
        if (type !== 'BOOKMARK') onEvent(type, obj as V1Pod);
      },
      (err) => done(err ?? undefined),
    );
    return () => ctl.abort();
  }

  async waitNodesReady(count: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    await waitFor(
      `${count} Kubernetes nodes to be Ready`,
      async () => {
        const l = await this.core.listNode();
        const ready = l.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
        return ready.length >= count;
      },
      { timeoutMs, intervalMs: 2000, signal, hint: 'Nodes become Ready once Cilium runs on them: check the cilium pods in kube-system.' },
    );
  }

  async waitDeploymentAvailable(namespace: string, name: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    await waitFor(
      `Deployment ${namespace}/${name} to be available`,
      async () => {
        const d = await this.apps.readNamespacedDeployment({ name, namespace });
        const want = d.spec?.replicas ?? 1;
        const s = d.status;
        return (
          (s?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) &&
          (s?.updatedReplicas ?? 0) === want &&
          (s?.availableReplicas ?? 0) === want &&
          (s?.replicas ?? 0) === want
        );
      },
      {
        timeoutMs,
        intervalMs: 1000,
        signal,
        hint: `Look at the pods: kubectl -n ${namespace} get pods -o wide; kubectl -n ${namespace} describe deploy ${name}`,
      },
    );
  }

  async waitDaemonSetReady(namespace: string, name: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    await waitFor(
      `DaemonSet ${namespace}/${name} to be ready on every node`,
      async () => {
        const d = await this.apps.readNamespacedDaemonSet({ name, namespace });
        const s = d.status;
        return (
          !!s &&
          s.desiredNumberScheduled > 0 &&
          s.numberReady === s.desiredNumberScheduled &&
          (s.updatedNumberScheduled ?? 0) === s.desiredNumberScheduled
        );
      },
      { timeoutMs, intervalMs: 1000, signal },
    );
  }

  async deleteNamespace(name: string): Promise<boolean> {
    try {
      await this.core.deleteNamespace({ name, propagationPolicy: 'Background' });
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  async namespacesWithLabel(labelSelector: string): Promise<string[]> {
    const l = await this.core.listNamespace({ labelSelector });
    return l.items.map((n) => n.metadata!.name!);
  }

  /** Run a command in a pod's container (no TTY); exit code from the API server's status message. */
  async exec(
    namespace: string,
    pod: string,
    container: string,
    command: readonly string[],
    opts: { input?: string | Buffer; timeoutMs?: number } = {},
  ): Promise<RunResult> {
    const t0 = performance.now();
    const out = new PassThrough(),
      err = new PassThrough();
    const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
    out.on('data', (c: Buffer) => chunks.out.push(c));
    err.on('data', (c: Buffer) => chunks.err.push(c));
    const stdin = opts.input === undefined ? null : Readable.from([opts.input]);
    const status = await new Promise<V1Status>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new NotdnsError(`exec in ${namespace}/${pod} timed out after ${opts.timeoutMs ?? 30_000} ms`, {
              kind: 'command',
              command: command.join(' '),
            }),
          ),
        opts.timeoutMs ?? 30_000,
      );
      new Exec(this.kc)
        .exec(namespace, pod, container, [...command], out, err, stdin, false, (s) => {
          clearTimeout(timer);
          resolve(s);
        })
        .catch((e) => {
          clearTimeout(timer);
          reject(e);
        });
    });
    const code = exitCodeOf(status);
    return {
      command: `kubectl -n ${namespace} exec ${pod} -c ${container} -- ${command.join(' ')}`,
      exitCode: code,
      stdout: Buffer.concat(chunks.out).toString('utf8').replace(/\n$/, ''),
      stderr: Buffer.concat(chunks.err).toString('utf8').replace(/\n$/, ''),
      failed: code !== 0,
      durationMs: performance.now() - t0,
    };
  }

  /** HTTP to a pod's port through the API server (`/api/v1/namespaces/NS/pods/NAME:PORT/proxy/PATH`). */
  async podProxy(
    namespace: string,
    pod: string,
    port: number,
    method: string,
    path: string,
    body?: unknown,
    timeoutMs = 5000,
  ): Promise<{ status: number; body: string }> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new NotdnsError('kubeconfig has no current cluster', { kind: 'usage' });
    const url = new URL(`${cluster.server.replace(/\/$/, '')}/api/v1/namespaces/${namespace}/pods/${pod}:${port}/proxy${path}`);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const opts: https.RequestOptions = {
      method,
      hostname: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      timeout: timeoutMs,
      headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    };
    await this.kc.applyToHTTPSOptions(opts);
    const mod = url.protocol === 'http:' ? http : https;
    return new Promise((resolve, reject) => {
      const req = mod.request(opts, (res) => {
        const c: Buffer[] = [];
        res.on('data', (d: Buffer) => c.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(c).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} on pod ${pod}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}

/** Exit code of a finished exec: Success → 0; NonZeroExitCode → details.causes[ExitCode]. */
export function exitCodeOf(s: V1Status): number {
  if (s.status === 'Success') return 0;
  const c = s.details?.causes?.find((x) => x.reason === 'ExitCode');
  return c?.message ? Number(c.message) : 1;
}
