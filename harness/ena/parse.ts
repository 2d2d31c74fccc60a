// Pure parsing of what bpftool prints for the ENA simulator's maps (no I/O here: unit-tested without root).
//
// `bpftool -j batch file -` prints one JSON array: [{"command": [...], "output": <what the command prints
// with -j>}, ...]. With BTF, `map dump` entries carry the raw bytes ("key", "value" / per-CPU "values":
// [{"cpu", "value"}]) and a "formatted" copy. Counters are read from the raw little-endian bytes: the
// formatted u64 is a JSON number and loses precision above 2^53 (the per-CPU "tracked" slots wrap below 0).

export interface BatchItem {
  command: string[];
  output?: unknown;
  error?: string;
}

type Bytes = readonly string[];
interface RawEntry {
  key: Bytes;
  value?: Bytes;
  values?: { cpu: number; value: Bytes }[];
  formatted?: { key?: unknown; value?: unknown };
}

/** Parse the stdout of `bpftool -j batch file -`. Throws on anything that is not the expected JSON. */
export function parseBatch(stdout: string): BatchItem[] {
  const data: unknown = JSON.parse(stdout);
  if (!Array.isArray(data)) throw new Error('bpftool batch output is not a JSON array');
  return data.map((d) => {
    const o = d as { command?: unknown; output?: unknown; error?: unknown };
    return {
      command: Array.isArray(o.command) ? o.command.map(String) : [],
      output: o.output,
      error: typeof o.error === 'string' ? o.error : (o.output as { error?: string } | undefined)?.error,
    };
  });
}

/**
 * The answers to a batch of `n` commands, or why there are none. bpftool 7.1's batch mode checks a leftover
 * errno after its last read of the batch file, so it can append `{"error":"reading batch file failed: Bad file
 * descriptor"}` and exit 255 although every command answered (seen in a privileged Debian 12 container; the
 * same bpftool on the host exits 0). Answers to every command, with no error of their own, are taken; a
 * trailing error about reading the batch file is then only that.
 */
export function batchAnswers(items: BatchItem[] | undefined, n: number): { items: BatchItem[] } | { error: string | undefined } {
  if (!items) return { error: undefined };
  const answers = items.slice(0, n);
  const bad = answers.find((i) => i.error);
  if (bad) return { error: bad.error };
  if (answers.length < n || answers.some((i) => i.command.length === 0)) return { error: items.find((i) => i.error)?.error };
  const trailing = items.slice(n);
  if (trailing.some((i) => !/^reading batch file failed/.test(i.error ?? '')))
    return { error: trailing.find((i) => i.error)?.error ?? 'unexpected output after the batch' };
  return { items: answers };
}

/** Little-endian bytes as bigint: ["0x05","0x00",...] -> 5n. */
export function bytesLE(bytes: Bytes): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(parseInt(bytes[i]!, 16) & 0xff);
  return v;
}

/** Bytes of an IPv4 address in network order (a __u32 key as the kernel stores it) as dotted quad. */
export function ipv4FromBytes(bytes: Bytes): string {
  if (bytes.length !== 4) throw new Error(`an IPv4 key has 4 bytes, got ${bytes.length}`);
  return bytes.map((b) => String(parseInt(b, 16) & 0xff)).join('.');
}

/** A __u32 IPv4 address as bpftool formats it (a host-order little-endian integer of network-order bytes). */
export function ipv4FromLE32(n: number): string {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff].join('.');
}

/** A __u16 port as stored (network order), formatted by bpftool as a little-endian integer. */
export function portFromLE16(n: number): number {
  return ((n & 0xff) << 8) | ((n >>> 8) & 0xff);
}

function entries(output: unknown, what: string): RawEntry[] {
  if (!Array.isArray(output)) throw new Error(`${what}: bpftool map dump output is not an array`);
  return output as RawEntry[];
}

/** A per-CPU array of u64 counters: index -> sum over CPUs, modulo 2^64 (as the kernel adds). */
export function sumPerCpuArray(output: unknown, what = 'per-CPU array'): bigint[] {
  const out: bigint[] = [];
  for (const e of entries(output, what)) {
    const idx = Number(bytesLE(e.key));
    let s = 0n;
    for (const c of e.values ?? []) s += bytesLE(c.value);
    out[idx] = BigInt.asUintN(64, s);
  }
  return out;
}

/** Counter as a JS number; `signed` for counters that go up and down (the tracked-flows slot). */
export function counter(v: bigint | undefined, signed = false): number {
  if (v === undefined) return 0;
  return Number(signed ? BigInt.asIntN(64, v) : v);
}

/** An LRU hash IPv4 dst (u32, network order) -> u64 count, as { "10.0.0.1": n }. */
export function parseIpCounts(output: unknown, what = 'SYN-per-destination map'): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of entries(output, what)) {
    if (!e.value) continue;
    out[ipv4FromBytes(e.key)] = Number(bytesLE(e.value));
  }
  return out;
}

export type FlowState = 'unreplied' | 'established' | 'closed' | 'udp' | 'udp-stream';

export interface EnaFlow {
  proto: 'tcp' | 'udp';
  /** The endpoint that sent the first packet the simulator saw, and the other one. */
  from: string;
  to: string;
  state: FlowState;
  /** TCP flags of the first packet as VPC flow logs name them: SYN, SYN-ACK, FIN, RST, or '' (none / UDP). */
  firstFlags: string;
  /** The first packet crossed an uplink on ingress (true) or egress (false). */
  firstIngress: boolean;
  packets: number;
  /** Time since the last packet, if the caller gave the current CLOCK_MONOTONIC time; else undefined. */
  idleMs?: number;
  ageMs?: number;
}

interface FlowKeyF {
  ip_a: number;
  ip_b: number;
  port_a: number;
  port_b: number;
  proto: number;
}
interface FlowValF {
  first_ns: number;
  last_ns: number;
  packets: number;
  seen: number;
  closed: number;
  first_flags: number;
  origin: number;
  turns: number;
}

export function flagName(flags: number): string {
  if (flags & 0x04) return 'RST';
  if (flags & 0x01) return 'FIN';
  if (flags & 0x02) return flags & 0x10 ? 'SYN-ACK' : 'SYN';
  return '';
}

/** Flows from `bpftool -j map dump` of ena_flows (uses the BTF-formatted fields). nowNs: process.hrtime.bigint(). */
export function parseFlows(output: unknown, nowNs?: bigint): EnaFlow[] {
  return entries(output, 'flow table').map((e) => {
    const k = e.formatted?.key as FlowKeyF | undefined,
      v = e.formatted?.value as FlowValF | undefined;
    if (!k || !v) throw new Error('flow table dump has no BTF-formatted entries (object built without -g?)');
    const a = `${ipv4FromLE32(k.ip_a)}:${portFromLE16(k.port_a)}`,
      b = `${ipv4FromLE32(k.ip_b)}:${portFromLE16(k.port_b)}`;
    const udp = k.proto === 17;
    const state: FlowState = v.closed ? 'closed' : udp ? (v.turns >= 3 ? 'udp-stream' : 'udp') : v.seen === 3 ? 'established' : 'unreplied';
    const aFirst = (v.origin & 1) !== 0;
    const f: EnaFlow = {
      proto: udp ? 'udp' : 'tcp',
      from: aFirst ? a : b,
      to: aFirst ? b : a,
      state,
      firstFlags: udp ? '' : flagName(v.first_flags),
      firstIngress: (v.origin & 2) !== 0,
      packets: v.packets,
    };
    if (nowNs !== undefined) {
      f.idleMs = Math.max(0, Number(nowNs - BigInt(Math.round(v.last_ns))) / 1e6);
      f.ageMs = Math.max(0, Number(nowNs - BigInt(Math.round(v.first_ns))) / 1e6);
    }
    return f;
  });
}

export interface VerifierExcerpt {
  program?: string;
  /** The first lines of the verifier log. */
  head: string[];
  /** The last lines: the verifier's verdict is usually the last instruction it looked at + the reason. */
  tail: string[];
  total: number;
}

/** Pull the verifier log out of libbpf's stderr (`-- BEGIN PROG LOAD LOG --` ... `-- END PROG LOAD LOG --`). */
export function verifierExcerpt(stderr: string, headLines = 8, tailLines = 6): VerifierExcerpt | undefined {
  const lines = stderr.split('\n');
  const begin = lines.findIndex((l) => l.includes('-- BEGIN PROG LOAD LOG --'));
  if (begin < 0) return undefined;
  const program = /prog '([^']+)'/.exec(lines[begin]!)?.[1];
  let end = lines.findIndex((l, i) => i > begin && l.includes('-- END PROG LOAD LOG --'));
  if (end < 0) end = lines.length;
  const log = lines
    .slice(begin + 1, end)
    .map((l) => l.trimEnd())
    .filter((l) => l !== '');
  const head = log.slice(0, headLines);
  const tail = log.length > headLines ? log.slice(Math.max(headLines, log.length - tailLines)) : [];
  return { program, head, tail, total: log.length };
}

export interface TcxLink {
  id: number;
  progId?: number;
  ifindex?: number;
  attachType?: string;
}

/**
 * The tcx links in `bpftool -j link show` output: type "tcx" (bpftool >= 7.3 also names the device's ifindex and
 * the attach type) or the bare number 11 (BPF_LINK_TYPE_TCX) that older bpftool (7.1) prints for a type it does not
 * know, with no device.
 */
export function tcxLinks(output: unknown): TcxLink[] {
  if (!Array.isArray(output)) throw new Error('bpftool link show output is not an array');
  return (output as { id?: unknown; type?: unknown; prog_id?: unknown; ifindex?: unknown; attach_type?: unknown }[])
    .filter((l) => l.type === 'tcx' || l.type === 11 || l.type === '11')
    .map((l) => ({
      id: Number(l.id),
      ...(typeof l.prog_id === 'number' ? { progId: l.prog_id } : {}),
      ...(typeof l.ifindex === 'number' ? { ifindex: l.ifindex } : {}),
      ...(typeof l.attach_type === 'string' ? { attachType: l.attach_type } : {}),
    }));
}
