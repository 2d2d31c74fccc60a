// What a probe is, in one place: its id, human label, unit, kind, what its targets are, which providers supply
// it, and how it is summarised; and the headline numbers, one table that results.json's `summary`, the reports'
// headlines and the live progress line each select from. Read by the schema (PROBES), expectations (labels),
// the recorder (unit and kind of every series), the runner's summary and the reports.
// docs/results.md documents the same probes; test/probes/catalog.test.ts keeps docs and reports honest.
import type { AppName, ProviderName } from '../providers/types.js';
import type { Results, Series } from '../results.js';
import { counterIncrease, gaugeStat, lastRate, peakRate, sumSeries } from '../series.js';

export const PROVIDERS = ['lab', 'kind', 'kubeconfig'] as const satisfies readonly ProviderName[];

/** true: the provider records it; a string: why it does not (the series may still exist, as zeros or failures). */
export type Supplied = true | string;
/** What a target of the probe is: a node name, a pod name, or 'all' (one series for the whole cluster). */
export type ProbeScope = 'node' | 'pod' | 'all';
/** How one number is made of a probe: counters are summed over targets, gauges give the extreme target. */
export type SummaryStat = 'total' | 'peakRate' | 'max' | 'min';

export interface ProbeDef {
  readonly id: string;
  /** For people: expectation labels (JUnit test names, the key `notdns compare` matches on: keep them stable). */
  readonly label: string;
  readonly unit: string;
  readonly kind: 'counter' | 'gauge';
  readonly scope: ProbeScope;
  /** Pod probes of one workload: the one whose pods are the targets (none: every pod). */
  readonly app?: AppName;
  /** The stat one number of this probe is by default (headlines that name no stat, report cells). */
  readonly summary: SummaryStat;
  readonly supplied: Readonly<Record<ProviderName, Supplied>>;
  /** Recorded only when the variant's topology has this switch on (otherwise the series may be absent). */
  readonly onlyWith?: 'nodeLocalDns';
}

type Def = Omit<ProbeDef, 'id'>;

const ALL_PROVIDERS = { lab: true, kind: true, kubeconfig: true } as const;
const POD_NETNS =
  "reads the pod's own /proc/net: needs a pod network namespace the harness can enter (lab pods, kind pods through their node container)";
const ESTAB =
  "the estab agent runs in the node's network namespace: the harness's own where it can enter it (lab), a bash one in the node container on kind; on an existing cluster that is not wired";
const DIG_KIND =
  "not verified that a node's own dig goes through node-local DNS (Cilium's redirect policy is for pods): it may ask CoreDNS directly";
const DIG_KUBECONFIG =
  'runs `dig` on the node itself (nsenter): real only if the node image has dig, which notdns neither installs nor checks';
const NO_MARTIANS_KIND = 'Cilium sets rp_filter=0 and kind nodes have no address-less ENI: no martians can happen (always 0)';
/** The allowance counters: the ENA simulator's on the lab and kind; the real ENA's (`ethtool -S`) on kubeconfig. */
const ENA = ALL_PROVIDERS;
/** SYNs and flows are counted only by the ENA simulator (harness/ena), which kubeconfig attaches only when asked. */
const SIM_ONLY =
  'counted only by the ENA simulator; on an existing cluster it is attached only with --ena-simulator count|enforce (by default the real ENA counters are read)';
const SIM = { lab: true, kind: true, kubeconfig: SIM_ONLY } as const;
const POD = { lab: true, kind: true, kubeconfig: POD_NETNS } as const;
/** From the kind cluster's own agents (harness/providers/kind/node-metrics.ts): only kind reads them. */
const CILIUM_KIND_ONLY = {
  lab: 'the lab has no Cilium: its nodes drop these SYNs in rp_filter (martian.drops)',
  kind: true,
  kubeconfig: "Cilium's agent metrics could be read on an existing cluster that runs Cilium, but that is not wired",
} as const;
/** node-local DNS's own statistics (harness/probes/nld.ts): the lab's unbound, kind's node-local-dns CoreDNS. */
const NLD = {
  lab: true,
  kind: true,
  kubeconfig: "node-local-dns's CoreDNS metrics could be read on an existing cluster, but that is not wired",
} as const;
const NLD_NO_INFLIGHT = {
  lab: true,
  kind: 'CoreDNS has no in-flight metric: forward keeps its count of concurrent queries in an unexported variable',
  kubeconfig: 'CoreDNS has no in-flight metric: forward keeps its count of concurrent queries in an unexported variable',
} as const;
const LAB_ESTAB = { lab: true, kind: true, kubeconfig: ESTAB } as const;

const counter = (label: string, unit: string, scope: ProbeScope, supplied: ProbeDef['supplied'], more: Partial<Def> = {}): Def => ({
  label,
  unit,
  kind: 'counter',
  scope,
  summary: 'total',
  supplied,
  ...more,
});
const gauge = (
  label: string,
  unit: string,
  scope: ProbeScope,
  summary: 'max' | 'min',
  supplied: ProbeDef['supplied'],
  more: Partial<Def> = {},
): Def => ({ label, unit, kind: 'gauge', scope, summary, supplied, ...more });
const ms = { app: 'metrics-service' } as const,
  ae = { app: 'alerting-engine' } as const;

// The order is the schema's (and its error message's) order of probe ids.
const DEFS = {
  'syn.toOldPodIps': counter('SYNs to old pod IPs', 'SYNs', 'all', SIM),
  'syn.in': counter('SYNs received', 'SYNs', 'node', SIM),
  'syn.out': counter('SYNs sent', 'SYNs', 'node', SIM),
  'ena.allowanceExceeded': counter('ENA conntrack_allowance_exceeded', 'packets', 'node', ENA),
  'ena.allowanceAvailable': gauge('ENA conntrack_allowance_available', 'flows', 'node', 'min', ENA),
  'ena.trackedFlows': gauge('ENA tracked flows', 'flows', 'node', 'max', SIM),
  'ena.newFlows': counter('ENA new flows', 'flows', 'node', SIM),
  'ena.flowsBySyn': counter('ENA new flows starting with SYN', 'flows', 'node', SIM),
  'ena.flowsByFin': counter('ENA new flows starting with FIN', 'flows', 'node', SIM),
  'ena.flowsByRst': counter('ENA new flows starting with RST', 'flows', 'node', SIM),
  'ena.flowsByNone': counter('ENA new flows starting without SYN/FIN/RST', 'flows', 'node', SIM),
  'ct.count': gauge('kernel conntrack entries', 'entries', 'node', 'max', ALL_PROVIDERS),
  'martian.drops': counter('martian drops (IPReversePathFilter)', 'packets', 'node', {
    lab: true,
    kind: NO_MARTIANS_KIND,
    kubeconfig: true,
  }),
  // every pod's namespace; the Alerting Engine's are the ones that matter (its connects, the ICMP it gets back)
  'tcp.activeOpens': counter('TCP connect attempts', 'connects', 'pod', POD),
  'icmp.destUnreachIn': counter('ICMP dest-unreachable received', 'packets', 'pod', POD),
  // Cilium's own count of the SYNs to a deleted pod's IP: on kind they die here instead of in rp_filter
  'cilium.staleIpDrops': counter('Cilium drops: stale or unroutable IP', 'packets', 'node', CILIUM_KIND_ONLY),
  // node-local DNS could not reach its upstream: kind's CoreDNS counts failed health checks (over TCP, force_tcp),
  // the lab's unbound the SERVFAILs it answered (it has no health check): harness/probes/nld.ts
  'nld.upstreamFailures': counter('node-local DNS upstream failures', 'failures', 'node', NLD, {
    onlyWith: 'nodeLocalDns',
  }),
  'dns.lookups': counter('DNS lookups', 'lookups', 'pod', ALL_PROVIDERS, ms),
  'dns.errors': counter('DNS errors', 'errors', 'pod', ALL_PROVIDERS, ms),
  'dns.timeouts': counter('DNS timeouts', 'errors', 'pod', ALL_PROVIDERS, ms),
  'dns.servfails': counter('DNS SERVFAILs', 'errors', 'pod', ALL_PROVIDERS, ms),
  // a quantile of lookups: without node-local DNS the Metrics Service does none, and an empty summary has no value
  'dns.latencyP99': gauge('DNS p99 latency (s)', 's', 'pod', 'max', ALL_PROVIDERS, { ...ms, onlyWith: 'nodeLocalDns' }),
  'dnscheck.ok': counter(
    'dig +tcp via node-local DNS successes',
    'queries',
    'node',
    { lab: true, kind: DIG_KIND, kubeconfig: DIG_KUBECONFIG },
    { onlyWith: 'nodeLocalDns' },
  ),
  'dnscheck.failed': counter(
    'dig +tcp via node-local DNS failures',
    'queries',
    'node',
    { lab: true, kind: DIG_KIND, kubeconfig: DIG_KUBECONFIG },
    { onlyWith: 'nodeLocalDns' },
  ),
  'grpc.calls': counter('gRPC calls', 'calls', 'pod', ALL_PROVIDERS, ae),
  'grpc.errors': counter('gRPC errors', 'calls', 'pod', ALL_PROVIDERS, ae),
  'grpc.latencyP90': gauge('gRPC p90 latency (s)', 's', 'pod', 'max', ALL_PROVIDERS, ae),
  'grpc.latencyP99': gauge('gRPC p99 latency (s)', 's', 'pod', 'max', ALL_PROVIDERS, ae),
  'grpc.connectAttempts': counter('gRPC connect attempts', 'attempts', 'pod', ALL_PROVIDERS, ae),
  'grpc.channelsConnecting': gauge('gRPC channels connecting', 'channels', 'pod', 'max', ALL_PROVIDERS, ae),
  'estab.ok': counter('established-connection pings ok', 'pings', 'node', LAB_ESTAB, { onlyWith: 'nodeLocalDns' }),
  'estab.failed': counter('established-connection pings failed', 'pings', 'node', LAB_ESTAB, { onlyWith: 'nodeLocalDns' }),
  // kind: Cilium's conntrack map size (issue 16). Its BPF CT map is where a pod's new connections are tracked on kind
  // (Cilium creates an entry for every new outgoing flow of a pod, the SYNs to an old IP included); the lab has the
  // kernel's conntrack instead (ct.count)
  'cilium.ctEntries': gauge('Cilium conntrack entries (TCP)', 'entries', 'node', 'max', {
    lab: "the lab has no Cilium: its nodes' conntrack is the kernel's (ct.count)",
    kind: true,
    kubeconfig: "Cilium's agent metrics could be read on an existing cluster that runs Cilium, but that is not wired",
  }),
  // node-local DNS symptoms (issue 13): what the talk's dashboards showed while the cause was elsewhere
  'nld.queries': counter('node-local DNS queries', 'queries', 'node', NLD, { onlyWith: 'nodeLocalDns' }),
  'nld.rejects': counter('node-local DNS concurrency-limit rejects', 'queries', 'node', NLD, { onlyWith: 'nodeLocalDns' }),
  'nld.inFlight': gauge('node-local DNS queries in flight', 'queries', 'node', 'max', NLD_NO_INFLIGHT, { onlyWith: 'nodeLocalDns' }),
  'nld.memoryBytes': gauge('node-local DNS memory (RSS)', 'bytes', 'node', 'max', NLD, { onlyWith: 'nodeLocalDns' }),
  // The ENA's other allowances (issue 13; harness/ena "Other allowances"): the simulator's token buckets on the lab
  // and kind (0 while an allowance is off), `ethtool -S` on kubeconfig (a real ENA drops at microsecond bursts)
  'ena.linklocalExceeded': counter('ENA linklocal_allowance_exceeded', 'packets', 'node', ENA),
  'ena.ppsExceeded': counter('ENA pps_allowance_exceeded', 'packets', 'node', ENA),
  'ena.bwInExceeded': counter('ENA bw_in_allowance_exceeded', 'packets', 'node', ENA),
  'ena.bwOutExceeded': counter('ENA bw_out_allowance_exceeded', 'packets', 'node', ENA),
  'ena.linklocalPackets': counter('packets sent to link-local addresses', 'packets', 'node', SIM),
  // the lookup generator's queries (search-list mode: every candidate, A and AAAA): queries per lookup in the pod
  'dns.queries': counter('DNS queries sent by the pods', 'queries', 'pod', ALL_PROVIDERS, ms),
  // DNS discovery (workloads.alertingEngine.discovery dns-per-ip | dns-round-robin): when each client learned the
  // new backend set (with POST /backends: the applied set), and how often it resolved the name
  'ae.backendsKnown': gauge('backends known to the client', 'backends', 'pod', 'max', ALL_PROVIDERS, ae),
  'ae.backendSetChanges': counter('client backend set changes', 'changes', 'pod', ALL_PROVIDERS, ae),
  'ae.resolutions': counter('client DNS resolutions of the service name', 'resolutions', 'pod', ALL_PROVIDERS, ae),
} as const satisfies Record<string, Def>;

export type ProbeId = keyof typeof DEFS;
export const PROBE_IDS = Object.keys(DEFS) as readonly ProbeId[];
export const CATALOG: readonly (ProbeDef & { readonly id: ProbeId })[] = PROBE_IDS.map((id) => ({ id, ...DEFS[id] }));
const BY_ID = new Map<string, ProbeDef>(CATALOG.map((p) => [p.id, p]));

export function isProbeId(id: string): id is ProbeId {
  return BY_ID.has(id);
}

export function probeDef(id: ProbeId): ProbeDef;
export function probeDef(id: string): ProbeDef | undefined;
export function probeDef(id: string): ProbeDef | undefined {
  return BY_ID.get(id);
}

/** The human label of a probe (the id itself for a probe the catalog does not know, e.g. from a newer notdns). */
export function probeLabel(id: string): string {
  return BY_ID.get(id)?.label ?? id;
}

/** true when the provider records the probe, else the one-line reason why not. */
export function probeSupplied(id: ProbeId, provider: ProviderName): Supplied {
  return DEFS[id].supplied[provider];
}

/** Targets of a variant's per-node probes: its node names as far as the series tell. */
export function nodeTargets(series: readonly Series[]): Set<string> {
  const out = new Set<string>();
  for (const s of series) if (BY_ID.get(s.probe)?.scope === 'node' && s.target !== 'all') out.add(s.target);
  return out;
}

/**
 * Probes the catalog says the lab supplies that a variant did not record (its config decides the `onlyWith`
 * ones): what a real lab run must come back without. One entry per variant that misses any.
 */
export function missingLabProbes(results: Pick<Results, 'variants'>): { variant: string; missing: ProbeId[] }[] {
  const out: { variant: string; missing: ProbeId[] }[] = [];
  for (const v of results.variants) {
    const topology = (v.config.topology ?? {}) as { nodeLocalDns?: boolean };
    const recorded = new Set(v.series.map((s) => s.probe));
    const missing = PROBE_IDS.filter(
      (id) =>
        DEFS[id].supplied.lab === true &&
        !recorded.has(id) &&
        !(probeDef(id).onlyWith === 'nodeLocalDns' && topology.nodeLocalDns === false),
    );
    if (missing.length) out.push({ variant: v.name, missing });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Headline numbers

export type HeadlineFormat = 'count' | 'rate' | 'seconds' | 'percent';

export interface HeadlineDef {
  /** Key in the reports (report.html summary table, `notdns compare`). */
  readonly key: string;
  readonly label: string;
  readonly probe: ProbeId;
  /** Default: the probe's summary stat. */
  readonly stat?: SummaryStat;
  /** A percentage: 100 × this number / the total of `per` (not computable when that is 0). */
  readonly per?: ProbeId;
  /**
   * Which series: all (default); those on nodes that hosted a replaced pod; or, for a probe recorded per node and
   * per pod, the per-node ones when there are any (so the same errors are not counted twice).
   */
  readonly targets?: 'all' | 'flooded-nodes' | 'prefer-nodes';
  /** Shown in red when not 0. */
  readonly badWhenHigh?: boolean;
  /** Its key in results.json `summary` (versioned: keep the keys); round: as a whole number. */
  readonly summary?: string | { key: string; round: true };
  /** Among the reports' headlines; `unless`: only when that headline cannot be computed. */
  readonly report?: true | { unless: string };
  /** Live progress label: the probe's current per-second rate over all its targets. */
  readonly live?: string;
}

/** In the order of the incident's causal chain; each consumer shows the rows that name it. */
export const HEADLINES: readonly HeadlineDef[] = [
  {
    key: 'synToOldPodIpsTotal',
    label: 'SYNs to old pod IPs',
    probe: 'syn.toOldPodIps',
    badWhenHigh: true,
    summary: 'synToOldPodIpsTotal',
    live: 'SYN/s old IPs',
  },
  {
    key: 'peakSynToOldPodIps',
    label: 'peak SYN/s to old pod IPs',
    probe: 'syn.toOldPodIps',
    stat: 'peakRate',
    badWhenHigh: true,
    summary: { key: 'synToOldPodIpsPeakPerSecond', round: true },
    report: true,
  },
  {
    key: 'martianDrops',
    label: 'martian drops',
    probe: 'martian.drops',
    badWhenHigh: true,
    summary: 'martianDrops',
    report: true,
    live: 'martians/s',
  },
  {
    key: 'allowanceExceededFlooded',
    label: 'ENA allowance exceeded on flooded nodes (packets)',
    probe: 'ena.allowanceExceeded',
    targets: 'flooded-nodes',
    badWhenHigh: true,
    summary: 'allowanceExceededFlooded',
  },
  {
    key: 'allowanceExceeded',
    label: 'ENA allowance exceeded (packets)',
    probe: 'ena.allowanceExceeded',
    badWhenHigh: true,
    summary: 'allowanceExceededAll',
    report: true,
    live: 'exceeded/s',
  },
  { key: 'minAllowanceAvailable', label: 'lowest allowance available', probe: 'ena.allowanceAvailable', report: true },
  { key: 'peakConntrack', label: 'peak conntrack entries (node)', probe: 'ct.count', report: true },
  {
    key: 'dnsErrors',
    label: 'DNS errors',
    probe: 'dns.errors',
    targets: 'prefer-nodes',
    badWhenHigh: true,
    summary: 'dnsErrors',
    report: true,
    live: 'dns err/s',
  },
  { key: 'dnsLookups', label: 'DNS lookups', probe: 'dns.lookups', targets: 'prefer-nodes', summary: 'dnsLookups' },
  {
    key: 'dnsErrorRatio',
    label: 'DNS error ratio',
    probe: 'dns.errors',
    per: 'dns.lookups',
    targets: 'prefer-nodes',
    badWhenHigh: true,
    report: true,
  },
  { key: 'dnsCheckFailed', label: 'dig +tcp failures', probe: 'dnscheck.failed', badWhenHigh: true, summary: 'dnsCheckFailed' },
  { key: 'grpcErrorRatio', label: 'gRPC error ratio', probe: 'grpc.errors', per: 'grpc.calls', badWhenHigh: true, report: true },
  {
    key: 'grpcErrors',
    label: 'gRPC errors',
    probe: 'grpc.errors',
    badWhenHigh: true,
    summary: 'grpcErrors',
    report: { unless: 'grpcErrorRatio' },
    live: 'grpc err/s',
  },
  { key: 'grpcCalls', label: 'gRPC calls', probe: 'grpc.calls', summary: 'grpcCalls' },
  { key: 'connectAttempts', label: 'gRPC connect attempts', probe: 'grpc.connectAttempts', summary: 'connectAttempts' },
  { key: 'peakGrpcP99', label: 'peak gRPC p99', probe: 'grpc.latencyP99', report: true },
  {
    key: 'estabFailed',
    label: 'long-lived conn. failures',
    probe: 'estab.failed',
    badWhenHigh: true,
    summary: 'estabFailed',
    report: true,
  },
];

export function headlineFormat(h: HeadlineDef): HeadlineFormat {
  if (h.per) return 'percent';
  if ((h.stat ?? probeDef(h.probe).summary) === 'peakRate') return 'rate';
  return probeDef(h.probe).unit === 's' ? 'seconds' : 'count';
}

export function summaryKey(h: HeadlineDef): string | undefined {
  return typeof h.summary === 'string' ? h.summary : h.summary?.key;
}

/** What selecting targets needs to know about a variant. */
export interface HeadlineContext {
  /** Nodes that hosted a replaced pod. */
  floodedNodes: readonly string[];
  /** Node names (nodeTargets of the series, plus the flooded nodes). */
  nodes: ReadonlySet<string>;
}

/**
 * For a probe recorded both per node and per pod: the per-node series when there are any, else all of them, so
 * charts and totals do not count the same errors twice.
 */
export function preferNodes(series: readonly Series[], probe: string, nodes: ReadonlySet<string>): Series[] {
  const all = series.filter((s) => s.probe === probe);
  const perNode = all.filter((s) => nodes.has(s.target));
  return perNode.length ? perNode : all;
}

function select(series: readonly Series[], probe: ProbeId, targets: HeadlineDef['targets'], ctx: HeadlineContext): Series[] {
  if (targets === 'prefer-nodes') return preferNodes(series, probe, ctx.nodes);
  const all = series.filter((s) => s.probe === probe);
  return targets === 'flooded-nodes' ? all.filter((s) => ctx.floodedNodes.includes(s.target)) : all;
}

function statAcross(ss: Series[], stat: SummaryStat): number | undefined {
  if (stat === 'total') return ss.reduce((a, s) => a + (s.kind === 'counter' ? counterIncrease(s.points) : 0), 0);
  if (stat === 'peakRate') {
    const sum = sumSeries(ss.filter((s) => s.kind === 'counter'));
    return Math.max(0, (sum && peakRate(sum.points)) ?? 0);
  }
  const vals = ss.map((s) => gaugeStat(s.points, stat)).filter((x): x is number => x !== null);
  if (!vals.length) return undefined;
  return stat === 'max' ? Math.max(...vals) : Math.min(...vals);
}

/** The value of one headline; undefined when its probe was not recorded (or a ratio's denominator is 0). */
export function headlineValue(h: HeadlineDef, series: readonly Series[], ctx: HeadlineContext): number | undefined {
  const ss = select(series, h.probe, h.targets, ctx);
  if (!ss.length) return undefined;
  const v = statAcross(ss, h.stat ?? probeDef(h.probe).summary);
  if (v === undefined || !h.per) return v;
  const per = statAcross(select(series, h.per, h.targets, ctx), 'total');
  return per ? (100 * v) / per : undefined;
}

export function headlineContext(series: readonly Series[], floodedNodes: readonly string[]): HeadlineContext {
  return { floodedNodes, nodes: new Set([...nodeTargets(series), ...floodedNodes]) };
}

/** results.json `summary` of a variant: every summary key, 0 when its probe was not recorded. */
export function summaryOf(series: readonly Series[], floodedNodes: readonly string[]): Record<string, number> {
  const ctx = headlineContext(series, floodedNodes);
  const out: Record<string, number> = {};
  for (const h of HEADLINES) {
    if (!h.summary) continue;
    const v = headlineValue(h, series, ctx) ?? 0;
    out[summaryKey(h)!] = typeof h.summary === 'object' && h.summary.round ? Math.round(v) : v;
  }
  return out;
}

/** The live progress numbers: label → current per-second rate over all targets. */
export function liveHeadline(series: Iterable<Series>): Record<string, number> {
  const list = [...series];
  const ctx = headlineContext(list, []);
  const out: Record<string, number> = {};
  for (const h of HEADLINES) {
    if (h.live) out[h.live] = select(list, h.probe, h.targets, ctx).reduce((a, s) => a + lastRate(s.points), 0);
  }
  return out;
}
