// The Alerting Engine's own prom-client registry.
import { Counter, Gauge, Registry, Summary, collectDefaultMetrics } from 'prom-client';

export const CHANNEL_STATES = ['IDLE', 'CONNECTING', 'READY', 'TRANSIENT_FAILURE', 'SHUTDOWN'] as const;
export const CONNECT_ERROR_KINDS = [
  'refused',
  'timeout',
  'connect_timeout',
  'unreachable',
  'not_allowed',
  'backend_removed',
  'other',
] as const;
export type ConnectErrorKind = (typeof CONNECT_ERROR_KINDS)[number];

export function createMetrics(channelStates: () => Record<string, number>) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const m = {
    registry,
    calls: new Counter({
      name: 'ae_calls_total',
      help: 'Query calls finished, by gRPC status name',
      labelNames: ['code'] as const,
      registers,
    }),
    callErrors: new Counter({ name: 'ae_call_errors_total', help: 'Query calls that did not end OK', registers }),
    callsSkipped: new Counter({
      name: 'ae_calls_skipped_total',
      help: 'Calls not issued because the previous call of the same slot was still in flight',
      registers,
    }),
    callLatency: new Summary({
      name: 'ae_call_latency_seconds',
      help: 'Latency of every Query call (errors included; deadline-exceeded calls count as the deadline)',
      percentiles: [0.5, 0.9, 0.99],
      maxAgeSeconds: 10,
      ageBuckets: 5,
      registers,
    }),
    channels: new Gauge({
      name: 'ae_channels',
      help: 'gRPC channels by connectivity state',
      labelNames: ['state'] as const,
      registers,
      collect() {
        const counts = channelStates();
        for (const s of CHANNEL_STATES) this.set({ state: s }, counts[s] ?? 0);
      },
    }),
    connectAttempts: new Counter({
      name: 'ae_connect_attempts_total',
      help: 'TCP connection attempts (each one a new socket, a new source port, a new flow)',
      registers,
    }),
    connectTimeouts: new Counter({
      name: 'ae_connect_timeouts_total',
      help: 'Connection attempts aborted by --connect-timeout-ms',
      registers,
    }),
    connectErrors: new Counter({
      name: 'ae_connect_errors_total',
      help: 'Failed connection attempts by kind (refused=RST, timeout=kernel SYN retries exhausted, connect_timeout, unreachable=ICMP, not_allowed=outside --allow-cidr, backend_removed, other)',
      labelNames: ['kind'] as const,
      registers,
    }),
    connecting: new Gauge({
      name: 'ae_connects_in_progress',
      help: 'TCP connection attempts in progress (SYN sent, no answer yet)',
      registers,
    }),
    backends: new Gauge({ name: 'ae_backends', help: 'Backends in the applied set (1 with --target)', registers }),
    pendingUpdates: new Gauge({
      name: 'ae_pending_backend_updates',
      help: 'POST /backends updates waiting for --dns-propagation-seconds',
      registers,
    }),
    updatesApplied: new Counter({ name: 'ae_backend_updates_applied_total', help: 'Backend set updates applied', registers }),
    // DNS discovery (dns-per-ip, dns-round-robin)
    resolvedBackends: new Gauge({
      name: 'ae_resolved_backends',
      help: 'Backends the engine knows: DNS discovery = distinct IPs in the latest answers (of the application resolver, or of every grpc-js channel resolver); per-backend/round-robin = the applied set',
      registers,
    }),
    backendSetChanges: new Counter({
      name: 'ae_backend_set_changes_total',
      help: 'Times the set of backends the engine knows changed (DNS discovery: a new answer; otherwise an applied update)',
      registers,
    }),
    resolutions: new Counter({
      name: 'ae_resolutions_total',
      help: 'DNS discovery: resolutions of the name, by result (ok, failed)',
      labelNames: ['result'] as const,
      registers,
    }),
  };
  m.calls.inc({ code: 'OK' }, 0);
  for (const kind of CONNECT_ERROR_KINDS) m.connectErrors.inc({ kind }, 0);
  for (const result of ['ok', 'failed']) m.resolutions.inc({ result }, 0);
  return m;
}

export type AeMetrics = ReturnType<typeof createMetrics>;
