// Real ENA counters from `ethtool -S <iface>` on an EC2 node (AWS "Monitor network performance for ENA
// settings"): conntrack_allowance_exceeded counts packets dropped because the instance's tracked-connection
// allowance was full; conntrack_allowance_available is how many more tracked connections it can take
// (ENA driver >= 2.8.1). Pure parsing; tested with real output.

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
export const LIST_ENA_INTERFACES = 'for i in /sys/class/net/*; do d=$(readlink "$i/device/driver" 2>/dev/null); case "$d" in */ena) echo "${i##*/}";; esac; done';
