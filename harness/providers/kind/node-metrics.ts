// Node probes only kind supplies, from the agents' own Prometheus pages, read with curl inside the node container
// (curl is in kindest/node):
// - cilium.staleIpDrops: the Cilium agent (hostNetwork, so 127.0.0.1 of the node; helm `prometheus.enabled: true`,
//   port 9962) counts SYNs to a deleted pod's IP in cilium_drop_count_total{reason="Stale or unroutable IP"},
//   one series per direction: summed. On kind these are the packets the lab's rp_filter drops as martians.
// - nld.upstreamFailures: node-local-dns (CoreDNS 1.11.3 in node-cache 1.26.4; a normal pod in the LRP setup, so
//   its pod IP, port 9253). When forward cannot open a TCP connection upstream, proxy.Connect returns the dial
//   error before any coredns_proxy_request_duration_seconds is observed (that histogram only sees replies), and
//   forward starts a health check of the upstream; with force_tcp the health check goes over TCP too, fails the
//   same way, and counts coredns_proxy_healthcheck_failures_total (every 0.5 s while the upstream stays
//   unreachable). That counter, summed over upstreams, is the probe.
// - cilium.ctEntries: the size of Cilium's own TCP conntrack map (cilium_ct4_global), the gauge
//   cilium_datapath_conntrack_gc_entries{family="ipv4",protocol="TCP",status="alive"} (on by default). The agent
//   sets it at the end of each completed GC pass of the map (ctmap gcStats.finish), so it is the size as of the
//   last pass: the Cilium values fix that interval (conntrackGCInterval, CILIUM_CT_GC_INTERVAL) instead of the
//   adaptive one that starts at 5 minutes. Before any pass has completed there is no sample: a failed read, not 0.
import type { V1Pod } from '@kubernetes/client-node';
import { parsePromText, promSum } from '../../probes/prom-text.js';
import { corednsNldSample, nldProbes } from '../../probes/nld.js';
import type { ProbeId } from '../../probes/catalog.js';

export const CILIUM_METRICS_PORT = 9962;
export const NODE_LOCAL_DNS_METRICS_PORT = 9253;
export const NODE_LOCAL_DNS_LABEL = 'k8s-app=node-local-dns';

/** argv of curl (inside a node) fetching a /metrics page; fails on HTTP errors (pure; tested). */
export function metricsCurlArgv(host: string, port: number): string[] {
  return ['curl', '-sSf', '--max-time', '3', `http://${host}:${port}/metrics`];
}

export function ciliumStaleIpDrops(metrics: string): number {
  return promSum(metrics, 'cilium_drop_count_total', { reason: 'Stale or unroutable IP' }, 'cilium_');
}

/** The gauge behind cilium.ctEntries and the labels of the TCP map's alive entries. */
export const CILIUM_CT_ENTRIES_METRIC = 'cilium_datapath_conntrack_gc_entries';
const CT_ALIVE_TCP4 = { family: 'ipv4', protocol: 'TCP', status: 'alive' } as const;

export function ciliumCtEntries(metrics: string): number {
  const samples = parsePromText(metrics);
  if (!samples.some((s) => s.name.startsWith('cilium_')))
    throw new Error(`no cilium_* metric in the page read (${metrics.length} bytes): not the expected /metrics`);
  const alive = samples.filter(
    (s) => s.name === CILIUM_CT_ENTRIES_METRIC && Object.entries(CT_ALIVE_TCP4).every(([k, v]) => s.labels[k] === v),
  );
  if (alive.length === 0)
    throw new Error(`no ${CILIUM_CT_ENTRIES_METRIC}{family="ipv4",protocol="TCP",status="alive"}: no conntrack GC pass has completed yet`);
  return alive.reduce((sum, s) => sum + s.value, 0);
}

export function nodeLocalDnsUpstreamFailures(metrics: string): number {
  return promSum(metrics, 'coredns_proxy_healthcheck_failures_total', {}, 'coredns_');
}

/** Every nld.* probe node-local-dns's /metrics page gives (pure; tested): throws on a page that is not CoreDNS's. */
export function nodeLocalDnsProbes(metrics: string): Partial<Record<ProbeId, number>> {
  return nldProbes(corednsNldSample(metrics));
}

/** node name → pod IP of its running node-local-dns pod (pure; tested). */
export function podIpsByNode(pods: readonly V1Pod[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of pods) {
    const node = p.spec?.nodeName;
    const ip = p.status?.podIP;
    if (node && ip && p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp) out.set(node, ip);
  }
  return out;
}
