import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext } from 'playwright-core';
import { renderHtml } from '../../harness/report/html.js';
import { writeReports } from '../../harness/report/index.js';
import { artifactsDir, CHROMIUM, launchChromium, makeResults } from './helpers.js';

/** The main dashboard rows the page shows when their probes are recorded. */
const MAIN_ROWS = ['syn', 'martian', 'enaExceeded', 'enaAvailable', 'ct', 'dnsErrors', 'dnsLatency', 'grpcErrors', 'grpcLatency'];

describe('report: report.html (static checks)', () => {
  it('is self-contained: no script, no external reference, a CSP that forbids fetching', () => {
    const html = renderHtml(makeResults({ error: true, nastyLabels: true }));
    assert.ok(!/<script/i.test(html), 'no <script>');
    assert.ok(!/\b(src|href)\s*=\s*["']?(https?:)?\/\//i.test(html), 'no external src/href');
    assert.ok(!/url\(\s*["']?(https?:)?\/\//i.test(html), 'no external url() in CSS');
    assert.ok(!/@import/i.test(html));
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
  });

  it('escapes labels and error text', () => {
    const r = makeResults({ error: true, nastyLabels: true });
    const html = renderHtml(r);
    assert.ok(!html.includes('<"quoted">'));
    assert.ok(html.includes('&lt;&quot;quoted&quot;&gt;'));
  });

  it('renders every main dashboard row for each variant, with one y-scale per row', () => {
    const r = makeResults({ variants: ['baseline', 'fix', 'cilium-unreachable'] });
    const html = renderHtml(r);
    for (const row of MAIN_ROWS) {
      const figures = html.match(new RegExp(`<figure class="chart"[^>]*data-row="${row}"`, 'g')) ?? [];
      assert.equal(figures.length, r.variants.length, `row ${row}: one chart per variant`);
      const section = html.slice(html.indexOf(`id="row-${row}"`), html.indexOf('</section>', html.indexOf(`id="row-${row}"`)));
      // The top y tick label is the same in each chart of the row.
      const tops = [...section.matchAll(/<svg[\s\S]*?<\/svg>/g)].map((m) => {
        const ys = [...m[0].matchAll(/text-anchor="end"[^>]*transform="translate\([\d.]+ ([\d.]+)\)"[^>]*>([^<]*)</g)].map((x) => ({
          y: Number(x[1]),
          label: x[2],
        }));
        return ys.sort((a, b) => a.y - b.y)[0]?.label;
      });
      assert.equal(new Set(tops).size, 1, `row ${row} y-scales: ${tops.join(' / ')}`);
    }
  });

  it('omits rows whose probes were not recorded and keeps unknown probes under "More probes"', () => {
    const r = makeResults();
    for (const v of r.variants) {
      v.series = v.series.filter((s) => !s.probe.startsWith('grpc.latency'));
      v.series.push({
        probe: 'custom.thing',
        target: 'node1',
        unit: 'widgets',
        kind: 'gauge',
        points: [
          [0, 1],
          [1, 2],
          [2, 3],
        ],
      });
    }
    const html = renderHtml(r);
    assert.ok(!html.includes('id="row-grpcLatency"'));
    assert.ok(html.includes('id="row-probe-custom_thing"'));
  });
});

describe('report: report.html in headless Chromium', function () {
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
    dir = await mkdtemp(join(tmpdir(), 'notdns-report-html-'));
    userDataDir = await mkdtemp(join(tmpdir(), 'notdns-chromium-'));
    browser = await launchChromium(userDataDir, 1440);
  });

  after(async () => {
    await browser?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  });

  async function open(file: string, viewport = { width: 1440, height: 900 }) {
    const page = await browser!.newPage();
    await page.setViewportSize(viewport);
    const context = { close: () => page.close() };
    const problems: string[] = [];
    const requests: string[] = [];
    const url = pathToFileURL(file).href;
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => {
      if (r.url() !== url) requests.push(r.url());
    });
    await page.goto(url, { waitUntil: 'load' });
    return { page, context, problems, requests };
  }

  it('opens without console errors or network requests, every chart has an SVG with data, and a screenshot is saved', async () => {
    const r = makeResults({ variants: ['baseline', 'fix', 'cilium-unreachable'] });
    const paths = await writeReports(r, dir);
    const { page, context, problems, requests } = await open(paths.html);
    try {
      assert.deepEqual(problems, []);
      assert.deepEqual(requests, [], 'the page fetched nothing');

      const charts = await page.$$eval('figure.chart', (figs) =>
        figs.map((f) => {
          const svg = f.querySelector('svg');
          const colors = (f.getAttribute('data-colors') ?? '').split(' ').filter(Boolean);
          const dataPaths = svg
            ? [...svg.querySelectorAll('path')].filter(
                (p) => colors.includes((p.getAttribute('stroke') ?? '').toLowerCase()) && /L/.test(p.getAttribute('d') ?? ''),
              )
            : [];
          const box = svg?.getBoundingClientRect();
          return {
            row: f.getAttribute('data-row'),
            variant: f.getAttribute('data-variant'),
            hasSvg: !!svg,
            lines: Number(f.getAttribute('data-lines')),
            dataPaths: dataPaths.length,
            segments: dataPaths.reduce((a, p) => a + (p.getAttribute('d') ?? '').split('L').length - 1, 0),
            width: box?.width ?? 0,
            height: box?.height ?? 0,
          };
        }),
      );
      const open = charts.filter((c) => c.width > 0);
      assert.ok(charts.length >= 9 * r.variants.length, `${charts.length} charts`);
      for (const c of charts) {
        assert.ok(c.hasSvg, `${c.row}/${c.variant} has an SVG`);
        assert.ok(c.dataPaths > 0 && c.segments > 0, `${c.row}/${c.variant} draws its data (${c.dataPaths} paths, ${c.segments} segments)`);
      }
      for (const c of open) assert.ok(c.height > 100, `${c.row}/${c.variant} is visible (${c.width}×${c.height})`);

      // Variants side by side: the charts of a row share a top edge.
      const tops = await page.$$eval('#row-syn figure.chart', (figs) => figs.map((f) => Math.round(f.getBoundingClientRect().top)));
      assert.equal(tops.length, r.variants.length);
      assert.equal(new Set(tops).size, 1, 'charts of a row are side by side');

      const banner = await page.textContent('#verdict-banner');
      const failed = r.verdict.expectations.filter((e) => !e.pass).length;
      assert.ok(banner?.includes(`${failed}/${r.verdict.expectations.length} expectations failed`));
      assert.equal(await page.$$eval('table.verdict tbody tr', (rows) => rows.length), r.verdict.expectations.length);
      const noHorizontalScroll = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
      assert.ok(noHorizontalScroll, 'no horizontal scrolling at 1440 px');

      const shot = join(artifactsDir(), 'report-screenshot.png');
      await page.screenshot({ path: shot, fullPage: true });
      await copyFile(paths.html, join(artifactsDir(), 'report.html'));
      console.log(`      screenshot: ${shot}`);
    } finally {
      await context.close();
    }
  });

  it('a run that failed with a harness error renders too (error banner, no console errors)', async () => {
    const r = makeResults({ error: true, nastyLabels: true, variants: ['baseline'] });
    const out = join(dir, 'error');
    const paths = await writeReports(r, out);
    const { page, context, problems, requests } = await open(paths.html, { width: 900, height: 700 });
    try {
      assert.deepEqual(problems, []);
      assert.deepEqual(requests, []);
      const banner = await page.textContent('#verdict-banner');
      assert.ok(banner?.includes('HARNESS ERROR'));
      assert.ok(banner?.includes(r.error!.message));
      assert.ok((await page.$$eval('figure.chart svg', (s) => s.length)) > 0);
    } finally {
      await context.close();
    }
  });
});
