// The per-variant summary numbers in results.json (`summary`), from the recorded series.
import type { VariantResult } from '../results.js';
import type { TargetContext } from '../expect.js';
import { HEADLINES, summaryKey, summaryOf } from '../probes/catalog.js';
import type { Recorder } from '../probes/recorder.js';
import { isClientMetricProbe } from './client.js';

/** The summary keys are catalog.ts HEADLINES (same arithmetic as the expectations: series.ts). `noClientMetrics`:
 *  the variant's custom client exposes no metrics, so the gRPC numbers are left out (not measured, not 0). */
export function summarize(
  series: VariantResult['series'],
  ctx: TargetContext,
  rec: Recorder,
  noClientMetrics = false,
): Record<string, number> {
  const out: Record<string, number> = { ...summaryOf(series, ctx.floodedNodes), samplesSkipped: rec.skipped };
  if (noClientMetrics)
    for (const h of HEADLINES) if (isClientMetricProbe(h.probe) || (h.per && isClientMetricProbe(h.per))) delete out[summaryKey(h) ?? ''];
  return out;
}
