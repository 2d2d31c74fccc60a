#!/usr/bin/env node
// SYN/s to the old pod IPs and the clients' connect attempts/s (tcp.activeOpens of the client pods) in the two
// phases of a rollout, per variant of a results.json: `refused` = both old pods in their graceful stop (listener
// closed: every SYN gets a RST), `black hole` = both deleted and the clients not yet told (SYNs dropped as
// martians, until dnsPropagationSeconds after the stop). Used for README.md "C-core vs the grpc-js emulation".
// Usage: node workloads/python-client/phase-rates.mjs results.json [more results.json...]
import { readFileSync } from 'node:fs';

const at = (points, t) => {
  // the counter's value at time t, linearly interpolated between samples
  for (let i = 1; i < points.length; i++) {
    const [t0, v0] = points[i - 1],
      [t1, v1] = points[i];
    if (t >= t0 && t <= t1) return v0 + ((v1 - v0) * (t - t0)) / (t1 - t0);
  }
  return NaN;
};
const rate = (series, a, b) => series.reduce((sum, s) => sum + (at(s.points, b) - at(s.points, a)), 0) / (b - a);

const rows = [];
for (const file of process.argv.slice(2)) {
  const r = JSON.parse(readFileSync(file, 'utf8'));
  for (const v of r.variants) {
    const old = v.replacedPods;
    if (!old.length || old.some((p) => p.deletedAt === null)) continue;
    const prop = v.config.workloads.alertingEngine.dnsPropagationSeconds;
    const refused = [Math.max(...old.map((p) => p.stoppingAt)), Math.min(...old.map((p) => p.deletedAt))];
    const hole = [Math.max(...old.map((p) => p.deletedAt)), Math.min(...old.map((p) => p.stoppingAt)) + prop];
    const syn = v.series.filter((s) => s.probe === 'syn.toOldPodIps');
    const opens = v.series.filter((s) => s.probe === 'tcp.activeOpens' && s.target.startsWith('ae-'));
    const f = (x) => (Number.isFinite(x) ? Math.round(x) : 'n/a');
    rows.push({
      run: r.runId,
      variant: v.name,
      client: v.config.workloads.client ? v.config.workloads.client.command?.join(' ') : 'grpc-js Alerting Engine',
      channels: v.config.workloads.alertingEngine.instances * v.config.workloads.alertingEngine.channelsPerBackend,
      refusedWindow: refused.map((x) => x.toFixed(1)).join('–'),
      refusedSynPerS: f(rate(syn, ...refused)),
      refusedConnectsPerS: f(rate(opens, ...refused)),
      holeWindow: hole.map((x) => x.toFixed(1)).join('–'),
      holeSynPerS: f(rate(syn, ...hole)),
      holeConnectsPerS: f(rate(opens, ...hole)),
      synTotal: v.summary.synToOldPodIpsTotal,
      allowanceExceeded: v.summary.allowanceExceededFlooded,
      dnsErrors: v.summary.dnsErrors,
    });
  }
}
console.table(rows);
