// The node-local DNS symptom probes (nld.*), read from the DNS cache's own statistics: what the talk's engineers
// saw on their dashboards while the cause was elsewhere. One shape for every provider:
// - lab: unbound's `stats_noreset` (its remote-control protocol over a unix socket) and the process's RSS;
// - kind: node-local-dns's CoreDNS /metrics page (Prometheus text).
// docs/node-local-dns.md says which unbound statistic stands for which CoreDNS metric, and how they differ.
import { connect } from 'node:net';
import { parsePromText } from './prom-text.js';
import type { ProbeId } from './catalog.js';

/** One read of a node's DNS cache; an absent field has no series on that provider. */
export interface NldSample {
  /** Queries received from clients (cumulative). */
  queries?: number;
  /** Queries refused or dropped because the concurrency limit was reached (cumulative). */
  rejects?: number;
  /** Upstream failures (cumulative): CoreDNS failed health checks; unbound SERVFAIL answers. */
  upstreamFailures?: number;
  /** Client queries being worked on now. */
  inFlight?: number;
  /** Resident memory of the cache process (bytes). */
  memoryBytes?: number;
}

/** `name=value` lines of unbound-control stats (pure; tested). Lines that are not numbers are skipped. */
export function parseUnboundStats(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i <= 0) continue;
    const v = Number(line.slice(i + 1).trim());
    if (line.slice(i + 1).trim() !== '' && Number.isFinite(v)) out.set(line.slice(0, i).trim(), v);
  }
  return out;
}

/**
 * The nld sample of unbound's statistics (pure; tested). Throws when the text is not unbound's stats (an error
 * reply such as "error no such command"), so that a broken read is a failed read, not zeros.
 * - rejects: requestlist.exceeded (a new query dropped: the list was full and nothing could be jostled out)
 *   + requestlist.overwritten (an old query jostled out to make room): both are queries lost to the limit;
 * - upstreamFailures: num.answer.rcode.SERVFAIL (needs extended-statistics: yes): what the cache answered when
 *   its upstream could not be reached; unbound has no health-check counter;
 * - inFlight: requestlist.current.all.
 */
export function unboundNldSample(text: string): NldSample {
  const s = parseUnboundStats(text);
  const queries = s.get('total.num.queries');
  if (queries === undefined) throw new Error(`not unbound's statistics (no total.num.queries): ${JSON.stringify(text.slice(0, 120))}`);
  const out: NldSample = {
    queries,
    rejects: (s.get('total.requestlist.exceeded') ?? 0) + (s.get('total.requestlist.overwritten') ?? 0),
    inFlight: s.get('total.requestlist.current.all') ?? 0,
  };
  const servfail = s.get('num.answer.rcode.SERVFAIL');
  if (servfail !== undefined) out.upstreamFailures = servfail;
  return out;
}

/** VmRSS of a /proc/<pid>/status text, in bytes (pure; tested). */
export function parseVmRss(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error('no VmRSS line in the process status (has the process exited?)');
  return Number(m[1]) * 1024;
}

/**
 * The nld sample of node-local-dns's CoreDNS /metrics (pure; tested). Throws on a page without any coredns_*
 * metric. CoreDNS has no in-flight gauge: forward keeps its count of concurrent queries in an unexported atomic.
 * - queries: coredns_dns_requests_total (all servers, zones, protocols);
 * - rejects: coredns_forward_max_concurrent_rejects_total (answered REFUSED when max_concurrent is reached);
 * - upstreamFailures: coredns_proxy_healthcheck_failures_total (≥1.11; coredns_forward_healthcheck_failures_total
 *   before, summed too so an older node-cache reads the same);
 * - memoryBytes: process_resident_memory_bytes of the Prometheus default registry that CoreDNS serves.
 */
export function corednsNldSample(metrics: string): NldSample {
  const samples = parsePromText(metrics);
  if (!samples.some((s) => s.name.startsWith('coredns_')))
    throw new Error(`no coredns_* metric in the page read (${metrics.length} bytes): not node-local-dns's /metrics`);
  const sum = (...names: string[]) =>
    samples.filter((s) => names.includes(s.name) && Number.isFinite(s.value)).reduce((a, s) => a + s.value, 0);
  const out: NldSample = {
    queries: sum('coredns_dns_requests_total'),
    rejects: sum('coredns_forward_max_concurrent_rejects_total'),
    upstreamFailures: sum('coredns_proxy_healthcheck_failures_total', 'coredns_forward_healthcheck_failures_total'),
  };
  const rss = samples.find((s) => s.name === 'process_resident_memory_bytes');
  if (rss && Number.isFinite(rss.value)) out.memoryBytes = rss.value;
  return out;
}

/**
 * One unbound remote-control command over its unix socket with control-use-cert: no (the protocol is the line
 * "UBCT1 <command>\n"; unbound answers and closes). No process spawn: a connect and a read, ~1 ms.
 */
export function unboundControl(socketPath: string, command: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`unbound-control ${command} on ${socketPath}: no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`UBCT1 ${command}\n`));
    sock.on('data', (d: string) => {
      buf += d;
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('end', () => {
      clearTimeout(timer);
      resolve(buf);
    });
  });
}

/** The recorder's probe ids of an nld sample (absent fields stay absent). */
export function nldProbes(s: NldSample): Partial<Record<ProbeId, number>> {
  const out: Partial<Record<ProbeId, number>> = {};
  if (s.queries !== undefined) out['nld.queries'] = s.queries;
  if (s.rejects !== undefined) out['nld.rejects'] = s.rejects;
  if (s.upstreamFailures !== undefined) out['nld.upstreamFailures'] = s.upstreamFailures;
  if (s.inFlight !== undefined) out['nld.inFlight'] = s.inFlight;
  if (s.memoryBytes !== undefined) out['nld.memoryBytes'] = s.memoryBytes;
  return out;
}
