// results.json: the one record of a run. Versioned; the JSON Schema is generated from these zod types
// (`notdns schema results` prints it; docs/results-schema.json is checked in and tested to be current).
import { z } from 'zod';

export const RESULTS_SCHEMA_VERSION = 1;

export const SeriesSchema = z.object({
  /** Probe id, e.g. 'syn.toOldPodIps', 'ena.allowanceExceeded', 'ct.count', 'dns.errors', 'grpc.latencyP99'. */
  probe: z.string(),
  /** What it was measured on: a node name, a pod name, an IP, or 'all'. */
  target: z.string(),
  unit: z.string(),
  /** counter: cumulative, charts show its rate; gauge: the value itself. */
  kind: z.enum(['counter', 'gauge']),
  /** [t, value]: t in seconds since the variant started. */
  points: z.array(z.tuple([z.number(), z.number()])),
});
export type Series = z.infer<typeof SeriesSchema>;

export const MarkerSchema = z.object({
  t: z.number(),
  kind: z.enum(['step', 'pod-ready', 'pod-stopping', 'pod-deleted', 'note', 'stop-condition']),
  label: z.string(),
});
export type Marker = z.infer<typeof MarkerSchema>;

export const StoppedSchema = z.object({
  by: z.enum(['condition', 'notdns stop']),
  /** The stop condition's label (as an expectation's), or who asked (`notdns stop` from pid N). */
  label: z.string(),
  /** Seconds since the variant started, on the series' time axis. */
  t: z.number(),
  /** The measured value that made the condition hold (null for `notdns stop`). */
  value: z.number().nullable(),
  /** When the fault was removed (load stopped on every Alerting Engine pod, ENA simulator detached); null if it
   *  could not be (then teardown removed it). */
  faultRemovedAt: z.number().nullable(),
  /** What removing the fault did, in words. */
  detail: z.string().optional(),
});
export type Stopped = z.infer<typeof StoppedSchema>;

export const ExpectationResultSchema = z.object({
  /** Variant name, or 'compare' for cross-variant expectations. */
  variant: z.string(),
  /** Stable human label, e.g. 'peak SYN/s to old pod IPs >= 500'. */
  label: z.string(),
  probe: z.string(),
  stat: z.string(),
  op: z.enum(['>=', '>', '<=', '<', '==']),
  threshold: z.number(),
  /** null when the value could not be measured (counts as a failure). */
  measured: z.number().nullable(),
  pass: z.boolean(),
  detail: z.string().optional(),
  /** Set when the expectation does not apply on this run's provider ("n/a on kind: <why>"): it was not
   *  evaluated (measured null, pass false) and does not count in the verdict. */
  na: z.string().optional(),
});
export type ExpectationResult = z.infer<typeof ExpectationResultSchema>;

export const VariantResultSchema = z.object({
  name: z.string(),
  description: z.string().optional(),
  startedAt: z.string(),
  durationSeconds: z.number(),
  /** The effective configuration of this variant (spec merged with the variant's overrides). */
  config: z.record(z.string(), z.unknown()),
  series: z.array(SeriesSchema),
  markers: z.array(MarkerSchema),
  /** Named numbers worth a glance (peak SYN/s, allowance exceeded total, ...). */
  summary: z.record(z.string(), z.number()),
  /** Pods that were replaced: old IP, node, when they stopped and were deleted. */
  replacedPods: z.array(
    z.object({ name: z.string(), ip: z.string(), node: z.string(), stoppingAt: z.number(), deletedAt: z.number().nullable() }),
  ),
  /** Set when the variant was stopped early: a stop condition (`abort:`) held on the live series, or `notdns stop`.
   *  The fault was removed first (load generators stopped, ENA simulator detached), then the variant was torn
   *  down; its expectations were not evaluated and the verdict is not a pass (exit code 4). */
  stopped: StoppedSchema.optional(),
});
export type VariantResult = z.infer<typeof VariantResultSchema>;

export const ResultsSchema = z.object({
  schemaVersion: z.literal(RESULTS_SCHEMA_VERSION),
  tool: z.object({ name: z.literal('notdns'), version: z.string() }),
  runId: z.string(),
  experiment: z.object({ name: z.string(), description: z.string(), file: z.string() }),
  provider: z.string(),
  profile: z.enum(['normal', 'fast']),
  host: z.object({ hostname: z.string(), kernel: z.string(), cpus: z.number(), node: z.string() }),
  startedAt: z.string(),
  finishedAt: z.string(),
  variants: z.array(VariantResultSchema),
  verdict: z.object({
    pass: z.boolean(),
    expectations: z.array(ExpectationResultSchema),
  }),
  /** Set when the harness itself failed (not a verdict). */
  error: z.object({ kind: z.string(), phase: z.string().optional(), message: z.string(), hint: z.string().optional() }).optional(),
});
export type Results = z.infer<typeof ResultsSchema>;

export function resultsJsonSchema(): unknown {
  return z.toJSONSchema(ResultsSchema, { target: 'draft-2020-12' });
}
