// `notdns sweep`: one variant over a grid of settings. A point is one runExperiment of a single-variant experiment
// (grid.ts pointExperiment), so the whole run lifecycle (fresh cluster, stages, teardown, expectations) is the run's
// own. sweep.json is {settings, results} per finished point (results = results.json's schema); an interrupted sweep
// keeps the points that finished.
import { readFile, writeFile, rename, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { NotdnsError } from '../errors.js';
import { runExperiment, type Progress } from '../run/index.js';
import type { Provider } from '../providers/types.js';
import { ResultsSchema, type Results } from '../results.js';
import { writeReports } from '../report/index.js';
import { fmtClock, fmtNum } from '../report/format.js';
import type { Experiment } from '../spec/schema.js';
import { settingsLabel, type Dimension, type Estimate, type Settings } from './grid.js';

export const SWEEP_SCHEMA_VERSION = 1;

const SettingValueSchema = z.union([z.number(), z.boolean(), z.string()]);

export const SweepPointSchema = z.object({
  /** The value of each swept path at this point. */
  settings: z.record(z.string(), SettingValueSchema),
  /** The point's results.json (one variant). */
  results: ResultsSchema,
});
export type SweepPoint = z.infer<typeof SweepPointSchema>;

export const SweepSchema = z.object({
  kind: z.literal('notdns-sweep'),
  schemaVersion: z.literal(SWEEP_SCHEMA_VERSION),
  experiment: z.object({ name: z.string(), file: z.string() }),
  variant: z.string(),
  provider: z.string(),
  profile: z.enum(['normal', 'fast']),
  /** The --set arguments, in order: the first is the rows (y), the second the columns (x). */
  dimensions: z.array(z.object({ path: z.string(), values: z.array(SettingValueSchema) })),
  /** Grid points in all (points may hold fewer when the sweep was interrupted). */
  total: z.number().int(),
  /** The time announced before the sweep started: planned step seconds + a per-point overhead. */
  announcedSeconds: z.number(),
  overheadPerPointSeconds: z.number(),
  /** Wall-clock seconds the sweep took. */
  actualSeconds: z.number(),
  startedAt: z.string(),
  finishedAt: z.string(),
  /** Set when the sweep did not reach every point (interrupted, or a harness error). */
  incomplete: z.object({ reason: z.string(), kind: z.string() }).optional(),
  points: z.array(SweepPointSchema),
});
export type Sweep = z.infer<typeof SweepSchema>;

/** The outcome numbers shown per point (the run's summary keys: harness/probes/catalog.ts HEADLINES). */
export const OUTCOMES = [
  { key: 'synPeak', summary: 'synToOldPodIpsPeakPerSecond', label: 'peak SYN/s to old pod IPs', badWhenHigh: true },
  { key: 'synTotal', summary: 'synToOldPodIpsTotal', label: 'SYNs to old pod IPs', badWhenHigh: true },
  { key: 'allowance', summary: 'allowanceExceededFlooded', label: 'ENA allowance exceeded (flooded nodes)', badWhenHigh: true },
  { key: 'dnsErrors', summary: 'dnsErrors', label: 'DNS errors', badWhenHigh: true },
] as const;
export type OutcomeKey = (typeof OUTCOMES)[number]['key'];

export interface Outcome {
  settings: Settings;
  values: Record<OutcomeKey, number | null>;
  /** The variant's expectations: all passed (the verdict of the point's run). */
  pass: boolean;
  stopped: boolean;
  seconds: number;
}

export function outcomeOf(p: SweepPoint): Outcome {
  const v = p.results.variants[0];
  const values = Object.fromEntries(OUTCOMES.map((o) => [o.key, v?.summary[o.summary] ?? null])) as Outcome['values'];
  return {
    settings: p.settings,
    values,
    pass: p.results.verdict.pass,
    stopped: !!v?.stopped,
    seconds: (Date.parse(p.results.finishedAt) - Date.parse(p.results.startedAt)) / 1000,
  };
}

export interface RunSweepOptions {
  experiment: Experiment;
  file: string;
  variant: string;
  dimensions: Dimension[];
  points: { settings: Settings; experiment: Experiment }[];
  estimate: Estimate;
  provider: Provider;
  fast: boolean;
  outDir: string;
  progress: Progress;
  signal?: AbortSignal;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

/**
 * Run every point in order. Returns the sweep record; on an interruption or a harness error it throws with the
 * record of the finished points attached as `sweep` (the caller writes it).
 */
export async function runSweep(o: RunSweepOptions): Promise<Sweep> {
  const now = o.now ?? Date.now;
  const t0 = now();
  const startedAt = new Date(t0).toISOString();
  const done: SweepPoint[] = [];
  const n = o.points.length;
  const record = (incomplete?: Sweep['incomplete']): Sweep => ({
    kind: 'notdns-sweep',
    schemaVersion: SWEEP_SCHEMA_VERSION,
    experiment: { name: o.experiment.name, file: o.file },
    variant: o.variant,
    provider: o.provider.name,
    profile: o.fast ? 'fast' : 'normal',
    dimensions: o.dimensions,
    total: n,
    announcedSeconds: o.estimate.totalSeconds,
    overheadPerPointSeconds: o.estimate.overheadPerPoint,
    actualSeconds: Math.round((now() - t0) / 100) / 10,
    startedAt,
    finishedAt: new Date(now()).toISOString(),
    incomplete,
    points: [...done],
  });
  for (const [i, p] of o.points.entries()) {
    const elapsed = (now() - t0) / 1000;
    o.progress.log(
      `point ${i + 1}/${n}: ${settingsLabel(p.settings)}  (planned ${fmtClock(o.estimate.planned[i]! + o.estimate.overheadPerPoint)}; sweep ${fmtClock(elapsed)} of ${fmtClock(o.estimate.totalSeconds)} announced)`,
    );
    let results: Results;
    try {
      o.signal?.throwIfAborted();
      results = await runExperiment({
        experiment: p.experiment,
        file: o.file,
        provider: o.provider,
        variants: [o.variant],
        fast: o.fast,
        outDir: join(o.outDir, 'points', String(i + 1)),
        progress: o.progress,
        signal: o.signal,
      });
    } catch (e) {
      // aborted between points (throwIfAborted throws the signal's reason): an interruption, as inside a run
      const ne =
        e instanceof NotdnsError
          ? e
          : o.signal?.aborted
            ? new NotdnsError('the sweep was interrupted; everything it created was torn down.', { kind: 'interrupted', cause: e })
            : new NotdnsError(String((e as Error)?.message ?? e), { kind: 'harness', cause: e });
      const reason =
        ne.kind === 'interrupted' || o.signal?.aborted
          ? `interrupted during point ${i + 1}/${n} (${settingsLabel(p.settings)}); ${done.length} point(s) finished`
          : `point ${i + 1}/${n} (${settingsLabel(p.settings)}) failed: ${ne.message}`;
      throw Object.assign(ne, { sweep: record({ reason, kind: o.signal?.aborted ? 'interrupted' : ne.kind }) });
    }
    done.push({ settings: p.settings, results });
    await writeReports(results, join(o.outDir, 'points', String(i + 1))).catch(() => undefined);
    const out = outcomeOf({ settings: p.settings, results });
    o.progress.log(
      `point ${i + 1}/${n} done in ${fmtClock(out.seconds)}: ${OUTCOMES.map((x) => `${x.label} ${fmtNum(out.values[x.key])}`).join(', ')}; expectations ${out.pass ? 'passed' : 'failed'}${out.stopped ? ' (stopped)' : ''}`,
    );
  }
  return record();
}

/** JSON with [t, v] pairs on one line (as results.json). */
function stringify(s: Sweep): string {
  return JSON.stringify(s, null, 2).replace(/\[\s+(-?[\d.eE+-]+),\s+(-?[\d.eE+-]+)\s+\]/g, '[$1, $2]') + '\n';
}

export async function writeSweep(s: Sweep, outDir: string, renderHtml: (s: Sweep) => string): Promise<{ json: string; html: string }> {
  const valid = SweepSchema.parse(s);
  await mkdir(outDir, { recursive: true });
  const paths = { json: join(outDir, 'sweep.json'), html: join(outDir, 'sweep.html') };
  for (const [file, data] of [
    [paths.json, stringify(valid)],
    [paths.html, renderHtml(valid)],
  ] as const) {
    const tmp = `${file}.tmp-${process.pid}`;
    await writeFile(tmp, data, 'utf8');
    await rename(tmp, file);
  }
  return paths;
}

export async function loadSweep(file: string): Promise<Sweep> {
  const raw = JSON.parse(await readFile(file, 'utf8'));
  const r = SweepSchema.safeParse(raw);
  if (!r.success)
    throw new NotdnsError(`${file} is not a sweep.json: ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`, {
      kind: 'usage',
      hint: '`notdns sweep` writes sweep.json; results.json of a run is read by `notdns report`.',
    });
  return r.data;
}

/** The terminal table: one row per point, settings then outcomes. */
export function renderSweepTable(s: Sweep): string {
  const dims = s.dimensions.map((d) => d.path.split('.').pop()!);
  const head = [...dims, ...OUTCOMES.map((o) => o.label), 'expectations', 'time'];
  const rows = s.points.map((p) => {
    const o = outcomeOf(p);
    return [
      ...s.dimensions.map((d) => String(p.settings[d.path])),
      ...OUTCOMES.map((x) => fmtNum(o.values[x.key])),
      o.stopped ? 'stopped' : o.pass ? 'pass' : 'fail',
      fmtClock(o.seconds),
    ];
  });
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i < dims.length || i === r.length - 2 ? c.padEnd(w[i]!) : c.padStart(w[i]!)))
      .join('  ')
      .trimEnd();
  const out = [
    `notdns sweep ${s.experiment.name} --variant ${s.variant} · ${s.provider} · ${s.profile}`,
    ...s.dimensions.map((d) => `  ${d.path} = ${d.values.join(', ')}`),
    '',
    line(head),
    line(w.map((x) => '─'.repeat(x))),
    ...rows.map(line),
    '',
    `${s.points.length}/${s.total} points in ${fmtClock(s.actualSeconds)} (announced ${fmtClock(s.announcedSeconds)})${s.incomplete ? `; ${s.incomplete.reason}` : ''}`,
    `expectations = the ${s.variant} variant's own expectations at that point (pass: all held).`,
  ];
  return out.join('\n');
}
