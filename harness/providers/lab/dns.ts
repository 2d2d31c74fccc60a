// DNS in the lab: an authoritative upstream (nsd, plays kube-dns/CoreDNS upstream) on the dns host, and a
// node-local cache on every node (unbound on 169.254.20.10, plays node-local-dns). Like node-local-dns's
// `forward . <upstream> { force_tcp }`, unbound sends every upstream query over TCP, one query per connection,
// and opens a NEW TCP connection to the upstream for every query: exactly what an exhausted ENA allowance
// breaks. CoreDNS itself is not packaged in Debian; unboundConf says which CoreDNS setting each knob stands for.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResultPromise } from 'execa';
import { run, spawnLong } from '../../exec.js';
import { waitFor } from '../../wait.js';
import { NotdnsError } from '../../errors.js';
import { ECHO_PORT } from './addresses.js';
import { digOn, type DigAnswer, type DigOptions } from '../../probes/dig.js';

export const ZONE = 'cluster.local';

/** A name whose A records are a set of pod IPs, with its own TTL (external-dns + Route 53 in the talk). */
export interface ServiceRecords {
  /** A name in the zone, e.g. metrics.default.svc.cluster.local (a trailing dot is allowed). */
  name: string;
  ttlSeconds: number;
  ips: readonly string[];
}

/** The name relative to the zone, or an error: only names inside ZONE, plain labels. */
export function relativeName(name: string): string {
  const n = name.replace(/\.$/, '').toLowerCase();
  const suffix = `.${ZONE}`;
  if (!n.endsWith(suffix)) throw new NotdnsError(`DNS name ${name} is not in the lab's zone ${ZONE}`, { kind: 'spec' });
  const rel = n.slice(0, -suffix.length);
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(rel))
    throw new NotdnsError(`DNS name ${name}: labels are letters, digits and inner hyphens`, { kind: 'spec' });
  return rel;
}

export function zoneFile(upstreamIp: string, records: readonly ServiceRecords[] = [], serial = 1): string {
  const service = records.flatMap((r) => {
    const rel = relativeName(r.name);
    if (!Number.isInteger(r.ttlSeconds) || r.ttlSeconds < 0)
      throw new NotdnsError(`TTL of ${r.name} must be a whole number >= 0`, { kind: 'spec' });
    for (const ip of r.ips)
      if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip))
        throw new NotdnsError(`${ip} (a record of ${r.name}) is not an IPv4 address`, { kind: 'spec' });
    // no address (every pod gone): the name must still exist, or the wildcard below would answer for it
    return r.ips.length ? r.ips.map((ip) => `${rel} ${r.ttlSeconds} IN A ${ip}`) : [`${rel} ${r.ttlSeconds} IN TXT "no ready pods"`];
  });
  return [
    `$ORIGIN ${ZONE}.`,
    '$TTL 5',
    `@ IN SOA ns.${ZONE}. hostmaster.${ZONE}. ${serial} 3600 600 86400 5`,
    `@ IN NS ns.${ZONE}.`,
    `ns IN A ${upstreamIp}`,
    // every name under default.svc resolves: the Metrics Service looks up a new name each time (a cache miss)
    '*.default.svc IN A 10.96.0.10',
    ...service,
    '',
  ].join('\n');
}

export function nsdConf(dir: string, upstreamIp: string, logDir = dir): string {
  return `server:
    ip-address: ${upstreamIp}
    port: 53
    username: ""
    chroot: ""
    zonesdir: "${dir}"
    database: ""
    pidfile: "${dir}/nsd.pid"
    xfrdfile: "${dir}/nsd-xfrd.state"
    zonelistfile: "${dir}/nsd-zone.list"
    logfile: "${logDir}/nsd.log"
    server-count: 1
    tcp-count: 512
    tcp-timeout: 30
    # one answer per connection, then close: the node-local cache needs a new TCP connection (a new flow)
    # for every upstream query (see unboundConf)
    tcp-query-count: 1
    verbosity: 1
remote-control:
    control-enable: no
zone:
    name: "${ZONE}"
    zonefile: "${ZONE}.zone"
`;
}

/** unbound as node-local-dns: TCP-only upstream, one query per connection, quick recovery. */
export function unboundConf(dir: string, node: string, listen: string, upstreamIp: string, logDir = dir): string {
  return `server:
    interface: ${listen}
    port: 53
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "${dir}"
    pidfile: "${dir}/unbound-${node}.pid"
    use-syslog: no
    logfile: "${logDir}/unbound-${node}.log"
    log-time-ascii: yes
    verbosity: ${process.env.NOTDNS_UNBOUND_VERBOSITY ?? 1}
    num-threads: 1
    do-ip6: no
    access-control: 0.0.0.0/0 allow
    module-config: "iterator"
    do-not-query-localhost: no
    # node-local-dns: forward . <upstream> { force_tcp }
    tcp-upstream: yes
    # enough parallel upstream connections that a burst of CPU contention (a rollout starting pods, reconnect
    # storms) queues nothing: 20 queries/s × 2 s of client timeout fit easily
    outgoing-num-tcp: 64
    num-queries-per-thread: 512
    # CoreDNS forward (node-local-dns) sends one query at a time per upstream connection and opens a new one
    # whenever no idle one is at hand: under node-local-dns's concurrent load, new upstream connections are
    # needed all the time, which is exactly what an exhausted ENA allowance breaks. The lab makes that
    # dependency strict, every upstream query is a NEW TCP connection:
    #  - the upstream closes each connection after one answer (nsd tcp-query-count: 1), so nothing is reused;
    #  - one query per connection (max-reuse-tcp-queries: 1): concurrent queries open connections of their own
    #    instead of being pipelined onto a connection the upstream is about to close (measured: bursts of 10
    #    queries lost 56 % to "Broken pipe" SERVFAILs without it, 0 with it);
    #  - tcp-reuse-timeout is not a reuse knob here: unbound 1.17.1 waits for the ANSWER on a stream for
    #    tcp-reuse-timeout, not for the query's timeout (measured: at 1 ms every answer slower than 1 ms timed
    #    out, 4 % on an idle lab, and under a rollout's CPU load the upstream was marked down for seconds:
    #    0-120 DNS errors in the fix variant with no packet lost). 2 s = CoreDNS forward's read timeout.
    tcp-reuse-timeout: 2000
    max-reuse-tcp-queries: 1
    # forward health: a slow TCP handshake under CPU contention must not count as a dead upstream (default
    # unknown-server-time-limit 376 ms); a really unreachable upstream (SYNs dropped) still fails every try.
    # "down" is forgotten after 3 s (default 900 s) so the cache recovers as soon as new flows fit again.
    unknown-server-time-limit: 1000
    # unbound gives a TCP upstream query the server's retransmit timeout (its RTO: the measured RTT, at least
    # infra-cache-min-rtt, default 50 ms) to connect. CoreDNS forward never dials with less than 1 s
    # (minDialTimeout); SYNs dropped by a full allowance still fail every try.
    infra-cache-min-rtt: 1000
    infra-keep-probing: yes
    infra-cache-max-rtt: 3000
    infra-host-ttl: 3
    # the zone's records carry their own TTL (5 s; a service name's is configured): the cache honours it
    cache-max-ttl: 86400
    cache-max-negative-ttl: 5
forward-zone:
    name: "${ZONE}."
    forward-addr: ${upstreamIp}
    forward-tcp-upstream: yes
`;
}

/** Ask a DNS server with dig from a namespace, one try (over UDP as pods ask node-local DNS, or over TCP); ok when it answered NOERROR. */
export function dig(ns: string, server: string, name: string, opts: DigOptions): Promise<DigAnswer> {
  return digOn({ exec: (cmd, args, o) => run(cmd, args, { ...o, ns }) }, server, name, opts);
}

export function digTcp(ns: string, server: string, name: string, timeoutS = 2): Promise<DigAnswer> {
  return dig(ns, server, name, { tcp: true, timeoutS });
}

export async function startUpstream(dir: string, ns: string, upstreamIp: string, logDir: string): Promise<ResultPromise[]> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${ZONE}.zone`), zoneFile(upstreamIp));
  await writeFile(join(dir, 'nsd.conf'), nsdConf(dir, upstreamIp, logDir));
  const nsd = spawnLong('nsd', ['-d', '-c', join(dir, 'nsd.conf')], { ns, logFile: join(logDir, 'nsd.out') });
  // a TCP echo service: the long-lived "established connection" probe talks to it
  const echo = spawnLong('socat', [`TCP-LISTEN:${ECHO_PORT},fork,reuseaddr`, 'EXEC:cat'], { ns, logFile: join(logDir, 'echo.out') });
  await waitFor('nsd to answer on the upstream DNS host', async () => (await digTcp(ns, upstreamIp, `ns.${ZONE}`, 1)).ok, {
    timeoutMs: 10_000,
    intervalMs: 100,
    hint: 'Is nsd installed (apt-get install nsd)? Its log is nsd.out in the output folder.',
  });
  return [nsd, echo];
}

/** Returns the process wrapped in an object: an execa subprocess is a thenable, and an async function would wait for it. */
export async function startNodeLocal(
  dir: string,
  node: string,
  ns: string,
  listen: string,
  upstreamIp: string,
  logDir: string,
): Promise<{ proc: ResultPromise }> {
  const conf = join(dir, `unbound-${node}.conf`);
  await writeFile(conf, unboundConf(dir, node, listen, upstreamIp, logDir));
  const p = spawnLong('unbound', ['-d', '-c', conf], { ns, logFile: join(logDir, `unbound-${node}.out`) });
  await waitFor(
    `node-local DNS (unbound) on ${node}`,
    async () => {
      if (p.exitCode !== null && p.exitCode !== undefined)
        throw new NotdnsError(`unbound on ${node} exited (code ${p.exitCode}); see unbound-${node}.out`, { kind: 'environment' });
      return (await digTcp(ns, listen, `ns.${ZONE}`, 1)).ok;
    },
    { timeoutMs: 10_000, intervalMs: 100, hint: 'Is unbound installed (apt-get install unbound)? Its log is in the output folder.' },
  );
  return { proc: p };
}

/** The A records of `name` as a server answers them (+tcp to ask nsd directly), and their (remaining) TTL. */
export async function digRecords(
  ns: string,
  server: string,
  name: string,
  o: { tcp: boolean; timeoutS?: number } = { tcp: true },
): Promise<{ ips: string[]; ttl: number | null; status: string }> {
  const r = await run('dig', [...(o.tcp ? ['+tcp'] : []), '+tries=1', `+time=${o.timeoutS ?? 2}`, `@${server}`, name, 'A'], {
    ns,
    reject: false,
    timeoutMs: ((o.timeoutS ?? 2) + 3) * 1000,
  });
  return { ...parseDigRecords(r.stdout), status: /status: ([A-Z]+)/.exec(r.stdout)?.[1] ?? 'TIMEOUT' };
}

/** dig's answer section (not the additional one: nsd adds its own address there): the A records' addresses
 *  (sorted) and the smallest TTL. */
export function parseDigRecords(stdout: string): { ips: string[]; ttl: number | null } {
  const ips: string[] = [];
  let ttl: number | null = null;
  const answer = /;; ANSWER SECTION:\n([\s\S]*?)(?:\n\n|$)/.exec(stdout)?.[1] ?? '';
  for (const m of answer.matchAll(/^\S+\s+(\d+)\s+IN\s+A\s+(\d+\.\d+\.\d+\.\d+)\s*$/gm)) {
    ips.push(m[2]!);
    ttl = ttl === null ? Number(m[1]) : Math.min(ttl, Number(m[1]));
  }
  return { ips: ips.sort(), ttl };
}

/**
 * The service names of the zone: set a name's records by rewriting the zone file (serial + 1, written aside and
 * renamed) and sending nsd SIGHUP (nsd re-reads zone files whose mtime changed); resolves once nsd serves the new
 * set, with how long that took.
 */
export class ZoneRecords {
  private serial = 1;
  private readonly records = new Map<string, ServiceRecords>();
  constructor(
    private readonly dir: string,
    private readonly ns: string,
    private readonly upstreamIp: string,
    private readonly nsd: ResultPromise,
  ) {}

  async set(r: ServiceRecords): Promise<{ servedMs: number }> {
    relativeName(r.name);
    this.records.set(r.name.replace(/\.$/, '').toLowerCase(), r);
    this.serial += 1;
    const file = join(this.dir, `${ZONE}.zone`);
    await writeFile(`${file}.new`, zoneFile(this.upstreamIp, [...this.records.values()], this.serial));
    const t0 = performance.now();
    await rename(`${file}.new`, file);
    if (!this.nsd.kill('SIGHUP')) throw new NotdnsError('nsd is not running: cannot reload the zone', { kind: 'harness' });
    const want = [...r.ips].sort().join(',');
    await waitFor(
      `nsd to serve the new records of ${r.name}`,
      async () => (await digRecords(this.ns, this.upstreamIp, r.name, { tcp: true, timeoutS: 1 })).ips.join(',') === want,
      { timeoutMs: 10_000, intervalMs: 20, hint: 'nsd.log in the output folder says why the zone did not load.' },
    );
    return { servedMs: Math.round(performance.now() - t0) };
  }
}
