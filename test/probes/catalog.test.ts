// The probe catalog is the truth about probes: the schema, the recorder, summaries, reports and docs must agree
// with it (issue 11: `estab.timeouts` was charted and documented while nothing recorded it).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../harness/paths.js';
import {
  CATALOG,
  HEADLINES,
  PROBE_IDS,
  PROVIDERS,
  headlineContext,
  headlineValue,
  isProbeId,
  liveHeadline,
  missingLabProbes,
  probeDef,
  probeLabel,
  probeSupplied,
  summaryKey,
  summaryOf,
  type ProbeId,
} from '../../harness/probes/catalog.js';
import { Recorder, type EnaSample } from '../../harness/probes/recorder.js';
import type { Cluster, ClusterNode, PodHandle } from '../../harness/providers/types.js';
import type { Series, VariantResult } from '../../harness/results.js';
import { headlines } from '../../harness/report/series.js';
import { PROBES } from '../../harness/spec/schema.js';
import { statOf } from '../../harness/series.js';
import type { WorkloadMetrics } from '../../workloads/common/metrics-types.js';
import { clone, makeResults } from '../report/helpers.js';

/** A probe id in running text: not part of a longer word, path or file name (notdns.log, ena.bpf.c). */
const PROBE_RE =
  /(?<![\w/.-])(syn|ena|ct|martian|tcp|icmp|dns|dnscheck|grpc|estab|cilium|nld|ae)\.[a-zA-Z0-9]+(?![\w/]|\.\w)((?:\\?\|[a-zA-Z0-9]+)*)/g;
/** In code only string literals name probes (`syn.map(...)` is a variable named syn). */
const QUOTED_PROBE_RE = new RegExp(`(?<=['"\`])${PROBE_RE.source.replace('(?<![\\w/.-])', '')}`, 'g');

/**
 * Probe ids mentioned in a text. `ena.flowsBySyn|Fin|Rst|None` and `dnscheck.ok|failed` name several: an
 * alternative replaces a tail of the id (whichever tail makes a known probe; else the whole part after the dot).
 */
function probeIdsIn(text: string, re = PROBE_RE): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(re)) {
    const id = m[0].slice(0, m[0].length - m[2]!.length);
    out.push(id);
    for (const alt of m[2]!.split(/\\?\|/).filter(Boolean)) {
      const dot = id.indexOf('.');
      let found: string | undefined;
      for (let cut = id.length - 1; cut > dot && !found; cut--) if (isProbeId(id.slice(0, cut) + alt)) found = id.slice(0, cut) + alt;
      out.push(found ?? id.slice(0, dot + 1) + alt);
    }
  }
  return out;
}

const read = (rel: string) => readFileSync(join(repoRoot, rel), 'utf8');

describe('probe catalog', () => {
  it('is what the schema accepts, in the same order', () => {
    assert.deepEqual([...PROBES], [...PROBE_IDS]);
    assert.equal(new Set(PROBE_IDS).size, PROBE_IDS.length);
  });

  it('defines every probe completely: label, unit, kind, scope, summary stat, every provider', () => {
    for (const p of CATALOG) {
      assert.match(p.id, /^[a-z]+\.[a-zA-Z0-9]+$/, p.id);
      assert.ok(p.label && p.unit, `${p.id}: label and unit`);
      assert.ok(p.scope === 'pod' || !p.app, `${p.id}: only pod probes name an app`);
      assert.ok(
        p.kind === 'counter' ? ['total', 'peakRate'].includes(p.summary) : ['max', 'min'].includes(p.summary),
        `${p.id}: summary ${p.summary} fits a ${p.kind}`,
      );
      for (const prov of PROVIDERS) {
        const s = probeSupplied(p.id, prov);
        assert.ok(
          s === true || (typeof s === 'string' && s.length > 10 && s.length < 200 && !s.includes('\n')),
          `${p.id} on ${prov}: true or a one-line reason`,
        );
      }
    }
  });

  it('says honestly what kind and existing clusters do not supply', () => {
    assert.match(String(probeSupplied('martian.drops', 'kind')), /rp_filter=0/);
    assert.equal(probeSupplied('martian.drops', 'kubeconfig'), true);
    for (const id of ['estab.ok', 'estab.failed', 'dnscheck.ok', 'dnscheck.failed'] as const) {
      assert.equal(probeSupplied(id, 'lab'), true, id);
      assert.equal(typeof probeSupplied(id, 'kind'), id.startsWith('estab.') ? 'boolean' : 'string', id);
      assert.equal(typeof probeSupplied(id, 'kubeconfig'), 'string', id);
    }
    assert.match(String(probeSupplied('dnscheck.ok', 'kind')), /dig/);
    // pod netns: the lab's, and kind's through the node container
    for (const id of ['icmp.destUnreachIn', 'tcp.activeOpens'] as const) {
      assert.equal(probeSupplied(id, 'kind'), true, id);
      assert.match(String(probeSupplied(id, 'kubeconfig')), /network namespace/, id);
    }
    // the kind cluster's own agents: n/a elsewhere, with the reason
    for (const id of ['cilium.staleIpDrops', 'nld.upstreamFailures'] as const) {
      assert.equal(probeSupplied(id, 'kind'), true, id);
      assert.match(String(probeSupplied(id, 'kubeconfig')), /not wired/, id);
    }
    assert.match(String(probeSupplied('cilium.staleIpDrops', 'lab')), /no Cilium/);
    // node-local DNS's own statistics: the lab's unbound and kind's CoreDNS; CoreDNS has no in-flight metric
    for (const id of ['nld.queries', 'nld.rejects', 'nld.upstreamFailures', 'nld.inFlight', 'nld.memoryBytes'] as const)
      assert.equal(probeSupplied(id, 'lab'), true, id);
    assert.match(String(probeSupplied('nld.inFlight', 'kind')), /no in-flight metric/);
  });

  it('labels unknown probes with their id', () => {
    assert.equal(probeLabel('custom.thing'), 'custom.thing');
    assert.equal(probeDef('custom.thing'), undefined);
    assert.equal(probeLabel('martian.drops'), 'martian drops (IPReversePathFilter)');
  });

  it('every probe id the reports, docs and report fixtures mention is in the catalog', () => {
    const files = [
      ...readdirSync(join(repoRoot, 'harness/report'))
        .filter((f) => f.endsWith('.ts'))
        .map((f) => `harness/report/${f}`),
      'docs/results.md',
      'README.md',
      'test/report/helpers.ts',
    ];
    const unknown: string[] = [];
    let seen = 0;
    for (const f of files) {
      for (const id of probeIdsIn(read(f), f.endsWith('.ts') ? QUOTED_PROBE_RE : PROBE_RE)) {
        seen++;
        if (!isProbeId(id)) unknown.push(`${f}: ${id}`);
      }
    }
    assert.deepEqual(unknown, []);
    assert.ok(seen > 60, `the scan finds the probe ids (${seen})`);
    // the scanner itself: file names are not probes, alternatives are expanded
    assert.deepEqual(probeIdsIn('notdns.log harness/ena/ena.bpf.c `estab.timeouts` `ena.flowsBySyn\\|Fin` `dnscheck.ok|failed` syn.in.'), [
      'estab.timeouts',
      'ena.flowsBySyn',
      'ena.flowsByFin',
      'dnscheck.ok',
      'dnscheck.failed',
      'syn.in',
    ]);
    assert.deepEqual(probeIdsIn("const a = syn.map(f); seriesOf(v, 'estab.timeouts'); `grpc.calls`", QUOTED_PROBE_RE), [
      'estab.timeouts',
      'grpc.calls',
    ]);
  });

  it("docs/results.md documents every probe with the catalog's target, kind and providers", () => {
    const doc = read('docs/results.md');
    const table = doc.slice(doc.indexOf('## Probe ids'), doc.indexOf('## Summary keys'));
    const rows = table.split('\n').filter((l) => l.startsWith('| `'));
    const documented = new Set<string>();
    for (const row of rows) {
      const [ids, target, kind, providers] = row
        .split(/(?<!\\)\|/)
        .slice(1)
        .map((c) => c.trim());
      for (const id of probeIdsIn(ids!)) {
        assert.ok(isProbeId(id), `${id} documented but not in the catalog`);
        documented.add(id);
        const p = probeDef(id);
        const wantTarget = p.scope === 'all' ? '`all`' : p.scope === 'pod' ? (p.app ? `${p.app} pod` : 'pod') : 'node';
        assert.equal(target, wantTarget, `${id}: target`);
        assert.ok(kind!.startsWith(p.kind), `${id}: kind ${kind} vs ${p.kind}`);
        const supplied = PROVIDERS.filter((prov) => probeSupplied(id, prov) === true);
        assert.equal(providers, supplied.length === PROVIDERS.length ? 'all' : supplied.join(', '), `${id}: providers`);
      }
    }
    assert.deepEqual(
      PROBE_IDS.filter((id) => !documented.has(id)),
      [],
      'probes missing from the table',
    );
  });

  it('docs/results.md lists exactly the summary keys the runner writes', () => {
    const doc = read('docs/results.md');
    const table = doc.slice(doc.indexOf('## Summary keys'), doc.indexOf('## Sample'));
    const keys = new Set(
      [...table.matchAll(/^\| `(\w+)`(?: \/ `(\w+)`)?/gm)].flatMap((m) => [m[1]!, m[2]].filter((x): x is string => !!x)),
    );
    const written = [...HEADLINES.map(summaryKey).filter((k): k is string => !!k), 'samplesSkipped'];
    assert.deepEqual([...keys].sort(), [...written].sort());
  });
});

describe('probe catalog: headlines (one table for results.json summary, report headlines, live progress)', () => {
  const [base, fix] = makeResults().variants as [VariantResult, VariantResult];

  it('keeps the results.json summary keys (results.json is versioned)', () => {
    const keys = Object.keys(summaryOf(base.series, ['node1']));
    assert.deepEqual(
      keys.sort(),
      [
        'allowanceExceededAll',
        'allowanceExceededFlooded',
        'connectAttempts',
        'dnsCheckFailed',
        'dnsErrors',
        'dnsLookups',
        'estabFailed',
        'grpcCalls',
        'grpcErrors',
        'martianDrops',
        'synToOldPodIpsPeakPerSecond',
        'synToOldPodIpsTotal',
      ].sort(),
    );
    assert.ok(
      Object.values(summaryOf([], [])).every((x) => x === 0),
      'nothing recorded: every key 0',
    );
  });

  it("gives the summary the numbers the runner computed before (statOf over the whole run), on series shaped like the recorder's", () => {
    // the recorder records dns.* per pod only: drop the fixtures' per-node dns series
    const series = base.series.filter((s) => !(s.probe.startsWith('dns.') && /^node\d$/.test(s.target)));
    const all = { from: -Infinity, to: Infinity };
    const tot = (probe: string, only?: string[]) =>
      series.filter((s) => s.probe === probe && (!only || only.includes(s.target))).reduce((a, s) => a + (statOf(s, 'total', all) ?? 0), 0);
    const first = series.find((x) => x.probe === 'syn.toOldPodIps')!;
    const before = {
      synToOldPodIpsTotal: tot('syn.toOldPodIps'),
      synToOldPodIpsPeakPerSecond: Math.round(Math.max(0, statOf(first, 'peakRate', all) ?? 0)),
      allowanceExceededFlooded: tot('ena.allowanceExceeded', ['node3']),
      allowanceExceededAll: tot('ena.allowanceExceeded'),
      martianDrops: tot('martian.drops'),
      dnsErrors: tot('dns.errors'),
      dnsLookups: tot('dns.lookups'),
      dnsCheckFailed: tot('dnscheck.failed'),
      grpcErrors: tot('grpc.errors'),
      grpcCalls: tot('grpc.calls'),
      connectAttempts: tot('grpc.connectAttempts'),
      estabFailed: tot('estab.failed'),
    };
    assert.deepEqual(summaryOf(series, ['node3']), before);
    assert.ok(before.allowanceExceededFlooded > 0 && before.dnsErrors > 0 && before.estabFailed > 0, 'the numbers are not all 0');
  });

  it('the report headlines, the summary and the live line are selections of HEADLINES', () => {
    const keys = new Set(HEADLINES.map((h) => h.key));
    assert.equal(keys.size, HEADLINES.length, 'unique keys');
    for (const h of headlines(base)) {
      const def = HEADLINES.find((d) => d.key === h.key);
      assert.ok(def?.report, `${h.key} is a report row`);
      assert.equal(h.label, def.label);
    }
    const summaryKeys = HEADLINES.map(summaryKey).filter(Boolean);
    assert.equal(new Set(summaryKeys).size, summaryKeys.length, 'unique summary keys');
    assert.deepEqual(
      Object.keys(liveHeadline(base.series)),
      HEADLINES.filter((h) => h.live).map((h) => h.live),
    );
    for (const h of HEADLINES) {
      for (const id of [h.probe, h.per].filter((x): x is ProbeId => !!x)) assert.ok(isProbeId(id), `${h.key}: ${id}`);
      assert.ok(h.summary || h.report || h.live, `${h.key} is shown somewhere`);
      if (typeof h.report === 'object') assert.ok(keys.has(h.report.unless), `${h.key}: unless ${h.report.unless}`);
    }
  });

  it('report headlines: the same numbers as the summary where both show one, and the flood shows', () => {
    const ctx = headlineContext(base.series, ['node1']);
    const hb = new Map(headlines(base).map((h) => [h.key, h]));
    const hf = new Map(headlines(fix).map((h) => [h.key, h]));
    assert.equal(hb.get('martianDrops')!.value, summaryOf(base.series, ['node1']).martianDrops);
    assert.equal(hb.get('estabFailed')!.value, headlineValue(HEADLINES.find((h) => h.key === 'estabFailed')!, base.series, ctx));
    assert.ok(
      hb.get('estabFailed')!.value > 0 && hf.get('estabFailed')!.value === 0,
      'long-lived connection failures only in the baseline',
    );
    assert.equal(hb.get('peakSynToOldPodIps')!.format, 'rate');
    assert.equal(hb.get('dnsErrorRatio')!.format, 'percent');
    assert.equal(hb.get('peakGrpcP99')!.format, 'seconds');
    assert.ok(hb.has('grpcErrorRatio') && !hb.has('grpcErrors'), 'the error count only when there is no ratio');
    const noCalls = clone(base);
    noCalls.series = noCalls.series.filter((s) => s.probe !== 'grpc.calls');
    const h2 = new Map(headlines(noCalls).map((h) => [h.key, h]));
    assert.ok(!h2.has('grpcErrorRatio') && h2.has('grpcErrors'));
  });

  it('live: the current rate summed over targets, a reset counted from the new value', () => {
    const s = (target: string, points: [number, number][]): Series => ({
      probe: 'martian.drops',
      target,
      unit: 'packets',
      kind: 'counter',
      points,
    });
    const live = liveHeadline([
      s('node1', [
        [0, 0],
        [1, 10],
        [2, 30],
      ]),
      s('node2', [
        [0, 100],
        [1, 5],
      ]),
    ]);
    assert.equal(live['martians/s'], 20 + 5);
    assert.equal(live['SYN/s old IPs'], 0);
  });
});

describe('probe catalog: what the lab records', () => {
  it('missingLabProbes names the lab probes a variant did not record (the report fixtures lack some)', () => {
    const r = makeResults();
    const missing = missingLabProbes(r);
    assert.deepEqual(
      missing.map((m) => m.variant),
      ['baseline', 'fix'],
    );
    const want = [
      'syn.out',
      'tcp.activeOpens',
      'icmp.destUnreachIn',
      'dns.timeouts',
      'dns.servfails',
      'dnscheck.ok',
      'dnscheck.failed',
      'grpc.connectAttempts',
      'nld.upstreamFailures',
      'nld.queries',
      'nld.rejects',
      'nld.inFlight',
      'nld.memoryBytes',
      'ena.linklocalExceeded',
      'ena.ppsExceeded',
      'ena.bwInExceeded',
      'ena.bwOutExceeded',
      'ena.linklocalPackets',
      'dns.queries',
      // DNS discovery's client probes (the fixtures predate them)
      'ae.backendsKnown',
      'ae.backendSetChanges',
      'ae.resolutions',
    ];
    assert.deepEqual([...missing[0]!.missing].sort(), [...want].sort());
    // with those recorded nothing is missing
    for (const v of r.variants) {
      for (const id of want) {
        const p = probeDef(id as ProbeId);
        v.series.push({ probe: id, target: p.scope === 'all' ? 'all' : 'x', unit: p.unit, kind: p.kind, points: [[0, 0]] });
      }
    }
    assert.deepEqual(missingLabProbes(r), []);
    // without node-local DNS, dnscheck.*, estab.* and dns.latencyP99 are not expected
    const noDns = makeResults();
    for (const v of noDns.variants) {
      v.config = { ...v.config, topology: { nodes: 3, serverNodes: 2, nodeLocalDns: false } };
      v.series = v.series.filter((s) => !s.probe.startsWith('estab.') && s.probe !== 'dns.latencyP99');
    }
    assert.deepEqual(
      [...missingLabProbes(noDns)[0]!.missing].sort(),
      want.filter((id) => !id.startsWith('dnscheck.') && !id.startsWith('nld.')).sort(),
    );
  });

  it("the recorder records every lab probe from a lab-like cluster, with the catalog's unit and kind", async () => {
    const proc: Record<string, string> = {
      netstat: 'TcpExt: IPReversePathFilter\nTcpExt: 3\n',
      snmp: 'Icmp: InDestUnreachs\nIcmp: 2\nTcp: ActiveOpens\nTcp: 7\n',
      'stat/nf_conntrack': 'entries searched\n0000002a 00000000\n',
    };
    const node = (name: string): ClusterNode => ({
      name,
      ip: '10.0.0.11',
      uplinks: ['ens5'],
      readProcNet: async (f) => proc[f] ?? '',
      putFile: async () => '',
      exec: async () => {
        throw new Error('no commands in this test');
      },
    });
    const family = (name: string, values: { value: number; labels?: Record<string, string | number> }[]) => ({
      name,
      help: '',
      type: 'counter',
      values: values.map((v) => ({ labels: {}, ...v })),
    });
    const msMetrics: WorkloadMetrics = [
      family('ms_dns_lookups_total', [{ value: 40 }]),
      family('ms_dns_errors_total', [
        { value: 2, labels: { kind: 'timeout' } },
        { value: 1, labels: { kind: 'servfail' } },
      ]),
      family('ms_dns_latency_seconds', [{ value: 0.01, labels: { quantile: 0.99 } }]),
    ];
    const aeMetrics: WorkloadMetrics = [
      family('ae_calls_total', [{ value: 100 }]),
      family('ae_call_errors_total', [{ value: 3 }]),
      family('ae_call_latency_seconds', [
        { value: 0.02, labels: { quantile: 0.9 } },
        { value: 0.05, labels: { quantile: 0.99 } },
      ]),
      family('ae_connect_attempts_total', [{ value: 400 }]),
      family('ae_channels', [{ value: 5, labels: { state: 'CONNECTING' } }]),
    ];
    const pod = (name: string, app: PodHandle['app'], m: WorkloadMetrics) => ({
      name,
      app,
      node: 'node1',
      ip: '10.1.1.5',
      metrics: async () => m,
      control: async () => undefined,
      readProcNet: async (f: string) => proc[f] ?? '',
    });
    const pods = [pod('ms-1', 'metrics-service', msMetrics), pod('ae-1', 'alerting-engine', aeMetrics)];
    const nodes = [node('node1'), node('node2')];
    const cluster = {
      provider: 'lab',
      runId: 'test',
      nodes,
      dns: { upstream: '10.0.0.53', nodeLocal: '169.254.20.10' },
      pods: (app?: string) => pods.filter((p) => !app || p.app === app),
      // the lab's unbound statistics (harness/providers/lab/dns.ts readNodeLocalStats)
      extraNodeProbes: async () => ({
        'nld.queries': 10,
        'nld.rejects': 0,
        'nld.upstreamFailures': 0,
        'nld.inFlight': 1,
        'nld.memoryBytes': 16e6,
      }),
    } as unknown as Cluster;
    const ena: EnaSample = {
      allowanceExceeded: 1,
      allowanceAvailable: 3999,
      trackedFlows: 1,
      newFlows: 9,
      flowsByFlag: { syn: 6, fin: 1, rst: 1, none: 1 },
      synsByDst: { '10.1.1.9': 6 },
      synsByDstEgress: { '10.1.1.9': 6 },
      otherAllowances: { bwInExceeded: 0, bwOutExceeded: 0, ppsExceeded: 0, linklocalExceeded: 2 },
      linklocalPackets: 12,
    };
    const rec = new Recorder(cluster, { intervalMs: 60_000, dnsCheckIntervalMs: 60_000, ena: async () => ena, checkNodes: [nodes[0]!] });
    rec.estabUpdate('node1', { ok: 5, failed: 0 });
    rec.start();
    await rec.stop();
    const series = rec.allSeries();
    for (const s of series) {
      const p = probeDef(s.probe);
      assert.ok(p, `${s.probe} is in the catalog`);
      assert.deepEqual([s.unit, s.kind], [p.unit, p.kind], `${s.probe}: unit and kind`);
      assert.equal(s.target === 'all', p.scope === 'all', `${s.probe}: target ${s.target}`);
    }
    const variant = { name: 'lab-like', config: {}, series } as unknown as VariantResult;
    assert.deepEqual(missingLabProbes({ variants: [variant] }), []);
    assert.deepEqual(
      Object.keys(rec.headline()),
      HEADLINES.filter((h) => h.live).map((h) => h.live),
    );
  });
});
