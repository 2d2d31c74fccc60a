// DNS discovery, both ways of the talk:
//  dns-per-ip      the old way: application code resolves the name (dns.promises.Resolver pointed at node-local
//                  DNS) every --resolve-interval-ms, whatever the TTL, and keeps K pick_first channels per resolved
//                  IP (ChannelSet per-backend mode).
//  dns-round-robin the way in force when the incident started: K channels given the name, resolved by grpc-js's own
//                  DNS resolver, round_robin. grpc-js re-resolves only when the LB policy asks (a connection lost),
//                  at most once per grpc.dns_min_time_between_resolutions_ms, and through its backoff.
// Both report what the engine currently knows: ae_resolved_backends (distinct IPs over the latest answers) and
// ae_resolutions_total, and log a `dns-resolved-change` event with the time each new set was learned.
import { Resolver } from 'node:dns/promises';
import * as grpc from '@grpc/grpc-js';
import type { Backend } from '../common/net-addr.js';
import type { EventLog } from '../common/cli.js';

/** grpc-js resolves `dns://server/name` through the named server only with its "alternative resolver" (c-ares);
 *  otherwise it calls getaddrinfo, i.e. /etc/resolv.conf. Read once when grpc-js loads: set by grpc-env.ts. */
export const ALT_RESOLVER_ENV = 'GRPC_NODE_USE_ALTERNATIVE_RESOLVER';

export interface DnsObserver {
  resolved(ips: readonly string[], source: string): void;
  failed(source: string): void;
}

/** Tracks the latest answer of each source (the app resolver, or each grpc-js channel's resolver). */
export class ResolvedSets implements DnsObserver {
  private readonly latest = new Map<string, string>();
  private union = '';
  constructor(
    private readonly onResolution: (ok: boolean) => void,
    private readonly onChange: (ips: string[]) => void,
  ) {}

  resolved(ips: readonly string[], source: string): void {
    this.onResolution(true);
    this.latest.set(source, [...new Set(ips)].sort().join(','));
    const u = this.known();
    if (u.join(',') !== this.union) {
      this.union = u.join(',');
      this.onChange(u);
    }
  }

  failed(): void {
    this.onResolution(false);
  }

  forget(source: string): void {
    this.latest.delete(source);
  }

  /** Distinct IPs over every source's latest answer. */
  known(): string[] {
    return [...new Set([...this.latest.values()].flatMap((s) => (s ? s.split(',') : [])))].sort();
  }
}

/** `name:port` (or `name`, port given) → its parts; for --dns-name. */
export function parseDnsName(v: string, defaultPort?: number): { name: string; port: number } {
  const m = /^([a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)\.?(?::(\d{1,5}))?$/i.exec(v);
  const port = m?.[5] !== undefined ? Number(m[5]) : defaultPort;
  if (!m || port === undefined || port < 1 || port > 65535)
    throw new Error('expected NAME:PORT, e.g. metrics.default.svc.cluster.local:50051');
  return { name: m[1]!.toLowerCase(), port };
}

/** The old way: resolve A records in application code every interval, through one DNS server. */
export class AppResolver {
  private timer?: NodeJS.Timeout;
  private busy = false;
  private readonly resolver: Resolver;
  constructor(
    private readonly o: { name: string; port: number; server?: string; intervalMs: number; timeoutMs?: number },
    private readonly observer: DnsObserver,
    private readonly apply: (backends: Backend[]) => void,
    private readonly log: EventLog,
  ) {
    // c-ares: one try, a timeout shorter than the interval; a failed resolution keeps the current set
    this.resolver = new Resolver({ timeout: o.timeoutMs ?? Math.min(2000, o.intervalMs), tries: 1 });
    if (o.server) this.resolver.setServers([o.server]);
  }

  start(): void {
    void this.resolveOnce();
    this.timer = setInterval(() => void this.resolveOnce(), this.o.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async resolveOnce(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const ips = await this.resolver.resolve4(this.o.name);
      this.observer.resolved(ips, 'app');
      this.apply(ips.sort().map((host) => ({ host, port: this.o.port, key: `${host}:${this.o.port}` })));
    } catch (e) {
      this.observer.failed('app');
      this.log('dns-resolution-failed', { name: this.o.name, error: (e as NodeJS.ErrnoException).code ?? (e as Error).message });
    } finally {
      this.busy = false;
    }
  }
}

/** The scheme under which grpc-js's own DNS resolver runs wrapped by an observer (see registerObservedDns). */
export const OBSERVED_DNS_SCHEME = 'notdns-dns';

type Listener = grpc.experimental.ResolverListener;
type StatusOrEndpoints = Parameters<Listener>[0];

let sourceIds = 0;

/**
 * Register `notdns-dns:` = grpc-js's own `dns:` resolver (same class, same timing, created through grpc-js's
 * resolver registry), with its listener wrapped so that every result it hands to the LB policy is seen by
 * `observer`. Nothing about the resolution changes; `dns://server/name:port` becomes `notdns-dns://server/name:port`.
 */
export function registerObservedDns(observer: DnsObserver & { forget?(source: string): void }): void {
  class ObservedDnsResolver implements grpc.experimental.Resolver {
    private readonly inner: grpc.experimental.Resolver;
    private readonly source = `channel-${sourceIds++}`;
    constructor(target: grpc.experimental.GrpcUri, listener: Listener, options: grpc.ChannelOptions) {
      const wrapped: Listener = (endpoints: StatusOrEndpoints, ...rest) => {
        const r = endpoints as unknown as { ok: boolean; value?: { addresses: { host?: string }[] }[] };
        if (r.ok && r.value) observer.resolved(r.value.flatMap((e) => e.addresses.map((a) => a.host ?? '')).filter(Boolean), this.source);
        else observer.failed(this.source);
        return listener(endpoints, ...rest);
      };
      this.inner = grpc.experimental.createResolver({ ...target, scheme: 'dns' }, wrapped, options);
    }
    updateResolution(): void {
      this.inner.updateResolution();
    }
    destroy(): void {
      this.inner.destroy();
      observer.forget?.(this.source);
    }
    static getDefaultAuthority(target: grpc.experimental.GrpcUri): string {
      return target.path; // what grpc-js's dns resolver answers
    }
  }
  grpc.experimental.registerResolver(OBSERVED_DNS_SCHEME, ObservedDnsResolver);
}

/** `dns:[//authority/]name:port` → the same target under the observed scheme; other targets unchanged. */
export function observedTarget(target: string): string {
  return target.startsWith('dns:') ? `${OBSERVED_DNS_SCHEME}:${target.slice(4)}` : target;
}
