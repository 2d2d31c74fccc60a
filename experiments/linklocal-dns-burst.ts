// The most common real "it was DNS" on AWS: the ENA's link-local allowance. Pods resolve external names with
// Kubernetes' default `ndots:5`: `api-7.example.com` has 2 dots, so glibc first tries it under every search domain
// (burst.svc.cluster.local, svc.cluster.local, cluster.local, ec2.internal), A and AAAA each, before the absolute name:
// 10 queries for one lookup. Node-local DNS forwards what it cannot answer from cache to the VPC resolver on
// 169.254.169.253 over UDP, and the ENA allows 1024 packets/s per ENI to link-local addresses: a burst of lookups
// from one node goes over it, the excess queries are dropped (linklocal_allowance_exceeded) and lookups time out.
// Fixes measured: absolute names (trailing dot / ndots:1: 2 queries a lookup), and a node-local cache that keeps
// answers (and serves stale ones) so that repeated names never reach the resolver.
//
// Amplification = queries per lookup: in the pod, dns.queries / dns.lookups; upstream, ena.linklocalPackets /
// dns.lookups (every upstream query is one packet to 169.254.169.253 on the node's ENI, retries included).
// Lab only: the kind provider has no link-local upstream mode (its node-local-dns forwards to CoreDNS in the cluster,
// and kind nodes have no VPC resolver), so every expectation says `providers: ['lab']`.
import { defineExperiment } from '../harness/spec/schema.js';

// A variant's partial topology/workload override gets the schema defaults for the keys it leaves out (zod 4 applies
// `.default()` inside `.partial()`), so each variant repeats the whole object it changes.
const TOPOLOGY = { nodes: 2, serverNodes: 1, dnsUpstream: 'linklocal-udp', nodeLocalCache: 'short' } as const;
// one pod on node1: 150 lookups/s over 200 external names (each name again every 1.3 s)
const METRICS_SERVICE = {
  replicas: 1,
  gracefulStopSeconds: 2,
  dnsLookupsPerSecond: 150,
  dnsTimeoutMs: 2000,
  dnsResolver: 'ndots5',
  dnsNamePool: 200,
} as const;

export default defineExperiment({
  name: 'linklocal-dns-burst',
  description:
    "ndots:5 search-list expansion multiplies each external lookup by 10; through a node-local cache that forwards to the link-local VPC resolver over UDP a burst exceeds the ENA's 1024 pps link-local allowance and DNS times out; absolute names or a cache that keeps answers do not (lab only)",
  topology: TOPOLOGY,
  // the conntrack allowance is not what this experiment is about: large enough for every UDP query's flow
  ena: {
    conntrackAllowance: 200_000,
    linklocalPps: 1024,
    timeouts: { unrepliedSeconds: 20, establishedSeconds: 432_000, closedSeconds: 5 },
  },
  workloads: {
    metricsService: METRICS_SERVICE,
    alertingEngine: { instances: 1, channelsPerBackend: 5, dnsPropagationSeconds: 5 },
  },
  steps: [{ steady: 30 }],
  variants: {
    baseline: {
      description:
        'ndots:5 search-list expansion, node-local cache that keeps nothing: ~10 upstream queries per lookup, ~1500 pps to 169.254.169.253',
    },
    fqdn: {
      description: 'the same names with a trailing dot (or ndots:1): only the absolute name, A + AAAA, ~300 pps',
      workloads: { metricsService: { ...METRICS_SERVICE, dnsResolver: 'fqdn' } },
    },
    cache: {
      description: 'ndots:5 as baseline, but the node-local cache honours the 30 s TTLs in a large cache and serves stale answers',
      topology: { ...TOPOLOGY, nodeLocalCache: 'serve-stale' },
    },
  },
  expect: {
    baseline: [
      {
        probe: 'ena.linklocalPackets',
        stat: 'peakRate',
        op: '>',
        value: 1024,
        why: '150 lookups/s × 10 queries: more packets/s to the link-local resolver than the ENA allows',
        providers: ['lab'],
      },
      {
        probe: 'ena.linklocalExceeded',
        stat: 'total',
        op: '>=',
        value: 500,
        why: 'the excess is dropped (linklocal_allowance_exceeded)',
        providers: ['lab'],
      },
      { probe: 'dns.timeouts', stat: 'total', op: '>=', value: 20, why: 'dropped queries: lookups time out', providers: ['lab'] },
      { probe: 'ena.allowanceExceeded', stat: 'total', op: '==', value: 0, why: 'not the conntrack allowance', providers: ['lab'] },
    ],
    fqdn: [
      { probe: 'ena.linklocalPackets', stat: 'peakRate', op: '<', value: 1024, why: '2 queries per lookup', providers: ['lab'] },
      { probe: 'ena.linklocalExceeded', stat: 'total', op: '==', value: 0, providers: ['lab'] },
      { probe: 'dns.errors', stat: 'total', op: '==', value: 0, providers: ['lab'] },
    ],
    cache: [
      {
        probe: 'ena.linklocalExceeded',
        stat: 'total',
        op: '==',
        value: 0,
        why: 'only the first pass over the 200 names goes upstream, within the bucket',
        providers: ['lab'],
      },
      { probe: 'dns.errors', stat: 'total', op: '==', value: 0, providers: ['lab'] },
    ],
  },
  compare: [
    {
      ratio: ['baseline', 'fqdn'],
      probe: 'dns.queries',
      stat: 'total',
      op: '>=',
      value: 3,
      why: 'amplification in the pod: up to 10 queries per lookup with ndots:5, 2 with absolute names',
      providers: ['lab'],
    },
    {
      ratio: ['baseline', 'fqdn'],
      probe: 'ena.linklocalPackets',
      stat: 'total',
      op: '>=',
      value: 3,
      why: 'amplification upstream: the same factor reaches the link-local resolver',
      providers: ['lab'],
    },
    {
      ratio: ['baseline', 'cache'],
      probe: 'ena.linklocalPackets',
      stat: 'total',
      op: '>=',
      value: 5,
      why: 'a cache that keeps answers sends each name upstream once, not every lookup',
      providers: ['lab'],
    },
  ],
});
