// The kind provider's node code exercised for real against a kind-node look-alike (no kind, no kindest/node here):
// notdns/kindnode-lookalike:bookworm is `debootstrap --variant=minbase bookworm` + exactly kindest/base's apt
// packages (scripts/docker/test-images.sh), run privileged on the default docker bridge (its own netns; eth0 is
// its uplink) with a bpffs at /sys/fs/bpf (Cilium mounts one on kind nodes). A second look-alike is the peer.
// The harness side runs as a NON-ROOT user in group docker (test/container/kindnode-driver.ts under runuser):
// installNodeDebs brings bpftool and dig from .deb files fetched on this machine (the bridge has no egress here),
// attachEna loads the ENA simulator on the node's eth0 through docker exec, a pod netns inside the node sends
// bounded SYNs to the peer, readEnaStats counts them, the pod's /proc/net/snmp is read through nsenter, the
// #18505 unreachable route is installed and removed, the bash estab agent holds a connection from the pod netns to
// an echo in the peer, and detachEna leaves nothing behind.
// Skips with the reason where Docker cannot start, the Debian mirror cannot be reached, or not root.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { compileEna } from '../../harness/ena/index.js';
import { distDir, repoRoot } from '../../harness/paths.js';
import { KindNode } from '../../harness/providers/kind/node.js';
import { CI_USER, DOCKER_DIR, ensureCiUser, inspect, removeContainers, startEngine, stopEngine, testImages } from './docker.js';
import { POD_CIDR, POD_NS, type DriverArgs, type DriverReport } from './lookalike.js';

const SYNS = 300;
const ALLOWANCE = 1024;
/** What kindest/base has and lacks (kind v0.30.0 images/base/Dockerfile). */
const PRESENT = ['nsenter', 'ip', 'tc', 'ethtool', 'conntrack', 'nft', 'iptables', 'curl', 'jq', 'ps', 'mount', 'bash', 'systemctl'];
const ABSENT = ['bpftool', 'dig', 'clang'];

describe("kind-node look-alike driven by the kind provider's node code from a non-root user @root @docker", function () {
  this.timeout(15 * 60_000);
  const id = randomBytes(3).toString('hex');
  const nodeName = `nd-test-kl-${id}-worker`;
  const peerName = `nd-test-kl-${id}-peer`;
  const runId = `test-kl-${id}`;
  let startedEngine = false;
  let containers: string[] = [];
  let report: DriverReport;
  let args: DriverArgs;
  let ciUid = -1;
  let tools: Record<string, boolean> = {};
  let hostPeer: string | undefined;
  let hostPeerQdisc = '';
  let packages: string[] = [];
  const took: Record<string, number> = {};
  const step = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      return await f();
    } finally {
      took[what] = (Date.now() - t0) / 1000;
    }
  };

  before(async function () {
    const skip = (why: string) => {
      console.log(`      skipped: ${why}`);
      this.skip();
    };
    if (process.getuid?.() !== 0) return skip('not root (the suite creates the non-root harness user and privileged containers)');
    const engine = await step('engine', startEngine);
    if ('skip' in engine) return skip(engine.skip);
    startedEngine = engine.ok.startedEngine;
    const image = await step('image', () => testImages(['kindnode-lookalike']));
    if ('skip' in image) return skip(image.skip);
    const imageId = (await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', image.ok])).stdout
      .replace(/^sha256:/, '')
      .slice(0, 12);
    const debs = await step('debs', () =>
      testImages(['node-debs', image.ok, join(DOCKER_DIR, 'node-debs', `kindnode-${imageId}`), 'bpftool', 'bind9-dnsutils']),
    );
    if ('skip' in debs) return skip(debs.skip);
    packages = (await readFile(join(debs.ok, 'packages.txt'), 'utf8')).trim().split('\n');
    const user = await ensureCiUser();
    if ('skip' in user) return skip(user.skip);
    ciUid = user.ok;
    // the object is built here (root can write dist/build); the non-root driver's compileEna finds it by its hash
    // (attachEna compiles with countingCapacity = allowance when the allowance is enforced)
    await step('compileEna', () => compileEna({ allowance: ALLOWANCE, countingCapacity: ALLOWANCE }));

    await step('containers', async () => {
      for (const name of [nodeName, peerName]) {
        containers.push(name);
        await execa('docker', ['run', '-d', '--privileged', '--name', name, '--hostname', name, image.ok]);
      }
      await execa('docker', ['exec', nodeName, 'mount', '-t', 'bpf', 'bpf', '/sys/fs/bpf']);
    });
    const nodeIp = await inspect(nodeName, '{{.NetworkSettings.IPAddress}}');
    const peerIp = await inspect(peerName, '{{.NetworkSettings.IPAddress}}');
    // the peer routes the node's pod CIDR back to it (as kind nodes route each other's pod CIDRs)
    await execa('docker', ['exec', peerName, 'ip', 'route', 'add', POD_CIDR, 'via', nodeIp]);
    const t = await execa('docker', [
      'exec',
      nodeName,
      'sh',
      '-c',
      'for t in "$@"; do command -v "$t" >/dev/null && echo "$t"; done; true',
      'sh',
      ...PRESENT,
      ...ABSENT,
    ]);
    const found = new Set(String(t.stdout).split('\n'));
    tools = Object.fromEntries([...PRESENT, ...ABSENT].map((x) => [x, found.has(x)]));

    args = { node: nodeName, nodeIp, peer: peerName, peerIp, debDir: debs.ok, runId, syns: SYNS, allowance: ALLOWANCE };
    const driver = join(distDir, 'test', 'container', 'kindnode-driver.js');
    const r = await step('driver', () =>
      execa('runuser', ['-u', CI_USER, '--', process.execPath, '--enable-source-maps', driver, JSON.stringify(args)], {
        cwd: repoRoot,
        reject: false,
        timeout: 5 * 60_000,
      }),
    );
    assert.equal(r.exitCode, 0, `the driver failed (exit ${r.exitCode}): ${String(r.stderr).slice(-2000)}`);
    report = JSON.parse(String(r.stdout).trim().split('\n').pop()!) as DriverReport;
    if (process.env.NOTDNS_TEST_VERBOSE) console.log(JSON.stringify(report, null, 1));
    // the node's uplink seen from the host: its veth on the docker bridge must not have been touched
    hostPeer = await new KindNode(nodeName, nodeIp).hostPeerInterface();
    if (hostPeer) hostPeerQdisc = String((await execa('tc', ['qdisc', 'show', 'dev', hostPeer])).stdout);
    console.log(
      `      took (s): ${Object.entries(took)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', ')}; driver steps (ms): ${JSON.stringify(report.ms)}`,
    );
  });

  after(async () => {
    await removeContainers(containers);
    containers = [];
    if (startedEngine) await stopEngine();
  });

  it('the look-alike has what kindest/base has (nsenter, ip, tc, ethtool, conntrack, nft, curl, jq, systemd) and lacks bpftool, dig and clang', () => {
    for (const t of PRESENT) assert.equal(tools[t], true, `${t} is in kindest/base`);
    for (const t of ABSENT) assert.equal(tools[t], false, `${t} is not in kindest/base`);
  });

  it('the harness runs as a non-root user in group docker', async () => {
    assert.notEqual(report.uid, 0);
    assert.equal(report.uid, ciUid);
    const dockerGid = Number(String((await execa('getent', ['group', 'docker'])).stdout).split(':')[2]);
    assert.ok(report.groups.includes(dockerGid), `groups ${report.groups.join(',')} include docker (${dockerGid})`);
  });

  it('installNodeDebs: bpftool and dig from .deb files fetched on this machine, copied in and installed with dpkg', () => {
    assert.equal(report.debsInstalled.length, packages.length, `${report.debsInstalled.join(' ')} vs ${packages.join(' ')}`);
    for (const p of packages)
      assert.ok(
        report.debsInstalled.some((f) => f.startsWith(`${p.split('=')[0]}_`)),
        `${p} installed`,
      );
    assert.match(report.bpftoolVersion, /^bpftool v\d+\.\d+/);
    assert.match(report.digVersion, /DiG 9\./);
  });

  it("attachEna: the ENA simulator on the node's eth0 (in the node's netns, pinned in its bpffs), not on the host", () => {
    assert.equal(report.pinDir, `/sys/fs/bpf/notdns/${runId}/${nodeName}`);
    assert.match(report.filtersWhileAttached.ingress.join('\n'), /bpf .*ena_ingress.* direct-action/);
    assert.match(report.filtersWhileAttached.egress.join('\n'), /bpf .*ena_egress.* direct-action/);
    assert.equal(report.progIds.length, 2);
    assert.ok(hostPeer, "found the host side of the node's eth0");
    assert.doesNotMatch(hostPeerQdisc, /clsact/, `host interface ${hostPeer}: ${hostPeerQdisc}`);
  });

  it(`${SYNS} SYNs from a pod netns inside the node to the peer: each refused by one RST and counted once by readEnaStats`, () => {
    const b = report.enaBefore,
      a = report.enaAfter;
    assert.deepEqual(report.synLoop, { sent: SYNS, refused: SYNS });
    assert.equal(b.synsOut, 0, 'nothing else sends SYNs out of the node');
    assert.equal(a.synsOut - b.synsOut, SYNS);
    assert.equal(report.synsToPeerAfter - report.synsToPeerBefore, SYNS);
    assert.equal(a.flowSyn - b.flowSyn, SYNS, 'one new flow per SYN');
    assert.ok(a.packetsIn - b.packetsIn >= SYNS, `the RSTs came back in on eth0 (${a.packetsIn - b.packetsIn})`);
    assert.equal(a.allowanceExceeded, 0, `allowance ${ALLOWANCE} > ${SYNS} flows`);
  });

  it(`the pod's /proc/net/snmp through \`docker exec <node> nsenter --net=/run/netns/${POD_NS}\`: TcpActiveOpens +${SYNS}`, () => {
    assert.equal(report.podSnmpAfter.TcpActiveOpens! - report.podSnmpBefore.TcpActiveOpens!, SYNS);
    assert.equal(report.podSnmpAfter.TcpAttemptFails! - report.podSnmpBefore.TcpAttemptFails!, SYNS);
  });

  it('the #18505 emulation: unreachableRouteArgv makes the IP unreachable (ICMP to the pod), removeUnreachableRouteArgv removes it', () => {
    const u = report.unreachable;
    assert.notEqual(u.getDuring.exitCode, 0);
    assert.match(u.getDuring.out, /No route to host/);
    assert.match(u.showDuring, /^unreachable 10\.244\.2\.7\b/);
    assert.match(u.connectErr, /No route to host/);
    assert.ok(u.icmpAfter > u.icmpBefore, `the pod received ICMP destination unreachable (${u.icmpBefore} → ${u.icmpAfter})`);
    assert.equal(u.getAfter.exitCode, 0, u.getAfter.out);
    assert.match(u.getAfter.out, /dev eth0/);
    assert.equal(u.showAfter, '');
  });

  it('estab on kind: the bash agent in the pod netns (docker exec + nsenter) sees its connection answer, fail while blackholed, answer again, and close', () => {
    const e = report.estab;
    assert.ok(e.answering.connected && e.answering.ok >= 5 && e.answering.failed === 0, `answering: ${JSON.stringify(e)}`);
    assert.ok(e.blackholed.connected, `a blackholed established connection is still open: ${JSON.stringify(e.blackholed)}`);
    assert.ok(e.blackholed.failed >= 1, `its pings fail: ${JSON.stringify(e.blackholed)}`);
    assert.ok(e.restored.connected && e.restored.ok > e.blackholed.ok, `the same connection answers again: ${JSON.stringify(e.restored)}`);
    assert.equal(e.closed.connected, false, `the echo gone, the connection is closed: ${JSON.stringify(e.closed)}`);
    assert.ok(e.closed.failed > e.restored.failed, JSON.stringify(e.closed));
    assert.equal(e.exitCode, 0, `stopped through its pidfile (stderr: ${e.stderr})`);
  });

  it('the ENA watchdog: armed after attachEna, renewed in the lease round, stopped by its pidfile before detachEna: no process left', () => {
    const w = report.watchdogNormal;
    assert.match(w.pidWhileArmed, /^\d+$/, 'its pidfile while armed');
    assert.ok(w.renewRounds >= 1, `renewal rounds ${w.renewRounds}`);
    assert.equal(w.renewFailures, 0);
    assert.match(w.log, /watching \/tmp\/notdns\/ena-deadman\/lease \(30000 ms\)/);
    assert.match(w.log, /stopped/);
    assert.doesNotMatch(w.log, /expired/);
    assert.deepEqual(w.psAfterStop, [], 'no process left in the node container (no watchdog, no sleep, no zombie)');
  });

  it('the dead-man switch: renewals stopped (harness SIGKILLed) → the watchdog deletes both ENA filters within lease + 2 s, then the clsact and pins, and exits', () => {
    const d = report.deadMan;
    console.log(
      `      dead-man: filters gone ${(d.goneAfterMs / 1000).toFixed(2)} s after the last renewal (lease ${d.leaseSeconds} s, poll step ${d.pollMs} ms, ${d.renewRounds} renewals before)`,
    );
    assert.ok(d.filtersWhileRenewed, 'filters kept while renewed');
    assert.ok(d.renewRounds >= 2, `renewal rounds ${d.renewRounds}`);
    assert.ok(d.goneAtMs > 0, `the filters never went: ${d.log}`);
    // goneAtMs is the end of the first poll that saw them gone: an upper bound
    assert.ok(d.goneAfterMs >= d.leaseSeconds * 1000, `not before the lease ran out (${d.goneAfterMs} ms)`);
    assert.ok(d.goneAfterMs <= (d.leaseSeconds + 2) * 1000, `gone ${d.goneAfterMs} ms after the last renewal`);
    assert.match(d.log, /lease expired \(\d+ ms > 30000 ms\)/);
    assert.match(d.log, /deleted eth0 ingress/);
    assert.match(d.log, /deleted eth0 egress/);
    assert.doesNotMatch(d.qdisc, /clsact/, 'the clsact attachEna added, removed once empty');
    assert.equal(d.pinsLeft, '', 'pins dir removed');
    assert.deepEqual(d.psAfter, [], 'the watchdog exited, nothing left');
  });

  it('detachEna leaves nothing: no tc filter, no clsact, no pins, both programs freed', () => {
    const d = report.afterDetach;
    assert.equal(d.ingress, '');
    assert.equal(d.egress, '');
    assert.doesNotMatch(d.qdisc, /clsact/);
    assert.equal(d.pinsLeft, '');
    assert.deepEqual(d.progsAlive, []);
  });
});
