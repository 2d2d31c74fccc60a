// What the harness reads from a workload: prom-client's registry as JSON (GET /metrics.json).
export interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}
export interface MetricFamily {
  name: string;
  help: string;
  type: string;
  values: MetricValue[];
  aggregator?: string;
}
export type WorkloadMetrics = MetricFamily[];

/** Sum of all values of a metric family (optionally only those whose labels match). */
export function metricSum(m: WorkloadMetrics, name: string, labels: Record<string, string> = {}): number {
  const f = m.find((x) => x.name === name);
  if (!f) return 0;
  return f.values
    .filter((v) => Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val))
    .filter((v) => v.metricName === undefined || v.metricName === name)
    .reduce((a, v) => a + (Number.isFinite(v.value) ? v.value : 0), 0);
}

/** A quantile of a prom-client Summary (e.g. 0.99), NaN when it has no data. */
export function metricQuantile(m: WorkloadMetrics, name: string, q: number): number {
  const f = m.find((x) => x.name === name);
  const v = f?.values.find((x) => Number(x.labels.quantile) === q);
  return v ? v.value : NaN;
}
