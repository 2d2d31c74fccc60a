// A real Prometheus (Debian's /usr/bin/prometheus, its own temp config and storage, 127.0.0.1 on a free port,
// scrape_interval 1 s) scrapes `notdns run --metrics-listen` during a tiny lab run (--fast, one variant), and the
// run's promql expectations (test/prometheus/fixtures/prom-scrape.yaml) are read back from it and pass. Then the
// test asks Prometheus itself: the target was up, notdns series exist, how many samples it got. A second case runs
// test/prometheus/fixtures/prom-stop.yaml, whose promql stop condition (read live from Prometheus every few seconds)
// trips in the rollout: exit 4, results.json names the condition, the fault is removed; it prints the trip latency.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { repoRoot } from '../../harness/paths.js';
import { PROMQL_STOP_INTERVAL_MS } from '../../harness/probes/prometheus.js';
import type { Results } from '../../harness/results.js';
import { counterIncrease, sumSeries } from '../../harness/series.js';
import { describeLeftovers, isClean, leftovers, startCli, taggedProcesses, tempDir, until } from '../reliability/helpers.js';

const PROMETHEUS = '/usr/bin/prometheus';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

async function instant(base: string, query: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const r = await fetch(`${base}/api/v1/query?${new URLSearchParams({ query })}`);
  const body = (await r.json()) as {
    status: string;
    error?: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  assert.equal(body.status, 'success', `${query}: ${body.error}`);
  return body.data.result;
}

describe('--metrics-listen scraped by a real Prometheus, promql expectations read back @root', function () {
  this.timeout(240_000);
  let dir: string;
  const proms: ChildProcess[] = [];

  /** A Prometheus of its own (temp config and storage, 127.0.0.1, a free port) scraping notdns every second. */
  async function startPrometheus(name: string): Promise<{ base: string; metricsPort: number }> {
    const metricsPort = await freePort(),
      promPort = await freePort();
    await writeFile(
      join(dir, `${name}.yml`),
      `global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: notdns
    static_configs: [{ targets: ['127.0.0.1:${metricsPort}'] }]
`,
    );
    const prom = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(dir, `${name}.yml`)}`,
        `--storage.tsdb.path=${join(dir, `${name}-data`)}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    proms.push(prom);
    let promLog = '';
    prom.stderr!.setEncoding('utf8').on('data', (c: string) => {
      promLog = (promLog + c).slice(-4000);
    });
    const base = `http://127.0.0.1:${promPort}`;
    await until('Prometheus to be ready', async () => (await fetch(`${base}/-/ready`).catch(() => undefined))?.ok === true, 30_000).catch(
      (e: Error) => {
        throw new Error(`${e.message}; its log:\n${promLog}`);
      },
    );
    return { base, metricsPort };
  }

  before(async function () {
    if (!existsSync(PROMETHEUS)) {
      console.log(`      skipped: ${PROMETHEUS} is missing (bash scripts/setup.sh --test installs Debian's prometheus)`);
      this.skip();
    }
    if (process.getuid?.() !== 0) {
      console.log('      skipped: not root (the run creates a lab)');
      this.skip();
    }
    dir = await tempDir('notdns-prom-');
  });

  after(async () => {
    for (const prom of proms)
      if (prom.pid && prom.exitCode === null) {
        prom.kill('SIGTERM');
        await new Promise((r) => prom.once('exit', r));
      }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('Prometheus scrapes the run every second; the promql expectations pass; nothing is left listening', async () => {
    const { base, metricsPort } = await startPrometheus('scrape');
    const out = join(dir, 'out');
    const fixture = join(repoRoot, 'test', 'prometheus', 'fixtures', 'prom-scrape.yaml');
    const r = startCli(['run', fixture, '--fast', '--out', out, '--metrics-listen', `127.0.0.1:${metricsPort}`, '--prometheus-url', base]);
    await r.waitForLine(new RegExp(`metrics: http://127\\.0\\.0\\.1:${metricsPort}/metrics`), 30_000);
    const e = await r.exited;
    assert.equal(e.code, 0, `exit 0 (all expectations pass); stdout:\n${r.stdout.slice(-3000)}\nstderr:\n${r.stderr.slice(-2500)}`);
    assert.equal(await listening(metricsPort), false, 'the metrics server still listens after the run');

    const res = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as Results;
    const promql = res.verdict.expectations.filter((x) => x.probe === 'promql');
    assert.equal(promql.length, 3);
    for (const x of promql) assert.ok(x.pass && x.measured !== null, `${x.label}: measured ${x.measured} (${x.detail ?? ''})`);

    // Prometheus' own view: the target was up, notdns series exist, samples counted
    const up = await instant(base, 'max_over_time(up{job="notdns"}[10m])');
    assert.equal(up[0]?.value[1], '1', 'up{job="notdns"} was 1 during the run');
    const series = await instant(base, 'count(last_over_time({__name__=~"notdns_.+",run="' + res.runId + '"}[10m]))');
    const nSeries = Number(series[0]?.value[1] ?? 0);
    assert.ok(nSeries >= 10, `notdns series of run ${res.runId} in Prometheus: ${nSeries}`);
    const scrapes = Number((await instant(base, 'sum(count_over_time(scrape_samples_scraped{job="notdns"}[10m]))'))[0]?.value[1] ?? 0);
    const samples = Number((await instant(base, 'sum(sum_over_time(scrape_samples_scraped{job="notdns"}[10m]))'))[0]?.value[1] ?? 0);
    const okScrapes = Number((await instant(base, 'sum(sum_over_time(up{job="notdns"}[10m]))'))[0]?.value[1] ?? 0);
    const v = res.variants[0]!;
    console.log(
      `      run ${res.runId}: ${Math.round(v.durationSeconds)} s of probes, ${v.series.length} series in results.json; Prometheus: ` +
        `${okScrapes}/${scrapes} scrapes up, ${samples} samples, ${nSeries} notdns series of this run; promql: ${promql.map((x) => `${x.label} → ${x.measured}`).join('; ')}`,
    );
    assert.ok(okScrapes >= v.durationSeconds / 2, `${okScrapes} successful scrapes for ${v.durationSeconds} s of run`);
    const ids = r.ids();
    await until('processes of the run to be gone', async () => (await taggedProcesses(r.tag)).length === 0, 5000).catch(() => undefined);
    const left = await leftovers(ids, r.tag);
    assert.ok(isClean(left), `teardown left: ${describeLeftovers(left)}`);
  });

  it('a promql stop condition trips mid-run: exit 4, results.json names it, the fault removed', async () => {
    const { base, metricsPort } = await startPrometheus('stop');
    const out = join(dir, 'out-stop');
    const fixture = join(repoRoot, 'test', 'prometheus', 'fixtures', 'prom-stop.yaml');
    const r = startCli(['run', fixture, '--fast', '--out', out, '--metrics-listen', `127.0.0.1:${metricsPort}`, '--prometheus-url', base]);
    const e = await r.exited;
    assert.equal(e.code, 4, `exit 4 (stopped); stdout:\n${r.stdout.slice(-3000)}\nstderr:\n${r.stderr.slice(-2500)}`);
    const res = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as Results;
    const v = res.variants[0]!;
    const st = v.stopped;
    assert.ok(st, 'the variant says stopped');
    assert.equal(st.by, 'condition');
    assert.equal(st.label, 'stop if total promql(sum(notdns_tcp_active_opens_total{experiment="prom-stop"})) > 100');
    assert.ok(st.value !== null && st.value > 100, `measured ${st.value}`);
    // mid-run: after the rollout began, long before the planned end (steady 4 s + rollout + observe 20 s with --fast)
    const rollout = v.markers.find((m) => m.kind === 'step' && m.label.startsWith('rollout'))?.t;
    assert.ok(rollout !== undefined && st.t > rollout, `tripped at t=${st.t}s, rollout at t=${rollout}s`);
    assert.ok(st.t < rollout + 20, `tripped at t=${st.t}s: before the planned end`);
    assert.ok(st.faultRemovedAt !== null && st.faultRemovedAt >= st.t, `fault removed at ${st.faultRemovedAt}: ${st.detail}`);
    assert.match(st.detail ?? '', /load stopped on 1\/1 Alerting Engine pod/);
    assert.ok(
      v.markers.some((m) => m.kind === 'stop-condition' && m.label.includes('promql(')),
      'the time axis marks the stop',
    );
    // trip latency: the recorder's own connect counter (same sum, same threshold) crossed 100 at tCross; the stop
    // came after Prometheus had scraped it (1 s) and the next query round (every PROMQL_STOP_INTERVAL_MS) saw it
    const opens = sumSeries(v.series.filter((s) => s.probe === 'tcp.activeOpens'));
    assert.ok(opens, 'tcp.activeOpens series in results.json');
    const cross = opens.points.find(([t]) => counterIncrease(opens.points, { from: 0, to: t }) > 100)?.[0];
    assert.ok(cross !== undefined && cross < st.t, `the recorder's counter crossed 100 at t=${cross}s, the stop at t=${st.t}s`);
    const latency = st.t - cross;
    console.log(
      `      run ${res.runId}: rollout at t=${rollout}s, counter > 100 at t=${cross}s (recorder), promql stop at t=${st.t}s ` +
        `(measured ${st.value}): trip latency ${latency.toFixed(1)} s (scrape 1 s + query every ${PROMQL_STOP_INTERVAL_MS / 1000} s); ` +
        `fault removed at t=${st.faultRemovedAt}s`,
    );
    assert.ok(latency <= PROMQL_STOP_INTERVAL_MS / 1000 + 4, `trip latency ${latency} s`);
    assert.equal(await listening(metricsPort), false, 'the metrics server still listens after the run');
    const ids = r.ids();
    await until('processes of the run to be gone', async () => (await taggedProcesses(r.tag)).length === 0, 5000).catch(() => undefined);
    const left = await leftovers(ids, r.tag);
    assert.ok(isClean(left), `teardown left: ${describeLeftovers(left)}`);
  });
});
