// Steady DNS lookups against the node-local cache, like the Metrics Service pods in the talk: R lookups per second of
// names that are all different ({n} = a counter), so each one is a cache miss that goes upstream.
import { promises as dns } from 'node:dns';
import type { EventLog } from '../common/cli.js';
import type { DnsErrorKind, MsMetrics } from './metrics.js';

export interface DnsProberOptions {
  /** "IP" or "IP:PORT". */
  server: string;
  ratePerSecond: number;
  timeoutMs: number;
  /** Name to resolve, {n} replaced by a counter. */
  template: string;
  maxInFlight: number;
}

const TICK_MS = 10;

export function classifyDnsError(code: string | undefined): DnsErrorKind {
  switch (code) {
    case 'ETIMEOUT':
      return 'timeout';
    case 'ESERVFAIL':
      return 'servfail';
    case 'EREFUSED': // rcode REFUSED
    case 'ECONNREFUSED': // ICMP port unreachable: nothing listens on the server address
      return 'refused';
    case 'ENOTFOUND':
      return 'nxdomain';
    default:
      return 'other';
  }
}

export class DnsProber {
  private readonly resolver: dns.Resolver;
  private timer?: NodeJS.Timeout;
  private counter = 0;
  private inflight = 0;
  private tokens = 0;
  private last = 0;
  private stopped = false;

  constructor(
    private readonly opts: DnsProberOptions,
    private readonly m: MsMetrics,
    private readonly log: EventLog,
  ) {
    this.resolver = new dns.Resolver({ timeout: opts.timeoutMs, tries: 1 });
    this.resolver.setServers([opts.server]);
  }

  start(): void {
    if (this.opts.ratePerSecond <= 0) return;
    this.last = performance.now();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.log('dns-prober-started', {
      server: this.opts.server,
      rate: this.opts.ratePerSecond,
      timeoutMs: this.opts.timeoutMs,
      template: this.opts.template,
    });
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.resolver.cancel();
  }

  private tick(): void {
    const now = performance.now();
    const rate = this.opts.ratePerSecond;
    // Token bucket with a burst of at most one tick's worth (plus one), so a stalled event loop does not cause a storm.
    this.tokens = Math.min(this.tokens + (rate * (now - this.last)) / 1000, (rate * TICK_MS) / 1000 + 1);
    this.last = now;
    while (this.tokens >= 1) {
      this.tokens -= 1;
      if (this.inflight >= this.opts.maxInFlight) this.m.dnsSkipped.inc();
      else this.lookup();
    }
  }

  private lookup(): void {
    const name = this.opts.template.replaceAll('{n}', String(++this.counter));
    const t0 = performance.now();
    this.inflight++;
    this.m.dnsLookups.inc();
    this.resolver.resolve4(name).then(
      () => this.done(t0),
      (e: NodeJS.ErrnoException) => {
        if (this.stopped) return void this.inflight--;
        this.m.dnsErrors.inc({ kind: classifyDnsError(e.code) });
        this.done(t0);
      },
    );
  }

  private done(t0: number): void {
    this.inflight--;
    this.m.dnsLatency.observe((performance.now() - t0) / 1000);
  }
}
