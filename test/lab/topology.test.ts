// The lab's topology does what the talk's chapter 3 says a Cilium ENI-mode node does.
import assert from 'node:assert/strict';
import { LabProvider, type LabCluster, listNamespaces } from '../../harness/providers/lab/lab.js';
import { run, spawnLong, stopProcess } from '../../harness/exec.js';
import { newRunId } from '../../harness/names.js';
import { parseNetstat } from '../../harness/probes/procnet.js';
import { dig, digTcp } from '../../harness/providers/lab/dns.js';
import { stateRoot } from '../../harness/paths.js';
import { join } from 'node:path';
import { existsSync } from 'node:fs';

async function martians(c: LabCluster, node: string): Promise<number> {
  return parseNetstat(await c.node(node).readProcNet('netstat')).TcpExtIPReversePathFilter ?? NaN;
}

describe('lab topology @root', function () {
  this.timeout(60_000);
  const provider = new LabProvider();
  let c: LabCluster;
  let runId: string;

  before(async () => {
    runId = newRunId();
    c = await provider.up({ nodes: 3, serverNodes: 2, eniHasAddress: false, unreachableOnDelete: false, nodeLocalDns: true }, runId, {
      stateDir: join(stateRoot, runId),
    });
  });
  after(async () => {
    await c?.destroy();
    await provider.sweep(runId);
  });

  it('names every namespace with the run id and adds nothing else to the host', async () => {
    const ns = (await listNamespaces()).filter((n) => n.startsWith(`nd-${runId}-`));
    assert.deepEqual(ns.sort(), [`nd-${runId}-dns`, `nd-${runId}-node1`, `nd-${runId}-node2`, `nd-${runId}-node3`, `nd-${runId}-vpc`]);
    const hostLinks = (await run('ip', ['-o', 'link'])).stdout;
    assert.doesNotMatch(hostLinks, /ens5|ens6|lxc|br0/);
  });

  it('gives ens6 no address, ens5 the node address, rp_filter=2 and log_martians=1', async () => {
    const n = c.node('node1');
    assert.equal((await n.exec('ip', ['-4', '-o', 'addr', 'show', 'dev', 'ens6'])).stdout, '');
    assert.match((await n.exec('ip', ['-4', '-o', 'addr', 'show', 'dev', 'ens5'])).stdout, /10\.0\.0\.11\/24/);
    assert.equal((await n.exec('sysctl', ['-n', 'net.ipv4.conf.ens6.rp_filter'])).stdout, '2');
    assert.equal((await n.exec('sysctl', ['-n', 'net.ipv4.conf.all.log_martians'])).stdout, '1');
  });

  it('carries pod-to-pod TCP across nodes, answers DNS through node-local DNS, and after deletion rp_filter drops SYNs to the old IP as martians', async () => {
    const server = await c.plumbPod('srv', 'node1');
    const client = await c.plumbPod('cli', 'node3');
    const echo = spawnLong('socat', ['TCP-LISTEN:50051,fork,reuseaddr', 'EXEC:cat'], { ns: server.ns });
    try {
      let got = '';
      for (let i = 0; i < 20 && got !== 'hello'; i++) {
        got = (
          await run('sh', ['-c', `echo hello | socat -T2 - TCP:${server.ip}:50051,connect-timeout=2`], { ns: client.ns, reject: false })
        ).stdout;
        if (got !== 'hello') await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(got, 'hello', 'pod-to-pod TCP across nodes');
      assert.equal(
        (await digTcp(client.ns, '169.254.20.10', 'x1.default.svc.cluster.local')).status,
        'NOERROR',
        'pod → node-local DNS → upstream over TCP',
      );
      // while the pod lives, Cilium's "from <pod> lookup <eni table>" rule makes the reverse path ens6
      const before = await c.node('node1').exec('ip', ['route', 'get', server.ip, 'from', client.ip, 'iif', 'ens6'], { reject: false });
      assert.equal(before.exitCode, 0, before.stderr);
    } finally {
      await stopProcess(echo);
    }
    await c.deletePod({ ns: server.ns, ip: server.ip, node: 'node1' });
    const after = await c.node('node1').exec('ip', ['route', 'get', server.ip, 'from', client.ip, 'iif', 'ens6'], { reject: false });
    assert.notEqual(after.exitCode, 0, 'route lookup for the old pod IP arriving on the addressless ENI must fail');
    assert.match(after.stderr, /Invalid argument|Invalid cross-device link/);
    const m0 = await martians(c, 'node1');
    await run('hping3', ['-q', '-S', '-p', '50051', '-c', '20', '-i', 'u10000', server.ip], {
      ns: client.ns,
      reject: false,
      timeoutMs: 10_000,
    });
    const m1 = await martians(c, 'node1');
    assert.equal(m1 - m0, 20, `TcpExtIPReversePathFilter should count each of the 20 SYNs (got ${m1 - m0})`);
  });

  it('node-local DNS opens a new upstream TCP connection for every query, one after another and in bursts, and answers them all at once', async () => {
    const node = c.node('node2');
    const opens = async () => parseNetstat(await node.readProcNet('snmp')).TcpActiveOpens ?? NaN;
    // over UDP, as pods ask node-local-dns; only unbound opens TCP connections in the node's namespace
    const lookup = async (name: string) => ({ name, status: (await dig(node.ns, '169.254.20.10', name, { tcp: false })).status });
    const o0 = await opens();
    const seq = [];
    for (let i = 0; i < 100; i++) seq.push(await lookup(`seq${i}-${runId}.default.svc.cluster.local`));
    const o1 = await opens();
    const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => lookup(`burst${i}-${runId}.default.svc.cluster.local`)));
    const o2 = await opens();
    for (const r of [...seq, ...burst]) assert.equal(r.status, 'NOERROR', JSON.stringify(r));
    // exactly one connection per query: a try lost inside the cache (unbound 1.17.1's read-timeout trap, see
    // dns/lab.ts, ~4 % of queries) shows up as a second connection for the same query
    assert.equal(o1 - o0, 100, 'one new upstream connection per sequential query, no retries');
    assert.equal(o2 - o1, 20, 'one new upstream connection per concurrent query, none pipelined, no retries');
  });

  it('tears everything down: no namespace, process or state left', async () => {
    const ids = c.nodes.map((n) => n.sentinelPid);
    await c.destroy();
    assert.deepEqual(
      (await listNamespaces()).filter((n) => n.startsWith(`nd-${runId}-`)),
      [],
    );
    for (const pid of ids) assert.equal(existsSync(`/proc/${pid}`), false, `sentinel ${pid} still running`);
    assert.equal(existsSync(join(stateRoot, runId)), false);
  });
});

describe('lab topology with an address on the ENI @root', function () {
  this.timeout(60_000);
  it('routes the old pod IP via ens5 (loose rp_filter passes) and drops nothing as martian', async () => {
    const runId = newRunId();
    const provider = new LabProvider();
    const c = await provider.up({ nodes: 2, serverNodes: 1, eniHasAddress: true, unreachableOnDelete: false, nodeLocalDns: false }, runId, {
      stateDir: join(stateRoot, runId),
    });
    try {
      const server = await c.plumbPod('srv', 'node1');
      const client = await c.plumbPod('cli', 'node2');
      await c.deletePod({ ns: server.ns, ip: server.ip, node: 'node1' });
      const r = await c.node('node1').exec('ip', ['route', 'get', server.ip, 'from', client.ip, 'iif', 'ens6'], { reject: false });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stdout, /dev ens5/);
      const m0 = await martians(c, 'node1');
      await run('hping3', ['-q', '-S', '-p', '50051', '-c', '10', '-i', 'u10000', server.ip], {
        ns: client.ns,
        reject: false,
        timeoutMs: 10_000,
      });
      assert.equal((await martians(c, 'node1')) - m0, 0);
    } finally {
      await c.destroy();
      await provider.sweep(runId);
    }
  });
});
