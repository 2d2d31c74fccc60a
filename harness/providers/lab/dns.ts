// DNS in the lab: an authoritative upstream (nsd, plays kube-dns/CoreDNS upstream) on the dns host, and a
// node-local cache on every node (unbound on 169.254.20.10, plays node-local-dns). Like node-local-dns's
// `forward . <upstream> { force_tcp }`, unbound sends every upstream query over TCP, one query per connection,
// and opens a NEW TCP connection to the upstream for every query: exactly what an exhausted ENA allowance
// breaks. CoreDNS itself is not packaged in Debian; unboundConf says which CoreDNS setting each knob stands for.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResultPromise } from 'execa';
import { run, spawnLong } from '../../exec.js';
import { waitFor } from '../../wait.js';
import { NotdnsError } from '../../errors.js';
import { ECHO_PORT } from './addresses.js';
import { digOn, type DigAnswer, type DigOptions } from '../../probes/dig.js';
import { parseVmRss, unboundControl, unboundNldSample, type NldSample } from '../../probes/nld.js';

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

/** The `server:` lines both of the lab's nsd configs have: port, files under `dir`, the log, one server process. */
function nsdServerFiles(dir: string, logDir: string): string {
  return `    port: 53
    username: ""
    chroot: ""
    zonesdir: "${dir}"
    database: ""
    pidfile: "${dir}/nsd.pid"
    xfrdfile: "${dir}/nsd-xfrd.state"
    zonelistfile: "${dir}/nsd-zone.list"
    logfile: "${logDir}/nsd.log"
    server-count: 1`;
}

export function nsdConf(dir: string, upstreamIp: string, logDir = dir): string {
  return `server:
    ip-address: ${upstreamIp}
${nsdServerFiles(dir, logDir)}
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

/**
 * node-local-dns's limits as the lab's unbound gets them (docs/node-local-dns.md): maxConcurrent stands for
 * CoreDNS forward's max_concurrent (unbound num-queries-per-thread, one thread), memoryMb for the container's
 * memory limit (unbound bounds its memory by its cache sizes and evicts: it has no OOM kill to show).
 */
export interface NodeLocalDnsLimits {
  maxConcurrent: number;
  memoryMb: number;
}

/**
 * The lab's defaults, scaled from the talk: there 1000 concurrent queries were reached at under 400 queries/s
 * because each query held its slot for forward's 5 s timeout: limit ≈ 0.5 × rate × hold time. A lab node asks
 * ~20 queries/s (one Metrics Service pod, dnsLookupsPerSecond 20). unbound holds a query it cannot forward for
 * 6.5 s when it is the first to find the upstream unreachable (measured, test/lab/nld.test.ts), but then marks
 * the upstream down and answers the next queries SERVFAIL at once until it probes again (infra-host-ttl 3 s):
 * under the flagship's flood its queries in flight peaked at 33-64 with no limit in the way (measured), an
 * effective hold of ~2 s. 0.5 × 20 × 2 = 20 slots. Answered in milliseconds when the upstream is reachable,
 * 20 queries/s keep < 1 slot busy: the limit is reached only when upstream connections fail.
 * memoryMb 16: unbound's two caches get 12 MB (its defaults are 4 + 4 MB).
 */
export const LAB_NODE_LOCAL_DNS_LIMITS: NodeLocalDnsLimits = { maxConcurrent: 20, memoryMb: 16 };

/** The unix socket of a node's unbound remote control (stats), in the DNS state directory. */
export function unboundControlSocket(dir: string, node: string): string {
  return join(dir, `ctl-${node}.sock`);
}

/** The `server:` lines every node-local unbound of the lab has: where it listens, runs, logs (one thread, IPv4). */
function unboundServerHead(dir: string, node: string, listen: string, logDir: string): string {
  return `    interface: ${listen}
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
    module-config: "iterator"`;
}

/** unbound as node-local-dns: TCP-only upstream, one query per connection, quick recovery. */
export function unboundConf(
  dir: string,
  node: string,
  listen: string,
  upstreamIp: string,
  logDir = dir,
  limits: NodeLocalDnsLimits = LAB_NODE_LOCAL_DNS_LIMITS,
): string {
  return `server:
${unboundServerHead(dir, node, listen, logDir)}
    do-not-query-localhost: no
    # node-local-dns: forward . <upstream> { force_tcp }
    tcp-upstream: yes
    # enough parallel upstream connections that a burst of CPU contention (a rollout starting pods, reconnect
    # storms) queues nothing: 20 queries/s × 2 s of client timeout fit easily
    outgoing-num-tcp: 64
    # CoreDNS forward max_concurrent: client queries worked on at once (one thread). When the list is full CoreDNS
    # answers a new query REFUSED; unbound drops it (requestlist.exceeded) unless an older one can be jostled out
    # (requestlist.overwritten). A jostle-timeout above the hold time keeps the old queries, as CoreDNS does.
    num-queries-per-thread: ${limits.maxConcurrent}
    jostle-timeout: 10000
    # CoreDNS forward's 5 s per query (defaultTimeout), then SERVFAIL: unbound has no deadline for the whole
    # query; it retries a server it cannot connect to with a growing timeout (infra-cache-max-rtt below) until it
    # gives up and answers SERVFAIL: measured 6-7 s with the upstream's SYNs dropped (test/lab/nld.test.ts).
    # discard-timeout (default 1.9 s) would drop the client's reply while the work item keeps its slot, and
    # count the drop in requestlist.exceeded with the limit's own rejects: off, so that requestlist.exceeded is
    # the limit alone and the held query ends in SERVFAIL as CoreDNS's does. wait-limit (per client IP) is off:
    # CoreDNS has no such limit.
    discard-timeout: 0
    wait-limit: 0
    # memory: unbound evicts from bounded caches instead of growing (rrset twice msg, as unbound.conf(5) advises)
    rrset-cache-size: ${Math.max(1, Math.round(limits.memoryMb / 2))}m
    msg-cache-size: ${Math.max(1, Math.round(limits.memoryMb / 4))}m
    # num.answer.rcode.SERVFAIL (nld.upstreamFailures) is an extended statistic
    extended-statistics: yes
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
# the nld.* probes read stats_noreset over this socket (harness/probes/nld.ts unboundControl): no process spawn
remote-control:
    control-enable: yes
    control-interface: ${unboundControlSocket(dir, node)}
    control-use-cert: no
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

/** Start a node's unbound with `conf` in its namespace; resolves once it answers on `listen` (or throws: exited, timeout).
 *  Wrapped in an object: an execa subprocess is a thenable, which an async function would wait for. */
async function spawnUnbound(
  conf: string,
  node: string,
  ns: string,
  listen: string,
  logDir: string,
  what: string,
): Promise<{ proc: ResultPromise }> {
  const p = spawnLong('unbound', ['-d', '-c', conf], { ns, logFile: join(logDir, `unbound-${node}.out`) });
  await waitFor(
    `${what} on ${node}`,
    async () => {
      if (p.exitCode !== null && p.exitCode !== undefined)
        throw new NotdnsError(`unbound on ${node} exited (code ${p.exitCode}); see unbound-${node}.out`, { kind: 'environment' });
      return (await digTcp(ns, listen, `ns.${ZONE}`, 1)).ok;
    },
    { timeoutMs: 10_000, intervalMs: 100, hint: 'Is unbound installed (apt-get install unbound)? Its log is in the output folder.' },
  );
  return { proc: p };
}

/** Returns the process wrapped in an object: an execa subprocess is a thenable, and an async function would wait for it. */
export async function startNodeLocal(
  dir: string,
  node: string,
  ns: string,
  listen: string,
  upstreamIp: string,
  logDir: string,
  limits: NodeLocalDnsLimits = LAB_NODE_LOCAL_DNS_LIMITS,
): Promise<{ proc: ResultPromise; controlSocket: string }> {
  const conf = join(dir, `unbound-${node}.conf`);
  const controlSocket = unboundControlSocket(dir, node);
  // sun_path holds 107 bytes: a state directory deep enough to exceed it is a setup error, said as such
  if (Buffer.byteLength(controlSocket) > 107)
    throw new NotdnsError(`the unbound control socket path ${controlSocket} is longer than a unix socket path may be (107 bytes)`, {
      kind: 'environment',
      hint: 'Use a shorter state directory (NOTDNS_STATE_DIR).',
    });
  await writeFile(conf, unboundConf(dir, node, listen, upstreamIp, logDir, limits));
  const { proc: p } = await spawnUnbound(conf, node, ns, listen, logDir, 'node-local DNS (unbound)');
  return { proc: p, controlSocket };
}

/** One nld sample of a node's unbound: its statistics over the control socket and the process's RSS. */
export async function readNodeLocalStats(controlSocket: string, pid: number | undefined): Promise<NldSample> {
  const sample = unboundNldSample(await unboundControl(controlSocket, 'stats_noreset'));
  if (pid) sample.memoryBytes = parseVmRss(await readFile(`/proc/${pid}/status`, 'utf8'));
  return sample;
}

// ---------------------------------------------------------------------------------------------------------------
// Link-local upstream mode (topology.dnsUpstream: 'linklocal-udp', experiment linklocal-dns-burst): node-local DNS
// forwards EVERY name over UDP to 169.254.169.253, the address of the VPC resolver (Route 53 Resolver), which the lab
// puts on the DNS host's loopback and every node routes through its primary ENI (ens5), so the ENA simulator's
// link-local allowance sees each upstream query. The same nsd answers there: cluster.local, ec2.internal (the node's
// own search domain, empty) and example.com (`*.example.com` A), every TTL and negative TTL 30 s.

export const LINKLOCAL_RESOLVER = '169.254.169.253';
export const LINKLOCAL_ZONES = ['cluster.local', 'ec2.internal', 'example.com'] as const;

export function linklocalZoneFile(zone: string, upstreamIp: string): string {
  const records = zone === 'example.com' ? ['* IN A 203.0.113.10'] : zone === 'cluster.local' ? ['*.default.svc IN A 10.96.0.10'] : [];
  return [
    `$ORIGIN ${zone}.`,
    '$TTL 30',
    `@ IN SOA ns.${zone}. hostmaster.${zone}. 1 3600 600 86400 30`,
    `@ IN NS ns.${zone}.`,
    `ns IN A ${upstreamIp}`,
    ...records,
    '',
  ].join('\n');
}

/** nsd on the DNS host answering on its VPC address and on the link-local resolver address, no rate limiting. */
export function linklocalNsdConf(dir: string, upstreamIp: string, logDir = dir): string {
  return `server:
    ip-address: ${upstreamIp}
    ip-address: ${LINKLOCAL_RESOLVER}
${nsdServerFiles(dir, logDir)}
    # the VPC resolver answers everything it is sent: the only limit is the ENI's link-local allowance
    rrl-ratelimit: 0
    verbosity: 1
remote-control:
    control-enable: no
${LINKLOCAL_ZONES.map((z) => `zone:\n    name: "${z}"\n    zonefile: "${z}.zone"\n`).join('')}`;
}

/**
 * unbound as node-local-dns whose upstream is the VPC resolver over UDP (node-local-dns: `forward . /etc/resolv.conf`,
 * where resolv.conf names 169.254.169.253 or the VPC's .2). cache 'short': nothing kept (TTLs capped at 0: a cache
 * too small or too short-lived to absorb a burst of different names); 'serve-stale': TTLs honoured in a large cache, expired answers served at once
 * while refreshed (CoreDNS cache `serve_stale`; unbound serve-expired).
 */
export function linklocalUnboundConf(dir: string, node: string, listen: string, cache: 'short' | 'serve-stale', logDir = dir): string {
  const cacheConf =
    cache === 'short'
      ? ['cache-max-ttl: 0', 'cache-max-negative-ttl: 0']
      : [
          'cache-max-ttl: 86400',
          'cache-max-negative-ttl: 3600',
          'msg-cache-size: 32m',
          'rrset-cache-size: 64m',
          'serve-expired: yes',
          'serve-expired-ttl: 3600',
          'prefetch: yes',
        ];
  return `server:
${unboundServerHead(dir, node, listen, logDir)}
    num-queries-per-thread: 1024
    # a lost upstream query is retried after the server's timeout, as CoreDNS forward does after its read timeout;
    # the RTT estimate starts at 200 ms and never gives the upstream up for long (it is the only one)
    infra-cache-min-rtt: 200
    infra-keep-probing: yes
    infra-host-ttl: 3
${cacheConf.map((l) => `    ${l}`).join('\n')}
forward-zone:
    name: "."
    forward-addr: ${LINKLOCAL_RESOLVER}
`;
}

/** The DNS host in link-local mode: the resolver address on its loopback, nsd answering there too. */
export async function startLinklocalUpstream(dir: string, ns: string, upstreamIp: string, logDir: string): Promise<ResultPromise[]> {
  await mkdir(dir, { recursive: true });
  await run('ip', ['addr', 'add', `${LINKLOCAL_RESOLVER}/32`, 'dev', 'lo'], { ns });
  for (const z of LINKLOCAL_ZONES) await writeFile(join(dir, `${z}.zone`), linklocalZoneFile(z, upstreamIp));
  await writeFile(join(dir, 'nsd.conf'), linklocalNsdConf(dir, upstreamIp, logDir));
  const nsd = spawnLong('nsd', ['-d', '-c', join(dir, 'nsd.conf')], { ns, logFile: join(logDir, 'nsd.out') });
  const echo = spawnLong('socat', [`TCP-LISTEN:${ECHO_PORT},fork,reuseaddr`, 'EXEC:cat'], { ns, logFile: join(logDir, 'echo.out') });
  await waitFor(
    'nsd to answer on the link-local resolver address',
    async () => (await dig(ns, LINKLOCAL_RESOLVER, `ns.${ZONE}`, { tcp: false, timeoutS: 1 })).ok,
    { timeoutMs: 10_000, intervalMs: 100, hint: 'Is nsd installed (apt-get install nsd)? Its log is nsd.out in the output folder.' },
  );
  return [nsd, echo];
}

/** node-local DNS in link-local mode; the node must route LINKLOCAL_RESOLVER through its primary ENI. */
export async function startLinklocalNodeLocal(
  dir: string,
  node: string,
  ns: string,
  listen: string,
  cache: 'short' | 'serve-stale',
  logDir: string,
): Promise<{ proc: ResultPromise }> {
  const conf = join(dir, `unbound-${node}.conf`);
  await writeFile(conf, linklocalUnboundConf(dir, node, listen, cache, logDir));
  return spawnUnbound(conf, node, ns, listen, logDir, 'node-local DNS (unbound, link-local upstream)');
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
