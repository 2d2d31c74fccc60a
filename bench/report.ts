// latest.md / latest.json: one summary table with medians and targets, then each benchmark's own tables and notes.
import type { Machine } from './lib/proc.js';
import type { BenchResult, Row } from './lib/types.js';
import { round } from './lib/stats.js';

export interface Report {
  machine: Machine;
  startedAt: string;
  finishedAt: string;
  totalSeconds: number;
  load1AtEnd: number;
  only?: string[];
  benchmarks: BenchResult[];
}

const BEGIN = '<!-- latest:begin (written by npm run bench) -->';
const END = '<!-- latest:end -->';

/** Replace the block between the markers in a README with the summary of a full run (unchanged if no markers). */
export function spliceReadme(readme: string, rep: Report): string {
  const i = readme.indexOf(BEGIN),
    j = readme.indexOf(END);
  if (i < 0 || j < i) return readme;
  return `${readme.slice(0, i + BEGIN.length)}\n${renderSummary(rep)
    .join('\n')
    .replace(/^## Summary \(medians\)$/m, '')
    .replace(/\n{3,}/g, '\n\n')}\n${readme.slice(j)}`;
}

export function fmt(v: number, unit = ''): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  const d = a === 0 || a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : a >= 0.01 ? 3 : 4;
  const s = round(v, d).toLocaleString('en-US', { maximumFractionDigits: d });
  return unit ? `${s} ${unit}` : s;
}

function status(r: Row): string {
  if (!r.target) return '';
  return r.met ? '✅ met' : '❌ missed';
}

function samples(r: Row): string {
  if (!r.samples || r.samples.length < 2) return '';
  return `n=${r.samples.length}, ${fmt(Math.min(...r.samples))}–${fmt(Math.max(...r.samples))}`;
}

const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The machine lines and the summary table (also pasted into bench/README.md after a full run). */
export function renderSummary(rep: Report): string[] {
  const m = rep.machine;
  const out: string[] = [];
  out.push(`- **Date:** ${rep.startedAt} → ${rep.finishedAt} (total **${fmt(rep.totalSeconds)} s**)`);
  out.push(`- **Machine:** ${m.hostname}, kernel ${m.kernel}, CPU ${m.cpuModel}, ${m.cores} cores, ${m.memGb} GB RAM, Node ${m.node}`);
  out.push(
    `- **Load average at start:** ${m.loadavgAtStart.join(' / ')} (1/5/15 min); at the end: ${rep.load1AtEnd} (1 min). ` +
      `Other people's work on the machine counts in it: with ${m.cores} cores, a load above ${m.cores} means the numbers below are pessimistic.`,
  );
  out.push('', '## Summary (medians)', '');
  out.push('| benchmark | metric | median | target | status | repetitions / range | note |', '|---|---|---:|---|---|---|---|');
  for (const b of rep.benchmarks) {
    if (b.error) out.push(`| ${b.name} | **failed** | | | ❌ | | ${esc(b.error)} |`);
    for (const r of b.rows) {
      out.push(
        `| ${b.name} | ${esc(r.metric)} | ${r.display ?? fmt(r.value, r.unit)} | ${r.target ? esc(r.target.text) : ''} | ${status(r)} | ${samples(r)} | ${esc(r.note ?? '')} |`,
      );
    }
  }
  out.push('', '| benchmark | time taken | load (1 min) at its start | host CPU busy during it |', '|---|---:|---:|---:|');
  for (const b of rep.benchmarks) out.push(`| ${b.name}: ${b.title} | ${fmt(b.seconds)} s | ${b.load1AtStart} | ${fmt(b.hostBusyPct)} % |`);
  return out;
}

export function renderMarkdown(rep: Report): string {
  const out: string[] = [];
  out.push(`# notdns benchmarks: ${rep.only ? `partial run (--only ${rep.only.join(',')})` : 'latest full run'}`, '');
  out.push(...renderSummary(rep));
  for (const b of rep.benchmarks) {
    if (!b.sections?.length && !b.notes?.length) continue;
    out.push('', `## ${b.name}: ${b.title}`, '');
    for (const s of b.sections ?? []) out.push(`**${s.title}**`, '', s.markdown, '');
    for (const n of b.notes ?? []) out.push(`- ${n}`);
  }
  out.push('');
  return out.join('\n');
}
