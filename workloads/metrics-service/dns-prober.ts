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
  /** Search-list mode (resolv.conf `search`): expand names the way glibc does; absent = one A query per lookup. */
  search?: { domains: string[]; ndots: number; aaaa: boolean };
  /** {n} cycles through 0..namePool-1 (names repeat: a cache can help); 0/absent = a new name every lookup. */
  namePool?: number;
}

/**
 * The names glibc's resolver (res_search, as getaddrinfo uses it) asks for `name`, in order:
 *  - a trailing dot: the name itself only;
 *  - at least `ndots` dots: the name itself first, then name.<each search domain>;
 *  - fewer dots: name.<each search domain>, then the name itself.
 * Kubernetes pods get `options ndots:5` and `search <ns>.svc.cluster.local svc.cluster.local cluster.local` plus the
 * node's own domains, so `api.example.com` (2 dots) goes through every search domain before it is tried as is.
 */
export function searchCandidates(name: string, domains: readonly string[], ndots: number): string[] {
  if (name.endsWith('.')) return [name];
  const dots = name.split('.').length - 1;
  const searched = domains.map((d) => `${name}.${d.replace(/\.$/, '')}.`);
  return dots >= ndots ? [`${name}.`, ...searched] : [...searched, `${name}.`];
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
    const n = ++this.counter;
    const name = this.opts.template.replaceAll('{n}', String(this.opts.namePool ? n % this.opts.namePool : n));
    const t0 = performance.now();
    this.inflight++;
    this.m.dnsLookups.inc();
    if (this.opts.search) return void this.searchLookup(name, this.opts.search, t0);
    this.m.dnsQueries.inc();
    this.resolver.resolve4(name).then(
      () => this.done(t0),
      (e: NodeJS.ErrnoException) => {
        if (this.stopped) return void this.inflight--;
        this.m.dnsErrors.inc({ kind: classifyDnsError(e.code) });
        this.done(t0);
      },
    );
  }

  /**
   * One lookup as glibc does it (searchCandidates): per candidate an A query (and AAAA, in parallel, as getaddrinfo
   * with AF_UNSPEC sends both); an answer to either ends the lookup. NXDOMAIN and NODATA go on to the next
   * candidate, and so does SERVFAIL (glibc remembers it); a timeout ends the lookup as a timeout (glibc: TRY_AGAIN
   * without SERVFAIL stops the search). One try per query, no retries (glibc: attempts:2, timeout:5).
   */
  private async searchLookup(name: string, s: NonNullable<DnsProberOptions['search']>, t0: number): Promise<void> {
    let servfail = false;
    for (const candidate of searchCandidates(name, s.domains, s.ndots)) {
      this.m.dnsQueries.inc(s.aaaa ? 2 : 1);
      const outcomes = await Promise.allSettled([
        this.resolver.resolve4(candidate),
        ...(s.aaaa ? [this.resolver.resolve6(candidate)] : []),
      ]);
      if (this.stopped) return void this.inflight--;
      if (outcomes.some((o) => o.status === 'fulfilled' && o.value.length > 0)) return this.done(t0);
      const codes = outcomes.map((o) => (o.status === 'rejected' ? (o.reason as NodeJS.ErrnoException).code : 'ENODATA'));
      if (codes.includes('ETIMEOUT')) {
        this.m.dnsErrors.inc({ kind: 'timeout' });
        return this.done(t0);
      }
      if (codes.includes('ESERVFAIL')) servfail = true;
    }
    this.m.dnsErrors.inc({ kind: servfail ? 'servfail' : 'nxdomain' });
    this.done(t0);
  }

  private done(t0: number): void {
    this.inflight--;
    this.m.dnsLatency.observe((performance.now() - t0) / 1000);
  }
}
