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

export const WorkloadsSchema = z.strictObject({
  metricsService: MetricsServiceSchema.prefault({}),
  alertingEngine: AlertingEngineSchema.prefault({}),
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
export const StopConditionSchema = ExpectationSchema.omit({ providers: true });

export const CompareSchema = ExpectationSchema.extend({
  /** measured = stat(variant a) / stat(variant b); the denominator is floored at 1 (counts). */
  ratio: z.tuple([z.string(), z.string()]),
});

/** A variant overrides parts of the base spec. */
export const VariantSchema = z.strictObject({
  description: z.string().default(''),
  topology: TopologySchema.partial().optional(),
  ena: EnaSchema.partial().optional(),
  workloads: z
    .strictObject({
      metricsService: MetricsServiceSchema.partial().optional(),
      alertingEngine: AlertingEngineSchema.partial().optional(),
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
  /** --fast multiplies every duration (steps, grace period, propagation delay, ENA idle timeouts) by this. */
  fastTimeScale: z.number().gt(0).max(1).default(0.5),
});

export type ExperimentInput = z.input<typeof ExperimentSchema>;
export type Experiment = z.output<typeof ExperimentSchema>;
export type Expectation = z.output<typeof ExpectationSchema>;
export type CompareExpectation = z.output<typeof CompareSchema>;
export type StopCondition = z.output<typeof StopConditionSchema>;
export type Step = z.output<typeof StepSchema>;

export type Reconnect = z.output<typeof ReconnectSchema>;

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
