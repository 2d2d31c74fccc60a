#!/usr/bin/env node
// Metrics Service: the gRPC backend of the talk. Answers Query, stops like grpc-go GracefulStop on SIGTERM, and
// (optionally) does a steady stream of cache-missing DNS lookups against the node-local DNS cache.
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { AdminServer } from '../common/admin.js';
import { ADMIN_ADDRESS_FORM, parseAdminAddress } from '../common/admin-address.js';
import { argFrom, createProgram, eventLog, intArg, manageLifetime, MAX_DURATION_LIMIT_S, numberArg, usageError } from '../common/cli.js';
import { DnsProber } from './dns-prober.js';
import { createMetrics } from './metrics.js';
import { MetricsServer } from './server.js';

interface Opts {
  host: string;
  port: number;
  id: string;
  gracefulStopSeconds: number;
  exitWhenDrained: boolean;
  maxDelayMs: number;
  dnsServer?: string;
  dnsLookupsPerSecond: number;
  dnsTimeoutMs: number;
  dnsNameTemplate: string;
  dnsMaxInflight: number;
  dnsSearch?: string;
  dnsNdots: number;
  dnsNoAaaa: boolean;
  dnsNamePool: number;
  admin?: string;
  maxDurationSeconds: number;
}

function parseDnsServer(s: string): string {
  const m = /^(\d+\.\d+\.\d+\.\d+)(?::(\d{1,5}))?$/.exec(s.trim());
  if (!m || !isIP(m[1]) || (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535))) {
    throw new Error('expected an IPv4 address, optionally with :PORT (e.g. 169.254.20.10)');
  }
  return s.trim();
}

const program = createProgram(
  'metrics-service',
  'notdns Metrics Service: gRPC backend (notdns.v1.Metrics + grpc.health.v1) with a graceful stop and optional DNS load.',
)
  .option('--port <n>', 'gRPC port to listen on', intArg(1, 65535), 50051)
  .option(
    '--host <ip>',
    'address to bind the gRPC port to',
    argFrom((v) => {
      if (!isIP(v)) throw new Error('expected an IP address');
      return v;
    }),
    '0.0.0.0',
  )
  .option('--id <name>', 'server id returned in every QueryResponse.server_id (default: hostname:port)')
  .option(
    '--graceful-stop-seconds <s>',
    'on SIGTERM: tryShutdown (GOAWAY, listener closed so new connects get RST), let in-flight RPCs run, forceShutdown after this many seconds, exit 0',
    numberArg(0, 3600),
    10,
  )
  .option(
    '--exit-when-drained',
    'end the graceful stop as soon as no RPC is in flight (grpc-go GracefulStop returning) instead of staying for the whole grace period',
    false,
  )
  .option('--max-delay-ms <ms>', 'largest QueryRequest.delay_ms accepted (larger: INVALID_ARGUMENT)', intArg(0, 600_000), 30_000)
  .option('--dns-server <ip[:port]>', 'DNS server for the lookups, e.g. the node-local cache 169.254.20.10', argFrom(parseDnsServer))
  .option('--dns-lookups-per-second <r>', 'A lookups per second against --dns-server (0 = no DNS load)', numberArg(0, 100_000), 0)
  .option('--dns-timeout-ms <ms>', 'per-lookup timeout (one try, no retries)', intArg(1, 60_000), 2000)
  .option(
    '--dns-name-template <name>',
    'name to look up; {n} is replaced by a counter so every lookup misses the cache',
    'q{n}.default.svc.cluster.local',
  )
  .option(
    '--dns-search <domains>',
    'search-list mode: expand every name over these comma-separated domains the way glibc does (with --dns-ndots; A and AAAA per candidate unless --dns-no-aaaa)',
  )
  .option('--dns-ndots <n>', 'resolv.conf ndots for --dns-search (Kubernetes: 5)', intArg(0, 15), 5)
  .option('--dns-no-aaaa', 'search-list mode: A queries only (default: A and AAAA, as getaddrinfo with AF_UNSPEC)', false)
  .option('--dns-name-pool <n>', '{n} cycles through 0..n-1 so names repeat (0: a new name every lookup)', intArg(0, 10_000_000), 0)
  .option('--dns-max-inflight <n>', 'pending lookups above which new ones are skipped (ms_dns_skipped_total)', intArg(1, 100_000), 1000)
  .option(
    '--admin <addr>',
    `admin HTTP endpoint (GET /metrics, /metrics.json, /healthz): ${ADMIN_ADDRESS_FORM}`,
    argFrom((v) => {
      parseAdminAddress(v);
      return v;
    }),
  )
  .option(
    '--max-duration-seconds <s>',
    'stop by itself (graceful stop, exit 0) after this many seconds',
    intArg(1, MAX_DURATION_LIMIT_S),
    3600,
  )
  .addHelpText(
    'after',
    `
Metrics: ms_rpcs_total{code}, ms_inflight_rpcs, ms_serving, ms_dns_lookups_total,
  ms_dns_errors_total{kind=timeout|servfail|refused|nxdomain|other}, ms_dns_queries_total, ms_dns_skipped_total,
  ms_dns_latency_seconds (summary 0.5/0.9/0.99 over 10 s), plus process_*/nodejs_* defaults.
  DNS kinds: refused = rcode REFUSED or ICMP port unreachable; other = e.g. NOERROR without A records.
Events: one JSON line per event on stdout (listening, stopping, tryShutdown, tryShutdown-done, forceShutdown, exit).`,
  );

program.parse();
const opts = program.opts<Opts>();
if (opts.dnsLookupsPerSecond > 0 && !opts.dnsServer) {
  usageError(program, '--dns-lookups-per-second', 'needs --dns-server IP (the DNS server to load)');
}

const log = eventLog('metrics-service');
const m = createMetrics();
const server = new MetricsServer(
  { host: opts.host, port: opts.port, id: opts.id ?? `${hostname()}:${opts.port}`, maxDelayMs: opts.maxDelayMs },
  m,
  log,
);
const admin = opts.admin ? new AdminServer(opts.admin, m.registry) : undefined;
const prober =
  opts.dnsServer && opts.dnsLookupsPerSecond > 0
    ? new DnsProber(
        {
          server: opts.dnsServer,
          ratePerSecond: opts.dnsLookupsPerSecond,
          timeoutMs: opts.dnsTimeoutMs,
          template: opts.dnsNameTemplate,
          maxInFlight: opts.dnsMaxInflight,
          namePool: opts.dnsNamePool,
          search: opts.dnsSearch
            ? { domains: opts.dnsSearch.split(',').filter(Boolean), ndots: opts.dnsNdots, aaaa: !opts.dnsNoAaaa }
            : undefined,
        },
        m,
        log,
      )
    : undefined;
if (prober && !opts.dnsNameTemplate.includes('{n}'))
  log('warning', { message: '--dns-name-template has no {n}: every lookup asks the same name (cache hits)' });

manageLifetime({
  maxDurationSeconds: opts.maxDurationSeconds,
  log,
  stop: async () => {
    prober?.stop();
    await server.gracefulStop(opts.gracefulStopSeconds * 1000, opts.exitWhenDrained);
    await admin?.close();
  },
  force: () => server.forceShutdown(),
});

try {
  if (admin) {
    admin.setServing(() => server.isServing());
    log('admin-listening', { admin: await admin.listen() });
  }
  await server.listen();
  prober?.start();
} catch (e) {
  process.stderr.write(`metrics-service: cannot start: ${(e as Error).message}\n`);
  process.exit(1);
}
