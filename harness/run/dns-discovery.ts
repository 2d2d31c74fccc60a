// DNS discovery (Alerting Engine discovery dns-per-ip | dns-round-robin), like external-dns + Route 53 in the talk:
// the Metrics Service's name is served by the upstream DNS with the ready pods' IPs as A records; on a rollout the
// records change dnsPropagationSeconds after the pod set did, and the clients learn it through node-local DNS when
// their resolver asks again and the cache's copy has expired (TTL). Each change is a `note` marker on the time axis:
// when the upstream served it (and how long the reload took), and what each client node's cache still held then.
// Kubernetes (capabilities.dnsRecords 'kubernetes'): the records are the headless Service's, changed by the
// EndpointSlice controller with readiness; the harness sets only CoreDNS's TTL and records when CoreDNS serves them.
import { NotdnsError } from '../errors.js';
import { log } from '../log.js';
import type { Recorder } from '../probes/recorder.js';
import { parseDigRecords } from '../providers/lab/dns.js';
import type { Cluster, ClusterNode, PodHandle } from '../providers/types.js';
import type { VariantConfig } from '../spec/schema.js';
import type { TeardownStack } from '../teardown.js';
import { isDnsDiscovery, serviceDns } from './workloads.js';

export const usesDnsDiscovery = isDnsDiscovery;

/** The name the clients resolve: metricsService.dns.name, or on Kubernetes the headless Service's (its namespace is
 *  the run's, so no experiment can name it: the provider maps it, docs/dns-discovery.md). */
export function discoveryDnsName(cluster: Cluster, cfg: VariantConfig): string {
  if (cluster.capabilities.dnsRecords === 'kubernetes' && cluster.metricsServiceDnsName) return cluster.metricsServiceDnsName;
  return serviceDns(cfg).name;
}

/** How long the harness waits to see Kubernetes serve the ready pods' records (EndpointSlice + CoreDNS watch). */
export const K8S_RECORDS_TIMEOUT_MS = 30_000;

/** Serve the name with the first pods' IPs before the clients start; returns the name the clients resolve. On
 *  Kubernetes the records are Kubernetes' own (the ready pods): set the TTL, verify and return. */
export async function publishDnsRecords(
  cluster: Cluster,
  cfg: VariantConfig,
  pods: readonly PodHandle[],
  say: (line: string) => void,
): Promise<string> {
  const { ttlSeconds } = serviceDns(cfg);
  const name = discoveryDnsName(cluster, cfg);
  const ips = pods.map((p) => p.ip);
  if (cluster.capabilities.dnsRecords === 'kubernetes' && cluster.kubernetesDnsRecords && cfg.topology.nodeLocalDns) {
    const r = await cluster.kubernetesDnsRecords({ ttlSeconds, ips, timeoutMs: K8S_RECORDS_TIMEOUT_MS });
    say(
      `DNS discovery: ${name} (the headless Service; metricsService.dns.name ${serviceDns(cfg).name} is not used) → ${ips.join(', ')} (TTL ${ttlSeconds} s), ${r.servedMs === null ? `NOT served by CoreDNS within ${K8S_RECORDS_TIMEOUT_MS / 1000} s` : `served by CoreDNS after ${r.servedMs} ms`}; records follow readiness, dnsPropagationSeconds is not used`,
    );
    return name;
  }
  if (cluster.capabilities.dnsRecords !== 'harness' || !cluster.setDnsRecords || !cfg.topology.nodeLocalDns)
    throw new NotdnsError(
      `discovery ${cfg.workloads.alertingEngine.discovery} needs DNS records the harness can change or Kubernetes serves: the ${cluster.provider} provider with node-local DNS ${cfg.topology.nodeLocalDns ? 'has neither' : 'off has no node-local DNS to resolve through'}`,
      {
        kind: 'usage',
        hint: 'Run DNS-discovery variants on the lab (--provider lab) or kind (--provider kind) with topology.nodeLocalDns: true.',
      },
    );
  const r = await cluster.setDnsRecords({ name, ttlSeconds, ips });
  say(`DNS discovery: ${name} → ${ips.join(', ')} (TTL ${ttlSeconds} s), served by the upstream after ${r.servedMs} ms`);
  return name;
}

/** The label of a record-change marker (parseDnsChange reads it back). */
export function dnsChangeLabel(c: {
  name: string;
  ips: readonly string[];
  ttlSeconds: number;
  servedMs: number;
  caches: readonly { node: string; ips: readonly string[]; ttl: number | null }[];
}): string {
  const want = [...c.ips].sort().join(',');
  const caches = c.caches.map(
    (x) => `${x.node} cache ${x.ips.join(',') === want ? 'new' : `old ${x.ips.join(',') || '-'}`} ttl=${x.ttl ?? '?'}`,
  );
  return `dns-records ${c.name} → ${want} ttl=${c.ttlSeconds} served-ms=${c.servedMs}; ${caches.join('; ')}`;
}

export interface DnsChange {
  t: number;
  ips: string[];
  ttlSeconds: number;
  servedMs: number;
  /** Per client node: did its cache still hold another set, and for how many seconds more. */
  caches: { node: string; stale: boolean; ttl: number | null }[];
}

/** The record changes of a run, from its markers. */
export function parseDnsChanges(markers: readonly { t: number; kind: string; label: string }[]): DnsChange[] {
  return markers.flatMap((m) => {
    const h = /^dns-records \S+ → (\S*) ttl=(\d+) served-ms=(\d+);(.*)$/.exec(m.label);
    if (m.kind !== 'note' || !h) return [];
    const caches = [...h[4]!.matchAll(/(\S+) cache (new|old \S+) ttl=(\d+|\?)/g)].map((x) => ({
      node: x[1]!,
      stale: x[2] !== 'new',
      ttl: x[3] === '?' ? null : Number(x[3]),
    }));
    return [{ t: m.t, ips: h[1] ? h[1].split(',') : [], ttlSeconds: Number(h[2]), servedMs: Number(h[3]), caches }];
  });
}

/**
 * A backend-set change → the records change after the propagation delay (one at a time, in order); returns the
 * function the rollout calls with the live pods. Pending changes are cancelled by the teardown.
 */
export function dnsRecordsAfter(
  cluster: Cluster,
  cfg: VariantConfig,
  rec: Recorder,
  clientNodes: readonly ClusterNode[],
  stack: TeardownStack,
): (live: PodHandle[]) => void {
  const { ttlSeconds } = serviceDns(cfg);
  const name = discoveryDnsName(cluster, cfg);
  const k8s = cluster.capabilities.dnsRecords === 'kubernetes';
  // Kubernetes: the records changed with the pods' readiness already; the harness only sees when CoreDNS serves them
  const delayMs = k8s ? 0 : cfg.workloads.alertingEngine.dnsPropagationSeconds * 1000;
  const timers = new Set<NodeJS.Timeout>();
  let chain = Promise.resolve();
  let cancelled = false;
  stack.push('dns record updates', async () => {
    cancelled = true;
    for (const t of timers) clearTimeout(t);
    await chain;
  });
  const change = async (ips: string[]) => {
    if (cancelled) return;
    const r = k8s
      ? await cluster.kubernetesDnsRecords!({ ttlSeconds, ips, timeoutMs: K8S_RECORDS_TIMEOUT_MS })
      : await cluster.setDnsRecords!({ name, ttlSeconds, ips });
    const t = rec.now();
    if (r.servedMs === null) {
      log.warn({ name, ips }, `CoreDNS did not serve the ready pods within ${K8S_RECORDS_TIMEOUT_MS} ms`);
      rec.markers.push({
        t,
        kind: 'note',
        label: `dns-records ${name} not served as ${ips.join(',')} within ${K8S_RECORDS_TIMEOUT_MS} ms`,
      });
      return;
    }
    // what each client node's cache holds right now: the old set and its remaining TTL = how long its clients
    // can still learn only the old set
    const caches = await Promise.all(
      clientNodes.map(async (n) => {
        const d = await n.exec('dig', ['+tries=1', '+time=1', `@${cluster.dns.nodeLocal}`, name, 'A'], { reject: false, timeoutMs: 4000 });
        return { node: n.name, ...parseDigRecords(d.stdout) };
      }),
    );
    rec.markers.push({ t, kind: 'note', label: dnsChangeLabel({ name, ips, ttlSeconds, servedMs: r.servedMs, caches }) });
  };
  return (live) => {
    const ips = live.map((p) => p.ip);
    const timer = setTimeout(() => {
      timers.delete(timer);
      chain = chain.then(() => change(ips)).catch((err: unknown) => log.warn({ err }, 'DNS record update failed'));
    }, delayMs);
    timers.add(timer);
  };
}
