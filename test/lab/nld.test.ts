// The node-local DNS symptoms on the lab: unbound's own statistics move the way CoreDNS's did in the talk when
// the upstream cannot be reached (queries pile up to the concurrency limit, the limit drops new ones, the cache
// answers SERVFAIL), and stay quiet when it can.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { LabProvider, type LabCluster } from '../../harness/providers/lab/lab.js';
import { run } from '../../harness/exec.js';
import { newRunId } from '../../harness/names.js';
import { stateRoot } from '../../harness/paths.js';
import { DNS_UPSTREAM, NODE_LOCAL_DNS } from '../../harness/providers/lab/addresses.js';

const MAX_CONCURRENT = 10;

/** `n` UDP queries for new names at once from the node itself (one try, 1 s), as pods ask node-local DNS. */
async function burst(c: LabCluster, node: string, n: number, tag: string): Promise<void> {
  const script = `for i in $(seq 1 ${n}); do dig +tries=1 +time=1 +short @${NODE_LOCAL_DNS} ${tag}$i.default.svc.cluster.local >/dev/null & done; wait`;
  await run('sh', ['-c', script], { ns: c.node(node).ns, reject: false, timeoutMs: 20_000 });
}

describe('lab node-local DNS symptoms @root', function () {
  this.timeout(90_000);
  const provider = new LabProvider();
  let c: LabCluster;
  let runId: string;

  before(async () => {
    runId = newRunId();
    c = await provider.up(
      {
        nodes: 1,
        serverNodes: 1,
        eniHasAddress: false,
        unreachableOnDelete: false,
        nodeLocalDns: true,
        nodeLocalDnsLimits: { maxConcurrent: MAX_CONCURRENT, memoryMb: 16 },
      },
      runId,
      { stateDir: join(stateRoot, runId) },
    );
  });
  after(async () => {
    await c?.destroy();
    await provider.sweep(runId);
  });

  it('reachable upstream: queries counted, none rejected, no SERVFAIL, nothing left in flight, RSS read', async () => {
    const before = await c.extraNodeProbes(c.nodes[0]!);
    await burst(c, 'node1', 5, 'ok');
    const after = await c.extraNodeProbes(c.nodes[0]!);
    assert.ok(after['nld.queries']! - before['nld.queries']! >= 5, JSON.stringify({ before, after }));
    assert.equal(after['nld.rejects'], 0);
    assert.equal(after['nld.upstreamFailures'], 0);
    assert.equal(after['nld.inFlight'], 0);
    assert.ok(after['nld.memoryBytes']! > 1e6 && after['nld.memoryBytes']! < 500e6, `RSS ${after['nld.memoryBytes']}`);
  });

  it('black-holed upstream (SYNs dropped): in flight reaches the limit, new queries are rejected, SERVFAILs follow', async () => {
    const node = c.nodes[0]!;
    await node.exec('nft', ['-f', '-'], {
      input: `table inet nldtest {\n  chain out {\n    type filter hook output priority 0; policy accept;\n    ip daddr ${DNS_UPSTREAM} tcp dport 53 drop\n  }\n}\n`,
    });
    const t0 = performance.now();
    const before = await c.extraNodeProbes(node);
    const drive = burst(c, 'node1', 3 * MAX_CONCURRENT, 'bh');
    let peak = 0;
    while (performance.now() - t0 < 3000) {
      peak = Math.max(peak, (await c.extraNodeProbes(node))['nld.inFlight'] ?? 0);
      await new Promise((r) => setTimeout(r, 50));
    }
    await drive;
    // how long unbound holds a query it cannot forward (the lab's stand-in for forward's 5 s): until in flight is 0
    let held = NaN;
    while (performance.now() - t0 < 30_000) {
      if ((await c.extraNodeProbes(node))['nld.inFlight'] === 0) {
        held = (performance.now() - t0) / 1000;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const after = await c.extraNodeProbes(node);
    console.log(`      black-holed: peak in flight ${peak}, slots free after ${held.toFixed(1)} s, ${JSON.stringify({ before, after })}`);
    assert.equal(peak, MAX_CONCURRENT, 'in flight reaches num-queries-per-thread');
    const rejects = after['nld.rejects']! - before['nld.rejects']!;
    assert.ok(rejects >= MAX_CONCURRENT && rejects <= 2 * MAX_CONCURRENT, `the queries beyond the limit are rejected (${rejects})`);
    assert.equal(
      after['nld.upstreamFailures']! - before['nld.upstreamFailures']!,
      3 * MAX_CONCURRENT - rejects,
      'each held query ends in SERVFAIL',
    );
    assert.ok(held > 3, `a query that cannot be forwarded holds its slot for seconds, as forward's 5 s (${held} s)`);
    await node.exec('nft', ['delete', 'table', 'inet', 'nldtest']);
  });
});
