// Static SVG charts, rendered server-side with Apache ECharts (SSR, no DOM, no script in the output), plus a
// hand-drawn rollout timeline that shares the charts' x geometry.
import * as echarts from 'echarts';
import type { Marker } from '../results.js';
import { fmtClock, fmtNum } from './format.js';
import type { Point } from './series.js';

export const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";

/** Categorical palette (Tableau 10, reordered for contrast); one colour per target, stable across the page. */
export const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#b07aa1', '#9c755f', '#d37295', '#b6992d', '#79706e'];

export const MARKER_STYLE: Record<Marker['kind'], { color: string; dash: string; label: string }> = {
  step: { color: '#6b7280', dash: 'dashed', label: 'step' },
  'pod-ready': { color: '#16a34a', dash: 'dotted', label: 'pod ready' },
  'pod-stopping': { color: '#d97706', dash: 'dotted', label: 'pod stopping' },
  'pod-deleted': { color: '#dc2626', dash: 'dotted', label: 'pod deleted' },
  note: { color: '#7c3aed', dash: 'dashed', label: 'note' },
  'stop-condition': { color: '#b91c1c', dash: 'solid', label: 'stopped' },
};

export const WINDOW_FILL = 'rgba(217,119,6,0.10)';

/** Chart geometry shared by the charts and the timeline so their time axes line up. */
export const GRID = { left: 58, right: 14, top: 12, bottom: 24 };

export interface ChartLine {
  name: string;
  color: string;
  points: Point[];
  dashed?: boolean;
}

export interface ChartSpec {
  width: number;
  height: number;
  lines: ChartLine[];
  xMax: number;
  yMax: number;
  yInterval: number;
  yFormat?: (v: number) => string;
  markers?: Marker[];
  /** Shaded time ranges (old pods terminating). */
  windows?: { from: number; to: number }[];
  /** Prefix for the SVG's internal ids, unique in the page. */
  idPrefix: string;
}

/** A "nice" y range: max rounded up to a multiple of a 1/2/2.5/5×10^k step, ~4 intervals. */
export function niceScale(max: number | null, intervals = 4): { max: number; interval: number } {
  if (max === null || !Number.isFinite(max) || max <= 0) return { max: 1, interval: 0.25 };
  const raw = max / intervals;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw * 0.999)!;
  const top = Math.ceil(max / step - 1e-9) * step;
  return { max: top, interval: step };
}

/** A time axis step that gives ~6 labels on round numbers of seconds/minutes. */
export function timeInterval(xMax: number): number {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
  return steps.find((s) => xMax / s <= 7) ?? 7200;
}

/** Render a line chart to an SVG string (no script, ids prefixed so several can share a page). */
export function renderChart(spec: ChartSpec): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: spec.width, height: spec.height });
  const yFormat = spec.yFormat ?? ((v: number) => fmtNum(v));
  const markers = spec.markers ?? [];
  const series: echarts.SeriesOption[] = spec.lines.map((l) => ({
    type: 'line',
    name: l.name,
    data: l.points,
    showSymbol: l.points.filter((p) => p[1] !== null).length <= 2,
    symbolSize: 4,
    color: l.color,
    lineStyle: { width: 1.6, type: l.dashed ? 'dashed' : 'solid' },
    connectNulls: false,
    silent: true,
    z: 3,
  }));
  // Markers and shaded windows live on an empty helper series drawn under the data.
  series.push({
    type: 'line',
    data: [],
    silent: true,
    z: 1,
    lineStyle: { opacity: 0 },
    markLine: {
      silent: true,
      symbol: ['none', 'none'],
      label: { show: false },
      animation: false,
      data: markers.map((m) => ({
        xAxis: m.t,
        lineStyle: {
          color: MARKER_STYLE[m.kind].color,
          type: MARKER_STYLE[m.kind].dash as 'dashed',
          width: m.kind === 'step' ? 1.2 : 1,
          opacity: m.kind === 'step' ? 0.9 : 0.6,
        },
      })),
    },
    markArea: {
      silent: true,
      itemStyle: { color: WINDOW_FILL },
      data: (spec.windows ?? []).map((w) => [{ xAxis: w.from }, { xAxis: w.to }]) as never,
    },
  });
  chart.setOption({
    animation: false,
    backgroundColor: 'transparent',
    textStyle: { fontFamily: FONT, fontSize: 11, color: '#4b5563' },
    grid: { ...GRID, containLabel: false },
    xAxis: {
      type: 'value',
      min: 0,
      max: spec.xMax,
      interval: timeInterval(spec.xMax),
      axisLabel: { formatter: (v: number) => fmtClock(v), color: '#6b7280', fontSize: 10, fontFamily: FONT, hideOverlap: true },
      axisLine: { lineStyle: { color: '#9ca3af' } },
      axisTick: { lineStyle: { color: '#9ca3af' } },
      splitLine: { show: false },
    },
    yAxis: {
      type: 'value',
      min: 0,
      max: spec.yMax,
      interval: spec.yInterval,
      axisLabel: { formatter: (v: number) => yFormat(v), color: '#6b7280', fontSize: 10, fontFamily: FONT },
      splitLine: { lineStyle: { color: '#eef0f3' } },
      axisLine: { show: false },
    },
    series,
  });
  const svg = chart.renderToSVGString();
  chart.dispose();
  return svg.replace(/zr\d+-/g, `${spec.idPrefix}-`);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * The rollout as a strip above the charts: steps as labelled dashed lines, pod events as small glyphs,
 * terminating windows shaded. Same x geometry as renderChart.
 */
export function renderTimeline(opts: { width: number; xMax: number; markers: Marker[]; windows: { from: number; to: number }[] }): string {
  const { width, xMax } = opts;
  const plotW = width - GRID.left - GRID.right;
  const x = (t: number) => GRID.left + (Math.max(0, Math.min(t, xMax)) / (xMax || 1)) * plotW;
  const labelled = [...opts.markers].filter((m) => m.kind === 'step' || m.kind === 'note').sort((a, b) => a.t - b.t);
  // Greedy lanes so labels do not overlap (≈6 px per character at 10.5 px).
  const laneEnds: number[] = [];
  const placed = labelled.map((m) => {
    const x0 = x(m.t) + 3;
    const w = m.label.length * 6 + 6;
    let lane = laneEnds.findIndex((end) => end <= x0);
    if (lane === -1) {
      lane = laneEnds.length;
      laneEnds.push(0);
    }
    laneEnds[lane] = x0 + w;
    return { m, lane, x0 };
  });
  const lanes = Math.max(1, Math.min(laneEnds.length, 4));
  const laneH = 14;
  const top = 4;
  const axisY = top + lanes * laneH + 16;
  const height = axisY + 8;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="rollout timeline">`,
  );
  for (const w of opts.windows) {
    parts.push(
      `<rect x="${x(w.from).toFixed(1)}" y="${top}" width="${Math.max(1, x(w.to) - x(w.from)).toFixed(1)}" height="${axisY - top}" fill="${WINDOW_FILL}"/>`,
    );
  }
  parts.push(`<line x1="${GRID.left}" x2="${width - GRID.right}" y1="${axisY}" y2="${axisY}" stroke="#9ca3af"/>`);
  for (const m of opts.markers) {
    const st = MARKER_STYLE[m.kind];
    const cx = x(m.t).toFixed(1);
    const title = `<title>${esc(`${fmtClock(m.t)} ${st.label}: ${m.label}`)}</title>`;
    if (m.kind === 'step' || m.kind === 'note') {
      parts.push(`<line x1="${cx}" x2="${cx}" y1="${top}" y2="${axisY}" stroke="${st.color}" stroke-dasharray="4 3">${title}</line>`);
    } else if (m.kind === 'pod-ready') {
      parts.push(`<circle cx="${cx}" cy="${axisY}" r="3.2" fill="${st.color}">${title}</circle>`);
    } else if (m.kind === 'pod-stopping') {
      parts.push(`<path d="M${cx} ${axisY - 4}l3.6 6.5h-7.2z" fill="${st.color}">${title}</path>`);
    } else {
      parts.push(`<path d="M${(+cx - 3).toFixed(1)} ${axisY - 3}l6 6m0 -6l-6 6" stroke="${st.color}" stroke-width="1.8">${title}</path>`);
    }
  }
  for (const p of placed) {
    if (p.lane >= lanes) continue;
    parts.push(
      `<text x="${p.x0.toFixed(1)}" y="${top + p.lane * laneH + 10}" font-size="10.5" font-family="${esc(FONT)}" fill="${MARKER_STYLE[p.m.kind].color === '#6b7280' ? '#374151' : MARKER_STYLE[p.m.kind].color}">${esc(p.m.label)}</text>`,
    );
  }
  parts.push('</svg>');
  return parts.join('');
}
