// The `prometheus` probe kind: an expectation read from a Prometheus server the user names (prometheus.url in the
// experiment, or `notdns run --prometheus-url`). After a variant ran, each of its promql expectations is
// range-queried (/api/v1/query_range, step 1 s) over the expectation's window (from the run's markers, mapped to
// wall-clock time), the result's series are summed into one Series and judged by the same arithmetic as every
// other expectation (series.ts statOf, expect.ts holds). A promql stop condition (`abort: [{promql, ...}]`) is
// judged the same way while the run is on: PromqlStopWatch asks every PROMQL_STOP_INTERVAL_MS (one query in flight,
// a timeout shorter than the interval) over the variant's start..now. Node's fetch, no dependency.
import { NotdnsError } from '../errors.js';
import { holds, windowOf } from '../expect.js';
import { log } from '../log.js';
import type { ExpectationResult, Series, VariantResult } from '../results.js';
import { statOf, sumSeries } from '../series.js';
import { type Experiment, PrometheusUrlSchema, type PromqlExpectation, type PromqlStopCondition } from '../spec/schema.js';

/** The Prometheus URL of a run: --prometheus-url over prometheus.url; refused when promql expectations or promql
 *  stop conditions have none. */
export function resolvePrometheusUrl(
  e: Pick<Experiment, 'name' | 'prometheus'> & Partial<Pick<Experiment, 'abort' | 'variants'>>,
  flag?: string,
): string | undefined {
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
  const stops = promqlStopConditions(e).length;
  if (stops && !url)
    throw new NotdnsError(`experiment ${e.name} has ${stops} promql stop condition(s) (abort:) but no Prometheus server to ask.`, {
      kind: 'usage',
      hint: "Give --prometheus-url http://HOST:PORT, or prometheus: { url: 'http://127.0.0.1:9090' } in the experiment.",
    });
  if (n && !url)
    throw new NotdnsError(`experiment ${e.name} has ${n} promql expectation(s) but no Prometheus server to ask.`, {
      kind: 'usage',
      hint: "Give --prometheus-url http://HOST:PORT, or prometheus: { url: 'http://127.0.0.1:9090' } in the experiment.",
    });
  return url;
}

/** The promql stop conditions of an experiment and of its variants. */
export function promqlStopConditions(e: Partial<Pick<Experiment, 'abort' | 'variants'>>): PromqlStopCondition[] {
  const all = [...(e.abort ?? []), ...Object.values(e.variants ?? {}).flatMap((v) => v.abort ?? [])];
  return all.filter((c): c is PromqlStopCondition => 'promql' in c);
}

export function promqlLabel(
  x: Pick<PromqlExpectation, 'stat' | 'promql' | 'op' | 'value'> & { window?: PromqlExpectation['window'] },
): string {
  return `${x.stat} promql(${x.promql})${!x.window || x.window === 'all' ? '' : ` (${x.window})`} ${x.op} ${x.value}`;
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

// ---- promql stop conditions, live (issue #14) ----

/** How often the promql stop conditions are asked (ms); each query times out before the next round. */
export const PROMQL_STOP_INTERVAL_MS = 5000;
export const PROMQL_STOP_TIMEOUT_MS = 4000;
/** A condition's query failing this many rounds in a row is a broken harness (exit 3), like a probe reader. */
export const PROMQL_STOP_MAX_FAILURES = 3;

export interface PromqlTrip {
  condition: PromqlStopCondition;
  value: number;
}

/**
 * Asks Prometheus for each promql stop condition every `intervalMs` (one round at a time: a round still running
 * skips the tick), over the variant's start (`clock.epochMs`, t = 0) to now, and judges it like a promql expectation
 * (sumSeries, statOf, holds). The first condition that holds calls `trip` once; `maxFailures` failed queries of one
 * condition in a row call `broken` with a harness error naming the query and the error. No data = no trip.
 */
export class PromqlStopWatch {
  private timer?: NodeJS.Timeout;
  private busy = false;
  private done = false;
  private readonly failures: number[];
  /** Rounds run and queries failed (for results and tests). */
  rounds = 0;
  failed = 0;

  constructor(
    private readonly url: string,
    private readonly conditions: readonly PromqlStopCondition[],
    private readonly clock: { readonly epochMs: number; now(): number },
    private readonly on: { trip(t: PromqlTrip): void; broken(err: NotdnsError): void },
    private readonly opts: { intervalMs?: number; timeoutMs?: number; maxFailures?: number } = {},
  ) {
    this.failures = conditions.map(() => 0);
  }

  start(): void {
    if (this.conditions.length === 0 || this.timer) return;
    this.timer = setInterval(() => void this.round(), this.opts.intervalMs ?? PROMQL_STOP_INTERVAL_MS);
  }

  stop(): void {
    this.done = true;
    if (this.timer) clearInterval(this.timer);
  }

  /** One round: every condition once, in order. */
  async round(): Promise<void> {
    if (this.busy || this.done) return;
    this.busy = true;
    this.rounds++;
    try {
      const now = this.clock.now();
      for (const [i, c] of this.conditions.entries()) {
        let measured: number | null;
        try {
          const timeoutMs = this.opts.timeoutMs ?? PROMQL_STOP_TIMEOUT_MS;
          const s = sumSeries(await queryRange(this.url, c.promql, 0, now, this.clock.epochMs, { kind: c.kind, timeoutMs }));
          measured = s ? statOf(s, c.stat, { from: 0, to: now }) : null;
          this.failures[i] = 0;
        } catch (e) {
          this.failed++;
          const n = ++this.failures[i]!;
          const msg = (e as Error).message;
          log.warn({ promql: c.promql, inARow: n, err: msg }, 'promql stop condition query failed');
          if (n >= (this.opts.maxFailures ?? PROMQL_STOP_MAX_FAILURES) && !this.done) {
            this.stop();
            this.on.broken(
              new NotdnsError(
                `the promql stop condition query ${JSON.stringify(c.promql)} failed ${n} times in a row (${this.url}): ${msg}. ` +
                  'This is a broken harness, not a measurement: the run stopped, and no expectation was evaluated.',
                {
                  kind: 'harness',
                  cause: e,
                  hint: 'Check that the Prometheus server answers (curl URL/-/ready) and that the query is valid PromQL.',
                },
              ),
            );
          }
          continue;
        }
        if (this.done) return;
        if (holds(measured, c.op, c.value)) {
          this.stop();
          this.on.trip({ condition: c, value: measured! });
          return;
        }
      }
    } finally {
      this.busy = false;
    }
  }
}
