// --provider kubeconfig runs the flood against an existing cluster: it is opt-in, loudly.
import { NotdnsError } from '../../errors.js';

export const I_KNOW_FLAG = '--i-know-this-is-not-a-test-cluster';
export const ENA_SIMULATOR_FLAG = '--ena-simulator';

/**
 * The ENA simulator (harness/ena) on the nodes of an existing cluster. An EC2 node has the real allowance, so the
 * default attaches nothing and reads the node's own counters (`ethtool -S`, harness/providers/kubeconfig/ethtool.ts).
 *  - off: no tc program on any real ENI; ena.allowanceExceeded / ena.allowanceAvailable from ethtool -S; no SYN or
 *    flow counts (those only the simulator makes).
 *  - count: the simulator in counting-only mode (never drops) on the node's ENA interfaces, for the SYN-per-
 *    destination and flow counts; the allowance counters still from ethtool -S.
 *  - enforce: the simulator as on lab and kind (the experiment's `ena` settings, drops at its allowance); every
 *    ena.* series is the simulator's.
 * count and enforce put a tc filter at pref 1 on a real ENI, in front of the CNI (harness/ena/README.md "Order"):
 * with Cilium's default tcx attachment it would see nothing and be deleted by Cilium; hence the explicit flag.
 */
import { ENA_SIMULATOR_MODES, type EnaSimulatorMode } from '../types.js';
export { ENA_SIMULATOR_MODES, type EnaSimulatorMode };

export interface KubeconfigProviderOptions {
  /** Set by --i-know-this-is-not-a-test-cluster. Without it the provider refuses to do anything. */
  iKnowThisIsNotATestCluster?: boolean;
  /** kubeconfig context (default: the current context of the kubeconfig). */
  context?: string;
  /** kubeconfig file (default: KUBECONFIG or ~/.kube/config). */
  kubeconfig?: string;
  /** Workload image in a registry the cluster pulls from (e.g. ECR). Env: NOTDNS_WORKLOAD_IMAGE. */
  image?: string;
  /** Node agent image (privileged, needs nsenter): default debian:bookworm-slim. */
  agentImage?: string;
  /** The pod network (--pod-cidr, NOTDNS_POD_CIDR): what the load generator may target. */
  podCidr?: string;
  /** --ena-simulator: default 'off' (real counters from ethtool -S, nothing attached). */
  enaSimulator?: EnaSimulatorMode;
}

/**
 * Refuse unless the user said, with the flag, that they know what this does. Throws NotdnsError kind 'usage'
 * naming the flag. Returns the options otherwise.
 */
export function validateKubeconfigOptions(o: KubeconfigProviderOptions): KubeconfigProviderOptions & { iKnowThisIsNotATestCluster: true } {
  if (o.iKnowThisIsNotATestCluster !== true) {
    throw new NotdnsError(
      `--provider kubeconfig runs a SYN flood, fills the ENA conntrack allowance and rolls out workloads on an existing cluster; it refuses to start without ${I_KNOW_FLAG}.`,
      {
        kind: 'usage',
        hint: `Use a throwaway cluster, then pass ${I_KNOW_FLAG} (and --context NAME). For CI and laptops use --provider kind or the default lab.`,
      },
    );
  }
  if (o.enaSimulator !== undefined && !(ENA_SIMULATOR_MODES as readonly string[]).includes(o.enaSimulator)) {
    throw new NotdnsError(`${ENA_SIMULATOR_FLAG} "${String(o.enaSimulator)}" is not one of ${ENA_SIMULATOR_MODES.join(', ')}`, {
      kind: 'usage',
      hint: `Leave it out (off: read the real ENA counters with ethtool -S, attach nothing), or ${ENA_SIMULATOR_FLAG} count|enforce to attach the simulator to the nodes' ENIs.`,
    });
  }
  return o as KubeconfigProviderOptions & { iKnowThisIsNotATestCluster: true };
}

/** Context names notdns will not touch even with the flag: they say production, or they are notdns's own kind clusters. */
export function checkContextName(context: string): void {
  if (!context) {
    throw new NotdnsError('the kubeconfig has no current context', { kind: 'usage', hint: 'Pass --context NAME.' });
  }
  if (/(^|[^a-z])(prod|production|prd|live)([^a-z]|$)/i.test(context)) {
    throw new NotdnsError(`context "${context}" looks like a production cluster; notdns will not flood it`, {
      kind: 'usage',
      hint: 'Rename the context of a test cluster so that it does not say prod/production/prd/live, or use another cluster.',
    });
  }
  if (/^kind-nd-/.test(context)) {
    throw new NotdnsError(`context "${context}" is a notdns kind cluster`, { kind: 'usage', hint: 'Use --provider kind for those.' });
  }
}
