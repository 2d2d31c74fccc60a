// The step kinds of an experiment as one table: how long a step is planned to take, how --fast scales it, and
// what it does. A new step kind is one member of StepSchema (spec/schema.ts) plus one entry here.
import type { Step, VariantConfig } from '../spec/schema.js';
import type { FaultPoint } from '../faults.js';

/** The step kinds, as the keys of their objects ({steady: 15} is a `steady` step). */
export type StepKind = Step extends infer S ? (S extends unknown ? keyof S : never) : never;
type StepOf<K extends StepKind> = Extract<Step, Record<K, unknown>>;

/** What a running step can do: a window marker, waiting, the rollout (implemented by the variant runner). */
export interface StepRuntime {
  mark(label: string): void;
  sleep(seconds: number): Promise<void>;
  rollout(batch: number): Promise<void>;
}

export interface StepKindDef<K extends StepKind> {
  /** Planned seconds (the bound of every load loop is planned time + 120 s). */
  seconds(s: StepOf<K>, cfg: VariantConfig): number;
  /** The step with its durations multiplied by k (--fast). */
  scale(s: StepOf<K>, k: (seconds: number) => number): StepOf<K>;
  /** Fault-injection point at the start of the step (test/reliability); the rollout's is inside it. */
  fault?: FaultPoint;
  run(s: StepOf<K>, rt: StepRuntime): Promise<void>;
}

/** A step that only lets time pass; its marker opens the window of the same name (expect.ts windowOf). */
function waiting<K extends 'steady' | 'observe' | 'recover'>(kind: K): StepKindDef<K> {
  const secs = (s: StepOf<K>) => (s as Record<K, number>)[kind];
  return {
    seconds: secs,
    scale: (s, k) => ({ [kind]: k(secs(s)) }) as StepOf<K>,
    fault: kind,
    run: async (s, rt) => {
      rt.mark(kind);
      await rt.sleep(secs(s));
    },
  };
}

export const STEP_KINDS: { [K in StepKind]: StepKindDef<K> } = {
  steady: waiting('steady'),
  observe: waiting('observe'),
  // like observe, but its time is the `recovery` window: has the system come back (flows expired)?
  recover: waiting('recover'),
  rollout: {
    // every batch waits out a graceful stop, plus ~2 s to start the new pods
    seconds: (s, cfg) =>
      cfg.workloads.metricsService.gracefulStopSeconds * Math.ceil(cfg.workloads.metricsService.replicas / s.rollout.batch) + 2,
    scale: (s) => s,
    run: async (s, rt) => {
      rt.mark('rollout');
      await rt.rollout(s.rollout.batch);
      rt.mark('rollout done');
    },
  },
};

export function stepKind(s: Step): StepKind {
  return Object.keys(s)[0] as StepKind;
}

/** The table entry of a step, typed for that step. */
export function stepDef(s: Step): StepKindDef<StepKind> {
  return STEP_KINDS[stepKind(s)] as unknown as StepKindDef<StepKind>;
}

/** Planned duration of a variant's steps in seconds. */
export function plannedSeconds(cfg: VariantConfig): number {
  return cfg.steps.reduce((a, s) => a + stepDef(s).seconds(s as never, cfg), 0);
}
