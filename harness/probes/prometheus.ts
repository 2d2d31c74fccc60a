// The `prometheus` probe kind: an expectation read from a Prometheus server the user names (prometheus.url in the
// experiment, or `notdns run --prometheus-url`). After a variant ran, each of its promql expectations is
// range-queried (/api/v1/query_range, step 1 s) over the expectation's window (from the run's markers, mapped to
// wall-clock time), the result's series are summed into one Series and judged by the same arithmetic as every
// other expectation (series.ts statOf, expect.ts holds). Post-run only: a promql stop condition is not supported
// (a stop condition is checked after every sample on the recorder's own series). Node's fetch, no dependency.
import { NotdnsError } from '../errors.js';
import { holds, windowOf } from '../expect.js';
import type { ExpectationResult, Series, VariantResult } from '../results.js';
import { statOf, sumSeries } from '../series.js';
import { type Experiment, PrometheusUrlSchema, type PromqlExpectation } from '../spec/schema.js';

/** The Prometheus URL of a run: --prometheus-url over prometheus.url; refused when promql expectations have none. */
export function resolvePrometheusUrl(e: Pick<Experiment, 'name' | 'prometheus'>, flag?: string): string | undefined {
  if (flag !== undefined) {
    const r = PrometheusUrlSchema.safeParse(flag);
    if (!r.success)
      throw new NotdnsError(`--prometheus-url ${JSON.stringify(flag)}: ${r.error.issues[0]!.message}`, {
        kind: 'usage',
        hint: 'Name the server, e.g. --prometheus-url http://127.0.0.1:9090',
      });
    return flag.replace(/\/+$/, '');
  }
  const url = e.prometheus?.url?.replace(/\/+$/, '');
  const n = Object.values(e.prometheus?.expect ?? {}).flat().length;
  if (n && !url)
    throw new NotdnsError(`experiment ${e.name} has ${n} promql expectation(s) but no Prometheus server to ask.`, {
      kind: 'usage',
      hint: "Give --prometheus-url http://HOST:PORT, or prometheus: { url: 'http://127.0.0.1:9090' } in the experiment.",
    });
  return url;
}

export function promqlLabel(x: PromqlExpectation): string {
  return `${x.stat} promql(${x.promql})${x.window === 'all' ? '' : ` (${x.window})`} ${x.op} ${x.value}`;
}

interface MatrixResponse {
  status: 'success' | 'error';
  error?: string;
  errorType?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; values: [number, string][] }[] };
}

/** One range query; its series with t in seconds since `t0Ms` (the variant's time axis). */
export async function queryRange(
  url: string,
  expr: string,
  from: number,
  to: number,
  t0Ms: number,
  opts: { kind?: Series['kind']; timeoutMs?: number } = {},
): Promise<Series[]> {
  const start = t0Ms / 1000 + from,
    end = t0Ms / 1000 + to;
  const q = new URLSearchParams({ query: expr, start: start.toFixed(3), end: end.toFixed(3), step: '1' });
  const res = await fetch(`${url}/api/v1/query_range?${q}`, { signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) });
  const body = (await res.json().catch(() => undefined)) as MatrixResponse | undefined;
  if (body?.status !== 'success' || !body.data)
    throw new Error(`Prometheus ${url} answered ${res.status}${body?.error ? `: ${body.errorType ?? 'error'}: ${body.error}` : ''}`);
  if (body.data.resultType !== 'matrix') throw new Error(`Prometheus answered a ${body.data.resultType}, not a matrix`);
  return body.data.result.map((r) => ({
    probe: 'promql',
    target: JSON.stringify(r.metric),
    unit: '',
    kind: opts.kind ?? 'gauge',
    points: r.values.map(([ts, v]) => [Math.round((ts - t0Ms / 1000) * 1000) / 1000, Number(v)] as [number, number]),
  }));
}

/** Judge a variant's promql expectations; a failed query is a failed expectation that says why (never a pass). */
export async function evaluatePromql(
  url: string,
  variant: VariantResult,
  t0Ms: number,
  list: readonly PromqlExpectation[],
): Promise<ExpectationResult[]> {
  const out: ExpectationResult[] = [];
  for (const x of list) {
    const w = windowOf(variant, x.window);
    let measured: number | null = null,
      detail = x.why;
    try {
      const s = sumSeries(await queryRange(url, x.promql, w.from, w.to, t0Ms, { kind: x.kind }));
      measured = s ? statOf(s, x.stat, w) : null;
      if (measured === null) detail = `no data from Prometheus for this window${x.why ? `; ${x.why}` : ''}`;
    } catch (e) {
      detail = `query failed: ${(e as Error).message}${x.why ? `; ${x.why}` : ''}`;
    }
    out.push({
      variant: variant.name,
      label: promqlLabel(x),
      probe: 'promql',
      stat: x.stat,
      op: x.op,
      threshold: x.value,
      measured,
      pass: holds(measured, x.op, x.value),
      detail,
    });
  }
  return out;
}
