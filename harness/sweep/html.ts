// sweep.html: one self-contained page (inline CSS and SVG rendered server-side by ECharts, no script, a CSP that
// forbids any fetch) with the outcome of every grid point: a heat map per outcome for two swept settings (rows =
// the first --set, columns = the second), lines for one, and the table of every point for any number.
import * as echarts from 'echarts';
import { FONT, PALETTE } from '../report/charts.js';
import { fmtClock, fmtNum } from '../report/format.js';
import { OUTCOMES, outcomeOf, type Outcome, type Sweep } from './run.js';
import { expandGrid, settingsLabel } from './grid.js';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const short = (path: string) => path.split('.').pop()!;

/** Green (good) to red (bad) through yellow. */
const RAMP = ['#1a9850', '#fee08b', '#d73027'];
const PASS = '#4e79a7';
const FAIL = '#e15759';

interface Metric {
  key: string;
  title: string;
  value(o: Outcome): number | null;
  format(v: number): string;
  /** Two colours, 0 = fail, 1 = pass, instead of the ramp. */
  boolean?: boolean;
}

function metrics(s: Sweep): Metric[] {
  return [
    ...OUTCOMES.map((x) => ({ key: x.key, title: x.label, value: (o: Outcome) => o.values[x.key], format: (v: number) => fmtNum(v) })),
    {
      key: 'pass',
      title: `expectations of ${s.variant} (all held = pass)`,
      value: (o: Outcome) => (o.stopped ? 0 : o.pass ? 1 : 0),
      format: (v: number) => (v ? 'pass' : 'fail'),
      boolean: true,
    },
  ];
}

const W = 520;

function axisStyle() {
  return {
    axisLabel: { color: '#374151', fontSize: 11, fontFamily: FONT },
    axisLine: { lineStyle: { color: '#9ca3af' } },
    nameTextStyle: { color: '#374151', fontSize: 11, fontFamily: FONT },
  };
}

function finish(chart: echarts.ECharts, id: string): string {
  const svg = chart.renderToSVGString();
  chart.dispose();
  return svg.replace(/zr\d+-/g, `${id}-`);
}

/** Rows = dimension 0 (bottom to top), columns = dimension 1. Points not run are empty cells. */
function heatmap(s: Sweep, m: Metric, outs: Outcome[], id: string): { svg: string; cells: number } {
  const [dy, dx] = s.dimensions as [Sweep['dimensions'][0], Sweep['dimensions'][0]];
  const data: [number, number, number | string][] = [];
  for (const o of outs) {
    const v = m.value(o);
    data.push([dx.values.indexOf(o.settings[dx.path]!), dy.values.indexOf(o.settings[dy.path]!), v === null ? '-' : v]);
  }
  const nums = data.map((d) => d[2]).filter((v): v is number => typeof v === 'number');
  const max = Math.max(1, ...nums);
  const h = 90 + 44 * dy.values.length;
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: W, height: h });
  chart.setOption({
    animation: false,
    backgroundColor: 'transparent',
    textStyle: { fontFamily: FONT, fontSize: 11, color: '#374151' },
    grid: { left: 90, right: 16, top: 10, bottom: 70 },
    xAxis: { type: 'category', data: dx.values.map(String), name: short(dx.path), nameLocation: 'middle', nameGap: 24, ...axisStyle() },
    yAxis: { type: 'category', data: dy.values.map(String), name: short(dy.path), nameLocation: 'middle', nameGap: 64, ...axisStyle() },
    visualMap: m.boolean
      ? {
          type: 'piecewise',
          pieces: [
            { value: 1, label: 'pass', color: PASS },
            { value: 0, label: 'fail', color: FAIL },
          ],
          orient: 'horizontal',
          left: 'center',
          bottom: 0,
          textStyle: { fontSize: 10, fontFamily: FONT },
        }
      : {
          type: 'continuous',
          min: 0,
          max,
          inRange: { color: RAMP },
          orient: 'horizontal',
          left: 'center',
          bottom: 0,
          itemHeight: 160,
          itemWidth: 10,
          text: [fmtNum(max), '0'],
          textStyle: { fontSize: 10, fontFamily: FONT },
        },
    series: [
      {
        type: 'heatmap',
        data,
        silent: true,
        itemStyle: { borderColor: '#ffffff', borderWidth: 2 },
        label: {
          show: true,
          fontSize: 11,
          fontFamily: FONT,
          color: '#111827',
          formatter: (p: { value: [number, number, number | string] }) => (typeof p.value[2] === 'number' ? m.format(p.value[2]) : 'n/a'),
        },
      },
    ],
  });
  return { svg: finish(chart, id), cells: data.length };
}

/** One swept setting: the outcome along it (a category axis: the values as given). */
function lines(s: Sweep, m: Metric, outs: Outcome[], id: string): { svg: string; cells: number } {
  const d = s.dimensions[0]!;
  const ys = d.values.map((v) => {
    const o = outs.find((x) => x.settings[d.path] === v);
    return o ? m.value(o) : null;
  });
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: W, height: 240 });
  chart.setOption({
    animation: false,
    backgroundColor: 'transparent',
    textStyle: { fontFamily: FONT, fontSize: 11, color: '#374151' },
    grid: { left: 64, right: 16, top: 16, bottom: 44 },
    xAxis: { type: 'category', data: d.values.map(String), name: short(d.path), nameLocation: 'middle', nameGap: 28, ...axisStyle() },
    yAxis: m.boolean
      ? { type: 'value', min: 0, max: 1, interval: 1, axisLabel: { formatter: (v: number) => (v ? 'pass' : 'fail'), fontSize: 10 } }
      : {
          type: 'value',
          min: 0,
          axisLabel: { formatter: (v: number) => fmtNum(v), fontSize: 10 },
          splitLine: { lineStyle: { color: '#eef0f3' } },
        },
    series: [
      {
        type: 'line',
        data: ys,
        color: m.boolean ? PASS : PALETTE[0],
        symbolSize: 7,
        showSymbol: true,
        connectNulls: false,
        silent: true,
        label: { show: true, fontSize: 10, formatter: (p: { value: number | null }) => (p.value === null ? '' : m.format(p.value)) },
      },
    ],
  });
  return { svg: finish(chart, id), cells: ys.filter((y) => y !== null).length };
}

const CSS = `
body{font-family:${FONT};margin:24px;color:#111827;max-width:1200px}
h1{font-size:20px;margin:0 0 4px}
.sub{color:#4b5563;font-size:13px;margin:0 0 16px}
.banner{padding:10px 14px;border-radius:6px;margin:0 0 16px;font-size:14px}
.banner.ok{background:#ecfdf5;border:1px solid #a7f3d0}
.banner.warn{background:#fff7ed;border:1px solid #fed7aa}
.grid{display:flex;flex-wrap:wrap;gap:16px}
figure.chart{margin:0;border:1px solid #e5e7eb;border-radius:6px;padding:8px;width:${W}px}
figcaption{font-size:13px;font-weight:600;margin:0 0 4px}
table{border-collapse:collapse;font-size:13px;margin:16px 0}
th,td{border-bottom:1px solid #e5e7eb;padding:4px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}
td.pass{color:#166534}td.fail{color:#b91c1c}
code{font-size:12px}
`;

export function renderSweepHtml(s: Sweep): string {
  const outs = s.points.map(outcomeOf);
  const ms = metrics(s);
  const nd = s.dimensions.length;
  const figures =
    nd === 1 || nd === 2
      ? ms.map((m, i) => {
          const { svg, cells } = (nd === 2 ? heatmap : lines)(s, m, outs, `sw${i}`);
          return `<figure class="chart" data-metric="${m.key}" data-kind="${nd === 2 ? 'heatmap' : 'lines'}" data-cells="${cells}"><figcaption>${esc(m.title)}</figcaption>${svg}</figure>`;
        })
      : [`<p class="sub">Charts show one or two swept settings; with ${nd}, the table below has every point.</p>`];
  const head = [...s.dimensions.map((d) => short(d.path)), ...ms.map((m) => m.title), 'time'];
  const rows = outs.map(
    (o) =>
      `<tr>${s.dimensions.map((d) => `<td>${esc(String(o.settings[d.path]))}</td>`).join('')}${OUTCOMES.map((x) => `<td>${fmtNum(o.values[x.key])}</td>`).join('')}<td class="${o.pass && !o.stopped ? 'pass' : 'fail'}">${o.stopped ? 'stopped' : o.pass ? 'pass' : 'fail'}</td><td>${fmtClock(o.seconds)}</td></tr>`,
  );
  const notRun = s.total - s.points.length;
  const banner = s.incomplete
    ? `<div class="banner warn" id="sweep-banner">${s.points.length}/${s.total} points: ${esc(s.incomplete.reason)}</div>`
    : `<div class="banner ok" id="sweep-banner">${s.total} points in ${fmtClock(s.actualSeconds)} (announced ${fmtClock(s.announcedSeconds)})</div>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>notdns sweep ${esc(s.experiment.name)} / ${esc(s.variant)}</title>
<style>${CSS}</style></head><body>
<h1>notdns sweep: ${esc(s.experiment.name)}, variant ${esc(s.variant)}</h1>
<p class="sub">${esc(s.provider)} · ${esc(s.profile)} profile · ${s.dimensions.map((d) => `<code>${esc(d.path)}</code> = ${esc(d.values.join(', '))}`).join(' × ')} · started ${esc(s.startedAt)}</p>
${banner}
<div class="grid">${figures.join('\n')}</div>
<table class="points"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>
${rows.join('\n')}
</tbody></table>
${notRun ? `<p class="sub">${notRun} point(s) not run: ${esc(settingsNotRun(s).join('; '))}</p>` : ''}
<p class="sub">pass/fail: whether all of the ${esc(s.variant)} variant's own expectations held at that point (for a variant that expects the storm, pass means it reproduced).</p>
<p class="sub">Each point is one run of the variant with the settings merged in; its results.json and report.html are in points/&lt;n&gt;/. Announced time = planned step seconds + ${fmtNum(s.overheadPerPointSeconds)} s per point for bring-up and teardown.</p>
</body></html>
`;
}

function settingsNotRun(s: Sweep): string[] {
  const ran = new Set(s.points.map((p) => settingsLabel(p.settings)));
  return expandGrid(s.dimensions)
    .map(settingsLabel)
    .filter((l) => !ran.has(l));
}
