// IPv4 backends ("ip:port") and CIDR allow-lists: the workloads' safety net against flooding anything but the lab.
import { isIPv4 } from 'node:net';

export interface Backend {
  host: string;
  port: number;
  /** "ip:port", the canonical form used as a map key and in metrics/logs. */
  key: string;
}

export interface Cidr {
  text: string;
  net: number;
  mask: number;
}

export function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((a, o) => ((a << 8) | Number(o)) >>> 0, 0);
}

export function parseCidr(s: string): Cidr {
  const m = /^(\d+\.\d+\.\d+\.\d+)(?:\/(\d{1,2}))?$/.exec(s.trim());
  const bits = m ? Number(m[2] ?? 32) : NaN;
  if (!m || !isIPv4(m[1]) || bits > 32) throw new Error(`expected an IPv4 CIDR like 10.1.0.0/16, got "${s}"`);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { text: `${m[1]}/${bits}`, net: (ipv4ToInt(m[1]) & mask) >>> 0, mask };
}

export function inCidrs(ip: string, cidrs: readonly Cidr[]): boolean {
  if (!isIPv4(ip)) return false;
  const n = ipv4ToInt(ip);
  return cidrs.some((c) => (n & c.mask) >>> 0 === c.net);
}

export function parseBackend(s: string): Backend {
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d{1,5})$/.exec(s.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !isIPv4(m[1]) || port < 1 || port > 65535) throw new Error(`expected IPv4:PORT like 10.1.0.10:50051, got "${s}"`);
  return { host: m[1], port, key: `${m[1]}:${port}` };
}

/** "ip:port,ip:port" → backends, duplicates removed (first occurrence kept). */
export function parseBackendList(s: string): Backend[] {
  const items = s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  return dedupe(items.map(parseBackend));
}

export function dedupe(bs: Backend[]): Backend[] {
  const seen = new Set<string>();
  return bs.filter((b) => {
    if (seen.has(b.key)) return false;
    seen.add(b.key);
    return true;
  });
}
