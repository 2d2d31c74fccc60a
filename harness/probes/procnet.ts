// Readers of /proc/net files, the same on every provider (a lab namespace, a node container, a node of a cluster).

/** Parse /proc/net/netstat or /proc/net/snmp ("TcpExt: names" / "TcpExt: values" line pairs) into {"TcpExtName": n}. */
export function parseNetstat(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  const lines = text.trim().split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const h = lines[i]!.split(/\s+/),
      v = lines[i + 1]!.split(/\s+/);
    const prefix = h[0]!.replace(/:$/, '');
    for (let j = 1; j < h.length; j++) out[prefix + h[j]] = Number(v[j]);
  }
  return out;
}

/** Entries in the kernel conntrack table of the namespace, from /proc/net/stat/nf_conntrack (first column, hex). */
export function parseConntrackCount(text: string): number {
  const line = text.trim().split('\n')[1];
  return line ? parseInt(line.trim().split(/\s+/)[0]!, 16) : 0;
}
