// DNS in the lab: an authoritative upstream (nsd, plays kube-dns/CoreDNS upstream) on the dns host, and a
// node-local cache on every node (unbound on 169.254.20.10, plays node-local-dns). Like node-local-dns's
// `forward . <upstream> { force_tcp }`, unbound sends every upstream query over TCP, reuses a connection only
// briefly, and so has to open NEW TCP connections to the upstream all the time: exactly what an exhausted
// ENA allowance breaks. CoreDNS itself is not packaged in Debian; see facts.md for the mapping.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResultPromise } from 'execa';
import { run, spawnLong } from '../exec.js';
import { waitFor } from '../wait.js';
import { NotdnsError } from '../errors.js';

export const ZONE = 'cluster.local';

export function zoneFile(upstreamIp: string): string {
  return [
    `$ORIGIN ${ZONE}.`, '$TTL 5',
    `@ IN SOA ns.${ZONE}. hostmaster.${ZONE}. 1 3600 600 86400 5`,
    `@ IN NS ns.${ZONE}.`,
    `ns IN A ${upstreamIp}`,
    // every name under default.svc resolves: the Metrics Service looks up a new name each time (a cache miss)
    '*.default.svc IN A 10.96.0.10',
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
    verbosity: 1
remote-control:
    control-enable: no
zone:
    name: "${ZONE}"
    zonefile: "${ZONE}.zone"
`;
}

/** unbound as node-local-dns: TCP-only upstream, short connection reuse, quick recovery (facts.md). */
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
    # CoreDNS forward takes a pooled connection per query (no pipelining) and opens new ones whenever the pooled
    # ones are busy or expired (expire 10s): under node-local-dns's concurrent load, new upstream connections are
    # needed all the time. unbound pipelines queries on one stream for as long as it is not idle for
    # tcp-reuse-timeout (measured here: one connection for 150 queries in 8 s at the default). 1 ms makes every
    # upstream query open a NEW TCP connection: the dependency on new flows that the incident broke.
    # (max-reuse-tcp-queries has no effect on unbound 1.17.1's upstream streams, measured.)
    tcp-reuse-timeout: 1
    # forward health: a slow TCP handshake under CPU contention must not count as a dead upstream (default
    # unknown-server-time-limit 376 ms); a really unreachable upstream (SYNs dropped) still fails every try.
    # "down" is forgotten after 3 s (default 900 s) so the cache recovers as soon as new flows fit again.
    unknown-server-time-limit: 1000
    infra-keep-probing: yes
    infra-cache-max-rtt: 3000
    infra-host-ttl: 3
    cache-max-ttl: 5
    cache-max-negative-ttl: 5
forward-zone:
    name: "${ZONE}."
    forward-addr: ${upstreamIp}
    forward-tcp-upstream: yes
`;
}

/** Ask a DNS server over TCP with dig; true when it answered NOERROR. */
export async function digTcp(ns: string, server: string, name: string, timeoutS = 2): Promise<{ ok: boolean; status: string }> {
  const r = await run('dig', ['+tcp', '+tries=1', `+time=${timeoutS}`, `@${server}`, name], { ns, reject: false, timeoutMs: (timeoutS + 3) * 1000 });
  const status = /status: ([A-Z]+)/.exec(r.stdout)?.[1] ?? 'TIMEOUT';
  return { ok: status === 'NOERROR', status };
}

export async function startUpstream(dir: string, ns: string, upstreamIp: string, logDir: string): Promise<ResultPromise[]> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${ZONE}.zone`), zoneFile(upstreamIp));
  await writeFile(join(dir, 'nsd.conf'), nsdConf(dir, upstreamIp, logDir));
  const nsd = spawnLong('nsd', ['-d', '-c', join(dir, 'nsd.conf')], { ns, logFile: join(logDir, 'nsd.out') });
  // a TCP echo service: the long-lived "established connection" probe talks to it
  const echo = spawnLong('socat', ['TCP-LISTEN:7,fork,reuseaddr', 'EXEC:cat'], { ns, logFile: join(logDir, 'echo.out') });
  await waitFor('nsd to answer on the upstream DNS host', async () => (await digTcp(ns, upstreamIp, `ns.${ZONE}`, 1)).ok, {
    timeoutMs: 10_000, intervalMs: 100,
    hint: 'Is nsd installed (apt-get install nsd)? Its log is nsd.out in the output folder.',
  });
  return [nsd, echo];
}

/** Returns the process wrapped in an object: an execa subprocess is a thenable, and an async function would wait for it. */
export async function startNodeLocal(dir: string, node: string, ns: string, listen: string, upstreamIp: string, logDir: string): Promise<{ proc: ResultPromise }> {
  const conf = join(dir, `unbound-${node}.conf`);
  await writeFile(conf, unboundConf(dir, node, listen, upstreamIp, logDir));
  const p = spawnLong('unbound', ['-d', '-c', conf], { ns, logFile: join(logDir, `unbound-${node}.out`) });
  await waitFor(`node-local DNS (unbound) on ${node}`, async () => {
    if (p.exitCode !== null && p.exitCode !== undefined) throw new NotdnsError(`unbound on ${node} exited (code ${p.exitCode}); see unbound-${node}.out`, { kind: 'environment' });
    return (await digTcp(ns, listen, `ns.${ZONE}`, 1)).ok;
  }, { timeoutMs: 10_000, intervalMs: 100, hint: 'Is unbound installed (apt-get install unbound)? Its log is in the output folder.' });
  return { proc: p };
}
