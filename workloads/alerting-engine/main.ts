#!/usr/bin/env node
// Alerting Engine: the gRPC client of the talk. Many channels, aggressive reconnect backoff, steady Query calls,
// backend set changes with a DNS propagation delay. A load generator for the lab: bounded in time, channel count
// and destinations (--allow-cidr).
import './grpc-env.js'; // first: before grpc-js loads
import { statSync } from 'node:fs';
import { AdminServer, HttpError } from '../common/admin.js';
import { ADMIN_ADDRESS_FORM, parseAdminAddress } from '../common/admin-address.js';
import {
  argFrom,
  createProgram,
  eventLog,
  intArg,
  manageLifetime,
  MAX_DURATION_LIMIT_S,
  numberArg,
  repeatable,
  usageError,
} from '../common/cli.js';
import { inCidrs, parseBackendList, parseCidr, type Backend, type Cidr } from '../common/net-addr.js';
import { BackendUpdates, checkBackends } from './backends.js';
import { ChannelSet, type ChannelConfig } from './channels.js';
import { ConnectGuard } from './connect-guard.js';
import { createMetrics } from './metrics.js';
import { AppResolver, parseDnsName, registerObservedDns, ResolvedSets } from './dns-discovery.js';

interface Opts {
  backends?: Backend[];
  target?: string;
  discovery: 'per-backend' | 'round-robin' | 'dns-per-ip' | 'dns-round-robin';
  dnsName?: { name: string; port: number };
  dnsServer?: string;
  resolveIntervalMs: number;
  dnsMinTimeBetweenResolutionsMs?: number;
  channelsPerBackend: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  connectTimeoutMs: number;
  callIntervalMs: number;
  callDeadlineMs: number;
  callDelayMs: number;
  dnsPropagationSeconds: number;
  allowCidr?: Cidr[];
  allowAnyTarget: boolean;
  maxChannels: number;
  admin?: string;
  maxDurationSeconds: number;
  leaseFile?: string;
  leaseSeconds: number;
}

const program = createProgram(
  'alerting-engine',
  'notdns Alerting Engine: gRPC load generator with one channel per backend (or round_robin), tunable reconnect backoff and a per-attempt connect timeout.',
)
  .option(
    '--backends <list>',
    'initial backend set, IPv4:PORT,IPv4:PORT,... (change it later with POST /backends)',
    argFrom(parseBackendList),
  )
  .option(
    '--target <target>',
    'round-robin / dns-round-robin: a gRPC target resolved by grpc-js, e.g. dns:///metrics.default.svc.cluster.local:50051 or dns://169.254.20.10:53/metrics.default.svc.cluster.local:50051 (instead of --backends)',
  )
  .option(
    '--dns-name <name:port>',
    'dns-per-ip: the name the application resolves (A records) for its backend set',
    argFrom((v) => parseDnsName(v)),
  )
  .option('--dns-server <ip[:port]>', 'dns-per-ip: the DNS server the application asks (default: the system resolver configuration)')
  .option(
    '--resolve-interval-ms <ms>',
    'dns-per-ip: re-resolve every this many ms (whatever the TTL, as application code typically did)',
    intArg(100, 3_600_000),
    5000,
  )
  .option(
    '--dns-min-time-between-resolutions-ms <ms>',
    'dns-round-robin: grpc.dns_min_time_between_resolutions_ms (unset: grpc-js default 30000)',
    intArg(0, 3_600_000),
  )
  .option(
    '--discovery <mode>',
    "per-backend: K pick_first channels per backend (target ipv4:IP:PORT, local subchannel pool = own TCP connection each), like the talk's client; round-robin: ONE round_robin channel over all backends; dns-per-ip: per-backend over the IPs the application resolves from --dns-name; dns-round-robin: K round_robin channels on --target dns://…, resolved by grpc-js",
    argFrom((v) => {
      if (v !== 'per-backend' && v !== 'round-robin' && v !== 'dns-per-ip' && v !== 'dns-round-robin')
        throw new Error('expected per-backend, round-robin, dns-per-ip or dns-round-robin');
      return v;
    }),
    'per-backend',
  )
  .option(
    '--channels-per-backend <k>',
    'per-backend: channels per backend; round-robin: call slots per backend on the one channel',
    intArg(1, 100_000),
    1,
  )
  .option('--initial-backoff-ms <ms>', 'grpc.initial_reconnect_backoff_ms (unset: grpc-js default 1000)', intArg(1, 3_600_000))
  .option(
    '--max-backoff-ms <ms>',
    "grpc.max_reconnect_backoff_ms (unset: grpc-js default 120000); the talk's client used 300",
    intArg(1, 3_600_000),
  )
  .option(
    '--connect-timeout-ms <ms>',
    "per-attempt connect deadline: a connect still unanswered after this long is aborted and retried on a new socket after the backoff, like C-core's min connect timeout (0 = none, the grpc-js behaviour: a SYN into a black hole lasts the kernel's ~130 s of retries)",
    intArg(0, 600_000),
    0,
  )
  .option(
    '--call-interval-ms <ms>',
    'each call slot issues one Query per interval (random phase); skipped while its previous call is in flight',
    intArg(10, 3_600_000),
    1000,
  )
  .option('--call-deadline-ms <ms>', 'deadline of each Query', intArg(1, 3_600_000), 1000)
  .option(
    '--call-delay-ms <ms>',
    'QueryRequest.delay_ms: the server holds each call this long (long in-flight calls)',
    intArg(0, 600_000),
    0,
  )
  .option(
    '--dns-propagation-seconds <s>',
    'a POST /backends update takes effect after this delay (external-dns + Route 53 in the talk)',
    numberArg(0, 3600),
    0,
  )
  .option(
    '--allow-cidr <cidr>',
    'IPv4 CIDR backends may be in (repeatable; required unless --allow-any-target); every TCP connect outside is refused in-process',
    repeatable(parseCidr),
  )
  .option('--allow-any-target', 'disable the --allow-cidr safety net', false)
  .option('--max-channels <n>', 'refuse backend sets that need more channels than this', intArg(1, 1_000_000), 20_000)
  .option(
    '--admin <addr>',
    `admin HTTP endpoint (GET /metrics, /metrics.json, /healthz, GET|POST /backends): ${ADMIN_ADDRESS_FORM}`,
    argFrom((v) => {
      parseAdminAddress(v);
      return v;
    }),
  )
  .option(
    '--max-duration-seconds <s>',
    'stop by itself (close channels, exit 0) after this many seconds',
    intArg(1, MAX_DURATION_LIMIT_S),
    3600,
  )
  .option(
    '--lease-file <path>',
    'dead-man switch: stop by itself (close channels, exit 0) once this file is missing or its mtime is older than --lease-seconds (the harness renews it every second)',
  )
  .option('--lease-seconds <s>', 'how old the --lease-file may get', intArg(1, 3600), 5)
  .addHelpText(
    'after',
    `
Metrics: ae_calls_total{code}, ae_call_errors_total, ae_calls_skipped_total, ae_call_latency_seconds (summary
  0.5/0.9/0.99 over 10 s), ae_channels{state}, ae_connect_attempts_total, ae_connect_timeouts_total,
  ae_connect_errors_total{kind}, ae_connects_in_progress, ae_backends, ae_pending_backend_updates,
  ae_backend_updates_applied_total, ae_resolved_backends, ae_resolutions_total{result} (DNS discovery), plus
  process_*/nodejs_* defaults.
Admin: POST /stop-load stops the load for good (channels closed, connects in progress aborted, every new connect
  refused, backend updates refused with 409) and keeps the admin endpoint up: the harness' fault removal.
Events: one JSON line per event on stdout (started, backends-accepted, backends-applied, dns-resolved-change,
  load-stopped, stopping, exit).`,
  );

program.parse();
const opts = program.opts<Opts>();
// grpc-js builds an Error (stack included) for every failed call and Node one for every failed connect: under a
// reconnect flood the stack traces alone cost ~15% CPU. One frame is enough for the errors we count by code.
Error.stackTraceLimit = 1;
const cidrs = opts.allowCidr ?? [];
if (!opts.allowAnyTarget && cidrs.length === 0)
  usageError(program, '--allow-cidr', 'required (e.g. --allow-cidr 10.1.0.0/16) unless --allow-any-target');
if (opts.target && opts.discovery !== 'round-robin' && opts.discovery !== 'dns-round-robin')
  usageError(program, '--target', 'needs --discovery round-robin or dns-round-robin');
if (opts.target && opts.backends) usageError(program, '--target', 'use either --target or --backends, not both');
if (opts.discovery === 'dns-round-robin' && !opts.target?.startsWith('dns:'))
  usageError(program, '--target', 'dns-round-robin needs --target dns:[//server/]name:port');
if (opts.discovery === 'dns-per-ip' && (!opts.dnsName || opts.backends))
  usageError(program, '--dns-name', 'dns-per-ip needs --dns-name NAME:PORT (and no --backends)');
if (opts.dnsName && opts.discovery !== 'dns-per-ip') usageError(program, '--dns-name', 'needs --discovery dns-per-ip');

const cfg: ChannelConfig = {
  discovery: opts.discovery,
  channelsPerBackend: opts.channelsPerBackend,
  target: opts.target,
  initialBackoffMs: opts.initialBackoffMs,
  maxBackoffMs: opts.maxBackoffMs,
  callIntervalMs: opts.callIntervalMs,
  callDeadlineMs: opts.callDeadlineMs,
  callDelayMs: opts.callDelayMs,
  dnsMinTimeBetweenResolutionsMs: opts.dnsMinTimeBetweenResolutionsMs,
};
const policy = { allowCidrs: cidrs, allowAny: opts.allowAnyTarget, maxChannels: opts.maxChannels };
const initial = opts.backends ?? [];
const problem = checkBackends(initial, policy, cfg);
if (problem) usageError(program, '--backends', problem);

const log = eventLog('alerting-engine');
let channels: ChannelSet | undefined;
const m = createMetrics(() => channels?.states() ?? {});
const guard = new ConnectGuard({
  timeoutMs: opts.connectTimeoutMs,
  allowed: (host) => !loadStopped && (opts.allowAnyTarget || inCidrs(host, cidrs)),
  onAttempt: () => m.connectAttempts.inc(),
  onTimeout: () => m.connectTimeouts.inc(),
  onError: (kind) => m.connectErrors.inc({ kind }),
});
guard.install();
channels = new ChannelSet(cfg, m, guard, log);
// DNS discovery: what the engine knows, when it learned it
const resolvedSets = new ResolvedSets(
  (ok) => m.resolutions.inc({ result: ok ? 'ok' : 'failed' }),
  (ips) => {
    m.resolvedBackends.set(ips.length);
    m.backendSetChanges.inc();
    log('dns-resolved-change', { ips, at: new Date().toISOString() });
  },
);
if (opts.discovery === 'dns-round-robin') registerObservedDns(resolvedSets);
const appResolver =
  opts.discovery === 'dns-per-ip' && opts.dnsName
    ? new AppResolver(
        { ...opts.dnsName, server: opts.dnsServer, intervalMs: opts.resolveIntervalMs },
        resolvedSets,
        (bs) => {
          if (loadStopped) return;
          const problem = checkBackends(bs, policy, cfg);
          if (problem) return void log('dns-backends-refused', { problem });
          const r = channels!.setBackends(bs);
          if (r.added.length || r.removed.length)
            log('backends-applied', { id: 0, backends: bs.map((b) => b.key), ...r, channels: channels!.channelCount() });
        },
        log,
      )
    : undefined;
const updates = new BackendUpdates(channels, cfg, policy, opts.dnsPropagationSeconds * 1000, m, log);
const admin = opts.admin ? new AdminServer(opts.admin, m.registry) : undefined;
let running = false;
let loadStopped = false;

const stop = manageLifetime({
  maxDurationSeconds: opts.maxDurationSeconds,
  log,
  stop: async () => {
    running = false;
    updates.cancelAll();
    appResolver?.stop();
    channels?.close();
    guard.abortAll();
    await admin?.close();
  },
});

try {
  if (admin) {
    admin.setServing(() => running);
    updates.register(admin);
    admin.route('POST', '/backends', (b) => {
      if (loadStopped) throw new HttpError(409, 'the load was stopped (POST /stop-load): backend updates are refused');
      return updates.submit(b);
    });
    admin.route('POST', '/stop-load', () => {
      if (!loadStopped) {
        loadStopped = true;
        running = false;
        updates.cancelAll();
        appResolver?.stop();
        channels?.close();
        guard.abortAll();
        log('load-stopped', { by: 'POST /stop-load' });
      }
      return { body: { stopped: true } };
    });
    log('admin-listening', { admin: await admin.listen() });
  }
} catch (e) {
  process.stderr.write(`alerting-engine: cannot start: ${(e as Error).message}\n`);
  process.exit(1);
}
if (opts.leaseFile) {
  const lease = opts.leaseFile,
    maxAgeMs = opts.leaseSeconds * 1000;
  // checked every 500 ms: the load stops at most lease-seconds + 0.5 s after the last renewal
  setInterval(() => {
    let age: number;
    try {
      age = Date.now() - statSync(lease).mtimeMs;
    } catch {
      age = Infinity;
    }
    if (age > maxAgeMs) {
      log('lease-expired', { leaseFile: lease, ageMs: Number.isFinite(age) ? Math.round(age) : null });
      stop('lease-expired');
    }
  }, 500).unref();
}
channels.start();
if (appResolver) appResolver.start();
else if (!opts.target) channels.setBackends(initial);
else m.backends.set(1);
running = true;
const effInitial = cfg.initialBackoffMs ?? 1000;
if (cfg.maxBackoffMs !== undefined && effInitial > cfg.maxBackoffMs) {
  log('warning', {
    message: `initial backoff ${effInitial} ms > --max-backoff-ms ${cfg.maxBackoffMs}: grpc-js waits the initial backoff once, then at most the max (set --initial-backoff-ms too, the talk's client used 200/300)`,
  });
}
log('started', {
  discovery: cfg.discovery,
  target: cfg.target,
  dnsName: opts.dnsName ? `${opts.dnsName.name}:${opts.dnsName.port}` : undefined,
  backends: initial.map((b) => b.key),
  channels: channels.channelCount(),
  initialBackoffMs: cfg.initialBackoffMs ?? 'default(1000)',
  maxBackoffMs: cfg.maxBackoffMs ?? 'default(120000)',
  connectTimeoutMs: opts.connectTimeoutMs,
  callIntervalMs: cfg.callIntervalMs,
  callDeadlineMs: cfg.callDeadlineMs,
  allowCidr: opts.allowAnyTarget ? 'any' : cidrs.map((c) => c.text),
});
