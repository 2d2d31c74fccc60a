// `notdns sweep`: the --set arguments (a dotted path into a variant's configuration and the values to try), the grid
// of their cartesian product, one experiment per grid point (the chosen variant with the point's settings merged
// in, validated by the experiment schema before anything starts), and the time the whole sweep is announced to take.
import type { z } from 'zod';
import { NotdnsError } from '../errors.js';
import { expandVariant, validateExperiment } from '../spec/load.js';
import { EnaSchema, TopologySchema, WorkloadsSchema, type Experiment } from '../spec/schema.js';
import { plannedSeconds } from '../run/steps.js';
import { selectVariants } from '../run/index.js';
import { closestName, didYouMean } from '../suggest.js';

export type SettingValue = number | boolean | string;

/** One --set: the path into the variant configuration and the values to try, in the order given. */
export interface Dimension {
  path: string;
  values: SettingValue[];
}

/** One grid point: a value for each dimension, keyed by path (in the order of the --set arguments). */
export type Settings = Record<string, SettingValue>;

/** The parts of a variant's configuration a sweep may set (spec/schema.ts VariantConfig minus name and steps). */
const ROOTS: Record<string, z.ZodType> = { topology: TopologySchema, ena: EnaSchema, workloads: WorkloadsSchema };

const EXAMPLE = '--set workloads.alertingEngine.reconnect.maxMs=300,1000,5000 --set workloads.alertingEngine.channelsPerBackend=50,100,200';

type Def = {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  options?: z.ZodType[];
  entries?: Record<string, string>;
  values?: unknown[];
};
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The schema itself, without the optional/default/prefault wrappers. */
function unwrap(s: z.ZodType): z.ZodType {
  let x = s;
  while (['optional', 'default', 'prefault', 'nullable', 'readonly'].includes(defOf(x).type)) x = defOf(x).innerType!;
  return x;
}

/** The fields of an object schema, or of the object member of a union (reconnect: 'grpc-defaults' | {…}). */
function fieldsOf(s: z.ZodType): Record<string, z.ZodType> | undefined {
  const d = defOf(unwrap(s));
  if (d.type === 'object') return d.shape;
  if (d.type === 'union') for (const o of d.options!) if (defOf(unwrap(o)).type === 'object') return defOf(unwrap(o)).shape;
  return undefined;
}

/** What a leaf accepts: numbers, booleans, or some strings. */
type LeafKind = { kind: 'number' } | { kind: 'boolean' } | { kind: 'strings'; allowed: string[] };

function leafKind(s: z.ZodType): LeafKind | undefined {
  const d = defOf(unwrap(s));
  if (d.type === 'number') return { kind: 'number' };
  if (d.type === 'boolean') return { kind: 'boolean' };
  if (d.type === 'enum') return { kind: 'strings', allowed: Object.values(d.entries!) };
  if (d.type === 'literal') return { kind: 'strings', allowed: d.values!.map(String) };
  if (d.type === 'union') {
    // a union of a literal and an object (reconnect): the literal is the value it can be set to as a whole
    const lits = d.options!.map(unwrap).filter((o) => defOf(o).type === 'literal');
    if (lits.length) return { kind: 'strings', allowed: lits.flatMap((o) => defOf(o).values!.map(String)) };
  }
  return undefined;
}

/** Every settable path (the leaves of ROOTS), for suggestions and the help. */
export function settablePaths(): string[] {
  const out: string[] = [];
  const walk = (prefix: string, s: z.ZodType) => {
    if (leafKind(s)) out.push(prefix);
    const f = fieldsOf(s);
    if (f) for (const [k, v] of Object.entries(f)) walk(`${prefix}.${k}`, v);
  };
  for (const [k, v] of Object.entries(ROOTS)) walk(k, v);
  return out;
}

function usage(message: string, hint: string): NotdnsError {
  return new NotdnsError(message, { kind: 'usage', hint });
}

/** The schema of the field at a dotted path, or a usage error naming the segment that is wrong and the fix. */
function schemaAt(path: string): z.ZodType {
  const segs = path.split('.');
  let s: z.ZodType | undefined;
  let fields: Record<string, z.ZodType> | undefined = ROOTS;
  for (const [i, seg] of segs.entries()) {
    const known = Object.keys(fields ?? {});
    const here = segs.slice(0, i).join('.');
    if (!fields) {
      throw usage(
        `--set ${path}: ${here} is a single value, it has no field "${seg}".`,
        `Set ${here} itself, e.g. --set ${here}=${exampleValue(s!)}.`,
      );
    }
    s = fields[seg];
    if (!s) {
      const near = closestName(seg, known);
      // a path given without its parents (channelsPerBackend, reconnect.maxMs) is one of the full paths that end with it
      const full = settablePaths().filter((p) => p.endsWith(`.${segs.slice(i).join('.')}`));
      const fix = near
        ? `Did you mean \`${[...segs.slice(0, i), near, ...segs.slice(i + 1)].join('.')}\`? `
        : full.length === 1 && i === 0
          ? `Did you mean \`${full[0]}\`? `
          : '';
      throw usage(
        `--set ${path}: ${here ? `${here} has no field` : 'a path starts with topology, ena or workloads, not'} "${seg}".`,
        `${fix}The fields${here ? ` of ${here}` : ''} are: ${known.join(', ')}. \`notdns sweep --help\` lists every settable path.`,
      );
    }
    fields = fieldsOf(s);
  }
  if (!leafKind(s!)) {
    const leaves = settablePaths().filter((p) => p.startsWith(`${path}.`));
    throw usage(`--set ${path}: ${path} is a group of settings, not one value.`, `Sweep one of its fields: ${leaves.join(', ')}.`);
  }
  return s!;
}

/** What values the field at a settable path takes (numbers, a switch, or one of some strings). */
export function leafAt(path: string): NonNullable<ReturnType<typeof leafKind>> {
  return leafKind(schemaAt(path))!;
}

function exampleValue(s: z.ZodType): string {
  const k = leafKind(s);
  return k?.kind === 'boolean' ? 'true,false' : k?.kind === 'strings' ? k.allowed.join(',') : '100,200';
}

/** One value of a --set, typed by the field's schema and checked by it (range, whole number, enum member). */
function parseValue(path: string, raw: string, s: z.ZodType): SettingValue {
  const k = leafKind(s)!;
  const field = path.split('.').pop()!;
  let v: SettingValue;
  if (k.kind === 'number') {
    if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(raw.trim()))
      throw usage(`--set ${path}: "${raw}" is not a number; ${field} takes numbers.`, `e.g. --set ${path}=${exampleValue(s)}`);
    v = Number(raw);
  } else if (k.kind === 'boolean') {
    if (raw !== 'true' && raw !== 'false')
      throw usage(`--set ${path}: "${raw}" is not true or false; ${field} is a switch.`, `e.g. --set ${path}=true,false`);
    v = raw === 'true';
  } else {
    if (!k.allowed.includes(raw))
      throw usage(
        `--set ${path}: "${raw}" is not a value of ${field}.`,
        `${didYouMean(raw, k.allowed, { sentence: true })}${field} is one of: ${k.allowed.join(', ')}.`,
      );
    v = raw;
  }
  const r = unwrap(s).safeParse(v);
  if (!r.success) throw usage(`--set ${path}=${raw}: ${field} ${r.error.issues[0]!.message}.`, `e.g. --set ${path}=${exampleValue(s)}`);
  return v;
}

/** Parse one --set argument, `path=v1,v2,...`. */
export function parseSet(arg: string): Dimension {
  const eq = arg.indexOf('=');
  if (eq <= 0 || eq === arg.length - 1) throw usage(`--set ${arg}: expected path=value1,value2,...`, `e.g. ${EXAMPLE}`);
  const path = arg.slice(0, eq).trim();
  const s = schemaAt(path);
  const raws = arg
    .slice(eq + 1)
    .split(',')
    .map((x) => x.trim());
  if (raws.some((x) => x === ''))
    throw usage(`--set ${arg}: an empty value in the list.`, `Separate values with commas: --set ${path}=${exampleValue(s)}`);
  const values = raws.map((r) => parseValue(path, r, s));
  const dup = values.find((v, i) => values.indexOf(v) !== i);
  if (dup !== undefined) throw usage(`--set ${path}: the value ${dup} is listed twice.`, 'List each value once.');
  return { path, values };
}

/** Parse every --set; at least one, each path once. */
export function parseSets(args: readonly string[]): Dimension[] {
  if (!args.length)
    throw usage('a sweep needs at least one --set path=v1,v2,...', `e.g. notdns sweep rollout-syn-flood --variant baseline ${EXAMPLE}`);
  const dims = args.map(parseSet);
  for (const [i, d] of dims.entries())
    if (dims.findIndex((x) => x.path === d.path) !== i)
      throw usage(`--set ${d.path} is given twice.`, `Give all its values in one --set: --set ${d.path}=a,b,c.`);
  return dims;
}

/** The cartesian product, the first --set varying slowest (rows), the last fastest (columns). */
export function expandGrid(dims: readonly Dimension[]): Settings[] {
  let out: Settings[] = [{}];
  for (const d of dims) out = out.flatMap((s) => d.values.map((v) => ({ ...s, [d.path]: v })));
  return out;
}

/** `maxMs=300 channelsPerBackend=50`: each setting by its last path segment (the full paths are in the header). */
export function settingsLabel(s: Settings): string {
  return Object.entries(s)
    .map(([k, v]) => `${k.split('.').pop()}=${v}`)
    .join(' ');
}

/** The variant a sweep runs: the one named, or the only one; an experiment with several needs --variant. */
export function chooseVariant(e: Experiment, requested?: string): string {
  if (requested) return selectVariants(e, [requested])[0]!;
  const names = Object.keys(e.variants);
  if (names.length === 1) return names[0]!;
  throw usage(
    `experiment ${e.name} has ${names.length} variants; a sweep runs one of them over the grid: say which with --variant.`,
    `e.g. notdns sweep ${e.name} --variant ${names[0]} ${EXAMPLE.split(' --set ')[0]}  (variants: ${names.join(', ')})`,
  );
}

const isObject = (x: unknown): x is Record<string, unknown> => !!x && typeof x === 'object' && !Array.isArray(x);

/**
 * The experiment of one grid point: only the chosen variant (its own expectations, no cross-variant comparison),
 * with the settings merged into its overrides. A setting replaces the whole field it is in at the level the
 * variant overrides (reconnect, ena.timeouts) with the variant's effective value of it plus the setting, so the
 * other members keep their values. Validated like an experiment file; errors name the point and the field.
 */
export function pointExperiment(e: Experiment, file: string, variant: string, settings: Settings): Experiment {
  const effective = expandVariant(e, variant) as unknown as Record<string, unknown>;
  const over = structuredClone(e.variants[variant]!) as Record<string, unknown>;
  for (const [path, value] of Object.entries(settings)) {
    const segs = path.split('.');
    const depth = segs[0] === 'workloads' ? 3 : 2; // the variant overrides workloads.<app>.<field>, topology.<field>, ena.<field>
    const field = segs.slice(0, depth);
    let o = over;
    for (const k of field.slice(0, -1)) {
      if (!isObject(o[k])) o[k] = {};
      o = o[k] as Record<string, unknown>;
    }
    const last = field[depth - 1]!;
    if (segs.length === depth) {
      o[last] = value;
      continue;
    }
    if (!(last in o)) o[last] = structuredClone(field.reduce<unknown>((x, k) => (x as Record<string, unknown>)[k], effective));
    let t = o[last];
    for (const [j, k] of segs.slice(depth).entries()) {
      if (!isObject(t)) {
        const at = segs.slice(0, depth + j).join('.');
        throw usage(
          `--set ${path}: ${at} is ${JSON.stringify(t)} in variant ${variant}, not a group of numbers to set ${k} in.`,
          `Sweep ${at} itself, or a variant where it is an object (e.g. reconnect: { initialMs, maxMs, connectTimeoutMs }).`,
        );
      }
      if (j === segs.length - depth - 1) t[k] = value;
      else t = t[k];
    }
  }
  const raw = { ...e, variants: { [variant]: over }, expect: { [variant]: e.expect[variant] ?? [] }, compare: [] };
  try {
    return validateExperiment(raw, file);
  } catch (err) {
    const ne = err as NotdnsError;
    throw new NotdnsError(`sweep point ${settingsLabel(settings)}: ${ne.message}`, {
      kind: 'usage',
      cause: err,
      hint: `Remove or change that value of --set. ${ne.hint ?? ''}`.trim(),
    });
  }
}

/**
 * Seconds a point takes beyond its planned steps on the lab: bring-up, deploy, probes, collect, teardown and the
 * point's reports. Measured on the 2-core development machine (2026-11-30, load average 10-14 from other work):
 * bring-up 2-3 s, deploy 3-4 s, collect 0 s, teardown 4 s, i.e. about 10 s; 15 s leaves room for a busier machine.
 * (The steps themselves took 38 s of rollout-syn-flood's 42.5 planned --fast seconds: the rollout is planned at
 * 12 s and took 7-10 s.) test/sweep checks a real sweep's actual time against the announced one.
 */
export const LAB_OVERHEAD_SECONDS = 15;

export interface Estimate {
  /** Planned seconds of each point's steps (--fast applied). */
  planned: number[];
  overheadPerPoint: number;
  /** The announced total: sum(planned) + points × overhead. */
  totalSeconds: number;
}

export function estimate(experiments: readonly Experiment[], variant: string, opts: { fast: boolean; overheadSeconds?: number }): Estimate {
  const overheadPerPoint = opts.overheadSeconds ?? LAB_OVERHEAD_SECONDS;
  const planned = experiments.map((x) => plannedSeconds(expandVariant(x, variant, { fast: opts.fast })));
  return { planned, overheadPerPoint, totalSeconds: Math.ceil(planned.reduce((a, b) => a + b, 0) + planned.length * overheadPerPoint) };
}
