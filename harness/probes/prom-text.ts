// The Prometheus text exposition format, read just enough for the node probes that come from an agent's own
// /metrics page (Cilium's agent, node-local-dns's CoreDNS): the sum of one metric's samples whose labels match.
// prom-client (the workloads' registry) writes this format but does not read it, hence this small reader.

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/g;

function unescapeLabel(v: string): string {
  return v.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseValue(v: string): number {
  if (v === '+Inf' || v === 'Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return Number(v); // NaN for "NaN" (and for anything unreadable: such lines are skipped)
}

/** Every sample of a text exposition (comments and blank lines skipped; unreadable lines ignored). */
export function parsePromText(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m || (m[3] !== 'NaN' && Number.isNaN(parseValue(m[3]!)))) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = unescapeLabel(l[2]!);
    out.push({ name: m[1]!, labels, value: parseValue(m[3]!) });
  }
  return out;
}

/**
 * Sum of a metric's finite samples whose labels equal `labels` (0 when there is none: a counter with labels
 * appears only once it has counted something). `requirePrefix`: throw unless some sample's name starts with it,
 * so that a page that is not the agent's (an empty reply, an error page) is a failed read, not a zero.
 */
export function promSum(text: string, name: string, labels: Record<string, string> = {}, requirePrefix?: string): number {
  const samples = parsePromText(text);
  if (requirePrefix && !samples.some((s) => s.name.startsWith(requirePrefix)))
    throw new Error(`no ${requirePrefix}* metric in the page read (${text.length} bytes): not the expected /metrics`);
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name || !Number.isFinite(s.value)) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}
