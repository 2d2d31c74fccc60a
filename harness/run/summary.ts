// The per-variant summary numbers in results.json (`summary`), from the recorded series.
import type { VariantResult } from '../results.js';
import { statOf, type TargetContext } from '../expect.js';
import type { Recorder } from '../probes/recorder.js';

export function summarize(series: VariantResult['series'], ctx: TargetContext, rec: Recorder): Record<string, number> {
  // the same counter arithmetic (resets, gaps) as the expectations: expect.ts statOf over the whole run
  const all = { from: -Infinity, to: Infinity };
  const tot = (probe: string, only?: string[]) => series.filter((s) => s.probe === probe && (!only || only.includes(s.target)))
    .reduce((a, s) => a + (statOf(s, 'total', all) ?? 0), 0);
  const peak = (probe: string) => {
    const s = series.find((x) => x.probe === probe);
    return Math.max(0, (s && statOf(s, 'peakRate', all)) ?? 0);
  };
  return {
    synToOldPodIpsTotal: tot('syn.toOldPodIps'), synToOldPodIpsPeakPerSecond: Math.round(peak('syn.toOldPodIps')),
    allowanceExceededFlooded: tot('ena.allowanceExceeded', ctx.floodedNodes), allowanceExceededAll: tot('ena.allowanceExceeded'),
    martianDrops: tot('martian.drops'), dnsErrors: tot('dns.errors'), dnsLookups: tot('dns.lookups'),
    dnsCheckFailed: tot('dnscheck.failed'), grpcErrors: tot('grpc.errors'), grpcCalls: tot('grpc.calls'),
    connectAttempts: tot('grpc.connectAttempts'), estabFailed: tot('estab.failed'), samplesSkipped: rec.skipped,
  };
}
