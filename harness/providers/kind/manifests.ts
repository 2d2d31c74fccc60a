// Kubernetes objects only the kind provider applies: node-local-dns behind a CiliumLocalRedirectPolicy, and the
// k6 Job. Rendered from the templates in manifests/ (valid manifests on their own); pure functions, tested.
import type { KubernetesObject, V1ConfigMap, V1DaemonSet, V1Job, V1Service } from '@kubernetes/client-node';
import { GRPC_PORT, loadManifest, one, RUN_LABEL } from '../k8s/manifests.js';

// ---- node-local-dns ----------------------------------------------------------------------------------------

export interface NodeLocalDnsValues {
  /** kube-dns ClusterIP (the LRP frontend the pods' resolv.conf points at). */
  kubeDns: string;
  /** kube-dns-upstream ClusterIP (CoreDNS, not redirected). */
  upstream: string;
  /** topology.nodeLocalDnsLimits: forward `max_concurrent` of the cluster.local block and the container's memory
   *  limit. Absent: stock node-local-dns (no max_concurrent, no memory limit). */
  limits?: { maxConcurrent: number; memoryMb: number };
}

export function fillPillars(text: string, v: NodeLocalDnsValues): string {
  return text.replaceAll('__PILLAR__DNS__SERVER__', v.kubeDns).replaceAll('__PILLAR__CLUSTER__DNS__', v.upstream);
}

/** node-local-dns objects with the placeholders filled (the kube-dns-upstream Service first: its IP is needed). */
export function renderNodeLocalDns(v: NodeLocalDnsValues): KubernetesObject[] {
  const objs = loadManifest('node-local-dns/node-local-dns.yaml').map(
    (o) => JSON.parse(fillPillars(JSON.stringify(o), v)) as KubernetesObject,
  );
  if (v.limits) for (const o of objs) applyNodeLocalDnsLimits(o, v.limits);
  return objs;
}

/** max_concurrent in the cluster.local forward block (the one the workloads' lookups go through), memory limit. */
function applyNodeLocalDnsLimits(o: KubernetesObject, l: { maxConcurrent: number; memoryMb: number }): void {
  if (o.kind === 'ConfigMap') {
    const cm = o as V1ConfigMap;
    const before = cm.data?.Corefile ?? '';
    const after = before.replace(/( +)expire 0s\n/, (m, indent: string) => `${m}${indent}max_concurrent ${l.maxConcurrent}\n`);
    if (after === before)
      throw new Error('node-local-dns.yaml: no `expire 0s` line in the cluster.local forward block to add max_concurrent after');
    cm.data = { ...cm.data, Corefile: after };
  }
  if (o.kind === 'DaemonSet') {
    const c = (o as V1DaemonSet).spec!.template.spec!.containers[0]!;
    c.resources = { ...c.resources, limits: { ...c.resources?.limits, memory: `${l.memoryMb}Mi` } };
  }
}

export function kubeDnsUpstreamService(): V1Service {
  return one<V1Service>(loadManifest('node-local-dns/node-local-dns.yaml'), 'Service', 'node-local-dns/node-local-dns.yaml');
}

export function renderLrp(): KubernetesObject[] {
  return loadManifest('node-local-dns/lrp.yaml');
}

// ---- k6 ---------------------------------------------------------------------------------

export function renderK6(
  namespace: string,
  runId: string,
  files: { script: string; proto: string },
  opts: { target?: string; vus?: number; duration?: string } = {},
): { configMap: V1ConfigMap; job: V1Job } {
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
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'k6-script', namespace, labels: { [RUN_LABEL]: runId } },
    data: { 'script.ts': files.script, 'metrics.proto': files.proto },
  };
  return { configMap, job };
}
