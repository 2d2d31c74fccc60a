// Kubernetes objects the kind and kubeconfig providers apply, rendered from the templates in manifests/ (which
// are valid manifests on their own). Pure functions from (template, run parameters) to objects; tested.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubernetesObject, V1ConfigMap, V1DaemonSet, V1Deployment, V1Job, V1Namespace, V1Service } from '@kubernetes/client-node';
import { NotdnsError } from '../../errors.js';
import type { AppName, WorkloadDeployment } from '../types.js';
import { manifestsDir } from './config.js';
import { WORKLOAD_IMAGE } from './images.js';

export const ADMIN_PORT = 9090;
export const GRPC_PORT = 50051;
/** The admin flag every pod gets (the harness reaches /metrics.json on the pod IP). */
export const ADMIN_ARGS = ['--admin', `tcp:${ADMIN_PORT}`] as const;
/** Seconds the kubelet waits past the workload's own graceful stop before SIGKILL. */
export const GRACE_MARGIN_SECONDS = 5;
export const ROLLOUT_ANNOTATION = 'notdns.io/rollout';
export const RUN_LABEL = 'notdns.io/run';
export const FIELD_MANAGER = 'notdns';

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

function one<T extends KubernetesObject>(objs: KubernetesObject[], kind: string, rel: string): T {
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
 * The Deployment (and for the Metrics Service its headless Service) for one WorkloadDeployment: replicas, args
 * (`--admin tcp:9090` + the caller's), image, placement on exactly d.nodes (spread over them), grace period.
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
  c.image = o.image ?? WORKLOAD_IMAGE;
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
 * The partial Deployment a rollout applies (server-side apply, its own field manager): a new pod-template
 * annotation (like `kubectl rollout restart`), maxSurge = batch / maxUnavailable 0, and a grace period above
 * the workload's graceful stop.
 */
export function rolloutPatch(app: AppName, namespace: string, stamp: string, opts: { batch: number; gracefulStopSeconds: number }): V1Deployment {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
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

// ---- node-local-dns ----------------------------------------------------------------------------------------

export interface NodeLocalDnsValues {
  /** kube-dns ClusterIP (the LRP frontend the pods' resolv.conf points at). */
  kubeDns: string;
  /** kube-dns-upstream ClusterIP (CoreDNS, not redirected). */
  upstream: string;
}

export function fillPillars(text: string, v: NodeLocalDnsValues): string {
  return text.replaceAll('__PILLAR__DNS__SERVER__', v.kubeDns).replaceAll('__PILLAR__CLUSTER__DNS__', v.upstream);
}

/** node-local-dns objects with the placeholders filled (the kube-dns-upstream Service first: its IP is needed). */
export function renderNodeLocalDns(v: NodeLocalDnsValues): KubernetesObject[] {
  return loadManifest('node-local-dns/node-local-dns.yaml').map((o) => JSON.parse(fillPillars(JSON.stringify(o), v)) as KubernetesObject);
}

export function kubeDnsUpstreamService(): V1Service {
  return one<V1Service>(loadManifest('node-local-dns/node-local-dns.yaml'), 'Service', 'node-local-dns/node-local-dns.yaml');
}

export function renderLrp(): KubernetesObject[] {
  return loadManifest('node-local-dns/lrp.yaml');
}

// ---- k6 and the node agent ---------------------------------------------------------------------------------

export function renderK6(namespace: string, runId: string, files: { script: string; proto: string },
  opts: { target?: string; vus?: number; duration?: string } = {}): { configMap: V1ConfigMap; job: V1Job } {
  const job = one<V1Job>(loadManifest('workloads/k6-job.yaml'), 'Job', 'workloads/k6-job.yaml');
  job.metadata = { ...job.metadata, namespace, labels: { ...job.metadata?.labels, [RUN_LABEL]: runId } };
  const c = job.spec!.template.spec!.containers[0]!;
  const set = (name: string, value: string | undefined) => {
    if (value === undefined) return;
    c.env = (c.env ?? []).map((e) => (e.name === name ? { name, value } : e));
  };
  set('TARGET', opts.target ?? `metrics-service.${namespace}.svc.cluster.local:${GRPC_PORT}`);
  set('VUS', opts.vus === undefined ? undefined : String(opts.vus));
  set('DURATION', opts.duration);
  const configMap: V1ConfigMap = {
    apiVersion: 'v1', kind: 'ConfigMap',
    metadata: { name: 'k6-script', namespace, labels: { [RUN_LABEL]: runId } },
    data: { 'script.ts': files.script, 'metrics.proto': files.proto },
  };
  return { configMap, job };
}

export function renderNodeAgent(namespace: string, runId: string): V1DaemonSet {
  const ds = one<V1DaemonSet>(loadManifest('ena-sim/daemonset.yaml'), 'DaemonSet', 'ena-sim/daemonset.yaml');
  ds.metadata = { ...ds.metadata, namespace, labels: { ...ds.metadata?.labels, [RUN_LABEL]: runId } };
  return ds;
}
