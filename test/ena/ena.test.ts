// The ENA allowance simulator end to end, in namespaces of our own (see lab.ts). Needs root, clang, bpftool,
// hping3, socat. Bounded: every flood is hping3 -c N -i interval under timeout(1); the suite takes ~25 s.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../harness/exec.js';
import { NotdnsError } from '../../harness/errors.js';
import { stateRoot } from '../../harness/paths.js';
import { sleep, waitFor } from '../../harness/wait.js';
import {
  _internal,
  attachEna,
  compileEna,
  configureEna,
  detachEna,
  enaBpffsDir,
  enaPinDir,
  ensureBpffs,
  isBpffsMount,
  listEnaFlows,
  loadEnaObject,
  readEnaStats,
  releaseBpffs,
  sweepEna,
  toEthtoolStyle,
  type EnaHandle,
} from '../../harness/ena/index.js';
import { EchoClient, EnaLab, ECHO_PORT, IP, hpingSyn, newConnectionWorks } from './lab.js';

const haveTools = async () => {
  for (const t of ['clang', 'bpftool', 'hping3', 'socat', 'tc']) {
    if ((await run('sh', ['-c', `command -v ${t}`], { reject: false })).exitCode !== 0) return t;
  }
  return undefined;
};

describe('ENA conntrack allowance simulator @root', function () {
  this.timeout(60_000);
  const lab = new EnaLab();
  const stateDir = join(stateRoot, `test-ena-${lab.id}`);
  const bpffs = enaBpffsDir(stateDir);
  const handles: EnaHandle[] = [];
  const attach = async (...a: Parameters<typeof attachEna>) => {
    const h = await attachEna(...a);
    handles.push(h);
    return h;
  };
  const detachAll = async () => {
    while (handles.length) await detachEna(handles.pop()!).catch(() => undefined);
  };

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    const missing = await haveTools();
    if (missing) {
      console.warn(`      skipped: ${missing} is not installed`);
      this.skip();
    }
    await lab.up();
    await ensureBpffs(bpffs);
  });

  afterEach(detachAll);

  after(async () => {
    await detachAll();
    await lab.down();
    await sweepEna(stateDir).catch(() => undefined);
    await releaseBpffs(bpffs).catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true });
  });

  it('builds one cached object per allowance', async () => {
    const a = await compileEna({ allowance: 64 });
    const t0 = performance.now();
    const b = await compileEna({ allowance: 64 });
    assert.equal(a, b);
    assert.ok(performance.now() - t0 < 100, 'cached build is a stat, not a clang run');
    assert.notEqual(await compileEna({ allowance: 8 }), a);
    assert.match(a, /ena-a64-[0-9a-f]{12}\.o$/);
  });

  it('enforces the allowance: exactly cap flows, drops counted, established TCP survives, new TCP fails, recovery after idle timeout', async () => {
    const cap = 64;
    const h = await attach(lab.node, {
      allowance: cap,
      pinDir: enaPinDir(bpffs, 'node'),
      stateDir,
      timeouts: { unrepliedSeconds: 5, establishedSeconds: 60, closedSeconds: 1 },
      gcIntervalMs: 200,
    });
    const est = new EchoClient(lab.n, IP.u, ECHO_PORT); // node-local DNS's upstream TCP connection
    try {
      assert.ok(await est.echo('before'), 'established connection works before the flood');
      let s = await readEnaStats(lab.node);
      assert.equal(s.trackedFlows, 1);
      assert.equal(s.flowsByFlag.syn, 1);
      assert.equal(s.synsByDstEgress[IP.u], 1);

      // 500 SYNs, 4 ms apart (~2 s), from a client pod to an old pod IP the node blackholes; unreplied 5 s > 2 s.
      const N = 500;
      const flood = hpingSyn(lab.c, IP.oldPod, { count: N, intervalUs: 4000 });
      await waitFor('allowance used up', async () => (await readEnaStats(h)).trackedFlows === cap, { timeoutMs: 5000, intervalMs: 20 });
      // during the flood
      assert.ok(await est.echo('during-1'), 'established connection keeps working during the flood');
      assert.equal(
        await newConnectionWorks(lab.n, IP.u, ECHO_PORT, 1),
        false,
        'a NEW connection fails during the flood (its SYN is dropped on egress of the other uplink)',
      );
      assert.ok(await est.echo('during-2'), 'established connection still works');
      const fl = await flood;
      assert.equal(fl.sent, N);

      s = await readEnaStats(h);
      assert.equal(s.trackedFlows, cap, 'exactly cap flows tracked');
      assert.equal(s.allowanceAvailable, 0);
      assert.equal(s.synsByDst[IP.oldPod], N, 'every SYN counted per destination, dropped ones included');
      assert.equal(s.exceededIn, N - (cap - 1), 'each SYN beyond the free entries was dropped on ingress');
      const newConnSyns = s.synsByDstEgress[IP.u]! - 1;
      assert.ok(newConnSyns >= 1);
      assert.equal(s.exceededOut, newConnSyns, 'every SYN of the new connection was dropped on egress');
      assert.equal(s.allowanceExceeded, s.exceededIn + s.exceededOut);
      // the other allowances are off: their counters are there, at 0
      assert.deepEqual(toEthtoolStyle(s), {
        conntrack_allowance_exceeded: s.allowanceExceeded,
        conntrack_allowance_available: 0,
        bw_in_allowance_exceeded: 0,
        bw_out_allowance_exceeded: 0,
        pps_allowance_exceeded: 0,
        linklocal_allowance_exceeded: 0,
      });
      assert.equal(s.newFlows, cap);
      assert.equal(s.flowsByFlag.syn, cap);
      const flows = await listEnaFlows(h);
      assert.equal(flows.length, cap, 'the table itself holds cap entries');
      assert.equal(flows.filter((f) => f.state === 'unreplied' && f.to === `${IP.oldPod}:50051` && f.firstIngress).length, cap - 1);
      const e = flows.find((f) => f.state === 'established');
      assert.ok(e?.from.startsWith(`${IP.nEns6}:`) && e.to === `${IP.u}:${ECHO_PORT}` && e.firstFlags === 'SYN' && !e.firstIngress);

      // no more packets: the GC timer alone expires the flood's entries (unreplied 5 s)
      await waitFor('flood entries expired', async () => (await readEnaStats(h)).trackedFlows === 1, { timeoutMs: 9000, intervalMs: 200 });
      s = await readEnaStats(h);
      assert.equal(s.gcEvicted, cap - 1);
      assert.ok(s.gcTimerRuns > 0);
      assert.equal(s.allowanceAvailable, cap - 1);
      assert.ok(await newConnectionWorks(lab.n, IP.u, ECHO_PORT), 'a new connection works after expiry');
      assert.ok(await est.echo('after'), 'the established connection survived it all');
    } finally {
      await est.close();
    }
  });

  it('counting-only mode (allowance 0) never drops and counts SYNs per destination exactly', async () => {
    const h = await attach(lab.node, {
      allowance: 0,
      countingCapacity: 16,
      pinDir: enaPinDir(bpffs, 'node'),
      timeouts: { closedSeconds: 30 },
    });
    // 5 UDP flows first (there is room for them), then more TCP flows than the table holds
    await run('hping3', ['-q', '--udp', '-p', '53', '-c', '5', '-i', 'u2000', IP.nEns5], { ns: lab.c, reject: false, timeoutMs: 10_000 });
    // 50 SYNs to a closed port of the node: each is answered by a RST, so hping3 sees every one of them pass.
    const a = await hpingSyn(lab.c, IP.nEns5, { count: 50, intervalUs: 2000, port: 9 });
    assert.equal(a.sent, 50);
    assert.equal(a.received, 50, 'nothing dropped although the counting table (16) is full');
    const b = await hpingSyn(lab.n, IP.c, { count: 20, intervalUs: 2000, port: 9 });
    assert.equal(b.received, 20);
    const c = await hpingSyn(lab.c, IP.oldPod, { count: 30, intervalUs: 1000 });
    assert.equal(c.sent, 30);
    const s = await readEnaStats(h);
    assert.equal(s.udpFlows, 5, 'UDP flows counted');
    assert.equal(s.flowsByFlag.syn, 11, 'then TCP flows until the table (16) was full');
    assert.equal((await listEnaFlows(h)).filter((f) => f.state === 'udp').length, 5);
    assert.equal(s.allowanceExceeded, 0);
    assert.equal(s.synsByDst[IP.nEns5], 50);
    assert.equal(s.synsByDst[IP.oldPod], 30);
    assert.equal(s.synsByDstEgress[IP.c], 20);
    assert.equal(s.synsIn, 80);
    assert.equal(s.synsOut, 20);
    assert.equal(s.trackedFlows, 16);
    assert.ok(s.untrackedPackets > 0);
    assert.deepEqual(toEthtoolStyle(s), {
      conntrack_allowance_exceeded: 0,
      bw_in_allowance_exceeded: 0,
      bw_out_allowance_exceeded: 0,
      pps_allowance_exceeded: 0,
      linklocal_allowance_exceeded: 0,
    });
  });

  it('two nodes attached at once have independent tables', async () => {
    const hn = await attach(lab.node, { allowance: 32, pinDir: enaPinDir(bpffs, 'node') });
    const hu = await attach(lab.upstream, { allowance: 8, pinDir: enaPinDir(bpffs, 'upstream'), readOnHost: true });
    // 20 flows C -> 10.77.8.8: through the node (ingress ens5, egress ens6: ONE flow each) into the upstream, which blackholes them.
    const r = await hpingSyn(lab.c, IP.behindU, { count: 20, intervalUs: 2000 });
    assert.equal(r.sent, 20);
    const [n, u] = await Promise.all([readEnaStats(hn), readEnaStats(hu)]);
    assert.equal(n.trackedFlows, 20, 'node: one entry per forwarded flow, both uplinks share it');
    assert.equal(n.allowanceExceeded, 0);
    assert.equal(n.synsByDst[IP.behindU], 20);
    assert.equal(n.synsByDstEgress[IP.behindU], 20);
    assert.equal(u.trackedFlows, 8, 'upstream: its own, smaller table is full');
    assert.equal(u.exceededIn, 12);
    assert.equal(u.synsByDst[IP.behindU], 20);
    assert.equal(n.allowanceAvailable, 12);
    // configuration is per node too: a short unreplied timeout on the upstream only
    await configureEna(hu, { timeouts: { unrepliedSeconds: 0.3 }, gcIntervalMs: 100 });
    await waitFor('upstream entries expired', async () => (await readEnaStats(hu)).trackedFlows === 0, {
      timeoutMs: 4000,
      intervalMs: 100,
    });
    assert.equal((await readEnaStats(hn)).trackedFlows, 20, 'the node keeps its entries (default 60 s)');
    assert.equal(hu.config.timeouts.unrepliedSeconds, 0.3);
  });

  it('reclaims expired entries lazily from the datapath when the timer is off', async () => {
    const h = await attach(lab.node, {
      allowance: 8,
      pinDir: enaPinDir(bpffs, 'node'),
      gcTimer: false,
      gcIntervalMs: 100,
      timeouts: { unrepliedSeconds: 1 },
    });
    await hpingSyn(lab.c, IP.oldPod, { count: 8, intervalUs: 1000 });
    await sleep(1300);
    let s = await readEnaStats(h);
    assert.equal(s.trackedFlows, 8, 'expired, but nothing reclaimed them yet (no timer)');
    assert.equal(s.gcRuns, 0);
    assert.ok(await newConnectionWorks(lab.n, IP.u, ECHO_PORT), 'the first new flow triggers the GC and gets an entry');
    s = await readEnaStats(h);
    assert.ok(s.gcRuns >= 1);
    assert.equal(s.gcTimerRuns, 0);
    assert.equal(s.gcEvicted, 8);
    assert.equal(s.allowanceExceeded, 0);
    assert.equal(s.trackedFlows, 1);
  });

  it('reads are cheap, and the counter keeps up with a fast SYN burst', async () => {
    const h = await attach(lab.node, { allowance: 0, pinDir: enaPinDir(bpffs, 'node') });
    const N = 20_000;
    const r = await hpingSyn(lab.c, IP.oldPod, { count: N, intervalUs: 10 });
    const costs: number[] = [];
    let s = await readEnaStats(h);
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      s = await readEnaStats(h);
      costs.push(performance.now() - t0);
    }
    costs.sort((x, y) => x - y);
    // the burst's rate as the program saw it: first-seen times of its flows (every SYN is a new flow)
    const ages = (await listEnaFlows(h)).filter((f) => f.to === `${IP.oldPod}:50051`).map((f) => f.ageMs!);
    const spanMs = Math.max(...ages) - Math.min(...ages);
    console.log(
      `      read cost: median ${costs[10]!.toFixed(1)} ms, max ${costs[19]!.toFixed(1)} ms (one bpftool -j batch via ip netns exec); ` +
        `burst: ${s.synsByDst[IP.oldPod]}/${r.sent} SYNs counted, ${ages.length} flows tracked, over ${spanMs.toFixed(0)} ms = ${Math.round(ages.length / (spanMs / 1000))} SYN/s`,
    );
    assert.equal(r.sent, N);
    assert.equal(s.synsByDst[IP.oldPod], N, 'no SYN missed');
    assert.equal(ages.length, N, 'every SYN opened a tracked flow');
    assert.ok(costs[10]! < 100, 'a read takes well under the 1 s sampling interval');
  });

  it('fails clearly: missing clang, verifier rejection, pinDir not on a bpffs, bad options, not attached', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'nd-test-ena-'));
    try {
      await assert.rejects(compileEna({ allowance: 3, clang: '/nonexistent/clang', outDir: tmp }), (e: unknown) => {
        assert.ok(e instanceof NotdnsError);
        assert.equal(e.kind, 'environment');
        assert.match(e.hint ?? '', /apt-get .*install -y clang llvm libbpf-dev bpftool/);
        return true;
      });
      const src = join(tmp, 'broken.bpf.c'),
        obj = join(tmp, 'broken.bpf.o');
      await writeFile(
        src,
        '#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n' +
          'SEC("tc") int broken(struct __sk_buff *skb) { return *(int *)(long)skb->data; }  /* no bounds check */\n' +
          'char LICENSE[] SEC("license") = "GPL";\n',
      );
      await run('clang', [
        '-O2',
        '-g',
        '-target',
        'bpf',
        `-I/usr/include/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
        '-c',
        src,
        '-o',
        obj,
      ]);
      await assert.rejects(loadEnaObject(lab.node, obj, enaPinDir(bpffs, 'broken')), (e: unknown) => {
        assert.ok(e instanceof NotdnsError);
        assert.match(e.message, /verifier rejected broken/);
        assert.match(e.message, /invalid access to packet|R\d+ invalid mem access/);
        return true;
      });
      await assert.rejects(attachEna(lab.node, { allowance: 8, pinDir: join(tmp, 'pins') }), (e: unknown) => {
        assert.ok(e instanceof NotdnsError);
        assert.match(e.message, /not on a bpf filesystem/);
        assert.match(e.hint ?? '', /ensureBpffs/);
        return true;
      });
      await assert.rejects(attachEna(lab.node, { allowance: -1, pinDir: enaPinDir(bpffs, 'node') }), /allowance must be an integer/);
      await assert.rejects(
        attachEna(lab.node, { allowance: 8, pinDir: enaPinDir(bpffs, 'node'), timeouts: { unrepliedSeconds: 0 } }),
        /unrepliedSeconds/,
      );
      await assert.rejects(readEnaStats(lab.node), /not attached/);
      // nothing was left attached by the failures
      const f = await lab.node.exec('tc', ['filter', 'show', 'dev', 'ens5', 'ingress']);
      assert.equal(f.stdout.trim(), '');
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it('detachEna removes filters, qdisc and pins', async () => {
    const h = await attachEna(lab.node, { allowance: 16, pinDir: enaPinDir(bpffs, 'node') });
    const ids = JSON.parse((await lab.node.exec('tc', ['-j', 'filter', 'show', 'dev', 'ens6', 'egress'])).stdout)
      .map((x: { options?: { prog?: { id: number } } }) => x.options?.prog?.id)
      .filter(Boolean) as number[];
    assert.equal(ids.length, 1);
    await detachEna(h);
    await detachEna(h); // idempotent
    assert.doesNotMatch((await lab.node.exec('tc', ['qdisc', 'show'])).stdout, /clsact/);
    assert.equal((await run('ls', [enaPinDir(bpffs, 'node')], { reject: false })).exitCode, 2, 'pin dir removed');
    await waitFor(
      'program freed',
      async () => (await run('bpftool', ['prog', 'show', 'id', String(ids[0])], { reject: false })).exitCode !== 0,
      { timeoutMs: 3000 },
    );
  });

  it('sweepEna cleans up a run that crashed while attached', async () => {
    const stateDir2 = join(stateRoot, `test-ena-${lab.id}-sweep`);
    const bpffs2 = await ensureBpffs(enaBpffsDir(stateDir2));
    try {
      await attachEna(lab.node, { allowance: 16, pinDir: enaPinDir(bpffs2, 'node'), stateDir: stateDir2 });
      _internal.forget(lab.node); // the process that attached is "gone"
      const rep = await sweepEna(stateDir2);
      assert.deepEqual(rep.errors, []);
      assert.deepEqual(rep.detached, ['node']);
      assert.deepEqual(rep.unmounted, [bpffs2]);
      for (const dev of ['ens5', 'ens6']) {
        for (const dir of ['ingress', 'egress'])
          assert.equal((await lab.node.exec('tc', ['filter', 'show', 'dev', dev, dir], { reject: false })).stdout.trim(), '');
      }
      assert.doesNotMatch((await lab.node.exec('tc', ['qdisc', 'show'])).stdout, /clsact/);
      assert.equal(await isBpffsMount(bpffs2), false);
    } finally {
      await sweepEna(stateDir2).catch(() => undefined);
      await rm(stateDir2, { recursive: true, force: true });
    }
  });
});
