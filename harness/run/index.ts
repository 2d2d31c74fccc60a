// One run of an experiment: its variants one after the other (variant.ts: a fresh cluster each, stages on one
// teardown stack), then the expectations per variant and across variants, assembled into results.json's model.
import { hostname, cpus, release } from 'node:os';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { NotdnsError, inPhase } from '../errors.js';
import { newRunId } from '../names.js';
import { repoRoot } from '../paths.js';
import type { Cluster, Provider } from '../providers/types.js';
import { ResultsSchema, RESULTS_SCHEMA_VERSION, type ExpectationResult, type Results, type VariantResult } from '../results.js';
import { evaluate, evaluateCompare, labelOf, type TargetContext } from '../expect.js';
import { notApplicable, notApplicableIn } from '../plan.js';
import { expandVariant } from '../spec/load.js';
import type { CompareExpectation, Expectation, Experiment, PromqlExpectation, VariantConfig } from '../spec/schema.js';
import { configuredFaults } from '../faults.js';
import { didYouMean } from '../suggest.js';
import { runVariant } from './variant.js';
import type { MetricsExporter } from '../metrics-export.js';
import { BUDGET_PROBE, stopLabel } from '../stop.js';
import { evaluatePromql, promqlLabel } from '../probes/prometheus.js';
export { plannedSeconds } from './steps.js';

export interface Progress {
  start(phase: string, opts?: { totalSeconds?: number }): void;
  update(counters: Record<string, number | string>): void;
  log(line: string): void;
  done(message?: string): void;
  fail(message: string): void;
}

export interface RunExperimentOptions {
  experiment: Experiment;
  file: string;
  provider: Provider;
  variants?: string[];
  fast?: boolean;
  outDir: string;
  progress: Progress;
  signal?: AbortSignal;
  /** `--metrics-listen`: every live series and the stop state go to this exporter (harness/metrics-export.ts). */
  metrics?: MetricsExporter;
  /** The Prometheus server of the experiment's promql expectations (harness/probes/prometheus.ts). */
  prometheusUrl?: string;
  /** Per-variant hook with the live cluster (tests use it to look inside). */
  onCluster?(cluster: Cluster, variant: VariantConfig): Promise<void> | void;
}

async function toolVersion(): Promise<string> {
  return JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')).version as string;
}

/** The variants a run will go through (all unless some are named); unknown names are bad usage. */
export function selectVariants(e: Experiment, requested?: readonly string[]): string[] {
  const names = requested?.length ? [...requested] : Object.keys(e.variants);
  for (const n of names)
    if (!e.variants[n]) {
      throw new NotdnsError(`experiment ${e.name} has no variant "${n}".`, {
        kind: 'usage',
        hint: `${didYouMean(n, Object.keys(e.variants), { sentence: true })}Use --variant with one of: ${Object.keys(e.variants).join(', ')}.`,
      });
    }
  return names;
}

export async function runExperiment(o: RunExperimentOptions): Promise<Results> {
  const e = o.experiment;
  // a variant none of whose expectations applies on this provider (DNS discovery: lab only) is not run unless named
  const names = selectVariants(e, o.variants).filter((n) => {
    const ex = e.expect[n] ?? [];
    const skip = !o.variants?.length && ex.length > 0 && ex.every((x) => notApplicable(x, o.provider.name));
    if (skip) o.progress.log(`${n}: none of its expectations applies on ${o.provider.name}: not run (name it with --variant to run it)`);
    return !skip;
  });
  configuredFaults(); // a bad NOTDNS_FAULT is bad input, refused before anything is created
  const startedAt = new Date().toISOString();
  const variants: VariantResult[] = [];
  const ctxs: Record<string, TargetContext> = {};
  const expectations: ExpectationResult[] = [];
  let error: Results['error'];
  const runId = newRunId();
  // a stop condition on a probe this provider does not supply would silently never trip: say so before the run
  for (const c of e.abort) {
    const probe = 'budget' in c ? BUDGET_PROBE[c.budget] : 'promql' in c ? undefined : c.probe;
    const why = probe && notApplicable({ probe }, o.provider.name);
    if (why) o.progress.log(`warning: stop condition "${stopLabel(c)}" can never trip here (${why})`);
  }
  try {
    for (const name of names) {
      o.signal?.throwIfAborted();
      const cfg = expandVariant(e, name, { fast: o.fast });
      const { result, ctx, epochMs } = await runVariant(cfg, runId, o);
      variants.push(result);
      ctxs[name] = ctx;
      if (result.stopped) {
        // a stopped variant's measurements end early: its expectations are not evaluated, the run stops here
        const why = `not evaluated: the variant was stopped at t=${result.stopped.t}s (${result.stopped.label})`;
        expectations.push(...(e.expect[name] ?? []).map((x) => notEvaluated(name, x, why)));
        expectations.push(...(e.prometheus?.expect[name] ?? []).map((x) => notEvaluated(name, x, why)));
        const rest = names.slice(names.indexOf(name) + 1);
        if (rest.length) o.progress.log(`not run after the stop: ${rest.join(', ')}`);
        break;
      }
      expectations.push(...judge(name, e.expect[name] ?? [], (list) => evaluate(result, list, ctx)));
      const promql = e.prometheus?.expect[name] ?? [];
      if (promql.length) {
        const url = o.prometheusUrl ?? e.prometheus?.url;
        if (url && epochMs !== undefined) expectations.push(...(await evaluatePromql(url, result, epochMs, promql)));
        else expectations.push(...promql.map((x) => notEvaluated(name, x, 'not evaluated: no Prometheus URL or no time axis')));
      }
    }
    // a comparison needs both of its variants: with --variant it may have only one, then it is not evaluated
    const ran = new Set(variants.filter((v) => !v.stopped).map((v) => v.name));
    const comparable = e.compare.filter((c) => c.ratio.every((n) => ran.has(n)));
    if (comparable.length < e.compare.length)
      o.progress.log(`${e.compare.length - comparable.length} comparison(s) not evaluated: their variants were not all run`);
    expectations.push(...judge('compare', comparable, (list) => evaluateCompare(variants, list, ctxs)));
  } catch (err) {
    // aborted by a signal: interrupted; aborted with a harness error as the reason (an internal error): that error
    const reason: unknown = o.signal?.aborted ? o.signal.reason : undefined;
    const ne =
      o.signal?.aborted && !(reason instanceof NotdnsError)
        ? new NotdnsError('the run was interrupted; everything it created was torn down.', { kind: 'interrupted', cause: err })
        : inPhase('run', reason ?? err);
    error = { kind: ne.kind, phase: ne.phase, message: ne.message, hint: ne.hint };
    throw Object.assign(ne, { partial: await assemble() });
  }
  return assemble();

  /** Evaluate what applies on this provider; what does not is reported n/a with the reason, never measured. */
  function judge<X extends Expectation | CompareExpectation>(
    variant: string,
    list: X[],
    evaluateAll: (l: X[]) => ExpectationResult[],
  ): ExpectationResult[] {
    const why = list.map((x) => notApplicableIn(e, variant, x, o.provider.name));
    const judged = evaluateAll(list.filter((_, i) => !why[i]));
    return list.map((x, i) => (why[i] ? notEvaluated(variant, x, why[i]) : judged.shift()!));
  }

  async function assemble(): Promise<Results> {
    const r: Results = {
      schemaVersion: RESULTS_SCHEMA_VERSION,
      tool: { name: 'notdns', version: await toolVersion() },
      runId,
      experiment: { name: e.name, description: e.description, file: o.file },
      provider: o.provider.name,
      profile: o.fast ? 'fast' : 'normal',
      host: { hostname: hostname(), kernel: release(), cpus: cpus().length, node: process.version },
      startedAt,
      finishedAt: new Date().toISOString(),
      variants,
      verdict: {
        pass: !error && !variants.some((v) => v.stopped) && expectations.some((x) => !x.na) && expectations.every((x) => x.pass || x.na),
        expectations,
      },
      error,
    };
    return ResultsSchema.parse(r);
  }
}

/** The result of an expectation that was not evaluated (n/a on the provider, or its variant was stopped): why, in `na`. */
function notEvaluated(variant: string, x: Expectation | CompareExpectation | PromqlExpectation, na: string): ExpectationResult {
  const promql = 'promql' in x;
  return {
    variant,
    label: promql ? promqlLabel(x) : labelOf(x),
    probe: promql ? 'promql' : x.probe,
    stat: x.stat,
    op: x.op,
    threshold: x.value,
    measured: null,
    pass: false,
    detail: x.why,
    na,
  };
}
