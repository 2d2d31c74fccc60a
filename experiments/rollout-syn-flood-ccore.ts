// The flagship with the talk's own client stack: gRPC C-core (Debian's python3-grpcio through /usr/bin/python3,
// workloads/python-client/client.py) as a custom client (docs/client-contract.md) instead of the grpc-js Alerting
// Engine, next to the grpc-js engine with the same channels and reconnect settings. The C-core client gets the
// talk's three options (min/initial/max reconnect backoff 100/200/300 ms); the grpc-js engine emulates C-core's
// connect deadline with connectTimeoutMs 300. README.md "C-core vs the grpc-js emulation" compares their SYN/s to
// the old IPs and connect attempts during the graceful stop (refused) and after the deletion (black hole).
import { defineExperiment } from '../harness/spec/schema.js';

const CCORE = ['/usr/bin/python3', 'workloads/python-client/client.py'];
const TALK = { initialMs: 200, maxMs: 300, connectTimeoutMs: 300 };

export default defineExperiment({
  name: 'rollout-syn-flood-ccore',
  description:
    "the talk's own stack: a gRPC C-core client with a 300 ms max reconnect backoff SYN-floods the old pod IPs and breaks node-local DNS; C-core's defaults do not",
  topology: { nodes: 3, serverNodes: 2 },
  // half the flagship's channels (a Python client per pod), so half its allowance
  ena: { conntrackAllowance: 2000, timeouts: { unrepliedSeconds: 20, establishedSeconds: 432_000, closedSeconds: 5 } },
  workloads: {
    metricsService: { replicas: 2, gracefulStopSeconds: 10, dnsLookupsPerSecond: 20 },
    alertingEngine: { instances: 2, channelsPerBackend: 100, discovery: 'per-backend', callIntervalMs: 1000, dnsPropagationSeconds: 20 },
  },
  steps: [{ steady: 15 }, { rollout: { batch: 1 } }, { observe: 40 }, { recover: 6 }],
  variants: {
    'ccore-baseline': {
      description: "C-core with the talk's options: grpc.min/initial/max_reconnect_backoff_ms = 100/200/300",
      workloads: {
        alertingEngine: { reconnect: TALK },
        client: { command: [...CCORE, '--min-reconnect-backoff-ms', '100'], metricsPort: 9464 },
      },
    },
    'ccore-fix': {
      description: "the talk's fix on C-core: the options removed, C-core's defaults (1 s initial, 120 s max, 20 s min connect timeout)",
      workloads: { alertingEngine: { reconnect: 'grpc-defaults' }, client: { command: CCORE, metricsPort: 9464 } },
    },
    'grpcjs-baseline': {
      description: 'the grpc-js Alerting Engine with the same channels, backoff 200/300 ms and its emulated 300 ms connect deadline',
      workloads: { alertingEngine: { reconnect: TALK } },
    },
    'grpcjs-fix': {
      description: 'the grpc-js Alerting Engine with gRPC defaults and its emulated 20 s connect deadline',
      workloads: { alertingEngine: { reconnect: 'grpc-defaults' } },
    },
  },
  expect: {
    'ccore-baseline': [
      { probe: 'syn.toOldPodIps', stat: 'peakRate', window: 'rollout', op: '>=', value: 200, why: 'C-core reconnects every ~0.3 s' },
      { probe: 'ena.allowanceExceeded', target: 'flooded-nodes', stat: 'total', op: '>=', value: 1, why: 'every attempt is a new flow' },
      { probe: 'dns.errors', target: 'flooded-node-pods', stat: 'total', op: '>=', value: 1, why: 'node-local DNS loses its upstream TCP' },
      { probe: 'grpc.calls', stat: 'total', op: '>=', value: 100, why: 'the C-core client exposes its calls (metricsPort)' },
    ],
    'ccore-fix': [
      { probe: 'ena.allowanceExceeded', stat: 'total', op: '==', value: 0, why: "C-core's defaults: no flood, no refused flow" },
      { probe: 'dns.errors', stat: 'total', op: '==', value: 0 },
    ],
    'grpcjs-baseline': [
      { probe: 'syn.toOldPodIps', stat: 'peakRate', window: 'rollout', op: '>=', value: 200 },
      { probe: 'ena.allowanceExceeded', target: 'flooded-nodes', stat: 'total', op: '>=', value: 1 },
    ],
    'grpcjs-fix': [{ probe: 'ena.allowanceExceeded', stat: 'total', op: '==', value: 0 }],
  },
  compare: [
    {
      ratio: ['ccore-baseline', 'ccore-fix'],
      probe: 'syn.toOldPodIps',
      stat: 'total',
      op: '>=',
      value: 2.5,
      why: "the fix cuts C-core's SYNs to the old IPs",
    },
  ],
  fastTimeScale: 0.5,
});
