// The shape every benchmark returns; run.ts adds timing and the machine's load, report.ts renders it.

export interface Target {
  /** Human text, e.g. "< 3 s". */
  text: string;
  /** The measured median compared against `value` with `op`. */
  op: '<' | '<=' | '>=' | '>' | '==';
  value: number;
}

export interface Row {
  /** What was measured, e.g. "up: 3 nodes + 10 pods". */
  metric: string;
  /** The median of `samples` (or the single measurement). */
  value: number;
  unit: string;
  /** Shown instead of value + unit (e.g. "pass 1 of 2 runs"). */
  display?: string;
  /** Every repetition, when there were several. */
  samples?: number[];
  target?: Target;
  /** Filled in by run.ts from target and value. */
  met?: boolean;
  note?: string;
}

export interface Section {
  title: string;
  /** Markdown (usually a table). */
  markdown: string;
}

export interface BenchOutput {
  rows: Row[];
  sections?: Section[];
  notes?: string[];
  /** Every raw number, for latest.json. */
  raw?: unknown;
}

export interface BenchResult extends BenchOutput {
  name: string;
  title: string;
  seconds: number;
  /** 1-minute load average when the benchmark started (other people's work on the machine included). */
  load1AtStart: number;
  /** Share of all CPUs busy during the benchmark (its own work included), %. */
  hostBusyPct: number;
  error?: string;
}

export interface BenchContext {
  /** performance.now() by which the benchmark should be done (it checks between repetitions). */
  deadline: number;
  log(line: string): void;
}

export interface Benchmark {
  name: string;
  title: string;
  /** Planned time, seconds (the whole suite must stay under 10 minutes on 2 cores). */
  budgetSeconds: number;
  run(ctx: BenchContext): Promise<BenchOutput>;
}

export function checkTarget(t: Target, v: number): boolean {
  switch (t.op) {
    case '<':
      return v < t.value;
    case '<=':
      return v <= t.value;
    case '>=':
      return v >= t.value;
    case '>':
      return v > t.value;
    case '==':
      return v === t.value;
  }
}
