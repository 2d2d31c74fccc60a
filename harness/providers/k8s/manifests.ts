// Kubernetes objects the kind and kubeconfig providers both apply, rendered from the templates in manifests/ (which
// are valid manifests on their own). Pure functions from (template, run parameters) to objects; tested.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubernetesObject, V1Container, V1Deployment, V1Namespace, V1Service } from '@kubernetes/client-node';
import { NotdnsError } from '../../errors.js';
import type { AppName, WorkloadDeployment } from '../types.js';
import { manifestsDir } from '../../paths.js';

export const ADMIN_PORT = 9090;
export const GRPC_PORT = 50051;
/** The admin flag every pod gets (the harness reaches /metrics.json on the pod IP). */
export const ADMIN_ARGS = ['--admin', `tcp:${ADMIN_PORT}`] as const;
/** Seconds the kubelet waits past the workload's own graceful stop before SIGKILL. */
export const GRACE_MARGIN_SECONDS = 5;
export const ROLLOUT_ANNOTATION = 'notdns.io/rollout';
export const RUN_LABEL = 'notdns.io/run';
export const FIELD_MANAGER = 'notdns';
/** The workload image (built from workloads/Dockerfile; kubeconfig clusters pull it from a registry). */
export const WORKLOAD_IMAGE = process.env.NOTDNS_WORKLOAD_IMAGE ?? 'notdns/workloads:dev';

export function loadManifest<T extends KubernetesObject = KubernetesObject>(rel: string): T[] {
  const file = join(manifestsDir, rel);
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  const out: T[] = [];
  for (const d of docs) {
    if (d.errors.length) throw new NotdnsError(`${file}: ${d.errors[0]!.message}`, { kind: 'harness' });
    const v = d.toJS() as T | null;
    if (v) out.push(v);
  }
  return out;
}

export function one<T extends KubernetesObject>(objs: KubernetesObject[], kind: string, rel: string): T {
  const o = objs.find((x) => x.kind === kind);
  if (!o) throw new NotdnsError(`manifests/${rel} has no ${kind}`, { kind: 'harness' });
  return structuredClone(o) as T;
}

/** Kubernetes names for a run: namespace nd-<runid>. */
export function runNamespace(runId: string): string {
  return `nd-${runId}`;
}

export function renderNamespace(runId: string): V1Namespace {
  const ns = one<V1Namespace>(loadManifest('workloads/namespace.yaml'), 'Namespace', 'workloads/namespace.yaml');
  ns.metadata = { ...ns.metadata, name: runNamespace(runId), labels: { ...ns.metadata?.labels, [RUN_LABEL]: runId } };
  return ns;
}

/** Value of `--flag V` or `--flag=V` in an argv (last one wins), as commander reads it. */
export function flagValue(args: readonly string[], flag: string): string | undefined {
  let v: string | undefined;
  args.forEach((a, i) => {
    if (a === flag && i + 1 < args.length) v = args[i + 1];
    else if (a.startsWith(`${flag}=`)) v = a.slice(flag.length + 1);
  });
  return v;
}

export function grpcPortOf(args: readonly string[]): number {
  const p = flagValue(args, '--port');
  return p === undefined ? GRPC_PORT : Number(p);
}

export function gracefulStopOf(args: readonly string[]): number {
  const g = flagValue(args, '--graceful-stop-seconds');
  return g === undefined ? 10 : Number(g);
}

export function terminationGraceFor(gracefulStopSeconds: number): number {
  return Math.ceil(gracefulStopSeconds) + GRACE_MARGIN_SECONDS;
}

export interface RenderOptions {
  namespace: string;
  runId: string;
  image?: string;
  /** Deployment maxSurge (RolloutOptions.batch); maxUnavailable stays 0. */
  maxSurge?: number;
}

/**
 * The container command with Node.js runtime flags (WorkloadDeployment.runtimeArgs, e.g. --max-semi-space-size=1)
 * between `node` and the workload's main.js, as the lab starts its pods (`node FLAGS main.js ARGS`). The template's
 * command is `node dist/workloads/<app>/main.js`; the image's entrypoint adds nothing.
 */
export function commandWithRuntimeArgs(command: readonly string[], runtimeArgs: readonly string[] = []): string[] {
  const main = command.findIndex((a) => a.endsWith('main.js'));
  if (command[0] !== 'node' || main < 1) {
    throw new NotdnsError(`the workload template's command must be \`node ... main.js\`, got ${JSON.stringify(command)}`, {
      kind: 'harness',
    });
  }
  return [...command.slice(0, main), ...runtimeArgs, ...command.slice(main)];
}

/**
 * The Deployment (and for the Metrics Service its headless Service) for one WorkloadDeployment: replicas, args
 * (`--admin tcp:9090` + the caller's), Node.js runtime flags, image, placement on exactly d.nodes (spread over
 * them), grace period.
 */
export function renderWorkload(d: WorkloadDeployment, o: RenderOptions): { deployment: V1Deployment; service?: V1Service } {
  const rel = `workloads/${d.app}.yaml`;
  const objs = loadManifest(rel);
  const dep = one<V1Deployment>(objs, 'Deployment', rel);
  const args = [...ADMIN_ARGS, ...d.args.filter((_, i, a) => !(a[i] === '--admin' || a[i - 1] === '--admin'))];
  const labels = { ...dep.metadata?.labels, [RUN_LABEL]: o.runId };
  dep.metadata = { ...dep.metadata, name: d.app, namespace: o.namespace, labels };
  const spec = dep.spec!;
  spec.replicas = d.replicas;
  const tpl = spec.template;
  tpl.metadata = { ...tpl.metadata, labels: { ...tpl.metadata?.labels, [RUN_LABEL]: o.runId } };
  const pod = tpl.spec!;
  if (d.nodes.length) {
    pod.affinity = {
      ...pod.affinity,
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [...d.nodes] }] }],
        },
      },
    };
  }
  const c = pod.containers[0]!;
  if (d.client) {
    renderClient(c, d.client, o.namespace);
    return { deployment: dep };
  }
  c.image = o.image ?? WORKLOAD_IMAGE;
  c.command = commandWithRuntimeArgs(c.command ?? [], d.runtimeArgs);
  c.args = args;
  if (d.app === 'metrics-service') {
    const port = grpcPortOf(args);
    c.ports = (c.ports ?? []).map((p) => (p.name === 'grpc' ? { ...p, containerPort: port } : p));
    pod.terminationGracePeriodSeconds = terminationGraceFor(gracefulStopOf(args));
    if (o.maxSurge !== undefined) spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: o.maxSurge, maxUnavailable: 0 } };
    const svc = one<V1Service>(objs, 'Service', rel);
    svc.metadata = { ...svc.metadata, namespace: o.namespace, labels: { ...svc.metadata?.labels, [RUN_LABEL]: o.runId } };
    svc.spec!.ports = svc.spec!.ports!.map((p) => (p.name === 'grpc' ? { ...p, port } : p));
    return { deployment: dep, service: svc };
  }
  return { deployment: dep };
}

/**
 * A custom client (docs/client-contract.md) in the Alerting Engine's Deployment: its image (its entrypoint, or its
 * command), the contract's environment, NOTDNS_TARGET_NAME = the Metrics Service's headless Service (the client
 * resolves it: there is no targets file on Kubernetes), NOTDNS_INSTANCE = the pod's name (a Deployment's pods have
 * no index), the metrics port if any (also its readiness probe); no admin port: the harness cannot reach it.
 */
function renderClient(c: V1Container, client: NonNullable<WorkloadDeployment['client']>, namespace: string): void {
  if (!client.image)
    throw new NotdnsError(
      'workloads.client has no image: on Kubernetes the client runs from a container image (a command alone is for the lab)',
      {
        kind: 'usage',
      },
    );
  c.image = client.image;
  if (client.command) c.command = [...client.command];
  else delete c.command;
  c.args = [];
  c.env = [
    ...Object.entries(client.env).map(([name, value]) => ({ name, value })),
    { name: 'NOTDNS_TARGET_NAME', value: `metrics-service.${namespace}.svc.cluster.local` },
    { name: 'NOTDNS_INSTANCE', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
  ];
  if (client.metricsPort) {
    c.ports = [{ name: 'metrics', containerPort: client.metricsPort, protocol: 'TCP' }];
    c.readinessProbe = { httpGet: { path: '/metrics', port: 'metrics' }, periodSeconds: 1 };
  } else {
    c.ports = [];
    delete c.readinessProbe;
  }
  c.securityContext = { runAsNonRoot: true, runAsUser: 65534, allowPrivilegeEscalation: false };
}

/**
 * The partial Deployment a rollout applies (server-side apply, its own field manager): a new pod-template
 * annotation (like `kubectl rollout restart`), maxSurge = batch / maxUnavailable 0, and a grace period above
 * the workload's graceful stop.
 */
export function rolloutPatch(
  app: AppName,
  namespace: string,
  stamp: string,
  opts: { batch: number; gracefulStopSeconds: number },
): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: app, namespace },
    spec: {
      selector: { matchLabels: { app } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: opts.batch, maxUnavailable: 0 } },
      template: {
        metadata: { labels: { app }, annotations: { [ROLLOUT_ANNOTATION]: stamp } },
        spec: {
          terminationGracePeriodSeconds: terminationGraceFor(opts.gracefulStopSeconds),
          containers: [{ name: app }],
        },
      },
    },
  } as V1Deployment;
}
