// --metrics-listen (harness/metrics-export.ts), the Grafana dashboard (manifests/grafana/notdns.json), promql
// expectations (harness/probes/prometheus.ts) against a fake Prometheus on 127.0.0.1, and budgets as stop conditions.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { exportedMetricNames, MetricsExporter, metricName, parseListen, STOP_METRIC } from '../../harness/metrics-export.js';
import { CATALOG } from '../../harness/probes/catalog.js';
import { evaluatePromql, PromqlStopWatch, type PromqlTrip, resolvePrometheusUrl } from '../../harness/probes/prometheus.js';
import { repoRoot } from '../../harness/paths.js';
import type { Series, VariantResult } from '../../harness/results.js';
import { validateExperiment } from '../../harness/spec/load.js';
import { budgetSpent, checkStopConditions, stopLabel } from '../../harness/stop.js';
import type { TargetContext } from '../../harness/expect.js';

const ctx: TargetContext = { floodedNodes: ['node1'], serverNodes: ['node1', 'node2'], serverPods: {} };
const base = {
  name: 'prom-test',
  description: 'x',
  steps: [{ steady: 5 }, { rollout: {} }, { observe: 5 }],
  variants: { a: {} },
};

describe('metrics export: names', () => {
  it('derives one name per probe: snake case, _total for counters only', () => {
    assert.equal(metricName('syn.toOldPodIps'), 'notdns_syn_to_old_pod_ips_total');
    assert.equal(metricName('ct.count'), 'notdns_ct_count');
    assert.equal(metricName('grpc.latencyP99'), 'notdns_grpc_latency_p99');
    assert.equal(metricName('ena.allowanceAvailable'), 'notdns_ena_allowance_available');
    assert.throws(() => metricName('no.such'), /no probe/);
    const names = CATALOG.map((p) => metricName(p.id));
    assert.equal(new Set(names).size, names.length, 'two probes share a name');
    for (const [i, n] of names.entries()) {
      assert.match(n, /^notdns_[a-z0-9_]+$/);
      assert.equal(n.endsWith('_total'), CATALOG[i]!.kind === 'counter', n);
    }
  });

  it('docs/prometheus.md lists every exported name', () => {
    const doc = readFileSync(join(repoRoot, 'docs', 'prometheus.md'), 'utf8');
    for (const n of exportedMetricNames()) assert.ok(doc.includes(`\`${n}\``), `docs/prometheus.md does not list ${n}`);
  });

  it('parses listen addresses; refuses names and bad ports', () => {
    assert.deepEqual(parseListen(':0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseListen('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseListen('[::1]:9464'), { host: '::1', port: 9464 });
    assert.deepEqual(parseListen('9464'), { host: '127.0.0.1', port: 9464 });
    assert.throws(() => parseListen('localhost:9464'), /not an IP address/);
    assert.throws(() => parseListen('127.0.0.1:70000'), /at most 65535/);
    assert.throws(() => parseListen('127.0.0.1:'), /HOST:PORT/);
  });
});

describe('metrics export: the server', () => {
  it('serves the latest value of every series with its labels, the stop state, and closes', async () => {
    const m = new MetricsExporter({ experiment: 'e' });
    m.setStopped('r1', 'baseline', false);
    m.sample('r1', 'baseline', 'syn.toOldPodIps', 'all', 10);
    m.sample('r1', 'baseline', 'syn.toOldPodIps', 'all', 42);
    m.sample('r1', 'baseline', 'ct.count', 'node1', 7);
    const at = await m.listen(parseListen(':0'));
    assert.ok(at.port > 0);
    const url = `http://127.0.0.1:${at.port}/metrics`;
    let text = await (await fetch(url)).text();
    assert.match(text, /# TYPE notdns_syn_to_old_pod_ips_total counter/);
    assert.match(
      text,
      /notdns_syn_to_old_pod_ips_total\{experiment="e",run="r1",variant="baseline",probe="syn.toOldPodIps",target="all"\} 42\n/,
    );
    assert.match(text, /# TYPE notdns_ct_count gauge\nnotdns_ct_count\{[^}]*target="node1"\} 7\n/);
    assert.match(text, new RegExp(`${STOP_METRIC}\\{experiment="e",run="r1",variant="baseline"\\} 0\\n`));
    m.setStopped('r1', 'baseline', true);
    text = await (await fetch(url)).text();
    assert.match(text, new RegExp(`${STOP_METRIC}\\{[^}]*\\} 1\\n`));
    assert.equal((await fetch(`http://127.0.0.1:${at.port}/`)).status, 404);
    assert.equal(m.scrapes, 2);
    await m.close();
    await assert.rejects(fetch(url), 'still listening after close()');
  });

  it('a taken port is an environment error naming the address', async () => {
    const a = new MetricsExporter({ experiment: 'e' }),
      b = new MetricsExporter({ experiment: 'e' });
    const at = await a.listen(parseListen(':0'));
    try {
      await assert.rejects(b.listen({ host: '127.0.0.1', port: at.port }), /--metrics-listen 127\.0\.0\.1:\d+: EADDRINUSE/);
    } finally {
      await a.close();
    }
  });

  it('costs little per sample (the recorder calls it for every point)', () => {
    const m = new MetricsExporter({ experiment: 'e' });
    const n = 200_000;
    const t = performance.now();
    for (let i = 0; i < n; i++) m.sample('r', 'v', 'ct.count', `node${i % 8}`, i);
    const us = ((performance.now() - t) * 1000) / n;
    assert.ok(us < 20, `${us.toFixed(2)} µs per sample`);
  });
});

describe('metrics export: the Grafana dashboard', () => {
  const d = JSON.parse(readFileSync(join(repoRoot, 'manifests', 'grafana', 'notdns.json'), 'utf8')) as {
    title: string;
    uid: string;
    schemaVersion: number;
    panels: { id: number; title: string; type: string; targets: { refId: string; expr: string }[] }[];
    templating: { list: { name: string; query: unknown }[] };
  };
  const exported = new Set(exportedMetricNames());
  const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool']);

  /** The metric names an expression reads: identifiers outside {...}, [...] and strings that are not calls or keywords. */
  function metricsOf(expr: string): string[] {
    const bare = expr
      .replace(/"[^"]*"/g, '""')
      .replace(/\{[^}]*\}/g, ' ')
      .replace(/\[[^\]]*\]/g, ' ')
      .replace(/\b\d+(\.\d+)?(e[-+]?\d+)?\b/gi, ' ')
      .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, ' ');
    const out: string[] = [];
    for (const m of bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
      if (m[2] || KEYWORDS.has(m[1]!)) continue;
      // an aggregation whose grouping came first: sum by (x) (...) is now "sum   (...)"
      if (/^\s+\(/.test(bare.slice(m.index + m[0].length))) continue;
      out.push(m[1]!);
    }
    return out;
  }

  it('is a dashboard: title, uid, panels with ids and targets', () => {
    assert.ok(d.title && d.uid && d.schemaVersion >= 30);
    assert.ok(d.panels.length >= 11);
    assert.equal(new Set(d.panels.map((p) => p.id)).size, d.panels.length);
    for (const p of d.panels) {
      assert.equal(p.type, 'timeseries', p.title);
      assert.ok(p.targets.length >= 1, p.title);
      for (const t of p.targets) assert.ok(typeof t.expr === 'string' && t.expr.length > 0 && t.refId, p.title);
    }
  });

  it('has run and variant variables, and every query filters on them', () => {
    const vars = d.templating.list.map((v) => v.name);
    for (const v of ['run', 'variant']) assert.ok(vars.includes(v), `no $${v} variable`);
    for (const p of d.panels) for (const t of p.targets) assert.match(t.expr, /run=~"\$run",variant=~"\$variant"/, p.title);
  });

  it('every metric named in every query (and variable) is one notdns exports', () => {
    assert.deepEqual(metricsOf('sum by (variant) (rate(notdns_a_total{x="y"}[1m])) / clamp_min(notdns_b, 1e-9)'), [
      'notdns_a_total',
      'notdns_b',
    ]);
    const used = new Set<string>();
    for (const p of d.panels)
      for (const t of p.targets) {
        const ms = metricsOf(t.expr);
        assert.ok(ms.length > 0, `${p.title}: no metric in ${t.expr}`);
        for (const m of ms) {
          assert.ok(exported.has(m), `${p.title}: ${m} is not exported by notdns`);
          used.add(m);
        }
      }
    for (const v of d.templating.list)
      if (typeof v.query === 'object' && v.query) {
        const q = (v.query as { query: string }).query;
        for (const m of q.matchAll(/label_values\(([a-z_]+)/g)) assert.ok(exported.has(m[1]!), m[1]);
      }
    // the report's rows: SYNs to old pod IPs, the ENA allowance, DNS errors, gRPC errors are all there
    for (const probe of ['syn.toOldPodIps', 'ena.allowanceExceeded', 'ena.allowanceAvailable', 'dns.errors', 'grpc.errors'] as const)
      assert.ok(used.has(metricName(probe)), probe);
  });
});

describe('promql expectations', () => {
  it('the schema: prometheus.url and prometheus.expect, validated with the field named', () => {
    const e = validateExperiment(
      {
        ...base,
        prometheus: { url: 'http://127.0.0.1:9090', expect: { a: [{ promql: 'max(notdns_ct_count)', stat: 'max', op: '>', value: 0 }] } },
      },
      'x.yaml',
    );
    assert.equal(e.prometheus?.expect.a?.[0]?.target, 'sum');
    assert.equal(e.prometheus?.expect.a?.[0]?.kind, 'gauge');
    const bad = (p: unknown, re: RegExp) => assert.throws(() => validateExperiment({ ...base, prometheus: p }, 'x.yaml'), re);
    bad({ url: 'ftp://x' }, /prometheus\.url.*http\(s\) URL/s);
    bad({ url: 'http://u:p@127.0.0.1:9090' }, /no credentials/);
    bad({ expect: { a: [{ promql: '', stat: 'max', op: '>', value: 0 }] } }, /promql is empty/);
    bad({ expect: { a: [{ promql: 'x', target: 'max', stat: 'max', op: '>', value: 0 }] } }, /target is 'sum'/);
    bad({ expect: { b: [{ promql: 'x', stat: 'max', op: '>', value: 0 }] } }, /prometheus\.expect\.b: there is no variant/);
  });

  it('a URL: the flag over the experiment; none while promql expectations exist is refused', () => {
    const e = { name: 'x', prometheus: { url: 'http://127.0.0.1:9090/', expect: {} } };
    assert.equal(resolvePrometheusUrl(e), 'http://127.0.0.1:9090');
    assert.equal(resolvePrometheusUrl(e, 'http://127.0.0.1:1'), 'http://127.0.0.1:1');
    assert.throws(() => resolvePrometheusUrl(e, 'not a url'), /--prometheus-url/);
    const noUrl = {
      name: 'x',
      prometheus: { expect: { a: [{ promql: 'x', target: 'sum', stat: 'max', window: 'all', op: '>', value: 0, kind: 'gauge' }] } },
    } as const;
    assert.throws(() => resolvePrometheusUrl(noUrl as never), /no Prometheus server/);
    assert.equal(resolvePrometheusUrl({ name: 'x' }), undefined);
  });

  it('range-queries the window, sums the series, judges with the series arithmetic; a failed query fails', async () => {
    const seen: URLSearchParams[] = [];
    const t0 = 1_700_000_000_000;
    const server = createServer((req, res) => {
      const q = new URL(req.url!, 'http://x').searchParams;
      seen.push(q);
      if (q.get('query') === 'bad(') {
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error' }));
        return;
      }
      const start = Number(q.get('start')),
        end = Number(q.get('end'));
      const values = (k: number) => {
        const v: [number, string][] = [];
        for (let t = Math.ceil(start); t <= end; t++) v.push([t, String(k * (t - t0 / 1000))]);
        return v;
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          status: 'success',
          data: {
            resultType: 'matrix',
            result: [
              { metric: { target: 'a' }, values: values(1) },
              { metric: { target: 'b' }, values: values(2) },
            ],
          },
        }),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const v = {
        name: 'a',
        durationSeconds: 30,
        markers: [
          { t: 0, kind: 'step', label: 'steady 10s' },
          { t: 10, kind: 'step', label: 'rollout' },
        ],
        series: [],
      } as unknown as VariantResult;
      const r = await evaluatePromql(`http://127.0.0.1:${port}`, v, t0, [
        { promql: 'c', target: 'sum', stat: 'total', window: 'rollout', op: '>=', value: 59, kind: 'counter' },
        { promql: 'g', target: 'sum', stat: 'max', window: 'steady', op: '<=', value: 30, kind: 'gauge' },
        { promql: 'bad(', target: 'sum', stat: 'max', window: 'all', op: '>', value: 0, kind: 'gauge' },
      ]);
      // rollout window 10..30: the summed counter goes 30 → 90, +60; steady 0..10: max of 1·t + 2·t = 30
      assert.equal(Number(seen[0]!.get('start')), t0 / 1000 + 10);
      assert.equal(Number(seen[0]!.get('end')), t0 / 1000 + 30);
      assert.equal(seen[0]!.get('step'), '1');
      assert.equal(r[0]!.measured, 60);
      assert.ok(r[0]!.pass);
      assert.equal(r[0]!.probe, 'promql');
      assert.equal(r[1]!.measured, 30);
      assert.ok(r[1]!.pass);
      assert.equal(r[2]!.pass, false);
      assert.equal(r[2]!.measured, null);
      assert.match(r[2]!.detail ?? '', /query failed: .*400: bad_data: parse error/);
    } finally {
      server.close();
    }
  });

  it('a promql stop condition: accepted in abort (experiment and variant), without a window; refused without a URL', () => {
    const cond = { promql: 'max(notdns_syn_to_old_pod_ips_total)', stat: 'max', op: '>', value: 0 };
    const e = validateExperiment({ ...base, abort: [cond], variants: { a: { abort: [{ ...cond, value: 5 }] } } }, 'x.yaml');
    assert.deepEqual(e.abort[0], { ...cond, target: 'sum', kind: 'gauge' });
    assert.equal(stopLabel(e.abort[0]!), 'stop if max promql(max(notdns_syn_to_old_pod_ips_total)) > 0');
    // the promql form's own errors, not the probe form's
    assert.throws(() => validateExperiment({ ...base, abort: [{ ...cond, window: 'rollout' }] }, 'x.yaml'), /abort\[0\].*window/s);
    assert.throws(
      () => validateExperiment({ ...base, abort: [{ ...cond, promql: '' }] }, 'x.yaml'),
      /abort\[0\]\.promql.*promql is empty/s,
    );
    assert.throws(() => validateExperiment({ ...base, abort: [{ ...cond, stat: 'peak' }] }, 'x.yaml'), /abort\[0\]\.stat.*unknown stat/s);
    // the URL rule of promql expectations: none given → refused, naming the stop conditions; a flag or prometheus.url → fine
    assert.throws(() => resolvePrometheusUrl(e), /prom-test has 2 promql stop condition\(s\) \(abort:\) but no Prometheus server/);
    const v = validateExperiment({ ...base, variants: { a: { abort: [cond] } } }, 'x.yaml');
    assert.throws(() => resolvePrometheusUrl(v), /1 promql stop condition/);
    assert.equal(resolvePrometheusUrl(v, 'http://127.0.0.1:9'), 'http://127.0.0.1:9');
    const withUrl = validateExperiment({ ...base, abort: [cond], prometheus: { url: 'http://127.0.0.1:9090' } }, 'x.yaml');
    assert.equal(resolvePrometheusUrl(withUrl), 'http://127.0.0.1:9090');
    // the live probe conditions leave promql ones to the watch
    assert.equal(checkStopConditions({ series: [], markers: [], now: 9 }, e.abort, ctx), undefined);
  });

  it('PromqlStopWatch: asks start..now, trips once when the condition holds; failed queries in a row are a broken harness', async () => {
    const seen: URLSearchParams[] = [];
    const t0 = 1_700_000_000_000;
    let grow = 0;
    const server = createServer((req, res) => {
      const q = new URL(req.url!, 'http://x').searchParams;
      seen.push(q);
      if (q.get('query') === 'bad(') {
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error' }));
        return;
      }
      const values: [number, string][] = [];
      for (let t = Math.ceil(Number(q.get('start'))); t <= Number(q.get('end')); t++) values.push([t, String(grow)]);
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values }] } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      let now = 10;
      const clock = { epochMs: t0, now: () => now };
      const trips: PromqlTrip[] = [];
      const broken: Error[] = [];
      const cond = { promql: 'max(x)', target: 'sum', stat: 'max', op: '>', value: 0, kind: 'gauge' } as const;
      const w = new PromqlStopWatch(url, [cond], clock, { trip: (t) => trips.push(t), broken: (e) => broken.push(e) });
      await w.round();
      assert.equal(Number(seen[0]!.get('start')), t0 / 1000);
      assert.equal(Number(seen[0]!.get('end')), t0 / 1000 + 10);
      assert.equal(seen[0]!.get('step'), '1');
      assert.equal(trips.length, 0, 'max 0 > 0 does not hold');
      grow = 3;
      now = 15;
      await w.round();
      assert.equal(trips.length, 1);
      assert.equal(trips[0]!.value, 3);
      assert.equal(trips[0]!.condition, cond);
      await w.round();
      assert.equal(trips.length, 1, 'trips once: the watch stopped');
      assert.equal(broken.length, 0);

      const bad = { ...cond, promql: 'bad(' };
      const w2 = new PromqlStopWatch(url, [bad], clock, { trip: (t) => trips.push(t), broken: (e) => broken.push(e) }, { maxFailures: 3 });
      await w2.round();
      await w2.round();
      assert.equal(broken.length, 0, 'two failures are only logged');
      await w2.round();
      assert.equal(broken.length, 1);
      assert.match(broken[0]!.message, /query "bad\(" failed 3 times in a row .*400: bad_data: parse error/);
      assert.equal((broken[0] as { kind?: string }).kind, 'harness');
      assert.equal(w2.failed, 3);
    } finally {
      server.close();
    }
  });
});

describe('budgets as stop conditions', () => {
  const counter = (probe: string, target: string, values: number[]): Series => ({
    probe,
    target,
    unit: 'n',
    kind: 'counter',
    points: values.map((v, t) => [t, v] as [number, number]),
  });

  it('the schema accepts {budget, value} next to probe conditions; refuses unknown budgets and values <= 0', () => {
    const e = validateExperiment(
      {
        ...base,
        abort: [
          { budget: 'maxFaultSeconds', value: 60 },
          { budget: 'maxSynsSent', value: 5000 },
          { probe: 'dns.errors', stat: 'total', op: '>', value: 0 },
        ],
      },
      'x.yaml',
    );
    assert.equal(e.abort.length, 3);
    assert.throws(
      () => validateExperiment({ ...base, abort: [{ budget: 'maxSyns', value: 1 }] }, 'x.yaml'),
      /abort\[0\]\.budget.*unknown budget.*maxFaultSeconds, maxSynsSent/s,
    );
    assert.throws(() => validateExperiment({ ...base, abort: [{ budget: 'maxSynsSent', value: 0 }] }, 'x.yaml'), /a budget must be > 0/);
    assert.throws(() => validateExperiment({ ...base, abort: [{ budget: 'maxSynsSent', value: 1, op: '>' }] }, 'x.yaml'), /abort\[0\]/);
  });

  it('maxSynsSent trips on the SYNs sent by every node, maxFaultSeconds on the clock; the label names the budget', () => {
    const syns = { budget: 'maxSynsSent', value: 100 } as const,
      secs = { budget: 'maxFaultSeconds', value: 5 } as const;
    const s = [counter('syn.out', 'node1', [0, 30, 60]), counter('syn.out', 'node2', [0, 10, 30])];
    assert.equal(checkStopConditions({ series: s, markers: [], now: 2 }, [syns, secs], ctx), undefined);
    const trip = checkStopConditions(
      { series: [counter('syn.out', 'node1', [0, 30, 60, 90]), s[1]!], markers: [], now: 3 },
      [syns, secs],
      ctx,
    );
    assert.equal(trip?.condition, syns);
    assert.equal(trip?.value, 120);
    assert.equal(trip?.label, 'stop if budget maxSynsSent (100) is spent');
    const t2 = checkStopConditions({ series: [], markers: [], now: 5.02 }, [syns, secs], ctx);
    assert.equal(t2?.condition, secs);
    assert.equal(t2?.value, 5.02);
    assert.equal(stopLabel(secs), 'stop if budget maxFaultSeconds (5 s) is spent');
    // no SYN series (the simulator is off): no data, no trip
    assert.equal(budgetSpent(syns, { series: [], markers: [], durationSeconds: 9 } as unknown as VariantResult, 9, ctx), null);
  });
});
