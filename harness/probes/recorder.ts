// Probes sampled every second into one time series per (probe, target). Typed, written once against the
// provider interface: nodes are read through ClusterNode.readProcNet and the ENA reader, pods through their
// admin endpoint. A sample that would overlap the next one is skipped (and counted as jitter).
import type { Cluster, ClusterNode, PodHandle } from '../providers/types.js';
import type { Marker, Series } from '../results.js';
import type { ProbeId } from '../spec/schema.js';
import { metricQuantile, metricSum, type WorkloadMetrics } from '../../workloads/common/metrics-types.js';
import { parseConntrackCount, parseNetstat } from './procnet.js';
import { log } from '../log.js';
import { NotdnsError } from '../errors.js';
import { digOn } from './dig.js';
import { liveHeadline, probeDef } from './catalog.js';

/** What the ENA reader gives per node per read (harness/ena-install.ts: the simulator, harness/ena, or a real node's
 *  `ethtool -S`). A field that is absent has no series. */
export interface EnaSample {
  allowanceExceeded: number;
  /** Absent on a real node whose ENA driver is older than 2.8.1 (no conntrack_allowance_available). */
  allowanceAvailable?: number;
  /** trackedFlows .. synsByDstEgress: only the simulator counts them (absent when only real counters are read). */
  trackedFlows?: number;
  newFlows?: number;
  flowsByFlag?: { syn: number; fin: number; rst: number; none: number };
  /** Pure SYNs received per destination IP (ingress of the node's uplinks), cumulative. */
  synsByDst?: Record<string, number>;
  /** Pure SYNs sent per destination IP (egress of the node's uplinks), cumulative. */
  synsByDstEgress?: Record<string, number>;
  /** The other ENA allowance counters: a real node's (ethtool -S, summed over its ENA interfaces) or the simulator's. */
  otherAllowances?: { bwInExceeded?: number; bwOutExceeded?: number; ppsExceeded?: number; linklocalExceeded?: number };
  /** Packets sent to 169.254.0.0/16 (the simulator counts them; a real ENA does not). */
  linklocalPackets?: number;
}
export type EnaReader = (node: ClusterNode) => Promise<EnaSample | undefined>;

export interface RecorderOptions {
  intervalMs?: number;
  ena?: EnaReader;
  /** Nodes on which to keep an established TCP connection and run `dig +tcp` through node-local DNS. */
  checkNodes?: ClusterNode[];
  /** How often (ms) the independent dig check runs per check node. */
  dnsCheckIntervalMs?: number;
  /** Called after every sample with headline numbers (live progress). */
  onSample?(headline: Record<string, number>): void;
  /** A node's reader failed this many samples in a row (default 5): the harness is broken, not the measurement. */
  maxFailedReads?: number;
  /** Called once when a reader has failed maxFailedReads times in a row (the run stops as a harness error). */
  onBroken?(err: NotdnsError): void;
  /** Every recorded point as it is taken (`--metrics-listen`: harness/metrics-export.ts). */
  sink?(probe: ProbeId, target: string, v: number): void;
}

/** What each node reader feeds, for the error that names the probe. */
const READERS = {
  netstat: { file: '/proc/net/netstat', probes: ['martian.drops'] },
  conntrack: { file: '/proc/net/stat/nf_conntrack', probes: ['ct.count'] },
  ena: { file: 'the ENA simulator maps (bpftool)', probes: ['ena.*', 'syn.*'] },
  extra: {
    file: "the provider's own node metrics (Cluster.extraNodeProbes: Cilium's, node-local DNS's statistics)",
    probes: ['cilium.staleIpDrops', 'cilium.ctEntries', 'nld.*'],
  },
} as const;
type Reader = keyof typeof READERS;

type Key = `${string}|${string}`;

export class Recorder {
  readonly markers: Marker[] = [];
  private readonly series = new Map<Key, Series>();
  private readonly oldIps = new Map<string, number>(); // ip → SYN count at the moment it became old
  private readonly t0 = performance.now();
  /** Wall-clock time (ms) of t = 0 on the series' time axis (promql expectations query Prometheus with it). */
  readonly epochMs = Date.now();
  private timer?: NodeJS.Timeout;
  private busy = false;
  skipped = 0;
  samples = 0;
  private readonly dnsCheck = new Map<string, { ok: number; failed: number; running: boolean }>();
  private readonly estab = new Map<string, { ok: number; failed: number }>();
  private lastSynsByDst: Record<string, number> = {};
  private dnsTimer?: NodeJS.Timeout;
  /** Consecutive failed reads per reader and node, with the last error. */
  private readonly failures = new Map<string, { count: number; err: unknown }>();
  private brokenReported = false;
  private checkSeq = 0;

  constructor(
    private readonly cluster: Cluster,
    private readonly opts: RecorderOptions = {},
  ) {}

  now(): number {
    return Math.round((performance.now() - this.t0) / 10) / 100;
  }

  mark(kind: Marker['kind'], label: string): void {
    this.markers.push({ t: this.now(), kind, label });
  }

  /** From now on SYNs to this IP count as SYNs to an old pod IP. */
  markOld(ip: string): void {
    if (!this.oldIps.has(ip)) this.oldIps.set(ip, this.lastSynsByDst[ip] ?? 0);
  }

  /** Feed from an estab agent (see estab-agent.ts). */
  estabUpdate(node: string, v: { ok: number; failed: number }): void {
    this.estab.set(node, v);
  }

  start(): void {
    const interval = this.opts.intervalMs ?? 1000;
    const tick = () => {
      if (this.busy) {
        this.skipped++;
        return;
      }
      this.busy = true;
      this.sample()
        .catch((e) => log.warn({ err: e }, 'probe sample failed'))
        .finally(() => {
          this.busy = false;
        });
    };
    tick();
    this.timer = setInterval(tick, interval);
    if (this.opts.checkNodes?.length) {
      for (const n of this.opts.checkNodes) this.dnsCheck.set(n.name, { ok: 0, failed: 0, running: false });
      this.dnsTimer = setInterval(() => this.runDnsChecks(), this.opts.dnsCheckIntervalMs ?? 2000);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.dnsTimer);
    while (this.busy) await new Promise((r) => setTimeout(r, 20));
    await this.sample().catch(() => undefined); // a last point at the very end
  }

  private runDnsChecks(): void {
    for (const n of this.opts.checkNodes ?? []) {
      const st = this.dnsCheck.get(n.name)!;
      if (st.running) continue;
      st.running = true;
      const name = `check${++this.checkSeq}.default.svc.cluster.local`;
      digOn(n, this.cluster.dns.nodeLocal, name, { tcp: true, timeoutS: 2 })
        .then(
          (r) => {
            if (r.ok) st.ok++;
            else st.failed++;
          },
          () => {
            st.failed++;
          },
        )
        .finally(() => {
          st.running = false;
        });
    }
  }

  /** One sample; the series' unit and kind are the catalog's. */
  private put(probe: ProbeId, target: string, t: number, v: number): void {
    if (!Number.isFinite(v)) return;
    const k: Key = `${probe}|${target}`;
    let s = this.series.get(k);
    if (!s) {
      const { unit, kind } = probeDef(probe);
      s = { probe, target, unit, kind, points: [] };
      this.series.set(k, s);
    }
    s.points.push([t, v]);
    this.opts.sink?.(probe, target, v);
  }

  /** One read of a node: a failure is a gap in the series; `maxFailedReads` in a row is a broken harness. */
  private async read<T>(reader: Reader, n: ClusterNode, fn: () => Promise<T>): Promise<T | undefined> {
    const key = `${reader}|${n.name}`;
    try {
      const v = await fn();
      this.failures.delete(key);
      return v;
    } catch (err) {
      const f = { count: (this.failures.get(key)?.count ?? 0) + 1, err };
      this.failures.set(key, f);
      log.debug({ err, reader, node: n.name, inARow: f.count }, 'probe read failed');
      const max = this.opts.maxFailedReads ?? 5;
      if (f.count >= max && !this.brokenReported) {
        this.brokenReported = true;
        const r = READERS[reader];
        this.opts.onBroken?.(
          new NotdnsError(
            `the ${r.probes.join(', ')} probe could not be read on node ${n.name} for ${f.count} samples in a row ` +
              `(${r.file}): ${firstLine(err)}. This is a broken harness, not a measurement: the run stopped, and no expectation was evaluated on the missing data.`,
            {
              kind: 'harness',
              command: (err as { command?: string }).command,
              cause: err,
              hint: "The error above is the reader's own; notdns.log has every failed read. Isolated failed reads are only gaps in the series.",
            },
          ),
        );
      }
      return undefined;
    }
  }

  private async sample(): Promise<void> {
    const t = this.now();
    const nodes = this.cluster.nodes;
    const [nodeData, podData] = await Promise.all([
      Promise.all(
        nodes.map(async (n) => ({
          n,
          netstat: await this.read('netstat', n, () => n.readProcNet('netstat').then(parseNetstat)),
          ct: await this.read('conntrack', n, () => n.readProcNet('stat/nf_conntrack').then(parseConntrackCount)),
          ena: this.opts.ena ? await this.read('ena', n, () => this.opts.ena!(n)) : undefined,
          extra: this.cluster.extraNodeProbes ? await this.read('extra', n, () => this.cluster.extraNodeProbes!(n)) : undefined,
        })),
      ),
      Promise.all(this.cluster.pods().map(async (p) => ({ p, m: await p.metrics().catch(() => undefined), snmp: await podSnmp(p) }))),
    ]);
    const synsAll: Record<string, number> = {};
    for (const d of nodeData) {
      const name = d.n.name;
      if (d.netstat) this.put('martian.drops', name, t, d.netstat.TcpExtIPReversePathFilter ?? 0);
      if (d.ct !== undefined) this.put('ct.count', name, t, d.ct);
      for (const [probe, v] of Object.entries(d.extra ?? {}) as [ProbeId, number][]) this.put(probe, name, t, v);
      if (d.ena) {
        const e = d.ena;
        this.put('ena.allowanceExceeded', name, t, e.allowanceExceeded);
        if (e.allowanceAvailable !== undefined) this.put('ena.allowanceAvailable', name, t, e.allowanceAvailable);
        if (e.trackedFlows !== undefined) this.put('ena.trackedFlows', name, t, e.trackedFlows);
        if (e.newFlows !== undefined) this.put('ena.newFlows', name, t, e.newFlows);
        const o = e.otherAllowances; // the ENA's other allowances (harness/ena "Other allowances")
        if (o?.linklocalExceeded !== undefined) this.put('ena.linklocalExceeded', name, t, o.linklocalExceeded);
        if (o?.ppsExceeded !== undefined) this.put('ena.ppsExceeded', name, t, o.ppsExceeded);
        if (o?.bwInExceeded !== undefined) this.put('ena.bwInExceeded', name, t, o.bwInExceeded);
        if (o?.bwOutExceeded !== undefined) this.put('ena.bwOutExceeded', name, t, o.bwOutExceeded);
        if (e.linklocalPackets !== undefined) this.put('ena.linklocalPackets', name, t, e.linklocalPackets);
        if (e.flowsByFlag) {
          this.put('ena.flowsBySyn', name, t, e.flowsByFlag.syn);
          this.put('ena.flowsByFin', name, t, e.flowsByFlag.fin);
          this.put('ena.flowsByRst', name, t, e.flowsByFlag.rst);
          this.put('ena.flowsByNone', name, t, e.flowsByFlag.none);
        }
        if (e.synsByDst) {
          let inSum = 0;
          for (const [ip, c] of Object.entries(e.synsByDst)) {
            inSum += c;
            synsAll[ip] = (synsAll[ip] ?? 0) + c;
          }
          this.put('syn.in', name, t, inSum);
        }
        if (e.synsByDstEgress)
          this.put(
            'syn.out',
            name,
            t,
            Object.values(e.synsByDstEgress).reduce((a, b) => a + b, 0),
          );
      }
      const dc = this.dnsCheck.get(name);
      if (dc) {
        this.put('dnscheck.ok', name, t, dc.ok);
        this.put('dnscheck.failed', name, t, dc.failed);
      }
      const es = this.estab.get(name);
      if (es) {
        this.put('estab.ok', name, t, es.ok);
        this.put('estab.failed', name, t, es.failed);
      }
    }
    // SYNs are counted only by the simulator (real ENA counters have none); a node whose ENA read failed this time
    // would make the sum over nodes drop (a false counter reset): a gap instead
    if (this.opts.ena && nodeData.every((d) => d.ena?.synsByDst)) {
      this.lastSynsByDst = synsAll;
      let old = 0;
      for (const [ip, base] of this.oldIps) old += Math.max(0, (synsAll[ip] ?? base) - base);
      this.put('syn.toOldPodIps', 'all', t, old);
    }
    const head: Record<string, number> = {};
    for (const { p, m, snmp } of podData) {
      if (snmp) {
        this.put('tcp.activeOpens', p.name, t, snmp.TcpActiveOpens ?? 0);
        this.put('icmp.destUnreachIn', p.name, t, snmp.IcmpInDestUnreachs ?? 0);
      }
      if (!m) continue;
      this.podSeries(p, m, t);
    }
    this.samples++;
    this.opts.onSample?.(Object.assign(head, this.headline()));
  }

  private podSeries(p: PodHandle, m: WorkloadMetrics, t: number): void {
    if (p.app === 'metrics-service') {
      this.put('dns.lookups', p.name, t, metricSum(m, 'ms_dns_lookups_total'));
      this.put('dns.queries', p.name, t, metricSum(m, 'ms_dns_queries_total'));
      this.put('dns.errors', p.name, t, metricSum(m, 'ms_dns_errors_total'));
      this.put('dns.timeouts', p.name, t, metricSum(m, 'ms_dns_errors_total', { kind: 'timeout' }));
      this.put('dns.servfails', p.name, t, metricSum(m, 'ms_dns_errors_total', { kind: 'servfail' }));
      this.put('dns.latencyP99', p.name, t, metricQuantile(m, 'ms_dns_latency_seconds', 0.99));
    } else {
      this.put('grpc.calls', p.name, t, metricSum(m, 'ae_calls_total'));
      this.put('grpc.errors', p.name, t, metricSum(m, 'ae_call_errors_total'));
      this.put('grpc.latencyP90', p.name, t, metricQuantile(m, 'ae_call_latency_seconds', 0.9));
      this.put('grpc.latencyP99', p.name, t, metricQuantile(m, 'ae_call_latency_seconds', 0.99));
      this.put('grpc.connectAttempts', p.name, t, metricSum(m, 'ae_connect_attempts_total'));
      this.put('grpc.channelsConnecting', p.name, t, metricSum(m, 'ae_channels', { state: 'CONNECTING' }));
      this.put('ae.backendsKnown', p.name, t, metricSum(m, 'ae_resolved_backends'));
      this.put('ae.backendSetChanges', p.name, t, metricSum(m, 'ae_backend_set_changes_total'));
      this.put('ae.resolutions', p.name, t, metricSum(m, 'ae_resolutions_total'));
    }
  }

  /** Latest per-second rates of the numbers a person watches during a run (catalog.ts HEADLINES, `live`). */
  headline(): Record<string, number> {
    return liveHeadline(this.series.values());
  }

  allSeries(): Series[] {
    return [...this.series.values()];
  }
}

async function podSnmp(p: PodHandle): Promise<Record<string, number> | undefined> {
  if (!p.readProcNet) return undefined;
  return p
    .readProcNet('snmp')
    .then(parseNetstat)
    .catch(() => undefined);
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}
