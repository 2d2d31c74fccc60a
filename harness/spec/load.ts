// Load, validate and expand experiments. Errors name the file, the field, what was expected, and an example.
import { readFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { NotdnsError } from '../errors.js';
import { distDir, repoRoot } from '../paths.js';
import { didYouMean } from '../suggest.js';
import { ExperimentSchema, type Experiment, type Step, type VariantConfig } from './schema.js';
import { stepDef } from '../run/steps.js';

/** Examples shown in errors, by the last path segment that names a field. */
const EXAMPLES: Record<string, string> = {
  nodes: 'topology: { nodes: 3 }',
  serverNodes: 'topology: { nodes: 3, serverNodes: 2 }',
  conntrackAllowance: 'ena: { conntrackAllowance: 4000 }',
  unrepliedSeconds: 'ena: { timeouts: { unrepliedSeconds: 20 } }',
  replicas: 'workloads: { metricsService: { replicas: 2 } }',
  gracefulStopSeconds: 'workloads: { metricsService: { gracefulStopSeconds: 10 } }',
  dnsLookupsPerSecond: 'workloads: { metricsService: { dnsLookupsPerSecond: 20 } }',
  channelsPerBackend: 'workloads: { alertingEngine: { channelsPerBackend: 200 } }',
  reconnect: "reconnect: 'grpc-defaults'  or  reconnect: { initialMs: 200, maxMs: 300, connectTimeoutMs: 300 }",
  steps: 'steps: [{ steady: 20 }, { rollout: { batch: 1 } }, { observe: 30 }]',
  probe: "{ probe: 'ena.allowanceExceeded', target: 'flooded-nodes', stat: 'total', op: '>=', value: 1 }",
  stat: "stat: 'peakRate'",
  op: "op: '>='",
  window: "window: 'rollout'",
  value: 'value: 1000',
  target: "target: 'flooded-nodes'",
  variants:
    'variants: { baseline: { workloads: { alertingEngine: { reconnect: { initialMs: 200, maxMs: 300, connectTimeoutMs: 300 } } } }, fix: {} }',
  ratio: "ratio: ['baseline', 'fix']",
  name: "name: 'rollout-syn-flood'",
  discovery: "discovery: 'per-backend'",
};

function exampleFor(path: PropertyKey[]): string | undefined {
  for (let i = path.length - 1; i >= 0; i--) {
    const k = path[i];
    if (typeof k === 'string' && EXAMPLES[k]) return EXAMPLES[k];
  }
  return undefined;
}

export function formatIssues(file: string, issues: readonly z.core.$ZodIssue[]): string {
  const lines = issues.slice(0, 8).map((i) => {
    const field = i.path.length
      ? i.path
          .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
          .join('.')
          .replace(/\.\[/g, '[')
      : '(top level)';
    let msg = i.message;
    if (i.code === 'unrecognized_keys') msg = `unknown field(s) ${(i as { keys: string[] }).keys.map((k) => `"${k}"`).join(', ')} (typo?)`;
    if (i.code === 'invalid_type' && /received undefined/.test(i.message)) msg = `is required (${i.message})`;
    if (i.code === 'invalid_key')
      msg = `"${String(i.path[i.path.length - 1])}" is not a valid name: ${(i as { issues?: { message: string }[] }).issues?.map((x) => x.message).join('; ') ?? i.message}`;
    const ex = exampleFor(i.path);
    return `  - ${field}: ${msg}${ex ? `\n      example: ${ex}` : ''}`;
  });
  if (issues.length > 8) lines.push(`  - ... and ${issues.length - 8} more`);
  return `${file} is not a valid experiment:\n${lines.join('\n')}`;
}

function specError(file: string, what: string, hint: string): NotdnsError {
  return new NotdnsError(`${file} is not a valid experiment:\n  - ${what}`, { kind: 'spec', hint });
}

/** Validate raw data (from a .ts module, YAML or JSON) and check what the schema alone cannot. */
export function validateExperiment(raw: unknown, file: string): Experiment {
  const r = ExperimentSchema.safeParse(raw);
  if (!r.success) {
    throw new NotdnsError(formatIssues(file, r.error.issues), {
      kind: 'spec',
      hint: 'Correct the field(s) above; `notdns list` shows the built-in experiments, experiments/rollout-syn-flood.ts is a complete example.',
    });
  }
  const e = r.data;
  const variants = Object.keys(e.variants);
  for (const v of Object.keys(e.expect)) {
    if (!variants.includes(v))
      throw specError(
        file,
        `expect.${v}: there is no variant named "${v}": ${didYouMean(v, variants)}variants: ${variants.join(', ')}`,
        `Rename the key under expect to one of: ${variants.join(', ')}.`,
      );
  }
  for (const v of Object.keys(e.prometheus?.expect ?? {}))
    if (!variants.includes(v))
      throw specError(
        file,
        `prometheus.expect.${v}: there is no variant named "${v}": ${didYouMean(v, variants)}variants: ${variants.join(', ')}`,
        `Rename the key under prometheus.expect to one of: ${variants.join(', ')}.`,
      );
  for (const [i, c] of e.compare.entries())
    for (const [j, v] of c.ratio.entries()) {
      if (!variants.includes(v))
        throw specError(
          file,
          `compare[${i}].ratio[${j}]: there is no variant named "${v}": ${didYouMean(v, variants)}variants: ${variants.join(', ')}`,
          `Use two of: ${variants.join(', ')}, e.g. ratio: ['${variants[0]}', '${variants[1] ?? variants[0]}'].`,
        );
    }
  for (const v of variants) checkResources(expandVariant(e, v), file);
  const windows = new Set(
    [...Object.values(e.expect).flat(), ...e.compare, ...Object.values(e.prometheus?.expect ?? {}).flat()].map((x) => x.window),
  );
  if (!e.steps.some((s) => 'rollout' in s) && (windows.has('rollout') || windows.has('after-rollout'))) {
    throw specError(
      file,
      'an expectation uses window "rollout"/"after-rollout" but steps has no {rollout: ...} step',
      'Add a rollout step or use window: all.',
    );
  }
  if (!e.steps.some((s) => 'recover' in s) && windows.has('recovery')) {
    throw specError(
      file,
      'an expectation uses window "recovery" but steps has no {recover: SECONDS} step',
      'Add e.g. { recover: 20 } as the last step, or use another window.',
    );
  }
  return e;
}

/** Reject experiments this machine cannot run (lab pods are processes: cap them). */
function checkResources(v: VariantConfig, file: string): void {
  const t = v.topology,
    w = v.workloads;
  const where = `variants.${v.name}`;
  if (t.serverNodes >= t.nodes) {
    throw specError(
      file,
      `${where} topology.serverNodes (${t.serverNodes}) must be less than topology.nodes (${t.nodes}): the Alerting Engine needs a node of its own`,
      'Use e.g. topology: { nodes: 3, serverNodes: 2 }.',
    );
  }
  const pods = w.metricsService.replicas + w.alertingEngine.instances;
  if (pods > 60)
    throw specError(
      file,
      `${where}: ${pods} pods (metricsService.replicas + alertingEngine.instances) is more than this harness runs on one machine (60)`,
      'Lower replicas/instances; each lab pod is a Node.js process (~50 MB).',
    );
  const channels =
    w.alertingEngine.instances *
    w.alertingEngine.channelsPerBackend *
    (w.alertingEngine.discovery === 'per-backend' ? w.metricsService.replicas : 1);
  if (channels > 50_000)
    throw specError(
      file,
      `${where}: ${channels} gRPC channels in total (instances × channelsPerBackend × replicas) is more than one machine sustains (50,000)`,
      'Lower workloads.alertingEngine.channelsPerBackend.',
    );
  if (v.ena.enabled && v.ena.conntrackAllowance < 16)
    throw specError(
      file,
      `${where} ena.conntrackAllowance ${v.ena.conntrackAllowance} is too small to even hold the steady-state connections`,
      "Use at least 16 (the talk's instances tracked hundreds of thousands of flows; the lab default is 4000).",
    );
}

function merge<T extends object>(base: T, over: Partial<T> | undefined): T {
  if (!over) return base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const b = (base as Record<string, unknown>)[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? merge(b as object, v as object)
        : v;
  }
  return out as T;
}

export function expandVariant(e: Experiment, name: string, opts: { fast?: boolean } = {}): VariantConfig {
  const v = e.variants[name];
  if (!v)
    throw new NotdnsError(`experiment ${e.name} has no variant "${name}".`, {
      kind: 'usage',
      hint: `${didYouMean(name, Object.keys(e.variants), { sentence: true })}Use one of: ${Object.keys(e.variants).join(', ')}.`,
    });
  const cfg: VariantConfig = {
    name,
    description: v.description,
    topology: merge(e.topology, v.topology),
    ena: merge(e.ena, v.ena as Partial<Experiment['ena']>),
    workloads: {
      metricsService: merge(e.workloads.metricsService, v.workloads?.metricsService),
      alertingEngine: merge(e.workloads.alertingEngine, v.workloads?.alertingEngine),
      ...((v.workloads?.client ?? e.workloads.client) ? { client: v.workloads?.client ?? e.workloads.client } : {}),
    },
    steps: e.steps.map((s) => ({ ...s })),
    abort: [...(e.abort ?? []), ...(v.abort ?? [])],
  };
  return opts.fast ? scaleTime(cfg, e.fastTimeScale) : cfg;
}

/** The --fast profile: every duration multiplied by the same factor, so the causal chain keeps its shape. */
export function scaleTime(v: VariantConfig, k: number): VariantConfig {
  const r = (x: number) => Math.max(0.5, Math.round(x * k * 10) / 10);
  return {
    ...v,
    ena: {
      ...v.ena,
      timeouts: { ...v.ena.timeouts, unrepliedSeconds: r(v.ena.timeouts.unrepliedSeconds), closedSeconds: r(v.ena.timeouts.closedSeconds) },
    },
    workloads: {
      ...v.workloads,
      metricsService: {
        ...v.workloads.metricsService,
        gracefulStopSeconds: r(v.workloads.metricsService.gracefulStopSeconds),
        // DNS discovery: the records' TTL is a duration of the chain too (whole seconds in a zone file)
        ...(v.workloads.metricsService.dns
          ? { dns: { ...v.workloads.metricsService.dns, ttlSeconds: Math.round(v.workloads.metricsService.dns.ttlSeconds * k) } }
          : {}),
      },
      alertingEngine: {
        ...v.workloads.alertingEngine,
        dnsPropagationSeconds:
          v.workloads.alertingEngine.dnsPropagationSeconds === 0 ? 0 : r(v.workloads.alertingEngine.dnsPropagationSeconds),
      },
    },
    steps: v.steps.map((s) => stepDef(s).scale(s as never, r) as Step),
  };
}

export const experimentsDir = join(repoRoot, 'experiments');

/** Built-in experiments: experiments/*.ts (compiled to dist/experiments) and *.yaml|*.json. */
export async function listExperiments(): Promise<{ name: string; file: string }[]> {
  const out: { name: string; file: string }[] = [];
  for (const f of (await readdir(experimentsDir)).sort()) {
    const ext = extname(f);
    if (!['.ts', '.yaml', '.yml', '.json'].includes(ext) || f.endsWith('.d.ts')) continue;
    out.push({ name: basename(f, ext), file: join(experimentsDir, f) });
  }
  return out;
}

/** Resolve a name (built-in) or a path, load and validate it. */
export async function loadExperiment(nameOrPath: string): Promise<{ experiment: Experiment; file: string }> {
  let file = nameOrPath;
  if (!existsSync(file)) {
    const found = (await listExperiments()).find((x) => x.name === nameOrPath);
    if (!found) {
      const names = (await listExperiments()).map((x) => x.name);
      throw new NotdnsError(`unknown experiment "${nameOrPath}": it is neither a built-in experiment nor a file.`, {
        kind: 'usage',
        hint: `${didYouMean(nameOrPath, names, { sentence: true })}Use one of: ${names.join(', ')} (\`notdns list\`), or a path to a .yaml/.json/.ts experiment file.`,
      });
    }
    file = found.file;
  }
  file = resolve(file);
  let raw: unknown;
  const ext = extname(file);
  try {
    if (ext === '.yaml' || ext === '.yml') raw = parseYaml(await readFile(file, 'utf8'));
    else if (ext === '.json') raw = JSON.parse(await readFile(file, 'utf8'));
    else if (ext === '.ts' || ext === '.js') {
      const js =
        ext === '.js' ? file : file.startsWith(repoRoot) ? join(distDir, file.slice(repoRoot.length + 1)).replace(/\.ts$/, '.js') : file;
      if (!existsSync(js))
        throw new Error(
          `${js} does not exist: TypeScript experiments run from their compiled form (npm run build), or write the experiment as .yaml/.json`,
        );
      raw = (await import(pathToFileURL(js).href)).default;
    } else throw new Error(`unsupported file type "${ext}"`);
  } catch (e) {
    throw new NotdnsError(`cannot read experiment ${file}: ${(e as Error).message}`, {
      kind: 'spec',
      cause: e,
      hint: 'Experiments are .yaml, .json or .ts files (a .ts file default-exports defineExperiment({...})). Check the syntax at the position given.',
    });
  }
  return { experiment: validateExperiment(raw, file), file };
}
