// Issue 14's "done when", on the lab (one small run each):
//  1. a stop condition trips mid-rollout (`syn.toOldPodIps total > 50` on a tiny spec): exit 4, results.json says
//     which condition, when and the value; the series show the fault removed within 2 s of the trip (the Alerting
//     Engine pod's TcpActiveOpens stops increasing); teardown leaves nothing;
//  2. `notdns stop <id>` from another process takes the same path (exit 4, stopped.by = "notdns stop");
//  3. SIGKILL of the harness mid-rollout: the dead-man lease stops the SYN flood and the watchdog detaches the ENA
//     simulator, each within 10 s of the kill (measured here by polling the lab), then `notdns down --all` cleans up.
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../harness/exec.js';
import { parseNetstat } from '../../harness/probes/procnet.js';
import { listNamespaces } from '../../harness/providers/lab/lab.js';
import { increases } from '../../harness/series.js';
import type { Results } from '../../harness/results.js';
import { cliSync, describeLeftovers, isClean, leftovers, sleep, startCli, taggedProcesses, tempDir, until, writeSpec } from './helpers.js';

/** A tiny flood: 2 nodes, 1+1 pods, 20 channels with the talk's 200/300 ms backoff (1 s connect timeout). */
function floodSpec(name: string, opts: { observe: number; abort?: string; ena?: string }): string {
  return `name: ${name}
description: tiny flood for the stop-condition tests
topology: { nodes: 2, serverNodes: 1 }
ena: ${opts.ena ?? '{ enabled: false }'}
workloads:
  metricsService: { replicas: 1, gracefulStopSeconds: 1, dnsLookupsPerSecond: 0 }
  alertingEngine: { instances: 1, channelsPerBackend: 20, dnsPropagationSeconds: 30, reconnect: { initialMs: 200, maxMs: 300, connectTimeoutMs: 1000 } }
steps: [{ steady: 2 }, { rollout: { batch: 1 } }, { observe: ${opts.observe} }]
variants: { only: {} }
expect:
  only: [{ probe: 'grpc.calls', stat: 'total', op: '>=', value: 1 }]
${opts.abort ? `abort:\n  - ${opts.abort}\n` : ''}`;
}

async function results(dir: string): Promise<Results> {
  return JSON.parse(await readFile(join(dir, 'results.json'), 'utf8')) as Results;
}

/** TcpActiveOpens of a namespace (the Alerting Engine pod's: one per connect, i.e. per first SYN). */
async function activeOpens(ns: string): Promise<number | undefined> {
  const r = await run('ip', ['netns', 'exec', ns, 'cat', '/proc/net/snmp'], { reject: false });
  return r.exitCode === 0 ? parseNetstat(r.stdout).TcpActiveOpens : undefined;
}

/** ENA simulator filters (bpf programs ena_ingress/ena_egress) on the uplinks of the run's nodes. */
async function enaFilters(id: string): Promise<number> {
  let n = 0;
  for (const ns of (await listNamespaces()).filter((x) => new RegExp(`^nd-${id}-node\\d+$`).test(x))) {
    for (const dev of ['ens5', 'ens6']) {
      for (const dir of ['ingress', 'egress']) {
        const r = await run('tc', ['-n', ns, 'filter', 'show', 'dev', dev, dir], { reject: false });
        n += (r.stdout.match(/ena_(ingress|egress)/g) ?? []).length;
      }
    }
  }
  return n;
}

async function assertCleanAfter(ids: string[], tag: string): Promise<void> {
  // the watchdog exits by itself once the teardown removed the lease
  await until('processes of the run to be gone', async () => (await taggedProcesses(tag)).length === 0, 5000).catch(() => undefined);
  const left = await leftovers(ids, tag);
  assert.ok(isClean(left), `teardown left: ${describeLeftovers(left)}`);
}

describe('stop conditions, notdns stop and the dead-man switch on the lab @root', function () {
  this.timeout(180_000);
  let dir: string;
  before(async () => {
    dir = await tempDir('notdns-stop-');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a stop condition trips mid-rollout: the fault is removed within 2 s, exit 4, results.json says why, teardown clean', async () => {
    const spec = await writeSpec(
      dir,
      'trip.yaml',
      floodSpec('stop-trip', { observe: 30, abort: `{ probe: syn.toOldPodIps, stat: total, op: '>', value: 50, why: 'tiny budget' }` }),
    );
    const out = join(dir, 'trip');
    const r = startCli(['run', spec, '--out', out]);
    const e = await r.exited;
    assert.equal(e.code, 4, `exit code 4 (stopped); stderr:\n${r.stderr.slice(-2500)}`);
    assert.match(
      r.stdout,
      /STOPPED: variant only at t=[\d.]+s by condition\n {2}stop if total SYNs to old pod IPs > 50 \(measured \d+\)\n {2}fault removed at t=/,
    );
    assert.match(
      await readFile(join(out, 'junit.xml'), 'utf8'),
      /<failure message="stopped at t=[\d.]+s by condition: stop if total SYNs to old pod IPs &gt; 50/,
    );
    const res = await results(out);
    const v = res.variants[0]!;
    const s = v.stopped!;
    assert.ok(s, 'results.json: variant.stopped');
    assert.equal(s.by, 'condition');
    assert.ok(s.value! > 50, `the measured value that tripped it: ${s.value}`);
    assert.ok(
      v.markers.some((m) => m.kind === 'stop-condition' && m.t === s.t),
      'a stop-condition marker on the time axis',
    );
    assert.ok(
      v.markers.some((m) => m.kind === 'step' && m.label.startsWith('rollout')) &&
        s.t > v.markers.find((m) => m.label.startsWith('rollout'))!.t,
      'tripped mid-rollout',
    );
    assert.notEqual(s.faultRemovedAt, null, `fault removed: ${s.detail}`);
    assert.ok(s.faultRemovedAt! - s.t <= 2, `fault removed ${s.faultRemovedAt! - s.t} s after the trip`);
    assert.equal(res.verdict.pass, false);
    assert.ok(res.verdict.expectations.every((x) => x.na?.startsWith('not evaluated: the variant was stopped')));
    // the series: the Alerting Engine pod's connects (one SYN each) stop within 2 s of the trip, and stay stopped
    const opens = v.series.filter((x) => x.probe === 'tcp.activeOpens' && x.target.startsWith('ae-'));
    assert.ok(opens.length, 'tcp.activeOpens of the Alerting Engine pod was recorded');
    const inc = opens.flatMap((x) => increases(x.points)).filter((x) => x.d > 0);
    const lastSyn = Math.max(...inc.map((x) => x.t));
    const after = opens.flatMap((x) => x.points.filter(([t]) => t > s.t + 2));
    console.log(
      `      tripped at t=${s.t}s (measured ${s.value}), fault removed at t=${s.faultRemovedAt}s (${s.detail}); ` +
        `last increase of the AE pod's TcpActiveOpens seen at t=${lastSyn}s (sample interval 1 s), ${after.length} samples after trip+2s; ` +
        `increases from 3 s before the trip: ${opens
          .flatMap((x) => increases(x.points))
          .filter((x) => x.t > s.t - 3)
          .map((x) => `t=${x.t}:+${x.d}`)
          .join(' ')}`,
    );
    assert.ok(
      lastSyn - s.t <= 2.3,
      `the last SYN burst ended by the sample ${lastSyn - s.t} s after the trip (≤ 2 s, +0.3 s sampling jitter)`,
    );
    assert.ok(after.length >= 1, 'samples after the removal show the flood is gone');
    await assertCleanAfter(r.ids(), r.tag);
  });

  it('`notdns stop <id>` from another process: same path, by "notdns stop", exit 4', async () => {
    const spec = await writeSpec(dir, 'stop.yaml', floodSpec('stop-cmd', { observe: 30 }));
    const out = join(dir, 'stopcmd');
    const r = startCli(['run', spec, '--out', out]);
    await r.waitForLine(/✔ .*rollout of/, 90_000);
    const [id] = r.ids();
    const t0 = Date.now();
    const s = cliSync(['stop', id!]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /asked harness pid \d+ to stop variant only/);
    const e = await r.exited;
    assert.equal(e.code, 4, r.stderr.slice(-2000));
    const st = (await results(out)).variants[0]!.stopped!;
    assert.equal(st.by, 'notdns stop');
    assert.equal(st.value, null);
    assert.notEqual(st.faultRemovedAt, null);
    console.log(`      notdns stop → stopped at t=${st.t}s, fault removed at t=${st.faultRemovedAt}s, exit 4 after ${Date.now() - t0} ms`);
    await assertCleanAfter(r.ids(), r.tag);
    assert.equal(cliSync(['stop', id!]).code, 2, 'a run that is no longer running: bad usage');
  });

  it('SIGKILL of the harness mid-rollout: no SYN flood and no ENA simulator left after the lease (≤ 10 s)', async () => {
    const spec = await writeSpec(
      dir,
      'kill.yaml',
      floodSpec('stop-kill', { observe: 40, ena: '{ enabled: true, conntrackAllowance: 200 }' }),
    );
    const out = join(dir, 'kill');
    const r = startCli(['run', spec, '--out', out]);
    await r.waitForLine(/✔ .*rollout of/, 90_000);
    const [id] = r.ids();
    const aeNs = (await listNamespaces()).filter((n) => n.startsWith(`nd-${id}-ae-`));
    assert.equal(aeNs.length, 1, 'one Alerting Engine pod namespace');
    // the flood is on: connects keep coming
    const a0 = (await activeOpens(aeNs[0]!))!;
    await sleep(1500);
    const a1 = (await activeOpens(aeNs[0]!))!;
    assert.ok(a1 - a0 > 5, `flooding before the kill (${a1 - a0} connects in 1.5 s)`);
    assert.ok((await enaFilters(id!)) > 0, 'ENA simulator attached before the kill');
    r.child.kill('SIGKILL');
    await r.exited;
    const killedAt = Date.now();
    let last = (await activeOpens(aeNs[0]!))!,
      lastSynMs = 0,
      enaGoneMs: number | undefined;
    // poll for 14 s: when did the connects stop, when were the ENA filters gone
    while (Date.now() - killedAt < 14_000) {
      const a = await activeOpens(aeNs[0]!);
      if (a !== undefined && a > last) {
        last = a;
        lastSynMs = Date.now() - killedAt;
      }
      if (enaGoneMs === undefined && (await enaFilters(id!)) === 0) enaGoneMs = Date.now() - killedAt;
      await sleep(200);
    }
    const wlog = await readFile(join(out, 'logs', 'only', 'watchdog.log'), 'utf8').catch(() => '');
    console.log(
      `      SIGKILL mid-rollout: last SYN (TcpActiveOpens increase) ${lastSynMs} ms after the kill, ENA filters gone after ${enaGoneMs} ms; ` +
        `watchdog: ${wlog
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l).event)
          .join(' → ')}`,
    );
    assert.ok(lastSynMs <= 10_000, `connects stopped ${lastSynMs} ms after the kill (lease 5 s)`);
    assert.ok(enaGoneMs !== undefined && enaGoneMs <= 10_000, `ENA filters gone ${enaGoneMs} ms after the kill`);
    assert.match(wlog, /"harness-gone"/);
    const down = cliSync(['down', '--all']);
    assert.equal(down.code, 0, down.stderr);
    await assertCleanAfter([id!], r.tag);
  });
});
