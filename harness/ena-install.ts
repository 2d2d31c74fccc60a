// Put the ENA simulator (harness/ena) on every node of a cluster for one variant, and read it for the recorder.
// With ena.enabled=false it runs in counting-only mode (never drops): the same program is then just the exact
// SYN-per-destination counter on the node's uplinks.
import { attachEna, detachEna, enaBpffsDir, enaPinDir, ensureBpffs, readEnaStats, releaseBpffs, type EnaHandle, type EnaStats } from './ena/index.js';
import type { EnaSample } from './probes/recorder.js';
import type { Cluster, ClusterNode } from './providers/types.js';
import type { VariantConfig } from './spec/schema.js';

export interface EnaInstall {
  handles: EnaHandle[];
  read(node: ClusterNode): Promise<EnaSample | undefined>;
  remove(): Promise<void>;
}

export async function installEna(cluster: Cluster, cfg: VariantConfig, stateDir: string): Promise<EnaInstall> {
  const servers = new Set(cluster.nodes.slice(0, cfg.topology.serverNodes));
  // pins on the host (lab nodes share its filesystem): a private bpffs of the run holds every node's pins, read
  // from here. Pins on the node (a kind/kubeconfig node is another machine or container): its own /sys/fs/bpf
  // (Cilium mounts it there), under notdns/<run>/<node>, read on the node.
  const lab = cluster.capabilities.enaPins === 'host';
  const bpffs = lab ? await ensureBpffs(enaBpffsDir(stateDir)) : `/sys/fs/bpf/notdns/${cluster.runId}`;
  const handles: EnaHandle[] = [];
  const remove = async () => {
    for (const h of handles.splice(0)) await detachEna(h).catch(() => undefined);
    if (lab) await releaseBpffs(bpffs);
  };
  try {
    for (const n of cluster.nodes) {
      handles.push(await attachEna(n, {
        allowance: cfg.ena.enabled && (servers.has(n) || cfg.ena.enforceOnClientNodes) ? cfg.ena.conntrackAllowance : 0,
        pinDir: enaPinDir(bpffs, n.name),
        timeouts: { unrepliedSeconds: cfg.ena.timeouts.unrepliedSeconds, establishedSeconds: cfg.ena.timeouts.establishedSeconds, closedSeconds: cfg.ena.timeouts.closedSeconds },
        stateDir,
        readOnHost: lab,
      }));
    }
  } catch (e) {
    await remove();
    throw e;
  }
  const byNode = new Map(handles.map((h) => [h.node, h]));
  return {
    handles,
    remove,
    async read(node) {
      const h = byNode.get(node);
      if (!h) return undefined;
      return toEnaSample(await readEnaStats(h));
    },
  };
}

/** What the recorder keeps of a read of the simulator. */
export function toEnaSample(s: EnaStats): EnaSample {
  return {
    allowanceExceeded: s.allowanceExceeded, allowanceAvailable: s.allowanceAvailable, trackedFlows: s.trackedFlows, newFlows: s.newFlows,
    flowsByFlag: { syn: s.flowsByFlag.syn, fin: s.flowsByFlag.fin, rst: s.flowsByFlag.rst, none: s.flowsByFlag.none },
    synsByDst: s.synsByDst, synsByDstEgress: s.synsByDstEgress,
  };
}
