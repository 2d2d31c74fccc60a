// The flagship: the whole incident of "It wasn't DNS" (KubeCon EU 2022) and its fixes, on one page.
// Alerting Engine pods (one gRPC channel per backend IP, pick_first) call the Metrics Service; the Metrics Service
// is rolled out with a graceful stop; clients keep reconnecting to the old pod IPs until "DNS" (external-dns +
// Route 53 in the talk) tells them the new backend set. With the talk's reconnect options the reconnects become a
// SYN flood: RSTs during the graceful stop, then SYNs into the void once the pod is deleted, dropped by the
// node's reverse-path filter (martians) — and every one of them a new flow in the node's ENA allowance, which
// fills up, so node-local DNS cannot open TCP connections upstream and the Metrics Service sees DNS errors.
import { defineExperiment } from '../harness/spec/schema.js';

export default defineExperiment({
  name: 'rollout-syn-flood',
  description:
    'gRPC reconnect backoff of 300 ms SYN-floods old pod IPs during a rollout, exhausts the ENA conntrack allowance and breaks node-local DNS; default backoff does not',
  topology: { nodes: 3, serverNodes: 2 },
  ena: { conntrackAllowance: 4000, timeouts: { unrepliedSeconds: 20, establishedSeconds: 432_000, closedSeconds: 5 } },
  workloads: {
    metricsService: { replicas: 2, gracefulStopSeconds: 10, dnsLookupsPerSecond: 20 },
    alertingEngine: { instances: 2, channelsPerBackend: 200, discovery: 'per-backend', callIntervalMs: 1000, dnsPropagationSeconds: 20 },
  },
  steps: [{ steady: 15 }, { rollout: { batch: 1 } }, { observe: 40 }, { recover: 6 }],
  variants: {
    baseline: {
      description: "the talk's client: min/initial/max reconnect backoff 100/200/300 ms (C-core: the min doubles as connect timeout)",
      workloads: { alertingEngine: { reconnect: { initialMs: 200, maxMs: 300, connectTimeoutMs: 300 } } },
    },
    fix: {
      description: 'the fix from the talk: the reconnect options removed, gRPC defaults (1 s initial, 120 s max, 20 s connect timeout)',
      workloads: { alertingEngine: { reconnect: 'grpc-defaults' } },
    },
    'cilium-unreachable': {
      description: "baseline client, but the node installs an unreachable route for a deleted pod's IP (cilium/cilium#18505)",
      topology: { unreachableOnDelete: true },
      workloads: { alertingEngine: { reconnect: { initialMs: 200, maxMs: 300, connectTimeoutMs: 300 } } },
    },
    // issue 13: the "DNS fix" of the talk (node-local-dns's memory limit raised 64 → 256 MB): symptoms change, errors do not
    'nld-bigger': {
      description: 'baseline client, node-local DNS with 4× the concurrency and memory (lab defaults: 20 queries, 16 MB)',
      topology: { nodeLocalDnsLimits: { maxConcurrent: 80, memoryMb: 64 } },
      workloads: { alertingEngine: { reconnect: { initialMs: 200, maxMs: 300, connectTimeoutMs: 300 } } },
    },
    // DNS discovery as when the incident started: the channels are given the name and grpc-js resolves it
    'dns-round-robin': {
      description:
        "baseline's reconnect options, but K round_robin channels given dns://node-local/metrics…:50051, resolved by grpc-js (min 5 s between resolutions); the records change after the propagation delay, TTL 10 s",
      workloads: {
        metricsService: { dns: { name: 'metrics.default.svc.cluster.local', ttlSeconds: 10 } },
        alertingEngine: {
          discovery: 'dns-round-robin',
          dnsMinTimeBetweenResolutionsMs: 5000,
          reconnect: { initialMs: 200, maxMs: 300, connectTimeoutMs: 300 },
        },
      },
    },
  },
  expect: {
    baseline: [
      { probe: 'syn.toOldPodIps', stat: 'peakRate', window: 'rollout', op: '>=', value: 500, why: 'X channels × reconnect every 0.3 s' },
      {
        probe: 'martian.drops',
        target: 'flooded-nodes',
        stat: 'total',
        op: '>=',
        value: 100,
        why: 'SYNs to the deleted IP die in rp_filter on the addressless ENI',
      },
      {
        probe: 'ena.allowanceExceeded',
        target: 'flooded-nodes',
        stat: 'total',
        op: '>=',
        value: 1,
        why: 'every reconnect attempt is a new flow for the ENA',
      },
      {
        probe: 'dns.errors',
        target: 'flooded-node-pods',
        stat: 'total',
        op: '>=',
        value: 1,
        why: 'node-local DNS cannot open TCP connections upstream',
      },
      {
        probe: 'dnscheck.failed',
        target: 'flooded-nodes',
        stat: 'total',
        op: '>=',
        value: 1,
        why: 'independent check: dig +tcp through the node-local cache',
      },
      {
        probe: 'estab.failed',
        target: 'flooded-nodes',
        stat: 'total',
        op: '==',
        value: 0,
        why: 'established connections keep working: only NEW flows are dropped',
      },
      // once clients know the new backends the flood stops, its flows expire, and the chain unwinds
      {
        probe: 'dns.errors',
        target: 'flooded-node-pods',
        window: 'recovery',
        stat: 'total',
        op: '==',
        value: 0,
        why: 'the flood over and its flows expired, node-local DNS opens upstream connections again',
      },
      {
        probe: 'dnscheck.ok',
        target: 'flooded-nodes',
        window: 'recovery',
        stat: 'total',
        op: '>=',
        value: 2,
        why: 'independent check: dig +tcp through the node-local cache answers again',
      },
      { probe: 'dnscheck.failed', target: 'flooded-nodes', window: 'recovery', stat: 'total', op: '==', value: 0 },
    ],
    fix: [
      { probe: 'ena.allowanceExceeded', stat: 'total', op: '==', value: 0, why: 'the mechanism is gone: no flow is ever refused' },
      {
        probe: 'dns.errors',
        stat: 'total',
        op: '==',
        value: 0,
        why: 'node-local DNS keeps opening its upstream TCP connections: not one lookup fails',
      },
      {
        probe: 'dnscheck.failed',
        stat: 'total',
        op: '==',
        value: 0,
        why: 'independent check: every dig +tcp through the node-local cache answers',
      },
      { probe: 'estab.failed', stat: 'total', op: '==', value: 0 },
    ],
    'cilium-unreachable': [
      {
        probe: 'martian.drops',
        target: 'flooded-nodes',
        stat: 'total',
        op: '==',
        value: 0,
        why: 'an unreachable route answers before rp_filter: no martians',
      },
      {
        probe: 'icmp.destUnreachIn',
        stat: 'total',
        op: '>=',
        value: 1,
        why: 'clients get ICMP host unreachable (rate-limited by the kernel)',
      },
      {
        probe: 'ena.allowanceExceeded',
        target: 'flooded-nodes',
        stat: 'total',
        op: '>=',
        value: 1,
        why: 'the route alone does not save the allowance: the SYNs still arrive',
      },
    ],
    'nld-bigger': [
      {
        probe: 'dns.errors',
        target: 'flooded-node-pods',
        stat: 'total',
        op: '>=',
        value: 1,
        why: 'a bigger node-local DNS still cannot open TCP connections upstream',
      },
      { probe: 'ena.allowanceExceeded', target: 'flooded-nodes', stat: 'total', op: '>=', value: 1, why: 'the cause is untouched' },
    ],
    'dns-round-robin': [
      {
        probe: 'syn.toOldPodIps',
        stat: 'peakRate',
        window: 'rollout',
        op: '>=',
        value: 500,
        providers: ['lab', 'kind'],
        why: 'round_robin subchannels reconnect every 0.3 s too',
      },
      {
        probe: 'martian.drops',
        target: 'flooded-nodes',
        stat: 'total',
        op: '>=',
        value: 100,
        providers: ['lab', 'kind'],
        why: 'until the cached records expire, the resolvers hand grpc-js the deleted IP again',
      },
      {
        probe: 'ena.allowanceExceeded',
        target: 'flooded-nodes',
        stat: 'total',
        op: '>=',
        value: 1,
        // lab only: on kind the records follow readiness (no propagation delay), the flood lasts ~TTL: unmeasured
        providers: ['lab'],
        why: 'resolving through DNS does not shorten the flood below the propagation delay + TTL',
      },
      { probe: 'estab.failed', target: 'flooded-nodes', stat: 'total', op: '==', value: 0, providers: ['lab', 'kind'] },
      {
        probe: 'ae.resolutions',
        stat: 'total',
        op: '>=',
        value: 100,
        providers: ['lab', 'kind'],
        why: 'grpc-js re-resolves on every lost connection (min 5 s apart per channel)',
      },
      {
        probe: 'ae.backendSetChanges',
        stat: 'total',
        op: '>=',
        value: 2,
        why: 'each client learned the new records',
        providers: ['lab', 'kind'],
      },
    ],
  },
  compare: [
    {
      ratio: ['baseline', 'fix'],
      probe: 'grpc.connectAttempts',
      stat: 'total',
      window: 'rollout',
      op: '>=',
      value: 5,
      why: 'the fix cuts the reconnect attempts (each one a new flow)',
    },
    {
      ratio: ['baseline', 'fix'],
      probe: 'syn.toOldPodIps',
      stat: 'total',
      op: '>=',
      value: 2.5,
      why: 'fewer SYNs reach the old IPs (the fix still sends kernel SYN retransmits: same flow, no new entry)',
    },
    { ratio: ['baseline', 'cilium-unreachable'], probe: 'martian.drops', stat: 'total', op: '>=', value: 100 },
    // the talk's "DNS fix": the symptom node-local DNS shows changes, the DNS errors do not go away
    {
      ratio: ['baseline', 'nld-bigger'],
      probe: 'nld.rejects',
      target: 'flooded-nodes',
      stat: 'total',
      op: '>=',
      value: 3,
      providers: ['lab'],
      why: '4× the concurrency: (almost) no rejects; on kind the baseline is stock node-local-dns, which has no max_concurrent',
    },
    {
      ratio: ['nld-bigger', 'baseline'],
      probe: 'dns.errors',
      target: 'flooded-node-pods',
      stat: 'total',
      op: '>=',
      value: 0.5,
      why: 'the DNS errors are not cut below half: the cause is the ENA allowance, not node-local DNS',
    },
  ],
  fastTimeScale: 0.5,
});
