// The talk's chapter 3: why the flooded node never saw the SYNs. The secondary ENI (ens6) has no address, so the
// kernel's reverse-path filter rejects packets to a deleted pod's IP even in loose mode (__fib_validate_source →
// no_addr → last_resort → -EXDEV): martian drops, and no conntrack entry on the receiving node. Give ens6 any
// address and loose mode passes them: no martians, the node's conntrack sees the flows like the client's does
// (they are then dropped further on, here by the VPC's source/destination check).
import { defineExperiment } from '../harness/spec/schema.js';

export default defineExperiment({
  name: 'rp-filter-edge-case',
  description:
    'an ENI without an address makes rp_filter=2 drop SYNs to a deleted pod IP as martians; with an address they pass and conntrack is consistent',
  topology: { nodes: 2, serverNodes: 1 },
  ena: { enabled: false },
  workloads: {
    metricsService: { replicas: 1, gracefulStopSeconds: 4, dnsLookupsPerSecond: 0 },
    alertingEngine: {
      instances: 1,
      channelsPerBackend: 100,
      dnsPropagationSeconds: 15,
      reconnect: { initialMs: 200, maxMs: 300, connectTimeoutMs: 300 },
    },
  },
  steps: [{ steady: 6 }, { rollout: { batch: 1 } }, { observe: 12 }],
  variants: {
    'eni-without-address': { description: 'ens6 has no IPv4 address (Cilium ENI mode as in the talk)' },
    'eni-with-address': {
      description: 'ens6 has an unrelated /32 (newer Cilium gives the interface an address)',
      topology: { eniHasAddress: true },
    },
  },
  // the SYN counts and the comparison are lab only: no other provider can give the ENI an address (eniHasAddress),
  // so both variants would be the same cluster there (kind nodes have no secondary ENI at all; see `notdns plan`)
  expect: {
    'eni-without-address': [
      { probe: 'martian.drops', target: 'flooded-nodes', stat: 'total', op: '>=', value: 100 },
      { probe: 'syn.toOldPodIps', stat: 'total', op: '>=', value: 100, why: 'the SYNs do reach the node', providers: ['lab'] },
    ],
    'eni-with-address': [
      { probe: 'martian.drops', stat: 'total', op: '==', value: 0 },
      { probe: 'syn.toOldPodIps', stat: 'total', op: '>=', value: 100, providers: ['lab'] },
    ],
  },
  compare: [
    {
      ratio: ['eni-with-address', 'eni-without-address'],
      probe: 'ct.count',
      target: 'flooded-nodes',
      stat: 'max',
      window: 'after-rollout',
      op: '>=',
      value: 2,
      providers: ['lab'],
      why: 'with an address the receiving node tracks the SYNs (SYN_SENT), like the sender: conntrack sizes become consistent',
    },
  ],
});
