// The Alerting Engine's channels and its call load.
//  per-backend: for each backend K channels `ipv4:IP:PORT`, pick_first, grpc.use_local_subchannel_pool=1, so each
//               channel owns its subchannel and TCP connection (the talk's client). One call slot per channel.
//  round-robin: ONE channel over all backends (`ipv4:a:p,b:p` or --target dns:///name:port) with round_robin,
//               rebuilt when the set changes; K call slots per backend (K with --target) share it.
//  dns-per-ip:  like per-backend; the set comes from the application's own DNS resolution (dns-discovery.ts).
//  dns-round-robin: K channels given --target dns://server/name:port, round_robin, each resolved by grpc-js itself
//               and owning its subchannels (local pool: K connections per backend, as per-backend); one slot each.
// Every slot issues a Query each call interval (random phase) unless its previous call is still in flight.
// All slots are driven by one timer (a timing wheel), which also sweeps connect deadlines.
import * as grpc from '@grpc/grpc-js';
import { loadProtos, type QueryRequest, type QueryResponse } from '../common/proto.js';
import type { Backend } from '../common/net-addr.js';
import type { EventLog } from '../common/cli.js';
import type { ConnectGuard } from './connect-guard.js';
import type { AeMetrics } from './metrics.js';
import { Wheel } from './wheel.js';
import { observedTarget } from './dns-discovery.js';

/** Modes with K pick_first channels per backend IP. */
const perIp = (cfg: Pick<ChannelConfig, 'discovery'>) => cfg.discovery === 'per-backend' || cfg.discovery === 'dns-per-ip';

export interface ChannelConfig {
  discovery: 'per-backend' | 'round-robin' | 'dns-per-ip' | 'dns-round-robin';
  channelsPerBackend: number;
  /** dns-round-robin: grpc.dns_min_time_between_resolutions_ms (unset: grpc-js default 30000). */
  dnsMinTimeBetweenResolutionsMs?: number;
  /** round-robin only: a fixed gRPC target (e.g. dns:///metrics.default.svc.cluster.local:50051). */
  target?: string;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  callIntervalMs: number;
  callDeadlineMs: number;
  callDelayMs: number;
}

interface Holder {
  client: grpc.Client;
}

interface Slot {
  id: number;
  holder: Holder;
  inFlight: boolean;
}

const TICK_MS = 10;
const CREDS = grpc.credentials.createInsecure();
const STATE_NAMES = grpc.connectivityState as unknown as Record<number, string>;

export class ChannelSet {
  private readonly wheel: Wheel<Slot>;
  private readonly options: grpc.ChannelOptions;
  private readonly query = loadProtos().query;
  /** per-backend: backend key → its channels (one slot each). */
  private readonly perBackend = new Map<string, Slot[]>();
  /** round-robin: the one channel and its slots. */
  private rr?: { holder: Holder; slots: Slot[] };
  /** dns-round-robin: K channels, one slot each. */
  private readonly dnsRr: Slot[] = [];
  private backends: Backend[] = [];
  private nextSlotId = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly cfg: ChannelConfig,
    private readonly m: AeMetrics,
    private readonly guard: ConnectGuard,
    private readonly log: EventLog,
  ) {
    this.wheel = new Wheel<Slot>(cfg.callIntervalMs, TICK_MS);
    const o: grpc.ChannelOptions = { 'grpc.enable_channelz': 0 };
    if (perIp(cfg)) o['grpc.use_local_subchannel_pool'] = 1;
    else o['grpc.service_config'] = JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] });
    if (cfg.discovery === 'dns-round-robin') {
      o['grpc.use_local_subchannel_pool'] = 1;
      if (cfg.dnsMinTimeBetweenResolutionsMs !== undefined)
        o['grpc.dns_min_time_between_resolutions_ms'] = cfg.dnsMinTimeBetweenResolutionsMs;
    }
    if (cfg.initialBackoffMs !== undefined) o['grpc.initial_reconnect_backoff_ms'] = cfg.initialBackoffMs;
    if (cfg.maxBackoffMs !== undefined) o['grpc.max_reconnect_backoff_ms'] = cfg.maxBackoffMs;
    this.options = o;
  }

  /** Number of gRPC channels a backend set needs. */
  static channelsFor(cfg: Pick<ChannelConfig, 'discovery' | 'channelsPerBackend'>, nBackends: number): number {
    if (cfg.discovery === 'dns-round-robin') return cfg.channelsPerBackend;
    return perIp(cfg) ? nBackends * cfg.channelsPerBackend : 1;
  }

  start(): void {
    if (this.cfg.discovery === 'dns-round-robin') {
      if (!this.cfg.target) throw new Error('dns-round-robin needs a target');
      const target = observedTarget(this.cfg.target);
      for (let i = 0; i < this.cfg.channelsPerBackend; i++) this.dnsRr.push(this.addSlot({ client: this.newClient(target) }));
      this.log('dns-round-robin-channels', { target: this.cfg.target, channels: this.dnsRr.length });
    } else if (this.cfg.target) this.rebuildRoundRobin(this.cfg.target, this.cfg.channelsPerBackend);
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  current(): Backend[] {
    return this.backends;
  }

  channelCount(): number {
    if (this.cfg.discovery === 'dns-round-robin') return this.dnsRr.length;
    return perIp(this.cfg) ? this.wheel.size : this.rr ? 1 : 0;
  }

  /** Apply a backend set: per-backend adds channels for new backends and closes those of removed ones;
   * round-robin rebuilds its one channel. */
  setBackends(next: Backend[]): { added: string[]; removed: string[] } {
    const before = new Set(this.backends.map((b) => b.key));
    const after = new Set(next.map((b) => b.key));
    const added = next.filter((b) => !before.has(b.key)).map((b) => b.key);
    const removed = [...before].filter((k) => !after.has(k));
    this.backends = next;
    if (perIp(this.cfg)) {
      for (const key of removed) {
        for (const slot of this.perBackend.get(key) ?? []) this.closeSlot(slot, true);
        this.perBackend.delete(key);
        this.guard.abortTo(key);
      }
      for (const key of added) {
        const slots: Slot[] = [];
        for (let i = 0; i < this.cfg.channelsPerBackend; i++) slots.push(this.addSlot({ client: this.newClient(`ipv4:${key}`) }));
        this.perBackend.set(key, slots);
      }
    } else if (added.length || removed.length) {
      if (next.length === 0) this.closeRoundRobin();
      else this.rebuildRoundRobin(`ipv4:${next.map((b) => b.key).join(',')}`, next.length * this.cfg.channelsPerBackend);
      for (const key of removed) this.guard.abortTo(key);
    }
    this.m.backends.set(this.cfg.target ? 1 : next.length);
    if (this.cfg.discovery === 'per-backend' || this.cfg.discovery === 'round-robin') {
      this.m.resolvedBackends.set(next.length);
      if (added.length || removed.length) this.m.backendSetChanges.inc();
    }
    return { added, removed };
  }

  /** Channels by connectivity state (for ae_channels{state}). */
  states(): Record<string, number> {
    const out: Record<string, number> = {};
    const count = (c: grpc.Client) => {
      const s = STATE_NAMES[c.getChannel().getConnectivityState(false)];
      out[s] = (out[s] ?? 0) + 1;
    };
    for (const slots of this.perBackend.values()) for (const s of slots) count(s.holder.client);
    if (this.rr) count(this.rr.holder.client);
    for (const s of this.dnsRr) count(s.holder.client);
    return out;
  }

  close(): void {
    clearInterval(this.timer);
    for (const slots of this.perBackend.values()) for (const s of slots) this.closeSlot(s, true);
    this.perBackend.clear();
    this.closeRoundRobin();
    for (const s of this.dnsRr.splice(0)) this.closeSlot(s, true);
  }

  private tick(): void {
    const now = performance.now();
    this.wheel.advance(now, (slot) => this.call(slot));
    this.guard.sweep(now);
    this.m.connecting.set(this.guard.inProgress);
  }

  private newClient(target: string): grpc.Client {
    return new grpc.Client(target, CREDS, this.options);
  }

  private addSlot(holder: Holder): Slot {
    const slot: Slot = { id: this.nextSlotId++, holder, inFlight: false };
    this.wheel.add(slot);
    return slot;
  }

  private closeSlot(slot: Slot, closeChannel: boolean): void {
    this.wheel.remove(slot);
    if (closeChannel) slot.holder.client.close();
  }

  private rebuildRoundRobin(target: string, nSlots: number): void {
    const old = this.rr;
    const holder: Holder = old?.holder ?? { client: this.newClient(target) };
    if (old) {
      const prev = holder.client;
      holder.client = this.newClient(target);
      prev.close(); // calls in flight on it finish; new calls use the new channel
    }
    const slots = old?.slots ?? [];
    while (slots.length < nSlots) slots.push(this.addSlot(holder));
    while (slots.length > nSlots) this.closeSlot(slots.pop()!, false);
    this.rr = { holder, slots };
    this.log('round-robin-channel', { target, slots: nSlots });
  }

  private closeRoundRobin(): void {
    if (!this.rr) return;
    for (const s of this.rr.slots) this.closeSlot(s, false);
    this.rr.holder.client.close();
    this.rr = undefined;
  }

  private call(slot: Slot): void {
    if (slot.inFlight) return void this.m.callsSkipped.inc();
    slot.inFlight = true;
    const t0 = performance.now();
    const req: QueryRequest = { query: 'alerts', delay_ms: this.cfg.callDelayMs, client_id: `${process.pid}/${slot.id}` };
    const q = this.query;
    slot.holder.client.makeUnaryRequest<QueryRequest, QueryResponse>(
      q.path,
      q.requestSerialize,
      q.responseDeserialize,
      req,
      { deadline: Date.now() + this.cfg.callDeadlineMs },
      (err) => {
        slot.inFlight = false;
        const code = err ? (grpc.status[err.code] ?? String(err.code)) : 'OK';
        this.m.calls.inc({ code });
        if (err) this.m.callErrors.inc();
        this.m.callLatency.observe((performance.now() - t0) / 1000);
      },
    );
  }
}
