// Done-when of "bring your own client": a client given only as a command (test/fixtures/clients/tcp-loop.mjs, a TCP
// loop with a 300 ms backoff, not the Alerting Engine and not gRPC) runs through a rollout on the lab: the harness
// measures its SYNs to the old pod IPs, the allowance and its connect attempts without its cooperation, and its
// missing gRPC metrics are n/a, never 0. Needs root and the lab (run it under the lab lock).
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../harness/paths.js';
import { ResultsSchema } from '../../harness/results.js';
import { counterIncrease } from '../../harness/series.js';

describe('custom client given as a command, on the lab @root', function () {
  this.timeout(300_000);
  let out: string;
  before(async () => {
    out = await mkdtemp(join(tmpdir(), 'notdns-byo-'));
  });
  after(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('SYNs to the old IPs, allowance series and connect attempts are measured; its gRPC probes are n/a, not 0; nothing is left', async () => {
    const fixture = join(repoRoot, 'test', 'fixtures', 'experiments', 'custom-client.ts');
    const p = await execa(join(repoRoot, 'bin', 'notdns'), ['run', fixture, '--out', out], {
      reject: false,
      all: true,
      env: { CI: 'true' },
    });
    const r = ResultsSchema.parse(JSON.parse(await readFile(join(out, 'results.json'), 'utf8')));
    assert.equal(p.exitCode, 0, p.all?.slice(-3000));
    const v = r.variants[0]!;
    assert.match(JSON.stringify(v.config.workloads), /tcp-loop\.mjs/);
    assert.ok(v.summary.synToOldPodIpsTotal! > 0, `SYNs to old IPs: ${v.summary.synToOldPodIpsTotal}`);
    const series = (probe: string) => v.series.filter((s) => s.probe === probe);
    for (const node of ['node1', 'node2']) {
      const ena = series('ena.allowanceExceeded').find((s) => s.target === node);
      assert.ok(ena && ena.points.length >= 10, `allowance series of ${node}`);
      assert.ok(
        series('ena.trackedFlows').some((s) => s.target === node && s.points.some(([, x]) => x > 0)),
        `tracked flows on ${node}`,
      );
    }
    const opens = series('tcp.activeOpens').filter((s) => s.target.startsWith('ae-'));
    assert.equal(opens.length, 1, 'the client pod');
    assert.ok(counterIncrease(opens[0]!.points) > 30, `the client's connect attempts: ${counterIncrease(opens[0]!.points)}`);
    // not measured is not zero: no gRPC series, no gRPC summary number, the expectation n/a with the reason
    assert.deepEqual(
      v.series.filter((s) => s.probe.startsWith('grpc.')).map((s) => s.probe),
      [],
    );
    assert.ok(!('grpcCalls' in v.summary) && !('connectAttempts' in v.summary), JSON.stringify(v.summary));
    const grpc = r.verdict.expectations.find((e) => e.label.includes('gRPC errors'))!;
    assert.match(grpc.na ?? '', /custom client exposes no metrics/);
    assert.equal(grpc.measured, null);
    // the client ran as nobody and is gone with the run
    const log = await readFile(join(out, 'logs', 'tcp', 'ae-3-0.log'), 'utf8');
    assert.match(log, /"event":"started".*"user":"nobody"/);
    assert.match(log, /"event":"targets-updated"/);
    const left = await execa('pgrep', ['-u', 'nobody', '-f', 'tcp-loop.mjs'], { reject: false });
    assert.equal(left.stdout.trim(), '', 'no client process left');
  });
});
