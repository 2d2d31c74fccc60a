// What a run will do on a provider, before anything is created: per variant the cluster, the workloads and the
// steps with their planned time, and each expectation as `applies` or `n/a on P: <why>`. An expectation whose
// probe the provider cannot supply (probes/catalog.ts), or that the experiment limits to other providers, is
// n/a: shown in the plan, the verdict, JUnit (skipped) and the report, never evaluated on empty data.
import { NotdnsError } from './errors.js';
import { labelOf } from './expect.js';
import { probeSupplied } from './probes/catalog.js';
import { promqlLabel } from './probes/prometheus.js';
import { plannedSeconds } from './run/steps.js';
import { expandVariant } from './spec/load.js';
import type { ClientConfig, CompareExpectation, Expectation, Experiment } from './spec/schema.js';
import type { ProviderName } from './providers/types.js';
import { capabilitiesOf } from './providers/index.js';
import { isClientMetricProbe } from './run/client.js';

/** undefined: it applies on `provider`; else why not, as "n/a on P: why". */
export function notApplicable(e: Pick<Expectation, 'probe' | 'providers'>, provider: ProviderName): string | undefined {
  if (e.providers && !e.providers.includes(provider))
    return `n/a on ${provider}: the experiment applies it on ${e.providers.join(', ')} only`;
  const s = probeSupplied(e.probe, provider);
  return s === true ? undefined : `n/a on ${provider}: ${s}`;
}

/** The custom client of a variant (workloads.client), if it has one. */
export function clientOf(e: Experiment, variant: string): ClientConfig | undefined {
  return e.variants[variant]?.workloads?.client ?? e.workloads.client;
}

/** notApplicable for an expectation of `variant` (or 'compare': of both variants it compares) of `e`: also n/a when
 *  its probe is a client-side gRPC probe and the variant's custom client exposes no metrics. */
export function notApplicableIn(
  e: Experiment,
  variant: string,
  x: Expectation | CompareExpectation,
  provider: ProviderName,
): string | undefined {
  const why = notApplicable(x, provider);
  if (why || !isClientMetricProbe(x.probe)) return why;
  const variants = 'ratio' in x ? x.ratio : [variant];
  const custom = variants.filter((n) => clientOf(e, n));
  const silent = custom.filter((n) => !clientOf(e, n)!.metricsPort);
  if (silent.length)
    return `n/a on ${provider}: custom client exposes no metrics (workloads.client of ${silent.join(', ')} has no metricsPort)`;
  // the lab scrapes a client's metricsPort through its guard (harness/run/client-guard.ts), inside the pod
  if (custom.length && !capabilitiesOf(provider).sharesHostFiles)
    return `n/a on ${provider}: scraping a custom client's metricsPort is wired on the lab only (through its guard in the pod)`;
  return undefined;
}

export interface PlannedExpectation {
  variant: string;
  label: string;
  na?: string;
}

export interface Plan {
  experiment: string;
  provider: ProviderName;
  fast: boolean;
  variants: {
    name: string;
    description: string;
    nodes: number;
    serverNodes: number;
    metricsService: number;
    alertingEngines: number;
    channelsPerBackend: number;
    /** workloads.client in place of the Alerting Engine: its command (or image). */
    client?: string;
    steps: string[];
    plannedSeconds: number;
  }[];
  expectations: PlannedExpectation[];
  /** What the provider does that the plan should say (dead-workload detection, where the ENA program loads). */
  notes: string[];
}

export function planOf(e: Experiment, provider: ProviderName, opts: { variants?: readonly string[]; fast?: boolean } = {}): Plan {
  const names = opts.variants?.length ? [...opts.variants] : Object.keys(e.variants);
  const variants = names.map((name) => {
    const cfg = expandVariant(e, name, { fast: opts.fast });
    return {
      name,
      description: cfg.description,
      nodes: cfg.topology.nodes,
      serverNodes: cfg.topology.serverNodes,
      metricsService: cfg.workloads.metricsService.replicas,
      alertingEngines: cfg.workloads.alertingEngine.instances,
      channelsPerBackend: cfg.workloads.alertingEngine.channelsPerBackend,
      ...(cfg.workloads.client ? { client: (cfg.workloads.client.command ?? [cfg.workloads.client.image]).join(' ') } : {}),
      steps: cfg.steps.map((s) => {
        const [k, v] = Object.entries(s)[0]!;
        return typeof v === 'number' ? `${k} ${v}s` : k;
      }),
      plannedSeconds: plannedSeconds(cfg),
    };
  });
  const row = (variant: string, x: Expectation | CompareExpectation): PlannedExpectation => ({
    variant,
    label: labelOf(x),
    na: notApplicableIn(e, variant, x, provider),
  });
  const ran = new Set(names);
  const expectations = [
    ...names.flatMap((n) => (e.expect[n] ?? []).map((x) => row(n, x))),
    ...e.compare.filter((c) => c.ratio.every((n) => ran.has(n))).map((c) => row('compare', c)),
    // read from the Prometheus server the user names: the same on every provider
    ...names.flatMap((n) => (e.prometheus?.expect[n] ?? []).map((x) => ({ variant: n, label: promqlLabel(x) }))),
  ];
  const caps = capabilitiesOf(provider);
  const notes = [
    `dead workloads: ${caps.deadWorkloads}`,
    caps.enaDefault === 'real-counters'
      ? 'ENA: the real allowance counters (ethtool -S); the simulator only with --ena-simulator count|enforce'
      : `ENA simulator: loaded ${caps.enaPins === 'host' ? 'from this host (a private bpffs of the run)' : 'on each node (its /sys/fs/bpf)'}`,
  ];
  return { experiment: e.name, provider, fast: !!opts.fast, variants, expectations, notes };
}

/** Refuse a run in which nothing could be judged. */
export function assertSomethingApplies(p: Plan): void {
  if (p.expectations.length > 0 && p.expectations.every((x) => x.na)) {
    throw new NotdnsError(
      `none of the ${p.expectations.length} expectations of ${p.experiment} applies on --provider ${p.provider}: a run would measure nothing it could judge.`,
      {
        kind: 'usage',
        hint: `\`notdns plan ${p.experiment} --provider ${p.provider}\` lists why each one is n/a; run it on a provider that supplies its probes (the lab supplies all).`,
      },
    );
  }
}

/** `brief`: the expectations that apply are only counted (the start of a run); n/a ones are always listed. */
export function renderPlan(p: Plan, opts: { brief?: boolean } = {}): string {
  const out = [`plan: ${p.experiment} on ${p.provider}${p.fast ? ' (fast)' : ''}`];
  for (const v of p.variants) {
    out.push(
      `  ${v.name}: ${v.nodes} nodes (${v.serverNodes} for the Metrics Service), ${v.metricsService} Metrics Service pod(s), ` +
        `${v.alertingEngines} ${v.client ? `custom client pod(s) (${v.client})` : 'Alerting Engine pod(s)'} × ${v.channelsPerBackend} channels/backend; steps ${v.steps.join(' → ')}; ~${Math.round(v.plannedSeconds)} s`,
    );
  }
  for (const n of p.notes) out.push(`  ${n}`);
  const na = p.expectations.filter((x) => x.na).length;
  out.push(`expectations: ${p.expectations.length - na} apply${na ? `, ${na} n/a on ${p.provider}` : ''}`);
  for (const x of p.expectations)
    if (!opts.brief || x.na)
      out.push(
        `  ${x.variant.padEnd(18)} ${x.na ? 'n/a    ' : 'applies'}  ${x.label}${x.na ? `\n  ${''.padEnd(18)}          ${x.na.replace(/^n\/a on [a-z]+: /, '')}` : ''}`,
      );
  return out.join('\n');
}
