// `notdns compare` shows each number once, with its human label: a variant's summary repeats most headline
// numbers under camelCase keys (synToOldPodIpsPeakPerSecond = peak SYN/s to old pod IPs); only the numbers that
// exist in the summary alone are added, labelled in words.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareResults, renderComparison } from '../../harness/report/compare.js';
import { headlines, SUMMARY_NUMBERS, summaryLabel } from '../../harness/report/series.js';
import { makeResults } from '../report/helpers.js';
import { notdns } from './helpers.js';

/** A label that is a camelCase key (`martianDrops`), not words. */
const CAMEL = /^[a-z]+(?:[A-Z0-9][a-z0-9]*)+$/;

/** Rows of the Numbers table: [variant, label]. */
function numberRows(text: string): [string, string][] {
  const lines = text.split('\n');
  const start = lines.indexOf('Numbers');
  const rows: [string, string][] = [];
  for (const l of lines.slice(start + 3)) {
    if (!l.trim() || !/^\S+ {2,}\S/.test(l)) break;
    const [variant, label] = l.split(/ {2,}/);
    rows.push([variant!, label!]);
  }
  return rows;
}

describe('cli: compare shows each number once', function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'notdns-compare-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('one row per number: the headlines, then what only the summary has, all with human labels', () => {
    const a = makeResults({ seed: 1 }),
      b = makeResults({ seed: 2 });
    assert.ok(Object.keys(a.variants[0]!.summary).includes('synToOldPodIpsPeakPerSecond'), "the results carry the runner's summary");
    const c = compareResults(a, b);
    for (const v of ['baseline', 'fix']) {
      const labels = c.numbers.filter((n) => n.variant === v).map((n) => n.label);
      assert.equal(new Set(labels).size, labels.length, `${v}: a label twice: ${labels.join(', ')}`);
      assert.equal(labels.filter((l) => l === 'peak SYN/s to old pod IPs').length, 1);
      assert.ok(!labels.some((l) => CAMEL.test(l)), `${v}: a camelCase key shown as a label: ${labels.join(', ')}`);
      const heads = headlines(a.variants.find((x) => x.name === v)!).map((h) => h.label);
      assert.deepEqual(labels.slice(0, heads.length), heads, 'the headlines first');
      // the summary's own numbers that no headline shows
      for (const l of ['SYNs to old pod IPs', 'ENA allowance exceeded on flooded nodes (packets)', 'DNS lookups', 'gRPC calls'])
        assert.ok(labels.includes(l), `${v}: ${l}`);
      for (const dup of ['martianDrops', 'dnsErrors', 'allowanceExceededAll', 'synToOldPodIpsPeakPerSecond']) {
        assert.ok(!c.numbers.some((n) => n.key === `summary.${dup}`), `${dup} is a headline already`);
      }
    }
    const text = renderComparison(c, { color: false, all: true });
    const rows = numberRows(text);
    assert.equal(rows.length, c.numbers.length, text);
    assert.equal(new Set(rows.map((r) => r.join('|'))).size, rows.length, `a row twice:\n${text}`);
  });

  it('labels summary numbers it does not know in words, and keeps them', () => {
    const a = makeResults({ seed: 1 }),
      b = makeResults({ seed: 2 });
    a.variants[0]!.summary.podRestartsDuringRollout = 1;
    b.variants[0]!.summary.podRestartsDuringRollout = 3;
    const n = compareResults(a, b).numbers.find((x) => x.key === 'summary.podRestartsDuringRollout');
    assert.equal(n?.label, 'pod restarts during rollout');
    assert.equal(summaryLabel('grpcP99Seconds'), 'grpc P99 seconds');
    assert.ok(Object.values(SUMMARY_NUMBERS).every((x) => x.label.includes(' ')));
  });

  it('`notdns compare a.json b.json --all` on two results files: each number once, no camelCase row', async () => {
    const files: string[] = [];
    for (const seed of [1, 2]) {
      const f = join(dir, `run${seed}`, 'results.json');
      await mkdir(join(f, '..'), { recursive: true });
      await writeFile(f, JSON.stringify(makeResults({ seed })));
      files.push(f);
    }
    const r = notdns(['compare', ...files, '--all']);
    assert.equal(r.code, 0, r.stderr);
    const rows = numberRows(r.stdout);
    assert.equal(rows.length, compareResults(makeResults({ seed: 1 }), makeResults({ seed: 2 })).numbers.length, r.stdout);
    assert.equal(new Set(rows.map((x) => x.join('|'))).size, rows.length, `a row twice:\n${r.stdout}`);
    assert.ok(!rows.some(([, l]) => CAMEL.test(l)), r.stdout);
    assert.ok(!/synToOldPodIps|martianDrops|allowanceExceeded[A-Z]/.test(r.stdout), r.stdout);
    assert.match(r.stdout, /baseline +peak SYN\/s to old pod IPs /);
  });
});
