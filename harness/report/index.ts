// Reports of a run: results.json (the record, validated), junit.xml (CI), report.html (people); and reading a
// results.json back with errors that say which file, which field, and what to do.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { z } from 'zod';
import { NotdnsError } from '../errors.js';
import { RESULTS_SCHEMA_VERSION, ResultsSchema, type Results } from '../results.js';
import { renderHtml, type HtmlOptions } from './html.js';
import { renderJunit } from './junit.js';

export { renderHtml, type HtmlOptions } from './html.js';
export { renderJunit } from './junit.js';
export { renderVerdict, verdictLine, type VerdictOptions } from './terminal.js';
export { compareResults, compareExitCode, renderComparison, type Comparison, type ExpectationDiff, type NumberDiff } from './compare.js';
export { ProgressView, formatCounters, formatTiming, type ProgressOptions, type Counters } from './progress.js';
export { useColor } from './ansi.js';
export { counterRate, counterIncrease, headlines } from './series.js';
export { fmtNum, fmtSeconds, fmtChange, expectationMessage } from './format.js';
export { schemaDocument, schemaDocPath } from './schema-doc.js';

export interface ReportPaths {
  json: string;
  junit: string;
  html: string;
}

/** `variants[0].series[3].points[5][1]` */
export function fieldPath(path: readonly PropertyKey[]): string {
  if (!path.length) return '(top level)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}

function issueText(i: z.core.$ZodIssue): string {
  let msg = i.message;
  if (i.code === 'invalid_type' && /received undefined/.test(msg)) msg = `is missing (${msg})`;
  if (i.code === 'unrecognized_keys') msg = `has unknown field(s) ${(i as { keys: string[] }).keys.join(', ')}`;
  return `${fieldPath(i.path)}: ${msg}`;
}

function describe(v: unknown): string {
  return v === undefined ? 'missing' : JSON.stringify(v);
}

/**
 * Validate parsed JSON as a results record. `source` names where it came from (a file path) in errors.
 * Throws a NotdnsError whose message names the source, the failing field path and the fix.
 */
export function validateResults(raw: unknown, source: string): Results {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new NotdnsError(
      `${source} is not a notdns results file: expected a JSON object at the top level, found ${Array.isArray(raw) ? 'an array' : raw === null ? 'null' : typeof raw}.`,
      {
        kind: 'usage',
        hint: 'Pass the results.json that `notdns run` wrote into its output folder (docs/results.md describes the format).',
      },
    );
  }
  const o = raw as Record<string, unknown>;
  const version = o.schemaVersion;
  const wroteBy = (o.tool as { version?: unknown } | undefined)?.version;
  const by = typeof wroteBy === 'string' ? ` (written by notdns ${wroteBy})` : '';
  if (typeof version === 'number' && version !== RESULTS_SCHEMA_VERSION) {
    const newer = version > RESULTS_SCHEMA_VERSION;
    throw new NotdnsError(
      `${source} has results schema version ${version}${by}; this notdns reads version ${RESULTS_SCHEMA_VERSION} only (field schemaVersion). ` +
        (newer ? 'The file is newer than this notdns.' : 'The file is older than this notdns.'),
      {
        kind: 'usage',
        hint: newer
          ? 'Update notdns (git pull && npm ci && npm run build) and run the command again, or read the file with the notdns version that wrote it.'
          : `Re-run the experiment with this notdns to get a version-${RESULTS_SCHEMA_VERSION} file, or read this one with the notdns version that wrote it${typeof wroteBy === 'string' ? ` (${wroteBy})` : ''}. docs/results.md lists what changed between versions.`,
      },
    );
  }
  if (version === undefined || typeof version !== 'number') {
    throw new NotdnsError(
      `${source} is not a notdns results file: field schemaVersion is ${describe(version)}, expected the number ${RESULTS_SCHEMA_VERSION}.`,
      {
        kind: 'usage',
        hint: 'Pass the results.json that `notdns run` wrote into its output folder; if you generate results yourself, start the object with "schemaVersion": 1 and follow docs/results-schema.json.',
      },
    );
  }
  const r = ResultsSchema.safeParse(raw);
  if (r.success) return r.data;
  const issues = r.error.issues;
  const first = issues[0]!;
  const others =
    issues.length > 1
      ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''}: ${issues.slice(1, 4).map(issueText).join('; ')}${issues.length > 4 ? '; …' : ''})`
      : '';
  throw new NotdnsError(`${source} is not a valid notdns results file: field ${issueText(first)}${others}.`, {
    kind: 'usage',
    hint: `Make field ${fieldPath(first.path)} match docs/results-schema.json (docs/results.md explains every field). Files written by \`notdns run\` are always valid: if this one was edited or generated by another tool, regenerate it, or re-run the experiment.`,
  });
}

/** Read and validate a results.json (see validateResults for the errors). */
export async function loadResults(file: string): Promise<Results> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new NotdnsError(
      `cannot read results file ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message}.`,
      {
        kind: 'usage',
        cause: e,
        hint:
          code === 'EISDIR'
            ? `Pass the file inside it: ${join(path, 'results.json')}.`
            : "Pass the results.json from a run's output folder (out/<experiment>/<run id>/results.json).",
      },
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new NotdnsError(`${path} is not valid JSON: ${(e as Error).message}.`, {
      kind: 'usage',
      cause: e,
      hint: 'The file is truncated or was edited by hand; re-run the experiment, or fix the JSON syntax at the position above.',
    });
  }
  return validateResults(raw, path);
}

/**
 * JSON with 2-space indentation, but [t, v] points and other short arrays of numbers on one line, so a
 * results.json stays readable and a tenth of the size of JSON.stringify(x, null, 2).
 */
export function stringifyResults(results: Results): string {
  return JSON.stringify(results, null, 2).replace(/\[\s+(-?[\d.eE+-]+),\s+(-?[\d.eE+-]+)\s+\]/g, '[$1, $2]') + '\n';
}

async function writeAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data, 'utf8');
  await rename(tmp, file);
}

/** Write results.json (validated first), junit.xml and report.html into outDir; returns their paths. */
export async function writeReports(results: Results, outDir: string, opts: HtmlOptions = {}): Promise<ReportPaths> {
  const r = ResultsSchema.safeParse(results);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new NotdnsError(`notdns built an invalid results record (field ${issueText(i)}); nothing was written to ${outDir}.`, {
      kind: 'harness',
      phase: 'report',
      hint: 'This is a bug in the harness, not in your experiment: please report it with the log (notdns.log) from the output folder.',
    });
  }
  const valid = r.data;
  await mkdir(outDir, { recursive: true });
  const paths: ReportPaths = { json: join(outDir, 'results.json'), junit: join(outDir, 'junit.xml'), html: join(outDir, 'report.html') };
  await writeAtomic(paths.json, stringifyResults(valid));
  await writeAtomic(paths.junit, renderJunit(valid));
  await writeAtomic(paths.html, renderHtml(valid, opts));
  return paths;
}
