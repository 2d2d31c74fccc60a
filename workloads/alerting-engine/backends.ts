// Backend set changes, like external-dns + Route 53 in the talk: an update is accepted now and applied after the
// DNS propagation delay. POST /backends {"backends":["ip:port",...]} (the whole new set); GET /backends.
import { HttpError, type AdminServer } from '../common/admin.js';
import { inCidrs, parseBackend, dedupe, type Backend, type Cidr } from '../common/net-addr.js';
import type { EventLog } from '../common/cli.js';
import { ChannelSet, type ChannelConfig } from './channels.js';
import type { AeMetrics } from './metrics.js';

export interface BackendPolicy {
  allowCidrs: Cidr[];
  allowAny: boolean;
  maxChannels: number;
}

const MAX_PENDING = 100;

/** The body of POST /backends: exactly {"backends": [string, ...]} (checked by hand: zod alone costs ~6 MB RSS). */
function backendsOf(raw: unknown): string[] | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const keys = Object.keys(raw);
  const list = (raw as { backends?: unknown }).backends;
  if (keys.length !== 1 || !Array.isArray(list) || !list.every((x) => typeof x === 'string')) return undefined;
  return list as string[];
}

/** Check a backend set against the allow-list and the channel cap; returns an error message or undefined. */
export function checkBackends(
  bs: Backend[],
  policy: BackendPolicy,
  cfg: Pick<ChannelConfig, 'discovery' | 'channelsPerBackend'>,
): string | undefined {
  if (!policy.allowAny) {
    const outside = bs.filter((b) => !inCidrs(b.host, policy.allowCidrs)).map((b) => b.key);
    if (outside.length) {
      return `${outside.join(', ')} outside --allow-cidr ${policy.allowCidrs.map((c) => c.text).join(',') || '(none)'}; refusing to send traffic there`;
    }
  }
  const n = ChannelSet.channelsFor(cfg, bs.length);
  if (n > policy.maxChannels) return `${bs.length} backends need ${n} channels, above --max-channels ${policy.maxChannels}`;
  return undefined;
}

interface Pending {
  id: number;
  applyAt: Date;
  backends: Backend[];
  timer: NodeJS.Timeout;
}

export class BackendUpdates {
  private readonly pending: Pending[] = [];
  private nextId = 1;

  constructor(
    private readonly channels: ChannelSet,
    private readonly cfg: ChannelConfig,
    private readonly policy: BackendPolicy,
    private readonly propagationMs: number,
    private readonly m: AeMetrics,
    private readonly log: EventLog,
  ) {}

  register(admin: AdminServer): void {
    admin.route('POST', '/backends', (b) => this.submit(b));
    admin.route('GET', '/backends', () => ({
      body: {
        discovery: this.cfg.discovery,
        target: this.cfg.target,
        channels: this.channels.channelCount(),
        current: this.channels.current().map((x) => x.key),
        pending: this.pending.map((p) => ({ id: p.id, applyAt: p.applyAt.toISOString(), backends: p.backends.map((x) => x.key) })),
      },
    }));
  }

  /** Handle a POST /backends body: validate, then apply now (propagation 0) or schedule. */
  submit(raw: unknown): { status: number; body: unknown } {
    if (this.cfg.target)
      throw new HttpError(409, `backends are resolved from --target ${this.cfg.target}; POST /backends needs --backends mode`);
    if (this.cfg.discovery === 'dns-per-ip')
      throw new HttpError(409, 'backends are resolved from --dns-name (dns-per-ip); POST /backends needs --backends mode');
    const list = backendsOf(raw);
    if (!list) throw new HttpError(400, 'expected a JSON body {"backends":["IP:PORT", ...]}');
    let bs: Backend[];
    try {
      bs = dedupe(list.map(parseBackend));
    } catch (e) {
      throw new HttpError(400, (e as Error).message);
    }
    const problem = checkBackends(bs, this.policy, this.cfg);
    if (problem) throw new HttpError(400, problem);
    if (this.propagationMs <= 0) {
      const r = this.apply(bs, 0);
      return { status: 200, body: { applied: true, ...r } };
    }
    if (this.pending.length >= MAX_PENDING) throw new HttpError(429, `${MAX_PENDING} updates already pending`);
    const id = this.nextId++;
    const applyAt = new Date(Date.now() + this.propagationMs);
    const timer = setTimeout(() => {
      this.pending.splice(
        this.pending.findIndex((p) => p.id === id),
        1,
      );
      this.m.pendingUpdates.set(this.pending.length);
      this.apply(bs, id);
    }, this.propagationMs);
    this.pending.push({ id, applyAt, backends: bs, timer });
    this.m.pendingUpdates.set(this.pending.length);
    this.log('backends-accepted', { id, backends: bs.map((b) => b.key), applyAt: applyAt.toISOString() });
    return { status: 202, body: { applied: false, id, applyAt: applyAt.toISOString(), pendingUpdates: this.pending.length } };
  }

  cancelAll(): void {
    for (const p of this.pending) clearTimeout(p.timer);
    this.pending.length = 0;
    this.m.pendingUpdates.set(0);
  }

  private apply(bs: Backend[], id: number): { added: string[]; removed: string[] } {
    const r = this.channels.setBackends(bs);
    this.m.updatesApplied.inc();
    this.log('backends-applied', { id, backends: bs.map((b) => b.key), ...r, channels: this.channels.channelCount() });
    return r;
  }
}
