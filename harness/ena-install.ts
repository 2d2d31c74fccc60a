// How the ENA allowance is measured on a cluster for one variant, and the reader the recorder samples it with.
//  - lab, kind: the ENA simulator (harness/ena) on every node. With ena.enabled=false it runs in counting-only mode
//    (never drops): the same program is then just the exact SYN-per-destination counter on the node's uplinks.
//  - kubeconfig (real EC2 nodes): by default NO tc program on a real ENI; the node's own counters are read with
//    `ethtool -S` on its ENA interfaces (harness/providers/kubeconfig/ethtool.ts). `--ena-simulator count` adds the
//    simulator in counting-only mode for the SYN and flow counts (the allowance counters stay the real ones);
//    `--ena-simulator enforce` runs the simulator as on kind, and every ena.* number is then the simulator's.
import {
  attachEna,
  detachEna,
  enaBpffsDir,
  enaPinDir,
  ensureBpffs,
  readEnaStats,
  releaseBpffs,
  tcxLinksOnNode,
  type EnaHandle,
  type EnaStats,
} from './ena/index.js';
import { NotdnsError } from './errors.js';
import type { EnaSample } from './probes/recorder.js';
import { isRealEnaNode, type NodeEnaCounters } from './providers/kubeconfig/ethtool.js';
import type { Cluster, ClusterNode } from './providers/types.js';
import type { VariantConfig } from './spec/schema.js';

export interface EnaInstall {
  handles: EnaHandle[];
  /** Where the ena.* numbers come from, in words (the run's progress line). */
  describe: string;
  read(node: ClusterNode): Promise<EnaSample | undefined>;
  remove(): Promise<void>;
}

/** What measures the allowance on a cluster: the simulator (as the experiment's `ena` says, or counting only, or
 *  not at all) and whether the nodes' real counters are read (ethtool -S). */
export interface EnaMeasurement {
  simulator: 'experiment' | 'count' | 'none';
  realCounters: boolean;
}

/** The simulator as the experiment says (lab, kind), or, where the real counters are the default (an existing
 *  cluster), as --ena-simulator says (default off). */
export function enaMeasurementOf(cluster: Pick<Cluster, 'capabilities' | 'enaSimulator'>): EnaMeasurement {
  if (cluster.capabilities.enaDefault === 'simulator') return { simulator: 'experiment', realCounters: false };
  switch (cluster.enaSimulator ?? 'off') {
    case 'off':
      return { simulator: 'none', realCounters: true };
    case 'count':
      return { simulator: 'count', realCounters: true };
    case 'enforce':
      return { simulator: 'experiment', realCounters: false };
  }
}

export async function installEna(cluster: Cluster, cfg: VariantConfig, stateDir: string): Promise<EnaInstall> {
  const how = enaMeasurementOf(cluster);
  const sim =
    how.simulator === 'none'
      ? { handles: [] as EnaHandle[], remove: async () => undefined }
      : await attachSimulator(cluster, cfg, stateDir, how.simulator === 'count');
  const byNode = new Map(sim.handles.map((h) => [h.node, h]));
  const readSim = async (node: ClusterNode) => {
    const h = byNode.get(node);
    return h ? toEnaSample(await readEnaStats(h)) : undefined;
  };
  const describe =
    how.simulator === 'experiment'
      ? `ENA simulator on ${cluster.nodes.length} nodes: ${cfg.ena.enabled ? `allowance ${cfg.ena.conntrackAllowance} flows, unreplied idle ${cfg.ena.timeouts.unrepliedSeconds}s` : 'counting only'}${rateText(cfg)}`
      : `ENA: the nodes' real counters (ethtool -S)${how.simulator === 'count' ? ', the simulator counting SYNs and flows on their ENIs (never drops)' : ', nothing attached'}`;
  if (!how.realCounters) return { handles: sim.handles, remove: sim.remove, describe, read: readSim };

  // real counters: every node must be a real ENA node; read each once now, so that a node without ENA is refused
  // before the run starts (the recorder only logs a failed read)
  try {
    const nodes = cluster.nodes.map((n) => {
      if (!isRealEnaNode(n)) throw new NotdnsError(`node ${n.name} cannot read real ENA counters`, { kind: 'harness' });
      return n;
    });
    await Promise.all(nodes.map((n) => n.readNodeEnaCounters()));
  } catch (e) {
    await sim.remove();
    throw e;
  }
  return {
    handles: sim.handles,
    remove: sim.remove,
    describe,
    async read(node) {
      if (!isRealEnaNode(node)) return undefined;
      const [real, s] = await Promise.all([node.readNodeEnaCounters(), readSim(node)]);
      return realEnaSample(real, s);
    },
  };
}

/** The rate allowances that are on, for the progress line ('' when all are off). */
function rateText(cfg: VariantConfig): string {
  const on = [
    cfg.ena.linklocalPps ? `link-local ${cfg.ena.linklocalPps} pps` : '',
    cfg.ena.pps ? `${cfg.ena.pps} pps` : '',
    cfg.ena.bwInBytesPerSec ? `bw in ${cfg.ena.bwInBytesPerSec} B/s` : '',
    cfg.ena.bwOutBytesPerSec ? `bw out ${cfg.ena.bwOutBytesPerSec} B/s` : '',
  ].filter(Boolean);
  return on.length ? `; ${on.join(', ')}${cfg.ena.enabled ? '' : ' (counted only)'}` : '';
}

async function attachSimulator(
  cluster: Cluster,
  cfg: VariantConfig,
  stateDir: string,
  countOnly: boolean,
): Promise<{ handles: EnaHandle[]; remove(): Promise<void> }> {
  const servers = new Set(cluster.nodes.slice(0, cfg.topology.serverNodes));
  // pins on the host (lab nodes share its filesystem): a private bpffs of the run holds every node's pins, read
  // from here. Pins on the node (a kind/kubeconfig node is another machine or container): its own /sys/fs/bpf
  // (Cilium mounts it there), under notdns/<run>/<node>, read on the node.
  const lab = cluster.capabilities.enaPins === 'host';
  // a real node (own kernel): refuse where tcx programs would run before the simulator and hide every packet from it
  if (cluster.capabilities.foreignDatapath) for (const n of cluster.nodes) await refuseTcx(n);
  const bpffs = lab ? await ensureBpffs(enaBpffsDir(stateDir)) : `/sys/fs/bpf/notdns/${cluster.runId}`;
  const handles: EnaHandle[] = [];
  const disarms: (() => Promise<void>)[] = [];
  const remove = async () => {
    for (const d of disarms.splice(0)) await d().catch(() => undefined);
    for (const h of handles.splice(0)) await detachEna(h).catch(() => undefined);
    if (lab) await releaseBpffs(bpffs);
  };
  try {
    for (const n of cluster.nodes) {
      handles.push(
        await attachEna(n, {
          allowance: !countOnly && cfg.ena.enabled && (servers.has(n) || cfg.ena.enforceOnClientNodes) ? cfg.ena.conntrackAllowance : 0,
          pinDir: enaPinDir(bpffs, n.name),
          timeouts: {
            unrepliedSeconds: cfg.ena.timeouts.unrepliedSeconds,
            establishedSeconds: cfg.ena.timeouts.establishedSeconds,
            closedSeconds: cfg.ena.timeouts.closedSeconds,
          },
          // the per-ENI rate allowances: enforced on every node (not only the servers'), counted when not enforcing
          rates: {
            linklocalPps: cfg.ena.linklocalPps ?? 0,
            pps: cfg.ena.pps ?? 0,
            bwInBytesPerSec: cfg.ena.bwInBytesPerSec ?? 0,
            bwOutBytesPerSec: cfg.ena.bwOutBytesPerSec ?? 0,
            countOnly: countOnly || !cfg.ena.enabled,
          },
          stateDir,
          readOnHost: lab,
        }),
      );
      if (cluster.armEnaDeadMan) disarms.push(await cluster.armEnaDeadMan(handles[handles.length - 1]!));
    }
  } catch (e) {
    await remove();
    throw e;
  }
  return { handles, remove };
}

async function refuseTcx(node: ClusterNode): Promise<void> {
  const links = await tcxLinksOnNode(node);
  if (links.length === 0) return;
  throw new NotdnsError(
    `node ${node.name} runs ${links.length} tcx program(s) (link ids ${links
      .slice(0, 5)
      .map((l) => l.id)
      .join(', ')}${links.length > 5 ? ', ...' : ''}): ` +
      'tcx programs run before every classic tc filter, so the ENA simulator (a classic filter at pref 1) would not see the packets they pass, and Cilium deletes the classic filters of a hook it attaches to with tcx.',
    {
      kind: 'environment',
      hint: 'Leave --ena-simulator off (the real ENA counters, nothing attached), or run Cilium with bpf.enableTCX=false and its tc filter priority above 1 (harness/ena/README.md, "Order on a hook shared with a CNI").',
    },
  );
}

/** What the recorder keeps of a read of the simulator. */
export function toEnaSample(s: EnaStats): EnaSample {
  return {
    allowanceExceeded: s.allowanceExceeded,
    allowanceAvailable: s.allowanceAvailable,
    trackedFlows: s.trackedFlows,
    newFlows: s.newFlows,
    flowsByFlag: { syn: s.flowsByFlag.syn, fin: s.flowsByFlag.fin, rst: s.flowsByFlag.rst, none: s.flowsByFlag.none },
    synsByDst: s.synsByDst,
    synsByDstEgress: s.synsByDstEgress,
    otherAllowances: {
      bwInExceeded: s.bwInExceeded,
      bwOutExceeded: s.bwOutExceeded,
      ppsExceeded: s.ppsExceeded,
      linklocalExceeded: s.linklocalExceeded,
    },
    linklocalPackets: s.linklocalPackets,
  };
}

/**
 * A real node's sample: the allowance counters from ethtool -S (summed over its ENA interfaces; no
 * allowanceAvailable with ENA drivers < 2.8.1), the other four allowance counters kept for later, and, when the
 * simulator counts on the node (--ena-simulator count), its SYN and flow counts (its own allowance numbers, of a
 * table that never drops, are not used).
 */
export function realEnaSample(real: NodeEnaCounters, sim?: EnaSample): EnaSample {
  const out: EnaSample = { allowanceExceeded: real.conntrackAllowanceExceeded };
  if (real.conntrackAllowanceAvailable !== undefined) out.allowanceAvailable = real.conntrackAllowanceAvailable;
  if (sim) {
    out.trackedFlows = sim.trackedFlows;
    out.newFlows = sim.newFlows;
    out.flowsByFlag = sim.flowsByFlag;
    out.synsByDst = sim.synsByDst;
    out.synsByDstEgress = sim.synsByDstEgress;
    if (sim.linklocalPackets !== undefined) out.linklocalPackets = sim.linklocalPackets;
  }
  out.otherAllowances = {
    bwInExceeded: real.bwInAllowanceExceeded,
    bwOutExceeded: real.bwOutAllowanceExceeded,
    ppsExceeded: real.ppsAllowanceExceeded,
    linklocalExceeded: real.linklocalAllowanceExceeded,
  };
  return out;
}
