// Prometheus text exposition format (0.0.4) → the harness' WorkloadMetrics (prom-client's JSON form), so that the
// metrics a custom client exposes (docs/client-contract.md) are read like the Alerting Engine's. Only what the
// recorder needs: sample name, labels, value; `# TYPE` lines give the family's type; a summary's or histogram's
// _sum/_count/_bucket samples stay in their family with metricName set (metricSum ignores them, as for prom-client).
import type { MetricFamily, WorkloadMetrics } from '../../workloads/common/metrics-types.js';

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/g;
const SUFFIXES = ['_bucket', '_count', '_sum'] as const;

function parseValue(s: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

export function parsePromText(text: string): WorkloadMetrics {
  const families = new Map<string, MetricFamily>();
  const family = (name: string, type = 'untyped'): MetricFamily => {
    let f = families.get(name);
    if (!f) {
      f = { name, help: '', type, values: [] };
      families.set(name, f);
    }
    return f;
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(TYPE|HELP)\s+(\S+)\s*(.*)$/.exec(line);
      if (m?.[1] === 'TYPE') family(m[2]!).type = m[3]!.trim();
      else if (m?.[1] === 'HELP') family(m[2]!).help = m[3]!;
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const [, sample, labelText, valueText] = m;
    const labels: Record<string, string> = {};
    for (const l of (labelText ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    // a sample belongs to the family its name starts with when that family was declared (summary x: x_sum, x_count)
    let name = sample!;
    for (const s of SUFFIXES) {
      const base = sample!.slice(0, -s.length);
      if (sample!.endsWith(s) && families.has(base) && families.get(base)!.type !== 'untyped') {
        name = base;
        break;
      }
    }
    const f = family(name);
    f.values.push({ value: parseValue(valueText!), labels, ...(name !== sample ? { metricName: sample } : {}) });
  }
  return [...families.values()].filter((f) => f.values.length > 0);
}
