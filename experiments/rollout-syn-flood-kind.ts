// The flagship (rollout-syn-flood.ts) with the expectations that hold on kind, about the mechanism that exists
// there: Cilium sets rp_filter=0, so the SYNs to a deleted pod's IP are not martians but Cilium's own drops
// ("Stale or unroutable IP"), and node-local-dns's failure to connect upstream shows in its CoreDNS health checks.
// A separate experiment, not `providers: [kind]` lines in the flagship: there they would be n/a in every lab run's
// verdict and JUnit, and the flagship's lab numbers (19 expectations, all passing) are measured and quoted.
// On the lab the two kind-only expectations are n/a; everything else is the flagship's, unchanged. The flagship's
// cilium-unreachable ICMP expectation applies on kind as it is (kind now reads pods' own counters). Cilium's
// conntrack map on the client node stands in for the ENA's view of "every reconnect is a new flow".
import { defineExperiment } from '../harness/spec/schema.js';
import flagship from './rollout-syn-flood.js';

// The flagship's DNS-discovery variant runs on kind too: the records are the Metrics Service's headless Service
// (docs/dns-discovery.md); its expectations that hold there say providers: [lab, kind], plus Cilium's drops below.
const flagshipExpect = flagship.expect ?? {};

export default defineExperiment({
  ...flagship,
  name: 'rollout-syn-flood-kind',
  description: `${flagship.description} (with the expectations that hold on kind: Cilium's stale-IP drops instead of martians, node-local-dns's failed upstream health checks, Cilium's conntrack entries on the client node)`,
  expect: {
    ...flagshipExpect,
    baseline: [
      ...(flagshipExpect.baseline ?? []),
      {
        probe: 'cilium.staleIpDrops',
        target: 'flooded-nodes',
        stat: 'total',
        op: '>=',
        value: 100,
        providers: ['kind'],
        why: "the SYNs to the deleted IP die in Cilium's datapath (rp_filter=0: no martians on kind)",
      },
      {
        probe: 'nld.upstreamFailures',
        target: 'flooded-nodes',
        stat: 'total',
        op: '>=',
        value: 1,
        providers: ['kind'],
        why: 'node-local DNS cannot open TCP connections upstream: its health checks (TCP, force_tcp) fail',
      },
      // Cilium's conntrack: every reconnect attempt is a new flow leaving the client pod, and bpf_lxc creates a CT
      // entry for a new egress flow (CT_NEW) before the packet is routed, whether or not the destination still
      // exists; with no reply it stays for the SYN timeout (60 s). So the entries pile up on the Alerting Engine's
      // node (other-nodes). Not on the flooded node: the old pod's endpoint program is gone and the packet is
      // dropped as "Stale or unroutable IP" without a CT entry.
      {
        probe: 'cilium.ctEntries',
        target: 'other-nodes',
        stat: 'max',
        op: '>=',
        value: 1000,
        providers: ['kind'],
        why: "each reconnect to the deleted IP is a new flow in the client node's Cilium conntrack map (SYN timeout 60 s)",
      },
    ],
    'dns-round-robin': [
      ...(flagshipExpect['dns-round-robin'] ?? []),
      {
        probe: 'cilium.staleIpDrops',
        target: 'flooded-nodes',
        stat: 'total',
        op: '>=',
        value: 100,
        providers: ['kind'],
        why: "until the cached records expire, grpc-js reconnects to the deleted IP: Cilium's stale-IP drops",
      },
    ],
  },
  compare: [
    ...(flagship.compare ?? []),
    {
      ratio: ['baseline', 'fix'],
      probe: 'cilium.ctEntries',
      target: 'other-nodes',
      stat: 'max',
      op: '>=',
      value: 3,
      providers: ['kind'],
      why: "the fix's few attempts (1 s initial backoff, 20 s connect timeout) leave the client node's conntrack map small",
    },
  ],
});
