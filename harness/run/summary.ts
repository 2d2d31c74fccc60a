// The per-variant summary numbers in results.json (`summary`), from the recorded series.
import type { VariantResult } from '../results.js';
import type { TargetContext } from '../expect.js';
import { summaryOf } from '../probes/catalog.js';
import type { Recorder } from '../probes/recorder.js';

/** The summary keys are catalog.ts HEADLINES (same arithmetic as the expectations: series.ts). */
export function summarize(series: VariantResult['series'], ctx: TargetContext, rec: Recorder): Record<string, number> {
  return { ...summaryOf(series, ctx.floodedNodes), samplesSkipped: rec.skipped };
}
