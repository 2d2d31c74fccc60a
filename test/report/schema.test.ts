import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { NotdnsError } from '../../harness/errors.js';
import { RESULTS_SCHEMA_VERSION, ResultsSchema, resultsJsonSchema, type Results } from '../../harness/results.js';
import { loadResults, schemaDocPath, schemaDocument, stringifyResults, validateResults, writeReports } from '../../harness/report/index.js';
import { clone, makeResults } from './helpers.js';

function ajvValidator() {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  return ajv.compile(JSON.parse(readFileSync(schemaDocPath, 'utf8')) as object);
}

async function expectLoadError(dir: string, name: string, content: unknown, ...patterns: RegExp[]): Promise<NotdnsError> {
  const file = join(dir, name);
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
  try {
    await loadResults(file);
  } catch (e) {
    assert.ok(e instanceof NotdnsError, `expected a NotdnsError, got ${String(e)}`);
    const text = e.explain();
    assert.ok(text.includes(file), `the error names the file:\n${text}`);
    assert.match(text, /Fix: /, 'the error says what to do');
    for (const p of patterns) assert.match(text, p);
    return e;
  }
  assert.fail(`loading ${name} should have failed`);
}

describe('report: results schema', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'notdns-report-schema-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('docs/results-schema.json is the schema generated from harness/results.ts (regenerate: node dist/harness/report/schema-doc.js --write)', () => {
    const checkedIn = readFileSync(schemaDocPath, 'utf8');
    assert.equal(
      checkedIn,
      schemaDocument(),
      'docs/results-schema.json is stale: run `npm run build && node dist/harness/report/schema-doc.js --write` and commit it',
    );
    const { title: _t, description: _d, ...rest } = JSON.parse(checkedIn) as Record<string, unknown>;
    assert.deepEqual(rest, resultsJsonSchema());
  });

  it('a generated results object validates with zod and with ajv against the checked-in schema', () => {
    const validate = ajvValidator();
    for (const r of [makeResults(), makeResults({ error: true, nastyLabels: true, variants: ['baseline', 'fix', 'cilium-unreachable'] })]) {
      assert.ok(ResultsSchema.safeParse(r).success);
      const ok = validate(JSON.parse(stringifyResults(r)));
      assert.ok(ok, JSON.stringify(validate.errors, null, 2));
    }
  });

  it('ajv and zod agree on what is invalid', () => {
    const validate = ajvValidator();
    const bad = clone(makeResults()) as unknown as { variants: { series: { kind: string }[] }[] };
    bad.variants[0]!.series[0]!.kind = 'histogram';
    assert.equal(validate(bad), false);
    assert.equal(ResultsSchema.safeParse(bad).success, false);
  });

  it('docs/results.md documents every top-level and variant field', () => {
    const md = readFileSync(join(schemaDocPath, '..', 'results.md'), 'utf8');
    const schema = resultsJsonSchema() as { properties: Record<string, { items?: { properties?: Record<string, unknown> } }> };
    const fields = [...Object.keys(schema.properties), ...Object.keys(schema.properties.variants!.items!.properties!)];
    for (const f of fields) assert.ok(md.includes(`\`${f}\``), `docs/results.md does not mention \`${f}\``);
    assert.match(md, /versioning/i);
  });

  it('writeReports writes results.json that loadResults reads back unchanged', async () => {
    const r = makeResults();
    const out = join(dir, 'run');
    const paths = await writeReports(r, out);
    assert.deepEqual(Object.keys(paths).sort(), ['html', 'json', 'junit']);
    const back = await loadResults(paths.json);
    assert.deepEqual(back, r);
    const text = await readFile(paths.json, 'utf8');
    assert.match(text, /\[\d+(\.\d+)?, \d+(\.\d+)?\]/, 'points are written one per line, compactly');
    assert.ok((await readFile(paths.junit, 'utf8')).startsWith('<?xml'));
    assert.ok((await readFile(paths.html, 'utf8')).startsWith('<!doctype html>'));
  });

  it('writeReports refuses an invalid record and writes nothing', async () => {
    const bad = clone(makeResults()) as unknown as Results;
    (bad.variants[0] as unknown as { durationSeconds: unknown }).durationSeconds = 'sixty';
    const out = join(dir, 'invalid');
    await assert.rejects(
      writeReports(bad, out),
      (e: unknown) => e instanceof NotdnsError && /variants\[0\]\.durationSeconds/.test(e.message) && e.kind === 'harness',
    );
    await assert.rejects(readFile(join(out, 'results.json')));
  });

  it('loadResults names the file, the failing field path and the fix', async () => {
    const bad = clone(makeResults()) as unknown as { variants: { series: { points: unknown[] }[] }[] };
    bad.variants[1]!.series[2]!.points[3] = [3, 'many'];
    await expectLoadError(dir, 'bad-point.json', bad, /variants\[1\]\.series\[2\]\.points\[3\]\[1\]/, /docs\/results-schema\.json/);

    const missing = clone(makeResults()) as unknown as Record<string, unknown>;
    delete missing.runId;
    await expectLoadError(dir, 'no-runid.json', missing, /field runId/);
  });

  it('loadResults explains a newer or an older schemaVersion', async () => {
    const newer = { ...clone(makeResults()), schemaVersion: RESULTS_SCHEMA_VERSION + 1, tool: { name: 'notdns', version: '9.9.9' } };
    await expectLoadError(dir, 'newer.json', newer, /schema version 2/, /newer than this notdns/, /Update notdns/, /9\.9\.9/);
    const older = { ...clone(makeResults()), schemaVersion: 0, tool: { name: 'notdns', version: '0.0.1' } };
    await expectLoadError(dir, 'older.json', older, /older than this notdns/, /Re-run the experiment/, /0\.0\.1/);
  });

  it('loadResults explains files that are not results at all', async () => {
    await expectLoadError(dir, 'broken.json', '{"schemaVersion": 1, "runId": ', /not valid JSON/);
    await expectLoadError(dir, 'array.json', [1, 2], /expected a JSON object/);
    await expectLoadError(dir, 'other.json', { name: 'something else' }, /schemaVersion is missing/);
    await assert.rejects(loadResults(join(dir, 'nope.json')), (e: unknown) => e instanceof NotdnsError && /no such file/.test(e.message));
    await assert.rejects(loadResults(dir), (e: unknown) => e instanceof NotdnsError && /results\.json/.test(e.hint ?? ''));
  });

  it('validateResults accepts what writeReports would write', () => {
    const r = makeResults({ error: true });
    assert.deepEqual(validateResults(JSON.parse(stringifyResults(r)), 'memory'), r);
  });
});
