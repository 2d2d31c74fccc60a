// Real ENA counters from `ethtool -S <iface>` on an EC2 node (AWS "Monitor network performance for ENA
// settings"): conntrack_allowance_exceeded counts packets dropped because the instance's tracked-connection
// allowance was full; conntrack_allowance_available is how many more tracked connections it can take
// (ENA driver >= 2.8.1). Pure parsing; tested with real output.
import { NotdnsError } from '../../errors.js';

/** `ethtool -S` output ("NIC statistics:" then "     name: value" lines) → {name: value}. */
export function parseEthtoolStats(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z0-9_.[\]-]+):\s*(-?\d+)\s*$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

export interface EnaCounters {
  conntrackAllowanceExceeded: number;
  /** undefined with ENA drivers older than 2.8.1 */
  conntrackAllowanceAvailable?: number;
  bwInAllowanceExceeded?: number;
  bwOutAllowanceExceeded?: number;
  ppsAllowanceExceeded?: number;
  linklocalAllowanceExceeded?: number;
}

/** The allowance counters of an ENA interface; undefined when the text is not from an ENA device. */
export function enaCounters(stats: Record<string, number>): EnaCounters | undefined {
  if (stats.conntrack_allowance_exceeded === undefined) return undefined;
  return {
    conntrackAllowanceExceeded: stats.conntrack_allowance_exceeded,
    conntrackAllowanceAvailable: stats.conntrack_allowance_available,
    bwInAllowanceExceeded: stats.bw_in_allowance_exceeded,
    bwOutAllowanceExceeded: stats.bw_out_allowance_exceeded,
    ppsAllowanceExceeded: stats.pps_allowance_exceeded,
    linklocalAllowanceExceeded: stats.linklocal_allowance_exceeded,
  };
}

/** The shell snippet that lists a node's ENA interfaces (driver symlink ends in /ena). */
export const LIST_ENA_INTERFACES =
  'for i in /sys/class/net/*; do d=$(readlink "$i/device/driver" 2>/dev/null); case "$d" in */ena) echo "${i##*/}";; esac; done';

// ---------------------------------------------------------------------------------------------------------------
// One read of all of a node's ENA interfaces (the recorder reads every node every second: one exec per node).

/**
 * Run on the node with the interface names as arguments: for each one a marker line with its driver (the basename of
 * /sys/class/net/IF/device/driver, empty for virtual devices), the output of `ethtool -S IF`, then its exit status.
 */
export const READ_ENA_SCRIPT =
  'for i in "$@"; do d=$(readlink "/sys/class/net/$i/device/driver" 2>/dev/null); ' +
  'echo "@@notdns-iface $i ${d##*/}"; ethtool -S "$i" 2>&1; echo "@@notdns-rc $?"; done';

export interface EthtoolSection {
  iface: string;
  driver: string;
  exitCode: number;
  text: string;
}

/** The output of READ_ENA_SCRIPT, one section per interface (pure; tested). */
export function parseEthtoolSections(out: string): EthtoolSection[] {
  const sections: EthtoolSection[] = [];
  let cur: EthtoolSection | undefined;
  for (const line of out.split('\n')) {
    const head = /^@@notdns-iface (\S+) ?(\S*)$/.exec(line);
    if (head) {
      cur = { iface: head[1]!, driver: head[2] ?? '', exitCode: -1, text: '' };
      sections.push(cur);
      continue;
    }
    const rc = /^@@notdns-rc (\d+)$/.exec(line);
    if (rc && cur) {
      cur.exitCode = Number(rc[1]);
      cur = undefined;
      continue;
    }
    if (cur) cur.text += `${line}\n`;
  }
  return sections;
}

/** A node's ENA allowance counters, each summed over its ENA interfaces. */
export interface NodeEnaCounters extends EnaCounters {
  /** The interfaces that were read and summed. */
  interfaces: string[];
  /** Per interface, as read (for when a sum is not the right way to combine them). */
  perInterface: Record<string, EnaCounters>;
}

/**
 * Sum the counters of a node's interfaces (pure; tested). Every interface must be an ENA device: one that is not
 * (no conntrack_allowance_exceeded in its `ethtool -S`), or whose ethtool failed, is refused with the reason.
 * The *_exceeded counters count packets dropped on that ENI: the node's total is their sum.
 * conntrack_allowance_available is present only if every interface reports it (ENA driver >= 2.8.1 with the
 * extended metrics), and is then summed too. AWS describes it as what the instance can still track: if every ENI of
 * an instance reports the same instance-wide number, the sum over several ENIs overstates it (it still reaches 0
 * when the allowance is full); `perInterface` keeps the raw values. Unverified on a multi-ENI node.
 */
export function sumEnaCounters(node: string, sections: readonly EthtoolSection[]): NodeEnaCounters {
  if (sections.length === 0) throw new NotdnsError(`node ${node}: no interface to read the ENA counters of`, { kind: 'harness' });
  const perInterface: Record<string, EnaCounters> = {};
  for (const s of sections) {
    if (s.exitCode === 127 || (s.exitCode !== 0 && /ethtool: (command )?not found|ethtool: No such file/.test(s.text))) {
      throw new NotdnsError(`ethtool is not installed on node ${node}: the real ENA counters are read with \`ethtool -S\``, {
        kind: 'environment',
        hint: `Install ethtool on the node image (EKS AMIs have it), or pass ${SIMULATOR_HINT}`,
      });
    }
    const c = s.exitCode === 0 ? enaCounters(parseEthtoolStats(s.text)) : undefined;
    if (!c) {
      const why =
        s.exitCode !== 0
          ? `\`ethtool -S ${s.iface}\` failed (exit ${s.exitCode}): ${s.text.trim().split('\n').slice(-2).join(' | ') || 'no output'}`
          : `its \`ethtool -S\` has no conntrack_allowance_exceeded`;
      throw new NotdnsError(
        `${s.iface} on node ${node} is not an ENA interface (driver ${s.driver || 'none: a virtual device'}): ${why}. --provider kubeconfig reads the real ENA allowance counters of EC2 nodes.`,
        {
          kind: 'environment',
          hint: `Run on EC2 nodes (Nitro, ENA driver >= 2.2.10), or pass ${SIMULATOR_HINT}`,
        },
      );
    }
    perInterface[s.iface] = c;
  }
  const all = Object.values(perInterface);
  const sum = (k: keyof EnaCounters): number | undefined =>
    all.every((c) => c[k] !== undefined) ? all.reduce((a, c) => a + c[k]!, 0) : undefined;
  const out: NodeEnaCounters = {
    interfaces: Object.keys(perInterface),
    perInterface,
    conntrackAllowanceExceeded: sum('conntrackAllowanceExceeded')!,
  };
  for (const k of [
    'conntrackAllowanceAvailable',
    'bwInAllowanceExceeded',
    'bwOutAllowanceExceeded',
    'ppsAllowanceExceeded',
    'linklocalAllowanceExceeded',
  ] as const) {
    const v = sum(k);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

const SIMULATOR_HINT = '--ena-simulator enforce to simulate the allowance with a tc program instead (harness/ena).';

/** A node whose real ENA counters can be read (kubeconfig's AgentNode). */
export interface RealEnaNode {
  readonly name: string;
  readNodeEnaCounters(): Promise<NodeEnaCounters>;
}

export function isRealEnaNode(n: object): n is RealEnaNode {
  return typeof (n as Partial<RealEnaNode>).readNodeEnaCounters === 'function';
}
