// The ENA simulator's dead-man watchdog on kind nodes (harness/providers/kind/ena-watchdog.ts): its argv and script
// text, and the script run for real under bash here with a stub `tc` (logs its arguments) and a temporary pin dir:
// renewed → nothing deleted; lease stopped → the filters deleted within lease + 1 s; no lease file → a grace of
// one lease; SIGTERM through the stop argv → gone without deleting anything. The real tc run is in
// test/container/kindnode-lookalike.docker.test.ts.
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENA_TC_HANDLE, ENA_TC_PREF, type EnaHandle } from '../../harness/ena/index.js';
import { KIND_CAPABILITIES } from '../../harness/providers/capabilities.js';
import type { KubeClient } from '../../harness/providers/k8s/client.js';
import { KindCluster } from '../../harness/providers/kind/kind.js';
import { KindNode } from '../../harness/providers/kind/node.js';
import { installFakeTools } from './fake-tools.js';
import { K8S_LEASE_SECONDS, RENEW_SECONDS } from '../../harness/providers/k8s/lease.js';
import {
  enaWatchdogScript,
  leaseInitArgv,
  leaseRenewArgv,
  watchdogPaths,
  watchdogStartArgv,
  watchdogStopArgv,
  WATCHDOG_DIR,
} from '../../harness/providers/kind/ena-watchdog.js';

const tc = { pref: ENA_TC_PREF, handle: ENA_TC_HANDLE };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('kind ENA watchdog: argv and script', () => {
  it('starts detached in the node container with bash -c, files under /tmp/notdns/ena-deadman', () => {
    const a = watchdogStartArgv('nd-x-worker', 'SCRIPT');
    assert.deepEqual(a, ['exec', '-d', 'nd-x-worker', 'bash', '-c', 'SCRIPT']);
    assert.equal(WATCHDOG_DIR, '/tmp/notdns/ena-deadman');
    assert.deepEqual(leaseRenewArgv(), ['touch', '/tmp/notdns/ena-deadman/lease']);
    assert.deepEqual(leaseInitArgv().slice(-1), ['/tmp/notdns/ena-deadman/lease']);
    assert.deepEqual(watchdogStopArgv().slice(-2), ['/tmp/notdns/ena-deadman/pid', '/tmp/notdns/ena-deadman/lease']);
  });

  it('the Kubernetes lease (30 s, renewed every 5 s), the filters detachEna deletes, the pins', () => {
    const s = enaWatchdogScript({ uplinks: ['eth0', 'eth1'], pinDir: '/sys/fs/bpf/notdns/r1/n1', tc, createdQdisc: ['eth1'] });
    assert.equal(K8S_LEASE_SECONDS, 30);
    assert.ok(RENEW_SECONDS * 5 < K8S_LEASE_SECONDS, 'several renewals fit in one lease');
    assert.match(s, new RegExp(`max=${K8S_LEASE_SECONDS * 1000}\\b`));
    for (const u of ['eth0', 'eth1'])
      for (const d of ['ingress', 'egress'])
        assert.ok(
          s.includes(`tc filter del dev ${u} ${d} protocol all pref ${ENA_TC_PREF} handle 0x${ENA_TC_HANDLE.toString(16)} bpf`),
          `${u} ${d}`,
        );
    assert.match(s, /tc qdisc del dev eth1 clsact/);
    assert.doesNotMatch(s, /qdisc del dev eth0/, 'only the clsact attachEna added');
    assert.match(s, /rm -rf \/sys\/fs\/bpf\/notdns\/r1\/n1\/progs \/sys\/fs\/bpf\/notdns\/r1\/n1\/maps/);
    assert.match(s, /stat -c %\.3Y "\$lease"/);
    assert.match(s, /^exec >>\/tmp\/notdns\/ena-deadman\/log 2>&1$/m);
    assert.doesNotMatch(s, /bpftool|nsenter/, 'kindest/base has no bpftool; it runs in the node netns already');
  });

  it('refuses names that would need quoting', () => {
    assert.throws(() => enaWatchdogScript({ uplinks: ['eth0; rm -rf /'], pinDir: '/p', tc }), /unsafe uplink/);
    assert.throws(() => enaWatchdogScript({ uplinks: ['eth0'], pinDir: '/p $(x)', tc }), /unsafe pin dir/);
  });
});

describe('kind ENA watchdog: the script run under bash (tc stubbed)', function () {
  this.timeout(30_000);
  let dir = '';
  let calls = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nd-enawd-'));
    calls = join(dir, 'calls');
    writeFileSync(calls, '');
    mkdirSync(join(dir, 'bin'));
    writeFileSync(join(dir, 'bin', 'tc'), `#!/bin/sh\necho "tc $*" >>${calls}\n`);
    chmodSync(join(dir, 'bin', 'tc'), 0o755);
    mkdirSync(join(dir, 'pins', 'progs'), { recursive: true });
    mkdirSync(join(dir, 'pins', 'maps'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Start the watchdog (lease `leaseSeconds`) detached like docker exec -d; resolves when it exits. */
  function start(leaseSeconds: number, createLease: boolean) {
    const paths = watchdogPaths(dir);
    if (createLease) writeFileSync(paths.lease, '');
    const script = enaWatchdogScript({ uplinks: ['eth0'], pinDir: join(dir, 'pins'), tc, leaseSeconds, paths });
    const t0 = Date.now();
    const p = spawn('bash', ['-c', script], { env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}` }, stdio: 'ignore' });
    const exited = new Promise<number>((r) => p.on('exit', () => r(Date.now() - t0)));
    return { paths, exited, kill: () => p.kill('SIGKILL') };
  }
  const renew = (f: string) => writeFileSync(f, String(Date.now()));

  it('renewed every 0.5 s for 4 s with a 1.5 s lease: nothing deleted; then not renewed: deleted ≤ lease + 1.2 s after the last renewal', async () => {
    const w = start(1.5, true);
    try {
      for (let i = 0; i < 8; i++) {
        renew(w.paths.lease);
        await sleep(500);
      }
      assert.equal(readFileSync(calls, 'utf8'), '', 'no tc call while renewed');
      assert.ok(existsSync(join(dir, 'pins', 'maps')));
      renew(w.paths.lease);
      const last = Date.now();
      await w.exited;
      const after = Date.now() - last;
      assert.ok(after >= 1500 && after <= 2700, `exited ${after} ms after the last renewal`);
      const c = readFileSync(calls, 'utf8');
      assert.match(
        c,
        new RegExp(`^tc filter del dev eth0 ingress protocol all pref ${ENA_TC_PREF} handle 0x${ENA_TC_HANDLE.toString(16)} bpf$`, 'm'),
      );
      assert.match(c, /^tc filter del dev eth0 egress protocol all pref 1 handle 0xe4a bpf$/m);
      assert.equal(existsSync(join(dir, 'pins')), false, 'pins dir removed');
      assert.equal(existsSync(w.paths.pidfile), false);
      assert.match(readFileSync(w.paths.log, 'utf8'), /lease expired \(\d+ ms > 1500 ms\)/);
    } finally {
      w.kill();
    }
  });

  it('no lease file at start: a grace of one lease from the start, then deleted', async () => {
    const w = start(2, false);
    try {
      await sleep(1200);
      assert.equal(readFileSync(calls, 'utf8'), '', 'nothing deleted inside the grace');
      const took = await w.exited;
      assert.ok(took >= 2000 && took <= 3500, `exited after ${took} ms`);
      assert.match(readFileSync(calls, 'utf8'), /tc filter del dev eth0 ingress/);
    } finally {
      w.kill();
    }
  });

  it('the stop argv (SIGTERM by pidfile) ends it at once, deletes nothing, removes pidfile and lease', async () => {
    const w = start(30, true);
    try {
      for (let i = 0; i < 20 && !existsSync(w.paths.pidfile); i++) await sleep(50);
      const pid = readFileSync(w.paths.pidfile, 'utf8').trim();
      const [cmd, ...args] = watchdogStopArgv(w.paths);
      const t0 = Date.now();
      // async: the test process is the watchdog's parent here and must reap it (docker's shim does on a node)
      await promisify(execFile)(cmd!, args);
      assert.ok(Date.now() - t0 < 1500, `stopped in ${Date.now() - t0} ms`);
      await w.exited;
      assert.equal(spawnSync('kill', ['-0', pid]).status !== 0, true, 'the watchdog is gone');
      assert.equal(readFileSync(calls, 'utf8'), '');
      assert.equal(existsSync(w.paths.pidfile), false);
      assert.equal(existsSync(w.paths.lease), false);
      assert.match(readFileSync(w.paths.log, 'utf8'), /stopped/);
      assert.ok(existsSync(join(dir, 'pins', 'maps')), 'pins kept (detachEna removes them)');
      // stopping again (already gone) is fine
      assert.equal(spawnSync(cmd!, args).status, 0);
    } finally {
      w.kill();
    }
  });
});

describe('kind ENA watchdog: KindCluster wiring (fake docker)', () => {
  function cluster(client: KubeClient, runOwner?: { name: string; uid: string }) {
    const nodes = [new KindNode('nd-abc123-worker', '172.18.0.11'), new KindNode('nd-abc123-worker2', '172.18.0.12')];
    const c = new KindCluster(
      {
        provider: 'kind',
        capabilities: KIND_CAPABILITIES,
        podCidr: '10.244.0.0/16',
        runId: 'abc123',
        namespace: 'nd-abc123',
        client,
        nodes,
        dns: { upstream: '10.96.0.11', nodeLocal: '10.96.0.10' },
        transport: { request: async () => ({ status: 200, body: '' }) },
        image: 'x',
        runOwner,
      },
      'nd-abc123',
      { nodes: 2, serverNodes: 1, eniHasAddress: false, unreachableOnDelete: false, nodeLocalDns: true },
      '/nonexistent/kubeconfig',
      'none',
    );
    const inner = c as unknown as { renewOthers(): Promise<{ exitCode: number }>[]; renewer?: { stop(): void } };
    return { c, nodes, inner };
  }
  const handle = (node: KindNode) =>
    ({ node, uplinks: ['eth0'], pinDir: `/sys/fs/bpf/notdns/abc123/${node.name}`, tc, createdQdisc: ['eth0'] }) as unknown as EnaHandle;

  it('armEnaDeadMan: lease file, then the detached bash in that node; its lease renewed in the lease round until disarmed, then stopped by pidfile', async () => {
    const fake = await installFakeTools();
    const { c, nodes, inner } = cluster({} as KubeClient, { name: 'notdns-run-abc123', uid: 'u1' });
    try {
      const disarm = await c.armEnaDeadMan(handle(nodes[0]!));
      let calls = (await fake.calls()).filter((x) => x[0] === 'docker');
      assert.deepEqual(calls[0]!.slice(0, 4), ['docker', 'exec', 'nd-abc123-worker', 'sh']);
      assert.equal(calls[0]!.at(-1), '/tmp/notdns/ena-deadman/lease');
      assert.deepEqual(calls[1]!.slice(0, 6), ['docker', 'exec', '-d', 'nd-abc123-worker', 'bash', '-c']);
      assert.match(calls[1]![6]!, /tc filter del dev eth0 ingress protocol all pref 1 handle 0xe4a bpf/);
      assert.match(calls[1]![6]!, /\/sys\/fs\/bpf\/notdns\/abc123\/nd-abc123-worker\/progs/);
      const n0 = calls.length;
      await Promise.all(inner.renewOthers());
      calls = (await fake.calls()).filter((x) => x[0] === 'docker').slice(n0);
      assert.deepEqual(calls, [['docker', 'exec', 'nd-abc123-worker', 'touch', '/tmp/notdns/ena-deadman/lease']], 'only the armed node');
      await disarm();
      const stop = (await fake.calls()).filter((x) => x[0] === 'docker').at(-1)!;
      assert.deepEqual(stop.slice(0, 4), ['docker', 'exec', 'nd-abc123-worker', 'sh']);
      assert.deepEqual(stop.slice(-2), ['/tmp/notdns/ena-deadman/pid', '/tmp/notdns/ena-deadman/lease']);
      assert.deepEqual(inner.renewOthers(), [], 'nothing renewed once disarmed');
    } finally {
      inner.renewer?.stop();
      fake.restore();
    }
  });

  it('without the run owner (no lease round) nothing is armed: an unrenewed watchdog would detach the simulator', async () => {
    const fake = await installFakeTools();
    const { c, nodes } = cluster({} as KubeClient);
    try {
      await (await c.armEnaDeadMan(handle(nodes[0]!)))();
      assert.deepEqual(
        (await fake.calls()).filter((x) => x[0] === 'docker'),
        [],
      );
    } finally {
      fake.restore();
    }
  });
});
