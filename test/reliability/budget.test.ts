// A harness-side budget (`abort: [{ budget: maxFaultSeconds, value: N }]`) trips on the lab through the same path as
// every stop condition (test/reliability/stop.test.ts): fault removed first, exit 4, results.json says which
// budget, when and what was spent; teardown leaves nothing. One tiny run (2 nodes, 1+1 pods, no ENA simulator).
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Results } from '../../harness/results.js';
import { describeLeftovers, isClean, leftovers, startCli, taggedProcesses, tempDir, until, writeSpec } from './helpers.js';

describe('a budget stops the run on the lab @root', function () {
  this.timeout(180_000);
  let dir: string;
  before(async () => {
    dir = await tempDir('notdns-budget-');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('maxFaultSeconds 4: stopped at t >= 4 s by the budget, fault removed, exit 4, clean', async () => {
    const spec = await writeSpec(
      dir,
      'budget.yaml',
      `name: budget-trip
description: tiny run whose fault budget is spent before its steps end
topology: { nodes: 2, serverNodes: 1 }
ena: { enabled: false }
workloads:
  metricsService: { replicas: 1, gracefulStopSeconds: 1, dnsLookupsPerSecond: 0 }
  alertingEngine: { instances: 1, channelsPerBackend: 20, dnsPropagationSeconds: 1 }
steps: [{ steady: 2 }, { rollout: { batch: 1 } }, { observe: 30 }]
variants: { only: {} }
expect:
  only: [{ probe: 'grpc.calls', stat: 'total', op: '>=', value: 1 }]
abort:
  - { budget: maxFaultSeconds, value: 4 }
  - { budget: maxSynsSent, value: 1000000 }
`,
    );
    const out = join(dir, 'out');
    const r = startCli(['run', spec, '--out', out]);
    const e = await r.exited;
    assert.equal(e.code, 4, `exit 4 (stopped); stderr:\n${r.stderr.slice(-2500)}`);
    assert.match(
      r.stdout,
      /STOPPED: variant only at t=[\d.]+s by condition\n {2}stop if budget maxFaultSeconds \(4 s\) is spent \(measured [\d.]+\)/,
    );
    const res = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as Results;
    const s = res.variants[0]!.stopped!;
    assert.ok(s, 'results.json: variant.stopped');
    assert.equal(s.by, 'condition');
    assert.equal(s.label, 'stop if budget maxFaultSeconds (4 s) is spent');
    assert.ok(s.value! >= 4 && s.value! < 6, `spent ${s.value} s (sampled every second)`);
    assert.equal(s.t, s.value, 'the clock budget is the time axis itself');
    assert.notEqual(s.faultRemovedAt, null, `fault removed: ${s.detail}`);
    assert.ok(s.faultRemovedAt! - s.t <= 2, `fault removed ${s.faultRemovedAt! - s.t} s after the trip`);
    console.log(`      tripped at t=${s.t}s (spent ${s.value} s), fault removed at t=${s.faultRemovedAt}s: ${s.detail}`);
    await until('processes of the run to be gone', async () => (await taggedProcesses(r.tag)).length === 0, 5000).catch(() => undefined);
    const left = await leftovers(r.ids(), r.tag);
    assert.ok(isClean(left), `teardown left: ${describeLeftovers(left)}`);
  });
});
