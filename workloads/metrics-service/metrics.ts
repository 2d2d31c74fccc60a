// The Metrics Service's own prom-client registry (no global state: tests may build several in one process).
import { Counter, Gauge, Registry, Summary, collectDefaultMetrics } from 'prom-client';

export const DNS_ERROR_KINDS = ['timeout', 'servfail', 'refused', 'nxdomain', 'other'] as const;
export type DnsErrorKind = (typeof DNS_ERROR_KINDS)[number];

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const m = {
    registry,
    rpcs: new Counter({
      name: 'ms_rpcs_total',
      help: 'Query RPCs finished, by gRPC status name',
      labelNames: ['code'] as const,
      registers,
    }),
    inflight: new Gauge({ name: 'ms_inflight_rpcs', help: 'Query RPCs in progress', registers }),
    serving: new Gauge({ name: 'ms_serving', help: '1 while serving, 0 once the graceful stop began', registers }),
    dnsLookups: new Counter({ name: 'ms_dns_lookups_total', help: 'DNS lookups started against --dns-server', registers }),
    dnsErrors: new Counter({
      name: 'ms_dns_errors_total',
      help: 'DNS lookups that failed, by kind (timeout|servfail|refused|nxdomain|other)',
      labelNames: ['kind'] as const,
      registers,
    }),
    dnsQueries: new Counter({
      name: 'ms_dns_queries_total',
      help: 'DNS queries sent for the lookups (search-list mode: every candidate name, A and AAAA; otherwise one per lookup)',
      registers,
    }),
    dnsSkipped: new Counter({
      name: 'ms_dns_skipped_total',
      help: 'DNS lookups not started because --dns-max-inflight lookups were pending',
      registers,
    }),
    dnsLatency: new Summary({
      name: 'ms_dns_latency_seconds',
      help: 'Time to the outcome of every DNS lookup (answer, error or timeout)',
      percentiles: [0.5, 0.9, 0.99],
      maxAgeSeconds: 10,
      ageBuckets: 5,
      registers,
    }),
  };
  for (const kind of DNS_ERROR_KINDS) m.dnsErrors.inc({ kind }, 0);
  m.rpcs.inc({ code: 'OK' }, 0);
  return m;
}

export type MsMetrics = ReturnType<typeof createMetrics>;
