import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext } from 'playwright-core';
import { repoRoot } from '../../harness/paths.js';
import type { NotdnsError } from '../../harness/errors.js';
import { fmtNum } from '../../harness/report/format.js';
import { renderSweepHtml } from '../../harness/sweep/html.js';
import { loadSweep, OUTCOMES, outcomeOf, renderSweepTable, SweepSchema, writeSweep, type Sweep } from '../../harness/sweep/run.js';
import { artifactsDir, CHROMIUM, launchChromium, makeResults } from '../report/helpers.js';
import { notdns } from '../cli/helpers.js';

const AE = 'workloads.alertingEngine';
/** A real 3×3 sweep on the lab (rollout-syn-flood baseline, --fast), its series dropped to keep the file small. */
const REAL = join(repoRoot, 'test', 'sweep', 'fixtures', 'sweep-3x3.json');

/** A sweep record over the report tests' synthetic results (one per point, each with its own seed). */
function synthetic(dims: Sweep['dimensions'], opts: { keep?: number } = {}): Sweep {
  let grid: Record<string, number | string | boolean>[] = [{}];
  for (const d of dims) grid = grid.flatMap((s) => d.values.map((v) => ({ ...s, [d.path]: v })));
  const points = grid.slice(0, opts.keep ?? grid.length).map((settings, i) => ({
    settings,
    results: makeResults({ variants: ['baseline'], seed: i + 1 }),
  }));
  return {
    kind: 'notdns-sweep',
    schemaVersion: 1,
    experiment: { name: 'rollout-syn-flood', file: 'experiments/rollout-syn-flood.ts' },
    variant: 'baseline',
    provider: 'lab',
    profile: 'fast',
    dimensions: dims,
    total: grid.length,
    announcedSeconds: 100 * grid.length,
    overheadPerPointSeconds: 15,
    actualSeconds: 90 * points.length,
    startedAt: '2026-11-30T12:00:00.000Z',
    finishedAt: '2026-11-30T12:10:00.000Z',
    ...(points.length < grid.length
      ? { incomplete: { reason: `interrupted during point ${points.length + 1}/${grid.length}`, kind: 'interrupted' } }
      : {}),
    points,
  };
}

const TWO = [
  { path: `${AE}.reconnect.maxMs`, values: [300, 1000] },
  { path: `${AE}.channelsPerBackend`, values: [50, 100, 200] },
];

describe('sweep: sweep.json and sweep.html (static checks)', () => {
  it('sweep.json: {settings, results} per point, each results a results.json record; written and read back', async () => {
    const s = synthetic(TWO);
    const parsed = SweepSchema.parse(s);
    assert.equal(parsed.points.length, 6);
    assert.deepEqual(Object.keys(parsed.points[0]!), ['settings', 'results']);
    const dir = await mkdtemp(join(tmpdir(), 'notdns-sweep-'));
    try {
      const files = await writeSweep(s, dir, renderSweepHtml);
      const back = await loadSweep(files.json);
      assert.deepEqual(
        back.points.map((p) => p.settings),
        s.points.map((p) => p.settings),
      );
      assert.deepEqual(back.points[3]!.results.variants[0]!.summary, s.points[3]!.results.variants[0]!.summary);
      // a results.json is not a sweep.json: refused with what reads it
      await writeFile(join(dir, 'results.json'), JSON.stringify(s.points[0]!.results));
      await assert.rejects(
        loadSweep(join(dir, 'results.json')),
        (e: NotdnsError) => /not a sweep\.json/.test(e.message) && /notdns report/.test(e.hint ?? ''),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('two swept settings: a heat map per outcome with a cell per point; self-contained, no script', () => {
    const html = renderSweepHtml(synthetic(TWO));
    assert.equal((html.match(/data-kind="heatmap" data-cells="6"/g) ?? []).length, OUTCOMES.length + 1, 'outcomes + pass/fail');
    assert.ok(!/<script/i.test(html));
    assert.ok(!/\b(src|href)\s*=\s*["']?(https?:)?\/\//i.test(html), 'no external reference');
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
    assert.equal((html.match(/<tr><td>/g) ?? []).length, 6, 'a table row per point');
  });

  it('one swept setting: lines; three: the table only; an interrupted sweep says which points did not run', () => {
    const one = renderSweepHtml(synthetic([TWO[1]!]));
    assert.equal((one.match(/data-kind="lines" data-cells="3"/g) ?? []).length, OUTCOMES.length + 1);
    const three = renderSweepHtml(synthetic([...TWO, { path: 'topology.eniHasAddress', values: [true, false] }]));
    assert.ok(!three.includes('<figure'), 'no chart for 3 dimensions');
    assert.match(three, /with 3, the table below has every point/);
    const cut = synthetic(TWO, { keep: 2 });
    const html = renderSweepHtml(cut);
    assert.match(html, /2\/6 points: interrupted during point 3\/6/);
    assert.match(html, /4 point\(s\) not run: maxMs=300 channelsPerBackend=200; maxMs=1000 channelsPerBackend=50;/);
    assert.ok(html.includes('data-cells="2"'), 'heat maps with the points that ran');
  });

  it('notdns report re-renders a sweep.json: the table on stdout, sweep.html next to it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'notdns-sweep-report-'));
    try {
      await writeFile(join(dir, 'sweep.json'), await readFile(REAL, 'utf8'));
      const r = notdns(['report', join(dir, 'sweep.json')]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /9\/9 points in 6:26 \(announced 7:53\)/);
      assert.equal(r.stdout.match(/^(300|1000|5000)\s+(50|100|200)\s/gm)?.length, 9);
      assert.match(await readFile(join(dir, 'sweep.html'), 'utf8'), /data-kind="heatmap" data-cells="9"/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the terminal table: a row per point with its settings and outcomes, announced vs actual time', () => {
    const s = synthetic(TWO);
    const t = renderSweepTable(s);
    const rows = t.split('\n').filter((l) => /^(300|1000) /.test(l));
    assert.equal(rows.length, 6);
    const o = outcomeOf(s.points[4]!);
    assert.match(rows[4]!, new RegExp(`^1000\\s+100\\s+${fmtNum(o.values.synPeak).replace(/[.,]/g, '\\$&')}\\s`));
    assert.match(t, /6\/6 points in 9:00 \(announced 10:00\)/);
  });
});

describe('sweep: sweep.html in headless Chromium', function () {
  this.timeout(120_000);
  let browser: BrowserContext | undefined;
  let dir: string;
  let userDataDir: string;

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      console.log(
        `      (skipped: ${CHROMIUM} not found; install it with \`apt-get install -y chromium\` or point NOTDNS_CHROMIUM at a Chromium binary)`,
      );
      this.skip();
    }
    dir = await mkdtemp(join(tmpdir(), 'notdns-sweep-html-'));
    userDataDir = await mkdtemp(join(tmpdir(), 'notdns-chromium-'));
    browser = await launchChromium(userDataDir, 1200);
  });

  after(async () => {
    await browser?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  });

  it('the real 3×3 sweep: every heat map renders its 9 coloured cells with their values, no console error, no request', async () => {
    const s = await loadSweep(REAL);
    assert.equal(s.points.length, 9);
    const files = await writeSweep(s, dir, renderSweepHtml);
    const page = await browser!.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    const url = pathToFileURL(files.html).href;
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => {
      if (r.url() !== url) requests.push(r.url());
    });
    try {
      await page.goto(url, { waitUntil: 'load' });
      assert.deepEqual(problems, []);
      assert.deepEqual(requests, []);
      const figs = await page.$$eval('figure.chart', (fs) =>
        fs.map((f) => {
          const svg = f.querySelector('svg');
          const box = svg?.getBoundingClientRect();
          const cells = [...(svg?.querySelectorAll('path[ecmeta_data_index]') ?? [])].map((p) => {
            const b = p.getBoundingClientRect();
            return { fill: p.getAttribute('fill') ?? '', w: b.width, h: b.height };
          });
          return {
            metric: f.getAttribute('data-metric'),
            width: box?.width ?? 0,
            height: box?.height ?? 0,
            cells,
            texts: [...(svg?.querySelectorAll('text') ?? [])].map((t) => t.textContent ?? ''),
          };
        }),
      );
      assert.equal(figs.length, OUTCOMES.length + 1);
      const outs = s.points.map(outcomeOf);
      for (const f of figs) {
        assert.ok(f.width > 300 && f.height > 150, `${f.metric} is visible (${f.width}×${f.height})`);
        assert.equal(f.cells.length, 9, `${f.metric}: 9 cells`);
        for (const c of f.cells) {
          assert.match(c.fill, /^(rgb|#)/, `${f.metric}: a coloured cell (${c.fill})`);
          assert.ok(c.w > 20 && c.h > 20, `${f.metric}: a cell of ${c.w}×${c.h}`);
        }
        const o = OUTCOMES.find((x) => x.key === f.metric);
        if (o)
          for (const p of outs)
            assert.ok(
              f.texts.includes(fmtNum(p.values[o.key])),
              `${f.metric}: the value ${fmtNum(p.values[o.key])} is written in its cell`,
            );
      }
      // the measured flood differs across the grid, so its heat map is not one colour
      const syn = figs.find((f) => f.metric === 'synPeak')!;
      assert.ok(new Set(syn.cells.map((c) => c.fill)).size > 1, 'peak SYN/s cells have different colours');
      assert.equal(await page.$$eval('table.points tbody tr', (r) => r.length), 9);
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no horizontal scrolling at 1200 px');
      const shot = join(artifactsDir(), 'sweep-screenshot.png');
      await page.screenshot({ path: shot, fullPage: true });
      console.log(`      screenshot: ${shot}`);
    } finally {
      await page.close();
    }
  });

  it('the fixture is a real run: every point ran the lab with its settings', async () => {
    const s = await loadSweep(REAL);
    const raw = JSON.parse(await readFile(REAL, 'utf8')) as Sweep;
    for (const p of raw.points) {
      const ae = (
        p.results.variants[0]!.config as { workloads: { alertingEngine: { channelsPerBackend: number; reconnect: { maxMs: number } } } }
      ).workloads.alertingEngine;
      assert.equal(ae.channelsPerBackend, p.settings[`${AE}.channelsPerBackend`]);
      assert.equal(ae.reconnect.maxMs, p.settings[`${AE}.reconnect.maxMs`]);
      assert.equal(p.results.provider, 'lab');
    }
    assert.equal(s.dimensions.length, 2);
  });
});
