// installNodeDebs and its argv builders (pure, and against a fake `docker` that records its calls): the .deb files
// of a folder reach the node with ONE `docker cp` and are installed with ONE `dpkg --install`, then removed.
// The real thing runs in kindnode-lookalike.docker.test.ts.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { debFiles, dpkgInstallArgv, installNodeDebs, KindNode, NODE_DEB_DIR, nsenterNetArgv } from '../../harness/providers/kind/node.js';
import { NotdnsError } from '../../harness/errors.js';
import { CONNECT_LOOP, podNodeLines, podNsLines, POD_GW, POD_IP, POD_NS } from './lookalike.js';
import { execa } from 'execa';

describe('kind node: installNodeDebs and nsenter argv', () => {
  let dir: string;
  let log: string;
  const saved = process.env.NOTDNS_DOCKER;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nd-node-debs-'));
    log = join(dir, 'calls');
    const fake = join(dir, 'docker');
    await writeFile(
      fake,
      `#!/bin/sh\nprintf '%s\\n' "$*" >> ${log}\ncase "$*" in *dpkg*) [ -n "$FAKE_DPKG_FAIL" ] && { echo "dpkg: dependency problems prevent configuration of bpftool" >&2; exit 1; } ;; esac\nexit 0\n`,
    );
    await chmod(fake, 0o755);
    process.env.NOTDNS_DOCKER = fake;
  });
  afterEach(async () => {
    if (saved === undefined) delete process.env.NOTDNS_DOCKER;
    else process.env.NOTDNS_DOCKER = saved;
    delete process.env.FAKE_DPKG_FAIL;
    await rm(dir, { recursive: true, force: true });
  });

  it('argv builders', () => {
    assert.deepEqual(debFiles(['b_1_amd64.deb', 'packages.txt', 'a_2%3a1_amd64.deb', 'x.deb.part']), [
      'a_2%3a1_amd64.deb',
      'b_1_amd64.deb',
    ]);
    assert.deepEqual(dpkgInstallArgv(['/tmp/notdns/debs/a.deb', '/tmp/notdns/debs/b.deb']), [
      '--install',
      '--skip-same-version',
      '/tmp/notdns/debs/a.deb',
      '/tmp/notdns/debs/b.deb',
    ]);
    assert.deepEqual(nsenterNetArgv('/run/netns/pod-a', 'cat', ['/proc/net/snmp']), ['--net=/run/netns/pod-a', 'cat', '/proc/net/snmp']);
  });

  it('one docker cp of the folder, one dpkg --install of every .deb (sorted), the copy removed afterwards', async () => {
    const debs = join(dir, 'debs');
    await execa('mkdir', ['-p', debs]);
    for (const f of ['libuv1_1.44_amd64.deb', 'bpftool_7.1.0_amd64.deb', 'packages.txt']) await writeFile(join(debs, f), 'x');
    const files = await installNodeDebs(new KindNode('nd-x-worker', '172.18.0.2'), debs);
    assert.deepEqual(files, ['bpftool_7.1.0_amd64.deb', 'libuv1_1.44_amd64.deb']);
    const calls = (await readFile(log, 'utf8')).trim().split('\n');
    assert.deepEqual(calls, [
      `exec nd-x-worker mkdir -p ${NODE_DEB_DIR}`,
      `cp ${debs}/. nd-x-worker:${NODE_DEB_DIR}`,
      `exec -e DEBIAN_FRONTEND=noninteractive nd-x-worker dpkg --install --skip-same-version ${NODE_DEB_DIR}/bpftool_7.1.0_amd64.deb ${NODE_DEB_DIR}/libuv1_1.44_amd64.deb`,
      `exec nd-x-worker rm -rf ${NODE_DEB_DIR}`,
    ]);
  });

  it('a dpkg failure is an environment error quoting dpkg, and the copy is still removed; an empty folder is a usage error', async () => {
    const debs = join(dir, 'debs');
    await execa('mkdir', ['-p', debs]);
    await writeFile(join(debs, 'bpftool_7.1.0_amd64.deb'), 'x');
    process.env.FAKE_DPKG_FAIL = '1';
    await assert.rejects(
      installNodeDebs(new KindNode('w', ''), debs),
      (e: unknown) =>
        e instanceof NotdnsError &&
        e.kind === 'environment' &&
        /dependency problems/.test(e.message) &&
        /apt-get -s install/.test(e.hint ?? ''),
    );
    assert.match((await readFile(log, 'utf8')).trim().split('\n').pop()!, /^exec w rm -rf /);
    await rm(join(debs, 'bpftool_7.1.0_amd64.deb'));
    await assert.rejects(
      installNodeDebs(new KindNode('w', ''), debs),
      (e: unknown) => e instanceof NotdnsError && e.kind === 'usage' && /no \.deb files/.test(e.message),
    );
    await assert.rejects(
      installNodeDebs(new KindNode('w', ''), join(dir, 'missing')),
      (e: unknown) => e instanceof NotdnsError && e.kind === 'usage',
    );
  });

  it("the look-alike test's pod: a /32 veth pod with a default route through the node; a bounded connect loop", () => {
    assert.deepEqual(podNodeLines().slice(0, 2), [
      `netns add ${POD_NS}`,
      `link add lxc-${POD_NS} type veth peer name eth0 netns ${POD_NS}`,
    ]);
    assert.ok(podNsLines().includes(`addr add ${POD_IP}/32 dev eth0`));
    assert.equal(podNsLines().at(-1), `route add default via ${POD_GW} dev eth0`);
    assert.match(CONNECT_LOOP, /while \[ "\$i" -lt "\$3" \]/);
  });
});
