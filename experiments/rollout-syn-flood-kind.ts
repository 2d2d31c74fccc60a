// The flagship (rollout-syn-flood.ts) with the expectations that hold on kind, about the mechanism that exists
// there: Cilium sets rp_filter=0, so the SYNs to a deleted pod's IP are not martians but Cilium's own drops
// ("Stale or unroutable IP"), and node-local-dns's failure to connect upstream shows in its CoreDNS health checks.
// A separate experiment, not `providers: [kind]` lines in the flagship: there they would be n/a in every lab run's
// verdict and JUnit, and the flagship's lab numbers (19 expectations, all passing) are measured and quoted.
// On the lab the two kind-only expectations are n/a; everything else is the flagship's, unchanged. The flagship's
// cilium-unreachable ICMP expectation applies on kind as it is (kind now reads pods' own counters).
import { defineExperiment } from '../harness/spec/schema.js';
import flagship from './rollout-syn-flood.js';

// DNS discovery needs records the harness can change: the lab's nsd only (its expectations say providers: [lab])
const { 'dns-round-robin': _dns, ...variants } = flagship.variants;
const { 'dns-round-robin': _dnsExpect, ...flagshipExpect } = flagship.expect ?? {};

export default defineExperiment({
  ...flagship,
  name: 'rollout-syn-flood-kind',
  variants,
  description: `${flagship.description} (with the expectations that hold on kind: Cilium's stale-IP drops instead of martians, node-local-dns's failed upstream health checks)`,
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
    ],
  },
});
