// report.html: one self-contained page (inline CSS and SVG, no script, a CSP that forbids any fetch) an engineer
// can attach to an issue. Top to bottom: verdict banner, headline numbers per variant, the expectations table,
// the rollout timeline, then the talk's dashboards as rows of charts with the variants side by side (one
// y-scale per row), then every other probe, then run details.
import type { ExpectationResult, Marker, Results, Series, VariantResult } from '../results.js';
import { MARKER_STYLE, PALETTE, WINDOW_FILL, niceScale, renderChart, renderTimeline, type ChartLine } from './charts.js';
import { expectationMessage, fmtAxis, fmtChange, fmtClock, fmtExpectationValue, fmtNum, fmtSeconds, plural } from './format.js';
import {
  chartPoints,
  counterIncrease,
  counterRate,
  headlines,
  maxOf,
  minOf,
  nodeNames,
  preferNodeSeries,
  seriesOf,
  summaryHeadline,
  summaryLabel,
  unitForExpectation,
  type Headline,
  type Point,
} from './series.js';
import { verdictLine } from './terminal.js';
import { PROVIDERS, probeDef, probeLabel, probeSupplied, type ProbeId } from '../probes/catalog.js';

type ValueFormat = Headline['format'];

interface Line {
  key: string;
  label: string;
  points: Point[];
  dashed?: boolean;
}

interface RowDef {
  id: string;
  title: string;
  why: string;
  format: ValueFormat;
  /** What the number in each cell's header is. */
  cellStat: 'peak' | 'min';
  /** Show the counter total next to the peak. */
  total?: boolean;
  legendNote?: string;
  build(v: VariantResult): { lines: Line[]; used: Series[] };
}

const perTarget = (ss: Series[]): Line[] => ss.map((s) => ({ key: s.target, label: s.target, points: chartPoints(s) }));
const simple = (probe: ProbeId) => (v: VariantResult) => {
  const ss = seriesOf(v, probe);
  return { lines: perTarget(ss), used: ss };
};

/** The talk's dashboards, in the order of the causal chain. */
const ROWS: RowDef[] = [
  {
    id: 'syn',
    title: 'SYN/s to old pod IPs',
    format: 'rate',
    cellStat: 'peak',
    total: true,
    build: simple('syn.toOldPodIps'),
    why: "gRPC clients that reconnect without backoff keep SYN-ing the IP of a pod that no longer exists. The fix (gRPC's default reconnect backoff) should flatten this line.",
  },
  {
    id: 'martian',
    title: 'Martian drops/s per node',
    format: 'rate',
    cellStat: 'peak',
    total: true,
    build: simple('martian.drops'),
    why: 'With rp_filter on, the node drops those packets as martians: nothing answers, so every retry is a new, unreplied flow.',
  },
  {
    id: 'enaExceeded',
    title: 'ENA conntrack allowance exceeded/s per node',
    format: 'rate',
    cellStat: 'peak',
    total: true,
    build: simple('ena.allowanceExceeded'),
    why: 'The ENA tracks every flow. Once its per-instance allowance is full it drops packets of new flows — for everything on the node, not just the flood.',
  },
  {
    id: 'enaAvailable',
    title: 'ENA conntrack allowance available per node',
    format: 'count',
    cellStat: 'min',
    build: simple('ena.allowanceAvailable'),
    why: 'Flows the ENA can still track. At 0, new connections from this node are dropped.',
  },
  {
    id: 'ct',
    title: 'Kernel conntrack entries per node',
    format: 'count',
    cellStat: 'peak',
    build: simple('ct.count'),
    why: "The kernel's own table stays far from its limit: the bottleneck is in the ENA, invisible from inside the node.",
  },
  {
    id: 'dnsErrors',
    title: 'DNS errors/s',
    format: 'rate',
    cellStat: 'peak',
    total: true,
    build: (v) => {
      const ss = preferNodeSeries(v, 'dns.errors');
      return { lines: perTarget(ss), used: ss };
    },
    why: "node-local DNS cannot open TCP connections upstream, so lookups fail. It looks like DNS. It wasn't DNS.",
  },
  {
    id: 'dnsLatency',
    title: 'DNS latency p99',
    format: 'seconds',
    cellStat: 'peak',
    build: simple('dns.latencyP99'),
    why: 'Lookups that do succeed wait for retries.',
  },
  {
    id: 'grpcErrors',
    title: 'gRPC error rate',
    format: 'percent',
    cellStat: 'peak',
    build: grpcErrorLines,
    why: "Share of the Alerting Engine's calls that failed: what the users of the service saw.",
  },
  {
    id: 'grpcLatency',
    title: 'gRPC latency p90 / p99',
    format: 'seconds',
    cellStat: 'peak',
    legendNote: 'solid: p99 · dashed: p90',
    build: grpcLatencyLines,
    why: 'Call latency seen by the Alerting Engine.',
  },
  {
    id: 'grpcConnecting',
    title: 'gRPC channels connecting',
    format: 'count',
    cellStat: 'peak',
    build: simple('grpc.channelsConnecting'),
    why: 'Channels stuck reconnecting; with backoff they wait instead of hammering.',
  },
  {
    id: 'estab',
    title: 'Long-lived connection failures/s per node',
    format: 'rate',
    cellStat: 'peak',
    total: true,
    build: simple('estab.failed'),
    why: 'An established TCP connection that must survive the incident: its packets belong to a tracked flow.',
  },
];

// ---------------------------------------------------------------------------------------------------------------
// The node-local DNS dashboard of the talk (issue 13): what node-local DNS itself showed while the cause was the
// ENA allowance. Its own section, beside the cause; n/a (with the catalog's reason) where a provider does not
// supply a probe.

const MB = 1024 * 1024;

/** The node-local DNS charts: queries, rejects, upstream failures, in flight, memory. */
const NLD_ROWS: RowDef[] = [
  {
    id: 'nldQueries',
    title: 'node-local DNS queries/s per node',
    format: 'rate',
    cellStat: 'peak',
    total: true,
    build: simple('nld.queries'),
    why: 'What node-local DNS was asked: the same rate in every variant; nothing here explains the errors.',
  },
  {
    id: 'nldRejects',
    title: 'node-local DNS concurrency-limit rejects/s per node',
    format: 'rate',
    cellStat: 'peak',
    total: true,
    build: simple('nld.rejects'),
    why: 'max_concurrent reached: queries wait for an upstream connection that cannot be opened and hold their slots. A bigger limit removes this symptom, not the errors.',
  },
  {
    id: 'nldUpstream',
    title: 'node-local DNS upstream failures/s per node',
    format: 'rate',
    cellStat: 'peak',
    total: true,
    build: simple('nld.upstreamFailures'),
    why: 'The upstream looks unhealthy from the node (failed health checks, SERVFAILs): the upstream is fine, the node cannot open new flows to it.',
  },
  {
    id: 'nldInFlight',
    title: 'node-local DNS queries in flight per node',
    format: 'count',
    cellStat: 'peak',
    build: simple('nld.inFlight'),
    why: 'Queries piling up to the concurrency limit while no upstream connection can be opened.',
  },
  {
    id: 'nldMemory',
    title: 'node-local DNS memory per node (MiB)',
    format: 'count',
    cellStat: 'peak',
    build: (v) => {
      const ss = seriesOf(v, 'nld.memoryBytes');
      const lines = ss.map((s) => ({
        key: s.target,
        label: s.target,
        points: chartPoints(s).map(([t, x]): Point => [t, x === null ? null : x / MB]),
      }));
      return { lines, used: ss };
    },
    why: 'In the talk the pods were OOM-killed and the limit was raised 64 → 256 MB: the OOM kills stopped, the DNS errors did not.',
  },
];

/** One cell of the node-local DNS table: the number, or n/a with the reason, or "not recorded". */
function nldCell(results: Results, v: VariantResult, probe: ProbeId, stat: 'total' | 'peak', scale = 1): string {
  const provider = PROVIDERS.find((x) => x === results.provider);
  const supplied = provider ? probeSupplied(probe, provider) : true;
  if (supplied !== true) return `<td class="num muted na" title="${esc(supplied)}">n/a</td>`;
  const ss = probe === 'dns.errors' ? preferNodeSeries(v, probe) : seriesOf(v, probe);
  if (!ss.length) return '<td class="num muted" title="not recorded in this variant">—</td>';
  const x =
    stat === 'total'
      ? ss.reduce((a, s) => a + (s.kind === 'counter' ? counterIncrease(s.points) : 0), 0)
      : (maxOf(ss.flatMap((s) => s.points)) ?? 0) / scale;
  return `<td class="num">${esc(fmtNum(x))}</td>`;
}

/** The node-local DNS section: a table of the cause and the symptoms per variant, then the charts. */
function nldSection(results: Results, rows: string[]): string {
  const cols: { probe: ProbeId; stat: 'total' | 'peak'; label: string; scale?: number }[] = [
    { probe: 'ena.allowanceExceeded', stat: 'total', label: 'cause: ENA allowance exceeded' },
    { probe: 'dns.errors', stat: 'total', label: 'DNS errors' },
    { probe: 'nld.queries', stat: 'total', label: 'queries' },
    { probe: 'nld.rejects', stat: 'total', label: 'rejects (max_concurrent)' },
    { probe: 'nld.upstreamFailures', stat: 'total', label: 'upstream failures' },
    { probe: 'nld.inFlight', stat: 'peak', label: 'peak in flight' },
    { probe: 'nld.memoryBytes', stat: 'peak', label: 'peak memory (MiB)', scale: MB },
  ];
  const body = results.variants
    .map((v) => {
      const limits = (v.config.topology as { nodeLocalDnsLimits?: { maxConcurrent: number; memoryMb: number } } | undefined)
        ?.nodeLocalDnsLimits;
      const lim = limits
        ? `<div class="desc">limits: ${esc(String(limits.maxConcurrent))} queries, ${esc(String(limits.memoryMb))} MB</div>`
        : '';
      return `<tr><th scope="row"><div class="vname">${esc(v.name)}</div>${lim}</th>${cols.map((c) => nldCell(results, v, c.probe, c.stat, c.scale)).join('')}</tr>`;
    })
    .join('');
  const head = cols.map((c) => `<th scope="col" class="num">${esc(c.label)}</th>`).join('');
  return (
    `<section id="nld"><h2>node-local DNS: what its dashboard showed</h2>` +
    `<p class="why">The symptoms that said "DNS" (rejects, upstream failures, memory) beside the cause (the ENA allowance). n/a: the provider does not supply the probe (hover for why); —: not recorded in that variant.</p>` +
    `<table class="summary nld"><thead><tr><th></th>${head}</tr></thead><tbody>${body}</tbody></table>${rows.join('')}</section>`
  );
}

function grpcErrorLines(v: VariantResult): { lines: Line[]; used: Series[] } {
  const errs = seriesOf(v, 'grpc.errors');
  const calls = new Map(seriesOf(v, 'grpc.calls').map((s) => [s.target, s]));
  if (!errs.length) return { lines: [], used: [] };
  const lines = errs.map((e) => {
    const c = calls.get(e.target);
    if (!c) return { key: e.target, label: `${e.target} (errors/s)`, points: counterRate(e.points) };
    const cr = new Map(counterRate(c.points).map(([t, x]) => [Math.round(t * 1000), x]));
    const points: Point[] = counterRate(e.points).map(([t, x]) => {
      const denom = cr.get(Math.round(t * 1000));
      if (x === null || denom === null || denom === undefined) return [t, null];
      return [t, denom > 0 ? Math.min(100, (100 * x) / denom) : x > 0 ? 100 : 0];
    });
    return { key: e.target, label: e.target, points };
  });
  return { lines, used: errs };
}

function grpcLatencyLines(v: VariantResult): { lines: Line[]; used: Series[] } {
  const p99 = seriesOf(v, 'grpc.latencyP99'),
    p90 = seriesOf(v, 'grpc.latencyP90');
  const lines: Line[] = [
    ...p99.map((s) => ({ key: s.target, label: s.target, points: chartPoints(s) })),
    ...p90.map((s) => ({ key: s.target, label: s.target, points: chartPoints(s), dashed: true })),
  ];
  return { lines, used: [...p99, ...p90] };
}

// ---------------------------------------------------------------------------------------------------------------

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function fmtFormat(v: number | null, f: ValueFormat): string {
  if (v === null) return '—';
  if (f === 'seconds') return fmtSeconds(v);
  if (f === 'percent') return `${fmtNum(v)}%`;
  if (f === 'rate') return `${fmtNum(v)}/s`;
  return fmtNum(v);
}

function axisFormat(f: ValueFormat): (v: number) => string {
  if (f === 'seconds') return (v) => (v === 0 ? '0' : fmtSeconds(v));
  if (f === 'percent') return (v) => `${fmtNum(v)}%`;
  return (v) => fmtAxis(v);
}

class Colors {
  private map = new Map<string, string>();
  get(key: string): string {
    let c = this.map.get(key);
    if (!c) {
      c = PALETTE[this.map.size % PALETTE.length]!;
      this.map.set(key, c);
    }
    return c;
  }
}

export interface HtmlOptions {
  /** Width the charts are laid out for (CSS scales them to the window). Default 1400. */
  width?: number;
  /** Generation time shown in the footer (default: now). */
  generatedAt?: Date;
}

interface Layout {
  cellW: number;
  xMax: number;
}

function layout(results: Results, width: number): Layout {
  const n = Math.max(1, results.variants.length);
  const gap = 16;
  const cellW = n === 1 ? Math.min(width, 1000) : Math.floor((width - gap * (n - 1)) / n);
  let xMax = 0;
  for (const v of results.variants) {
    xMax = Math.max(xMax, v.durationSeconds);
    for (const s of v.series) for (const p of s.points) if (Number.isFinite(p[0])) xMax = Math.max(xMax, p[0]);
    for (const m of v.markers) xMax = Math.max(xMax, m.t);
  }
  return { cellW, xMax: xMax > 0 ? Math.ceil(xMax) : 1 };
}

function windowsOf(v: VariantResult, xMax: number): { from: number; to: number }[] {
  return v.replacedPods.map((p) => ({ from: p.stoppingAt, to: p.deletedAt ?? Math.max(v.durationSeconds, xMax) }));
}

/** Markers drawn inside the charts: rollout steps and the moments old pod IPs disappeared (the rest is on the timeline). */
function chartMarkers(v: VariantResult): Marker[] {
  return v.markers.filter((m) => m.kind === 'step' || m.kind === 'pod-deleted' || m.kind === 'note' || m.kind === 'stop-condition');
}

let chartSeq = 0;

interface RenderedRow {
  html: string;
  used: Series[];
}

function renderRow(results: Results, row: RowDef, L: Layout, colors: Colors, height: number): RenderedRow | null {
  const built = results.variants.map((v) => ({ v, ...row.build(v) }));
  const used = built.flatMap((b) => b.used);
  if (!built.some((b) => b.lines.some((l) => l.points.some((p) => p[1] !== null)))) return { html: '', used };
  let yMax: number | null = null;
  for (const b of built)
    for (const l of b.lines) {
      const m = maxOf(l.points);
      if (m !== null && (yMax === null || m > yMax)) yMax = m;
    }
  let scale = niceScale(yMax);
  if (row.format === 'percent' && scale.max > 100) scale = { max: 100, interval: 25 };
  const legend = new Map<string, string>();
  const cells = built.map(({ v, lines, used: u }) => {
    const data = lines.filter((l) => l.points.some((p) => p[1] !== null));
    if (!data.length)
      return `<div class="cell"><div class="cell-head"><span class="vname">${esc(v.name)}</span></div><div class="nodata">not recorded in this variant</div></div>`;
    const chartLines: ChartLine[] = data.map((l) => {
      const color = colors.get(l.key);
      if (!legend.has(l.key)) legend.set(l.key, color);
      return { name: l.label, color, points: l.points, dashed: l.dashed };
    });
    const peak = maxOf(data.flatMap((l) => l.points));
    const min = minOf(data.flatMap((l) => l.points));
    const stat = row.cellStat === 'min' ? `min ${fmtFormat(min, row.format)}` : `peak ${fmtFormat(peak, row.format)}`;
    const total = row.total ? u.filter((s) => s.kind === 'counter').reduce((a, s) => a + counterIncrease(s.points), 0) : null;
    const id = `c${++chartSeq}`;
    const svg = renderChart({
      width: L.cellW,
      height,
      lines: chartLines,
      xMax: L.xMax,
      yMax: scale.max,
      yInterval: scale.interval,
      yFormat: axisFormat(row.format),
      markers: chartMarkers(v),
      windows: windowsOf(v, L.xMax),
      idPrefix: id,
    });
    const colorsAttr = [...new Set(chartLines.map((l) => l.color))].join(' ');
    const aria = `${row.title}, ${v.name}: ${stat}`;
    return (
      `<div class="cell"><div class="cell-head"><span class="vname">${esc(v.name)}</span><span class="stat">${esc(stat)}${total !== null ? ` · total ${esc(fmtNum(total))}` : ''}</span></div>` +
      `<figure class="chart" role="img" aria-label="${esc(aria)}" data-row="${row.id}" data-variant="${esc(v.name)}" data-colors="${colorsAttr}" data-lines="${chartLines.length}">${svg}</figure></div>`
    );
  });
  const legendHtml = [...legend.entries()].map(([k, c]) => `<span class="key"><i style="background:${c}"></i>${esc(k)}</span>`).join('');
  const html =
    `<section class="row" id="row-${row.id}"><div class="row-head"><h3>${esc(row.title)}</h3><p class="why">${esc(row.why)}</p></div>` +
    `<div class="legend">${legendHtml}${row.legendNote ? `<span class="note">${esc(row.legendNote)}</span>` : ''}</div>` +
    `<div class="cells" style="--n:${results.variants.length}">${cells.join('')}</div></section>`;
  return { html, used };
}

/**
 * Rows for every probe the dashboards did not show (per-pod DNS, flow breakdowns, lookups, calls, ...). A probe
 * recorded both per node and per pod gets one row for each, so nodes and pods are not drawn on one scale.
 */
function otherRows(results: Results, consumed: Set<Series>): RowDef[] {
  type Scope = 'node' | 'pod' | 'any';
  const groups: { probe: string; scope: Scope; kind: Series['kind']; unit: string }[] = [];
  const nodesOf = new Map(results.variants.map((v) => [v, nodeNames(v)]));
  const mixed = new Set<string>();
  const scopes = new Map<string, Set<boolean>>();
  for (const v of results.variants) {
    for (const s of v.series) {
      if (consumed.has(s)) continue;
      const set = scopes.get(s.probe) ?? new Set<boolean>();
      set.add(nodesOf.get(v)!.has(s.target));
      scopes.set(s.probe, set);
    }
  }
  for (const [probe, set] of scopes) if (set.size > 1) mixed.add(probe);
  for (const v of results.variants) {
    for (const s of v.series) {
      if (consumed.has(s)) continue;
      const scope: Scope = mixed.has(s.probe) ? (nodesOf.get(v)!.has(s.target) ? 'node' : 'pod') : 'any';
      if (!groups.some((g) => g.probe === s.probe && g.scope === scope)) groups.push({ probe: s.probe, scope, kind: s.kind, unit: s.unit });
    }
  }
  // Only non-node targets other than 'all' left for this probe (e.g. dns.errors once the per-node series are charted).
  const perPodOnly = (probe: string) =>
    results.variants.every((v) =>
      v.series.every((s) => s.probe !== probe || consumed.has(s) || (!nodesOf.get(v)!.has(s.target) && s.target !== 'all')),
    );
  groups.sort((a, b) => a.probe.localeCompare(b.probe) || a.scope.localeCompare(b.scope));
  return groups.map(({ probe, scope, kind, unit }) => {
    const seconds = /^(s|sec|seconds?)$/i.test(unit);
    const fmt: ValueFormat = seconds ? 'seconds' : kind === 'counter' ? 'rate' : 'count';
    const inScope = (v: VariantResult, s: Series) => scope === 'any' || (scope === 'node') === nodesOf.get(v)!.has(s.target);
    return {
      id: `probe-${probe.replace(/[^\w-]/g, '_')}${scope === 'any' ? '' : `-${scope}`}`,
      title: `${probeLabel(probe)}${scope !== 'any' ? ` per ${scope}` : scopes.get(probe)?.has(true) ? ' per node' : perPodOnly(probe) ? ' per pod' : ''}${kind === 'counter' ? ` (${unit || 'events'}/s)` : unit && !seconds ? ` (${unit})` : ''}`,
      why: `${probe}: ${kind === 'counter' ? 'counter, shown as its per-second rate.' : 'gauge.'}`,
      format: fmt,
      cellStat: probeDef(probe)?.summary === 'min' ? 'min' : 'peak',
      total: kind === 'counter',
      build: (v) => {
        const ss = v.series.filter((s) => s.probe === probe && !consumed.has(s) && inScope(v, s));
        return { lines: perTarget(ss), used: ss };
      },
    } satisfies RowDef;
  });
}

function banner(results: Results): string {
  const ex = results.verdict.expectations;
  const failed = ex.filter((e) => !e.pass && !e.na);
  const state = results.error ? 'error' : failed.length || !results.verdict.pass ? 'fail' : ex.length ? 'pass' : 'none';
  const word = { error: 'HARNESS ERROR', fail: 'FAIL', pass: 'PASS', none: 'NO VERDICT' }[state];
  const list = failed
    .slice(0, 8)
    .map((e) => `<li><span class="tag">${esc(e.variant)}</span> ${esc(expectationMessage(e, unitForExpectation(results, e)))}</li>`)
    .join('');
  const more = failed.length > 8 ? `<li class="more">… and ${failed.length - 8} more in the table below</li>` : '';
  let err = '';
  if (results.error) {
    const e = results.error;
    err = `<div class="error"><strong>${esc(e.kind)}${e.phase ? ` during ${esc(e.phase)}` : ''}:</strong> ${esc(e.message)}${e.hint ? `<div class="hint"><strong>Fix:</strong> ${esc(e.hint)}</div>` : ''}<div class="hint">This is a harness error, not a verdict: the run did not complete, so the expectations below are partial.</div></div>`;
  }
  return `<section class="banner ${state}" id="verdict-banner"><div class="word">${word}</div><div class="banner-body"><div class="line">${esc(verdictLine(results))}</div>${err}${list ? `<ul class="failures">${list}${more}</ul>` : ''}</div></section>`;
}

function fmtDuration(seconds: number): string {
  return seconds >= 60 ? fmtSeconds(seconds) : `${fmtNum(seconds)} s`;
}

function summaryTable(results: Results): string {
  const vs = results.variants;
  if (!vs.length) return '';
  const hs = vs.map((v) => new Map(headlines(v).map((h) => [h.key, h])));
  const keys: { key: string; label: string }[] = [];
  for (const m of hs) for (const h of m.values()) if (!keys.some((k) => k.key === h.key)) keys.push({ key: h.key, label: h.label });
  const exFor = (name: string) => results.verdict.expectations.filter((e) => e.variant === name);
  const head = vs
    .map((v) => {
      const ex = exFor(v.name).filter((e) => !e.na),
        f = ex.filter((e) => !e.pass).length;
      const badge = !ex.length
        ? '<span class="badge none">no expectations</span>'
        : f
          ? `<span class="badge fail">${f}/${ex.length} failed</span>`
          : `<span class="badge pass">${ex.length}/${ex.length} passed</span>`;
      return `<th scope="col"><div class="vname">${esc(v.name)}</div>${badge}${v.description ? `<div class="desc">${esc(v.description)}</div>` : ''}<div class="desc">${esc(fmtDuration(v.durationSeconds))} · ${plural(v.replacedPods.length, 'pod')} replaced</div></th>`;
    })
    .join('');
  const rows = keys.map(({ key, label }) => {
    const first = hs[0]!.get(key);
    const cells = hs
      .map((m, i) => {
        const h = m.get(key);
        if (!h) return '<td class="num muted">—</td>';
        const cls = h.badWhenHigh ? (h.value > 0 ? ' bad' : ' good') : '';
        const delta = i > 0 && first && first.value !== 0 ? fmtChange(first.value, h.value) : '';
        return `<td class="num big${cls}">${esc(fmtFormat(h.value, h.format))}${delta ? `<span class="delta" title="relative to ${esc(vs[0]!.name)}">${esc(delta)} vs ${esc(vs[0]!.name)}</span>` : ''}</td>`;
      })
      .join('');
    return `<tr><th scope="row">${esc(label)}</th>${cells}</tr>`;
  });
  // the summary repeats most headlines under another name: each number once, with its human label
  const shown = new Set(keys.map((k) => k.key));
  const summaryKeys = [...new Set(vs.flatMap((v) => Object.keys(v.summary)))].filter((k) => !shown.has(summaryHeadline(k)));
  if (summaryKeys.length) {
    rows.push(`<tr class="sub"><th colspan="${vs.length + 1}">reported by the harness</th></tr>`);
    for (const k of summaryKeys) {
      rows.push(
        `<tr><th scope="row" title="${esc(k)}">${esc(summaryLabel(k))}</th>${vs.map((v) => (k in v.summary ? `<td class="num">${esc(fmtNum(v.summary[k]!))}</td>` : '<td class="num muted">—</td>')).join('')}</tr>`,
      );
    }
  }
  return `<section id="summary"><h2>Headline numbers</h2><table class="summary"><thead><tr><th></th>${head}</tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

function verdictTable(results: Results): string {
  const ex = results.verdict.expectations;
  if (!ex.length) return '<section id="expectations"><h2>Expectations</h2><p class="muted">No expectations were evaluated.</p></section>';
  const row = (e: ExpectationResult) => {
    const unit = unitForExpectation(results, e);
    if (e.na) {
      return (
        `<tr class="na"><td><span class="badge none">n/a</span></td><td>${esc(e.variant)}</td><td><div>${esc(e.label)}</div><div class="detail">${esc(e.na)}</div></td>` +
        `<td class="num">n/a</td><td class="num">${esc(`${e.op} ${fmtExpectationValue(e, e.threshold, unit)}`)}</td><td class="mono muted">${esc(e.probe)} · ${esc(e.stat)}</td></tr>`
      );
    }
    return (
      `<tr class="${e.pass ? 'pass' : 'fail'}"><td><span class="badge ${e.pass ? 'pass' : 'fail'}">${e.pass ? 'pass' : 'FAIL'}</span></td><td>${esc(e.variant)}</td>` +
      `<td><div>${esc(e.label)}</div>${e.detail ? `<div class="detail">${esc(e.detail)}</div>` : ''}</td>` +
      `<td class="num">${esc(fmtExpectationValue(e, e.measured, unit))}</td><td class="num">${esc(`${e.op} ${fmtExpectationValue(e, e.threshold, unit)}`)}</td>` +
      `<td class="mono muted">${esc(e.probe)} · ${esc(e.stat)}</td></tr>`
    );
  };
  return `<section id="expectations"><h2>Expectations</h2><table class="verdict"><thead><tr><th>result</th><th>variant</th><th>expectation</th><th class="num">measured</th><th class="num">threshold</th><th>probe · stat</th></tr></thead><tbody>${ex.map(row).join('')}</tbody></table></section>`;
}

function timelineRow(results: Results, L: Layout): string {
  if (!results.variants.some((v) => v.markers.length || v.replacedPods.length)) return '';
  const cells = results.variants
    .map(
      (v) =>
        `<div class="cell"><div class="cell-head"><span class="vname">${esc(v.name)}</span><span class="stat">${plural(v.markers.filter((m) => m.kind === 'step').length, 'step')}</span></div>` +
        `<div class="timeline">${renderTimeline({ width: L.cellW, xMax: L.xMax, markers: v.markers, windows: windowsOf(v, L.xMax) })}</div></div>`,
    )
    .join('');
  const key =
    (Object.keys(MARKER_STYLE) as Marker['kind'][])
      .map((k) => {
        const st = MARKER_STYLE[k];
        const glyph = k === 'step' || k === 'note' ? '┆' : k === 'pod-ready' ? '●' : k === 'pod-stopping' ? '▲' : '✕';
        return `<span class="key"><b style="color:${st.color}">${glyph}</b>${esc(st.label)}</span>`;
      })
      .join('') +
    `<span class="key"><i style="background:${WINDOW_FILL};border:1px solid rgba(217,119,6,.35)"></i>old pod terminating</span>`;
  return (
    `<section class="row" id="row-timeline"><div class="row-head"><h3>Rollout</h3><p class="why">Steps and pod events. Steps, pod deletions and terminating windows are repeated in every chart below.</p></div>` +
    `<div class="legend">${key}</div><div class="cells" style="--n:${results.variants.length}">${cells}</div></section>`
  );
}

function runDetails(results: Results): string {
  const h = results.host;
  const meta: [string, string][] = [
    ['experiment', `${results.experiment.name} (${results.experiment.file})`],
    ['run id', results.runId],
    ['provider', results.provider],
    ['profile', results.profile],
    ['host', `${h.hostname} · kernel ${h.kernel} · ${h.cpus} CPUs · Node ${h.node}`],
    ['started', results.startedAt],
    ['finished', results.finishedAt],
    ['notdns', `${results.tool.version} · results schema v${results.schemaVersion}`],
  ];
  const variants = results.variants
    .map((v) => {
      const pods = v.replacedPods.length
        ? `<table class="pods"><thead><tr><th>replaced pod</th><th>old IP</th><th>node</th><th class="num">stopping</th><th class="num">deleted</th></tr></thead><tbody>${v.replacedPods.map((p) => `<tr><td class="mono">${esc(p.name)}</td><td class="mono">${esc(p.ip)}</td><td>${esc(p.node)}</td><td class="num">${esc(fmtClock(p.stoppingAt))}</td><td class="num">${p.deletedAt === null ? '—' : esc(fmtClock(p.deletedAt))}</td></tr>`).join('')}</tbody></table>`
        : '';
      return `<details><summary>${esc(v.name)}: configuration${v.replacedPods.length ? ' and replaced pods' : ''}</summary>${pods}<pre>${esc(JSON.stringify(v.config, null, 2))}</pre></details>`;
    })
    .join('');
  return `<section id="run"><h2>Run</h2><dl class="meta">${meta.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>${variants}</section>`;
}

const CSS = `
:root{--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--bg:#f6f7f9;--card:#fff;--red:#dc2626;--red-bg:#fef2f2;--green:#15803d;--green-bg:#f0fdf4;--amber:#b45309;--amber-bg:#fffbeb}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif}
main{max-width:1480px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:22px;margin:0 0 2px}h2{font-size:17px;margin:28px 0 10px}h3{font-size:14.5px;margin:0}
.sub-title{color:var(--muted);margin:0 0 4px}.desc-exp{margin:6px 0 14px;max-width:980px}
.chain{display:flex;flex-wrap:wrap;gap:6px;align-items:center;margin:0 0 16px;font-size:12.5px;color:#374151}
.chain span{background:var(--card);border:1px solid var(--line);border-radius:999px;padding:2px 10px}.chain b{color:var(--muted);font-weight:400}
.banner{display:flex;gap:18px;align-items:flex-start;border-radius:10px;padding:14px 18px;border:1px solid;margin:8px 0 4px}
.banner .word{font-weight:800;font-size:26px;letter-spacing:.02em;min-width:110px}
.banner .line{font-weight:600;font-size:16px}
.banner.fail{background:var(--red-bg);border-color:#fecaca}.banner.fail .word{color:var(--red)}
.banner.error{background:#fff7ed;border-color:#fdba74}.banner.error .word{color:#c2410c;font-size:20px;white-space:nowrap}
.banner.pass{background:var(--green-bg);border-color:#bbf7d0}.banner.pass .word{color:var(--green)}
.banner.none{background:var(--amber-bg);border-color:#fde68a}
.failures{margin:8px 0 0;padding-left:18px}.failures li{margin:2px 0}.failures .more{color:var(--muted);list-style:none}
.tag{display:inline-block;font-size:11.5px;background:#fff;border:1px solid var(--line);border-radius:4px;padding:0 6px;margin-right:2px;color:#374151}
.error{margin-top:8px;background:#fff;border:1px solid #fed7aa;border-radius:6px;padding:8px 10px}.error .hint{color:#374151;margin-top:4px}
table{border-collapse:collapse;background:var(--card);border:1px solid var(--line);border-radius:8px;overflow:hidden;width:100%}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{background:#f9fafb;font-size:12px;color:#374151;font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.muted{color:var(--muted)}.detail{color:var(--muted);font-size:12px}
table.summary th[scope=row]{font-weight:500;color:#374151;width:260px}
table.summary thead th{vertical-align:bottom}
table.summary .vname{font-size:15px;font-weight:700;color:var(--fg);margin-bottom:3px}
table.summary .desc{font-weight:400;color:var(--muted);font-size:12px;margin-top:2px}
table.summary{width:auto;min-width:640px}table.summary thead th:not(:first-child){text-align:right;min-width:230px}
table.summary.nld thead th:not(:first-child){min-width:0;width:auto}table.summary.nld th[scope=row]{width:170px}table.summary.nld{width:100%}
table.summary td.big{font-size:17px;font-weight:650}.delta{display:block;font-size:11px;font-weight:400;color:var(--muted)}
td.bad{color:var(--red)}td.good{color:var(--green)}
tr.sub th{background:#f9fafb;color:var(--muted);font-weight:500;font-size:12px}
.badge{display:inline-block;font-size:11.5px;font-weight:700;border-radius:4px;padding:1px 7px}
.badge.pass{background:#dcfce7;color:var(--green)}.badge.fail{background:#fee2e2;color:var(--red)}.badge.none{background:#f3f4f6;color:var(--muted)}
table.verdict tr.fail td{background:#fff8f8}
.row{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px 8px;margin:12px 0}
.row-head{display:flex;gap:14px;align-items:baseline;flex-wrap:wrap}.why{margin:0;color:var(--muted);font-size:12.5px}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;margin:6px 0 4px;font-size:12px;color:#374151}
.legend .key{display:inline-flex;align-items:center;gap:5px}.legend i{display:inline-block;width:14px;height:4px;border-radius:2px}
.legend .note{color:var(--muted)}.legend b{font-size:12px}
.cells{display:grid;grid-template-columns:repeat(var(--n),minmax(0,1fr));gap:16px}
.cell-head{display:flex;justify-content:space-between;gap:8px;font-size:12.5px;margin-top:4px}
.cell-head .vname{font-weight:700}.cell-head .stat{color:#374151;font-variant-numeric:tabular-nums}
figure.chart{margin:0}figure.chart svg,.timeline svg{display:block;width:100%;height:auto}
.nodata{display:flex;align-items:center;justify-content:center;height:120px;color:var(--muted);font-size:12.5px;border:1px dashed var(--line);border-radius:6px;margin-top:6px}
details{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px 12px;margin:8px 0}
details summary{cursor:pointer;font-weight:600}
details .row{border:none;padding:8px 0;margin:4px 0;border-top:1px solid var(--line);border-radius:0}
pre{background:#f9fafb;border:1px solid var(--line);border-radius:6px;padding:8px;font-size:12px;overflow:auto;max-height:360px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0 0 8px}dl.meta dt{color:var(--muted)}dl.meta dd{margin:0}
table.pods{margin:8px 0;width:auto}
footer{color:var(--muted);font-size:12px;margin-top:28px}
@media print{body{background:#fff}.row,table{break-inside:avoid}}
`;

/** Render the report page. Pure: same results (and generatedAt) → same HTML. */
export function renderHtml(results: Results, opts: HtmlOptions = {}): string {
  chartSeq = 0;
  const L = layout(results, opts.width ?? 1400);
  const colors = new Colors();
  const consumed = new Set<Series>();
  const rows: string[] = [];
  for (const r of ROWS) {
    const out = renderRow(results, r, L, colors, 210);
    if (!out) continue;
    for (const s of out.used) consumed.add(s);
    if (out.html) rows.push(out.html);
  }
  const nldRows: string[] = [];
  for (const r of NLD_ROWS) {
    const out = renderRow(results, r, L, colors, 170);
    if (!out) continue;
    for (const s of out.used) consumed.add(s);
    if (out.html) nldRows.push(out.html);
  }
  const hasNld = results.variants.some((v) => v.series.some((s) => s.probe.startsWith('nld.')));
  const more = otherRows(results, consumed)
    .map((r) => renderRow(results, r, L, colors, 170)?.html ?? '')
    .filter(Boolean);
  const failed = results.verdict.expectations.filter((e) => !e.pass && !e.na).length;
  const state = results.error ? 'ERROR' : failed || !results.verdict.pass ? 'FAIL' : 'PASS';
  const generated = (opts.generatedAt ?? new Date()).toISOString();
  const dur = (Date.parse(results.finishedAt) - Date.parse(results.startedAt)) / 1000;
  const dashboards = rows.length ? rows.join('') : '<p class="muted">No time series were recorded.</p>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="notdns ${esc(results.tool.version)}">
<title>${state} · notdns ${esc(results.experiment.name)} · ${esc(results.runId)}</title>
<style>${CSS}</style></head>
<body><main>
<header><h1>notdns · ${esc(results.experiment.name)}</h1>
<p class="sub-title">run ${esc(results.runId)} · ${esc(results.provider)} · profile ${esc(results.profile)} · ${esc(results.startedAt)}${Number.isFinite(dur) && dur > 0 ? ` · ${esc(fmtDuration(dur))}` : ''} · ${plural(results.variants.length, 'variant')}</p>
${results.experiment.description ? `<p class="desc-exp">${esc(results.experiment.description)}</p>` : ''}
<div class="chain" aria-label="the incident chain"><span>gRPC reconnects SYN old pod IPs</span><b>→</b><span>rp_filter martian drops</span><b>→</b><span>ENA conntrack allowance exceeded</span><b>→</b><span>node-local DNS can't open TCP upstream</span><b>→</b><span>DNS errors</span></div>
</header>
${banner(results)}
${summaryTable(results)}
${verdictTable(results)}
<section id="dashboards"><h2>Dashboards <span class="muted" style="font-weight:400;font-size:13px">variants side by side, same y-scale in each row; counters shown as per-second rates</span></h2>
${timelineRow(results, L)}
${dashboards}
</section>
${hasNld ? nldSection(results, nldRows) : ''}
${more.length ? `<section id="more"><details><summary>More probes (${more.length})</summary>${more.join('')}</details></section>` : ''}
${runDetails(results)}
<footer>Generated ${esc(generated)} by notdns ${esc(results.tool.version)}. Self-contained: inline CSS and SVG, no scripts, no network. The data is in results.json next to this file (schema: docs/results-schema.json).</footer>
</main></body></html>
`;
}
