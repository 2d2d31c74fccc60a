// An experiment is data: this is its schema (zod). Every error names the file, the field, the expected form and
// an example (see load.ts). Defaults live here so an experiment file says only what matters to it.
import { z } from 'zod';
import { PROBE_IDS, type ProbeId } from '../probes/catalog.js';
import { closestName, didYouMean } from '../suggest.js';

/** Probe ids, in the catalog's order: harness/probes/catalog.ts says what each one is. */
export const PROBES = PROBE_IDS;
export type { ProbeId };

export const STATS = ['total', 'peakRate', 'meanRate', 'max', 'min', 'last', 'mean'] as const;
export const WINDOWS = ['all', 'steady', 'rollout', 'after-rollout', 'recovery'] as const;
export const OPS = ['>=', '>', '<=', '<', '=='] as const;

const seconds = (max: number) =>
  z.number({ error: 'must be a number of seconds' }).positive('must be > 0 seconds').max(max, `must be at most ${max} seconds`);
const nonNegInt = (max: number) => z.number().int('must be a whole number').min(0, 'must be >= 0').max(max, `must be at most ${max}`);
const posInt = (max: number) => z.number().int('must be a whole number').min(1, 'must be at least 1').max(max, `must be at most ${max}`);

export const ReconnectSchema = z.union(
  [
    z.literal('grpc-defaults'),
    z.strictObject({
      initialMs: posInt(600_000).describe('grpc.initial_reconnect_backoff_ms'),
      maxMs: posInt(600_000).describe('grpc.max_reconnect_backoff_ms'),
      /** The C-core client's min connect timeout (min_reconnect_backoff_ms doubles as it): attempt deadline. 0 = none (grpc-js). */
      connectTimeoutMs: nonNegInt(600_000).default(0),
    }),
  ],
  { error: 'must be "grpc-defaults" or {initialMs, maxMs, connectTimeoutMs}' },
);

export const TopologySchema = z.strictObject({
  nodes: posInt(20).default(3),
  serverNodes: posInt(19).default(2),
  eniHasAddress: z.boolean().default(false),
  unreachableOnDelete: z.boolean().default(false),
  nodeLocalDns: z.boolean().default(true),
  /** node-local DNS's limits: CoreDNS forward max_concurrent and the container's memory limit (docs/node-local-dns.md).
   *  Absent: the provider's defaults (the lab's are scaled to its query rate; kind's are node-local-dns's own). */
  nodeLocalDnsLimits: z
    .strictObject({
      maxConcurrent: posInt(100_000).describe('CoreDNS forward max_concurrent; lab: unbound num-queries-per-thread'),
      memoryMb: posInt(65_536).describe('memory limit (MB); lab: unbound cache sizes'),
    })
    .optional(),
  /** Node-local DNS's upstream (lab): the DNS host over TCP (default), or a link-local resolver on 169.254.169.253
   *  (the VPC resolver's address) over UDP, reached through the node's ENI (linklocal-dns-burst). */
  dnsUpstream: z.enum(['tcp', 'linklocal-udp']).default('tcp'),
  /** Node-local DNS cache in link-local mode: 'short' keeps nothing (TTLs capped at 0); 'serve-stale' keeps them for their
   *  TTL in a large cache and answers expired ones while refreshing. */
  nodeLocalCache: z.enum(['short', 'serve-stale']).default('short'),
});

export const EnaSchema = z.strictObject({
  enabled: z.boolean().default(true),
  conntrackAllowance: posInt(1_000_000).default(4000),
  /** Enforce the allowance on the Alerting Engine's nodes too. Off by default: in the talk the clients were
   *  spread over many instances of another cluster; here one node stands for all of them, so its flows are
   *  counted but not capped (otherwise the client's own allowance would throttle the flood). */
  enforceOnClientNodes: z.boolean().default(false),
  timeouts: z
    .strictObject({
      unrepliedSeconds: seconds(3600).default(20),
      establishedSeconds: seconds(432_000).default(432_000),
      closedSeconds: seconds(3600).default(5),
    })
    .prefault({}),
  // The ENA's other allowances (harness/ena/README.md "Other allowances"): per-node token buckets, 0 = off (default).
  // Enforced (dropped) on every node when `enabled`, only counted otherwise. AWS publishes only linklocalPps: 1024.
  /** Packets/s sent to 169.254.0.0/16 (linklocal_allowance_exceeded). */
  linklocalPps: z.number().int().min(0).max(1_000_000_000).default(0),
  /** Packets/s, every packet both ways (pps_allowance_exceeded). */
  pps: z.number().int().min(0).max(1_000_000_000).default(0),
  /** Bytes/s received (bw_in_allowance_exceeded). */
  bwInBytesPerSec: z.number().int().min(0).max(1_000_000_000).default(0),
  /** Bytes/s sent (bw_out_allowance_exceeded). */
  bwOutBytesPerSec: z.number().int().min(0).max(1_000_000_000).default(0),
});

/** The Metrics Service's DNS name (DNS discovery): like external-dns + Route 53 in the talk. */
export const DnsNameSchema = z.strictObject({
  name: z
    .string()
    .regex(
      /^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+cluster\.local\.?$/,
      'must be a name in the zone cluster.local, like metrics.default.svc.cluster.local',
    )
    .default('metrics.default.svc.cluster.local'),
  ttlSeconds: nonNegInt(86_400).default(30),
});
export const DNS_DISCOVERY = ['dns-per-ip', 'dns-round-robin'] as const;

export const MetricsServiceSchema = z.strictObject({
  replicas: posInt(50).default(2),
  gracefulStopSeconds: seconds(600).default(10),
  dnsLookupsPerSecond: z.number().min(0, 'must be >= 0').max(2000, 'must be at most 2000').default(20),
  dnsTimeoutMs: posInt(30_000).default(2000),
  /** How the lookup generator resolves: 'plain' = one A query per lookup of a cluster name (default); 'ndots5' =
   *  external names (`api-{n}.example.com`) expanded over a Kubernetes pod's search list with ndots:5, A and AAAA
   *  per candidate (glibc); 'fqdn' = the same names with a trailing dot (only the absolute name is asked). */
  dnsResolver: z.enum(['plain', 'ndots5', 'fqdn']).default('plain'),
  /** Names repeat after this many lookups (a cache can help); 0 = a new name every lookup. */
  dnsNamePool: z.number().int().min(0).max(10_000_000).default(0),
  /** DNS discovery (Alerting Engine discovery dns-*): the name the upstream DNS serves with the ready pods' IPs
   *  as A records, and their TTL (scaled by --fast like every duration). Unset: the defaults below. */
  dns: DnsNameSchema.optional(),
});

export const AlertingEngineSchema = z.strictObject({
  instances: posInt(20).default(2),
  channelsPerBackend: posInt(20_000).default(200),
  /** per-backend | round-robin: the harness POSTs the backend set (after dnsPropagationSeconds). DNS discovery: the
   *  harness changes the name's A records after dnsPropagationSeconds and the engine resolves it through node-local
   *  DNS: dns-per-ip = application code resolves every resolveIntervalMs, K pick_first channels per IP;
   *  dns-round-robin = K channels `dns://<node-local>/name:port` with round_robin, resolved by grpc-js itself. */
  discovery: z.enum(['per-backend', 'round-robin', ...DNS_DISCOVERY]).default('per-backend'),
  /** dns-per-ip: the application's re-resolution period (default 5000; it honours no TTL, as application code typically did). */
  resolveIntervalMs: posInt(3_600_000).optional(),
  /** dns-round-robin: grpc.dns_min_time_between_resolutions_ms (grpc-js default 30000). */
  dnsMinTimeBetweenResolutionsMs: nonNegInt(3_600_000).optional(),
  callIntervalMs: posInt(60_000).default(1000),
  callDeadlineMs: posInt(60_000).default(1000),
  dnsPropagationSeconds: z.number().min(0).max(3600).default(20),
  reconnect: ReconnectSchema.default('grpc-defaults'),
});

/** Bring your own client (docs/client-contract.md): it runs instead of the Alerting Engine in the client pods, with
 *  the Alerting Engine's instances/channelsPerBackend/callIntervalMs/reconnect/dnsPropagationSeconds handed to it
 *  in NOTDNS_* environment variables. `command` on the lab, `image` on kind. */
export const ClientSchema = z
  .strictObject({
    /** Lab: argv run in each client pod's network namespace, from the repository root, as `user`. */
    command: z.array(z.string().min(1)).min(1, 'needs at least the program').optional(),
    /** kind/kubeconfig: the container image of the client Deployment (its entrypoint, or `command` if given). */
    image: z.string().min(1).optional(),
    /** The client's Prometheus endpoint (http://<pod>:<port>/metrics); without it the gRPC probes are n/a. */
    metricsPort: z.number().int().min(1).max(65535).optional(),
    /** The unprivileged user the lab runs `command` as. */
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]*$/, 'a user name like nobody')
      .refine((u) => u !== 'root', 'the client never runs as root')
      .default('nobody'),
  })
  .refine((c) => c.command || c.image, { error: 'workloads.client needs a command (lab) or an image (kind)' });

export const WorkloadsSchema = z.strictObject({
  metricsService: MetricsServiceSchema.prefault({}),
  alertingEngine: AlertingEngineSchema.prefault({}),
  client: ClientSchema.optional(),
});

export const StepSchema = z.union(
  [
    z.strictObject({ steady: seconds(3600) }),
    z.strictObject({
      rollout: z.strictObject({ app: z.literal('metrics-service').default('metrics-service'), batch: posInt(50).default(1) }).prefault({}),
    }),
    z.strictObject({ observe: seconds(3600) }),
    // like observe, but its time is the `recovery` window: has the system come back (e.g. flows expired)?
    z.strictObject({ recover: seconds(3600) }),
  ],
  { error: 'a step is one of {steady: SECONDS}, {rollout: {batch: N}}, {observe: SECONDS}, {recover: SECONDS}' },
);

/** The targets with a fixed meaning (see expect.ts); any other target is a node or pod name. */
export const TARGETS = ['sum', 'max', 'flooded-nodes', 'other-nodes', 'server-pods', 'flooded-node-pods'] as const;
const TARGET_FORMS = `a target is ${TARGETS.join(' | ')} | a node name like node2`;

export const TargetSchema = z
  .union([
    z.enum(TARGETS),
    z.string().regex(/^(node\d+|[a-z][\w-]*)$/, {
      error: (iss) => `${typeof iss.input === 'string' ? didYouMean(iss.input, TARGETS, { prefix: false }) : ''}${TARGET_FORMS}`,
    }),
  ])
  .superRefine((t, ctx) => {
    // a name that is one typo away from a fixed target (flooded-node) would match no series: refuse it
    if (typeof t !== 'string' || (TARGETS as readonly string[]).includes(t) || /^node\d+$/.test(t)) return;
    const near = closestName(t, TARGETS, { prefix: false });
    if (near) ctx.addIssue({ code: 'custom', message: `unknown target "${t}": did you mean \`${near}\`? ${TARGET_FORMS} (or a pod name)` });
  });

export const ExpectationSchema = z.strictObject({
  probe: z.enum(PROBES, {
    error: (iss) =>
      typeof iss.input === 'string'
        ? `unknown probe "${iss.input}": ${didYouMean(iss.input, PROBES)}known probes: ${PROBES.join(', ')}`
        : `unknown probe; known probes: ${PROBES.join(', ')}`,
  }),
  target: TargetSchema.default('sum'),
  stat: z.enum(STATS, { error: `unknown stat; one of ${STATS.join(', ')}` }),
  window: z.enum(WINDOWS, { error: `unknown window; one of ${WINDOWS.join(', ')}` }).default('all'),
  op: z.enum(OPS, { error: `op must be one of ${OPS.join(' ')}` }),
  value: z.number({ error: 'value must be a number' }),
  /** Why this expectation matters (shown in reports). */
  why: z.string().optional(),
  /** The providers it applies to (default: every provider that supplies its probe); elsewhere it is n/a. */
  providers: z
    .array(z.enum(['lab', 'kind', 'kubeconfig'], { error: 'providers are lab, kind, kubeconfig' }))
    .min(1)
    .optional(),
});

/**
 * A stop condition (`abort:`): the form of an expectation, evaluated on the live series after every sample while
 * the run is on (window up to now). It TRIPS when it holds, e.g. {probe: dns.errors, target: other-nodes, stat:
 * total, op: '>', value: 0}: the fault is removed first, then the variant is torn down (harness/stop.ts).
 */
export const ProbeStopConditionSchema = ExpectationSchema.omit({ providers: true });

// ---- Run it near production (issue #14): harness-side budgets, promql expectations ----

/** The harness' own budgets (harness/stop.ts): a run stops once it has spent one. */
export const BUDGETS = ['maxFaultSeconds', 'maxSynsSent'] as const;
/** A budget as a stop condition, e.g. {budget: 'maxSynsSent', value: 50000}: trips when the spent amount >= value. */
export const BudgetSchema = z.strictObject({
  budget: z.enum(BUDGETS, { error: `unknown budget; one of ${BUDGETS.join(', ')} (e.g. {budget: 'maxFaultSeconds', value: 60})` }),
  value: z.number({ error: 'value must be a number' }).positive('a budget must be > 0'),
  why: z.string().optional(),
});

/** Parse with `withKey` when the object has `key`, else with `other`: each keeps its own precise errors (a plain
 *  union would report both forms' errors for one typo). An object with a `refused` key gets that key's message. */
function routed<A extends z.ZodType, B extends z.ZodType>(key: string, withKey: A, other: B, refused?: { key: string; message: string }) {
  return z
    .custom<z.input<A> | z.input<B>>(() => true)
    .transform((x, ctx): z.output<A> | z.output<B> => {
      const obj = x !== null && typeof x === 'object';
      if (refused && obj && refused.key in x) {
        ctx.addIssue({ code: 'custom', path: [refused.key], message: refused.message, input: x });
        return z.NEVER;
      }
      const r = (obj && key in x ? withKey : other).safeParse(x);
      if (r.success) return r.data as z.output<A> | z.output<B>;
      for (const i of r.error.issues) ctx.addIssue({ ...i } as never);
      return z.NEVER;
    });
}

/** A Prometheus server the user names: http(s) URL with no credentials, query or fragment. */
export const PrometheusUrlSchema = z.string({ error: "must be a URL like 'http://127.0.0.1:9090'" }).refine((u) => {
  try {
    const x = new URL(u);
    return (x.protocol === 'http:' || x.protocol === 'https:') && !x.username && !x.password && !x.search && !x.hash;
  } catch {
    return false;
  }
}, "must be an http(s) URL of a Prometheus server with no credentials, query or fragment, like 'http://127.0.0.1:9090'");

/** An expectation read from Prometheus (harness/probes/prometheus.ts): `promql` is range-queried (step 1 s) over
 *  the expectation's window after the variant ran, the result is one series, judged with stat/op/value. */
export const PromqlExpectationSchema = z.strictObject({
  promql: z.string({ error: "promql must be a PromQL expression string, like 'max(notdns_ct_count)'" }).min(1, 'promql is empty'),
  /** The query returns several series: they are summed (the only target). */
  target: z
    .literal('sum', { error: "a promql expectation's target is 'sum' (its series are summed); aggregate in the query instead" })
    .default('sum'),
  stat: z.enum(STATS, { error: `unknown stat; one of ${STATS.join(', ')}` }),
  window: z.enum(WINDOWS, { error: `unknown window; one of ${WINDOWS.join(', ')}` }).default('all'),
  op: z.enum(OPS, { error: `op must be one of ${OPS.join(' ')}` }),
  value: z.number({ error: 'value must be a number' }),
  /** Counter or gauge arithmetic for the stat (total/peakRate/meanRate need counter, max/min/mean/last any). */
  kind: z.enum(['counter', 'gauge']).default('gauge'),
  why: z.string().optional(),
});

/** A promql stop condition (issue #14): the form of a promql expectation without a window (always from the
 *  variant's start to now), range-queried every PROMQL_STOP_INTERVAL_MS while the run is on (harness/probes/prometheus.ts
 *  PromqlStopWatch); it TRIPS when it holds, like a probe stop condition. Needs a Prometheus URL, like prometheus.expect. */
export const PromqlStopConditionSchema = PromqlExpectationSchema.omit({ window: true });

/** A stop condition: the expectation form above, a budget ({budget, value}), or a promql query ({promql, ...}). */
export const StopConditionSchema = routed('promql', PromqlStopConditionSchema, routed('budget', BudgetSchema, ProbeStopConditionSchema));

export const PrometheusSchema = z.strictObject({
  /** The server (overridden by `notdns run --prometheus-url`). */
  url: PrometheusUrlSchema.optional(),
  /** Per variant, like `expect`. */
  expect: z.record(z.string(), z.array(PromqlExpectationSchema)).default({}),
});

export const CompareSchema = ExpectationSchema.extend({
  /** measured = stat(variant a) / stat(variant b); the denominator is floored at 1 (counts). */
  ratio: z.tuple([z.string(), z.string()]),
});

/** A variant's override of a section: every key optional and WITHOUT its default (zod's .partial() keeps the
 *  defaults, so a variant that set one key of a section silently reset the others to their defaults, e.g.
 *  `alertingEngine: { reconnect }` put channelsPerBackend back to 200 whatever the experiment said). */
function override<S extends z.core.$ZodLooseShape>(schema: z.ZodObject<S, z.core.$strict>) {
  const shape = Object.fromEntries(
    Object.entries(schema.shape).map(([k, v]) => {
      const t = v as unknown as z.ZodType;
      const inner = t.def.type === 'default' || t.def.type === 'prefault' ? ((t as z.ZodDefault).unwrap() as z.ZodType) : t;
      return [k, inner.optional()];
    }),
  );
  // the same type as .partial() (its output: each key the type or undefined, which is what we get)
  return z.strictObject(shape) as unknown as ReturnType<typeof schema.partial>;
}

/** A variant overrides parts of the base spec. */
export const VariantSchema = z.strictObject({
  description: z.string().default(''),
  topology: override(TopologySchema).optional(),
  ena: override(EnaSchema).optional(),
  workloads: z
    .strictObject({
      metricsService: override(MetricsServiceSchema).optional(),
      alertingEngine: override(AlertingEngineSchema).optional(),
      /** Replaces the experiment's client (if any) in this variant. */
      client: ClientSchema.optional(),
    })
    .optional(),
  /** Stop conditions of this variant, in addition to the experiment's. */
  abort: z.array(StopConditionSchema).optional(),
});

export const ExperimentSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]{1,40}$/, 'must be kebab-case, like rollout-syn-flood'),
  description: z.string().min(1, 'say in one sentence what the experiment shows'),
  topology: TopologySchema.prefault({}),
  ena: EnaSchema.prefault({}),
  workloads: WorkloadsSchema.prefault({}),
  steps: z.array(StepSchema).min(1, 'needs at least one step'),
  variants: z
    .record(z.string().regex(/^[a-z][a-z0-9-]*$/, 'variant names are kebab-case'), VariantSchema)
    .refine((v) => Object.keys(v).length > 0, 'needs at least one variant'),
  expect: z.record(z.string(), z.array(ExpectationSchema)).default({}),
  compare: z.array(CompareSchema).default([]),
  /** Stop conditions of every variant (harness/stop.ts): one that holds on the live series stops the run. */
  abort: z.array(StopConditionSchema).default([]),
  /** Expectations read from a Prometheus server after each variant (docs/prometheus.md). */
  prometheus: PrometheusSchema.optional(),
  /** --fast multiplies every duration (steps, grace period, propagation delay, ENA idle timeouts) by this. */
  fastTimeScale: z.number().gt(0).max(1).default(0.5),
});

export type ExperimentInput = z.input<typeof ExperimentSchema>;
export type Experiment = z.output<typeof ExperimentSchema>;
export type Expectation = z.output<typeof ExpectationSchema>;
export type CompareExpectation = z.output<typeof CompareSchema>;
export type StopCondition = z.output<typeof StopConditionSchema>;
export type ProbeStopCondition = z.output<typeof ProbeStopConditionSchema>;
export type Budget = z.output<typeof BudgetSchema>;
export type PromqlStopCondition = z.output<typeof PromqlStopConditionSchema>;
export type PromqlExpectation = z.output<typeof PromqlExpectationSchema>;
export type Step = z.output<typeof StepSchema>;

export type Reconnect = z.output<typeof ReconnectSchema>;
export type ClientConfig = z.output<typeof ClientSchema>;

/** The effective configuration of one variant: base spec with the variant's overrides merged in. */
export interface VariantConfig {
  name: string;
  description: string;
  topology: z.output<typeof TopologySchema>;
  ena: z.output<typeof EnaSchema>;
  workloads: z.output<typeof WorkloadsSchema>;
  steps: Step[];
  /** The experiment's stop conditions followed by the variant's own. */
  abort: StopCondition[];
}

/** Identity function that gives experiment files type checking and editor completion. */
export function defineExperiment(spec: ExperimentInput): ExperimentInput {
  return spec;
}
