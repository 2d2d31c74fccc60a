// What the kind provider sets up besides the cluster itself, and where it keeps its state: the state directory
// without root, bpftool and dig in the nodes, kind's CoreDNS (synthetic names, placement), kept clusters.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseStateRoot } from '../../harness/paths.js';
import {
  aptInstallArgv,
  aptUpdateArgv,
  ensureNodeTools,
  nodeToolsCheckArgv,
  type NodeToolsDeps,
} from '../../harness/providers/kind/node-tools.js';
import { NODE_DEB_DIR } from '../../harness/providers/kind/node.js';
import {
  corednsConfigMap,
  corednsDeploymentPatch,
  corefileHash,
  COREFILE_ANNOTATION,
  SYNTHETIC_ANSWER_IP,
  SYNTHETIC_NAME_REGEX,
  withSyntheticNames,
} from '../../harness/providers/kind/coredns.js';
import { ROLE_LABEL, kindDeleteArgv, kindGetClustersArgv } from '../../harness/providers/kind/config.js';
import { createKindProvider, keepModeOf } from '../../harness/providers/kind/kind.js';
import { defaultDoctorDeps, type DoctorDeps } from '../../harness/providers/kind/doctor.js';
import type { RunResult } from '../../harness/exec.js';
import type { SweepResult, Topology } from '../../harness/providers/types.js';
import { validateObject } from './k8s-schema.js';
import { installFakeTools } from './fake-tools.js';

describe('state directory: writable without root', () => {
  it('NOTDNS_STATE_DIR first; /run/notdns for root; else $XDG_RUNTIME_DIR/notdns; else ~/.local/state/notdns', () => {
    assert.equal(chooseStateRoot({ NOTDNS_STATE_DIR: '/x/state', XDG_RUNTIME_DIR: '/run/user/1001' }, 1001, '/home/runner'), '/x/state');
    assert.equal(chooseStateRoot({ NOTDNS_STATE_DIR: '/x/state' }, 0, '/root'), '/x/state');
    assert.equal(chooseStateRoot({ XDG_RUNTIME_DIR: '/run/user/0' }, 0, '/root'), '/run/notdns', 'the lab (root) is unchanged');
    assert.equal(chooseStateRoot({ XDG_RUNTIME_DIR: '/run/user/1001' }, 1001, '/home/runner'), '/run/user/1001/notdns');
    assert.equal(chooseStateRoot({}, 1001, '/home/runner'), '/home/runner/.local/state/notdns');
    assert.equal(
      chooseStateRoot({ NOTDNS_STATE_DIR: '' }, undefined, '/home/u'),
      '/home/u/.local/state/notdns',
      'empty means unset; no uid means not root',
    );
  });
});

describe('kind: bpftool and dig in the node containers', () => {
  it('argv (pure)', () => {
    assert.deepEqual(nodeToolsCheckArgv('nd-abc123-worker'), [
      'exec',
      'nd-abc123-worker',
      'sh',
      '-c',
      'command -v bpftool >/dev/null && command -v dig >/dev/null',
    ]);
    assert.deepEqual(aptUpdateArgv('w'), ['exec', '-e', 'DEBIAN_FRONTEND=noninteractive', 'w', 'apt-get', 'update', '-q']);
    assert.deepEqual(aptInstallArgv('w'), [
      'exec',
      '-e',
      'DEBIAN_FRONTEND=noninteractive',
      'w',
      'apt-get',
      'install',
      '-y',
      '-q',
      '--no-install-recommends',
      'bpftool',
      'bind9-dnsutils',
    ]);
  });

  /** A docker that knows which nodes have the tools, and records what it ran. */
  function fakeDocker(have: Set<string>, o: { aptFails?: boolean; installHelps?: boolean } = {}): NodeToolsDeps & { calls: string[][] } {
    const calls: string[][] = [];
    const res = (exitCode: number, stderr = ''): RunResult => ({
      command: 'docker',
      exitCode,
      stdout: '',
      stderr,
      failed: exitCode !== 0,
      durationMs: 0,
    });
    return {
      calls,
      async docker(args) {
        calls.push(args);
        const node = args.find((a) => a.startsWith('nd-'))!.split(':')[0]!;
        if (args.includes('sh')) return res(have.has(node) ? 0 : 1);
        if (args.includes('apt-get') && o.aptFails)
          return res(100, 'E: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  Could not resolve host');
        if ((args.includes('install') || args.includes('dpkg')) && o.installHelps !== false) have.add(node);
        return res(0);
      },
      async listDir() {
        return ['bind9-dnsutils_9.18.41-1~deb12u1_amd64.deb', 'bpftool_7.1.0+6.1.158-1_amd64.deb', 'notes.txt'];
      },
      async installDebs(container, dir) {
        calls.push(['installDebs', container, dir]);
        if (o.installHelps !== false) have.add(container);
      },
    };
  }

  it('nothing to do where they are present; apt-get in the nodes that lack them', async () => {
    const d = fakeDocker(new Set(['nd-a-worker']));
    const r = await ensureNodeTools(['nd-a-worker', 'nd-a-worker2'], d);
    assert.deepEqual(r, [
      { container: 'nd-a-worker', how: 'present' },
      { container: 'nd-a-worker2', how: 'apt' },
    ]);
    assert.deepEqual(
      d.calls.filter((c) => c.includes('nd-a-worker2')),
      [
        nodeToolsCheckArgv('nd-a-worker2'),
        aptUpdateArgv('nd-a-worker2'),
        aptInstallArgv('nd-a-worker2'),
        nodeToolsCheckArgv('nd-a-worker2'),
      ],
    );
    assert.deepEqual(
      d.calls.filter((c) => c.includes('nd-a-worker')),
      [nodeToolsCheckArgv('nd-a-worker')],
    );
  });

  it('offline: the .deb files of NOTDNS_NODE_DEBS copied in and installed with dpkg, no apt-get', async () => {
    const d = fakeDocker(new Set());
    const r = await ensureNodeTools(['nd-a-worker'], d, { debsDir: '/srv/debs' });
    assert.deepEqual(r, [{ container: 'nd-a-worker', how: 'debs' }]);
    assert.deepEqual(d.calls, [
      nodeToolsCheckArgv('nd-a-worker'),
      ['installDebs', 'nd-a-worker', '/srv/debs'],
      nodeToolsCheckArgv('nd-a-worker'),
    ]);
    assert.ok(!d.calls.some((c) => c.includes('apt-get')));
  });

  it('says what failed and how to go offline; checks that the tools really arrived', async () => {
    const failing = await ensureNodeTools(['nd-a-worker'], fakeDocker(new Set(), { aptFails: true })).then(
      () => undefined,
      (e) => e,
    );
    assert.equal(failing?.kind, 'environment');
    assert.match(failing.message, /apt-get update in kind node nd-a-worker failed \(exit 100\): E: Failed to fetch/);
    assert.match(failing.hint, /NOTDNS_NODE_DEBS/);
    const useless = await ensureNodeTools(['nd-a-worker'], fakeDocker(new Set(), { installHelps: false }), { debsDir: '/srv/debs' }).then(
      () => undefined,
      (e) => e,
    );
    assert.match(useless?.message, /bpftool and dig are still missing in kind node nd-a-worker/);
    const empty = await ensureNodeTools(
      ['nd-a-worker'],
      { ...fakeDocker(new Set()), listDir: async () => ['README'] },
      { debsDir: '/srv/empty' },
    ).then(
      () => undefined,
      (e) => e,
    );
    assert.match(empty?.message, /has no \.deb files/);
  });
});

// kubeadm's default Corefile, as kind (kubeadm) writes it into kube-system/coredns
const KUBEADM_COREFILE = `.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loop
    reload
    loadbalance
}
`;

describe("kind: CoreDNS answers the workloads' names", () => {
  it('the template goes into the server block of the cluster zone, before anything else there', () => {
    const out = withSyntheticNames(KUBEADM_COREFILE);
    const lines = out.split('\n');
    assert.equal(lines[0], '.:53 {');
    assert.match(lines[1]!, /^ {4}# notdns: synthetic names \(begin\)/);
    assert.deepEqual(lines.slice(2, 8), [
      '    template IN A default.svc.cluster.local {',
      `        match ${SYNTHETIC_NAME_REGEX}`,
      `        answer "{{ .Name }} 60 IN A ${SYNTHETIC_ANSWER_IP}"`,
      '        fallthrough',
      '    }',
      '    # notdns: synthetic names (end)',
    ]);
    assert.equal(lines.slice(8).join('\n'), KUBEADM_COREFILE.split('\n').slice(1).join('\n'), 'the rest unchanged');
    // braces still balance
    assert.equal((out.match(/\{/g) ?? []).length, (out.match(/\}/g) ?? []).length);
  });

  it('is idempotent, and picks the block with the kubernetes plugin among several', () => {
    const once = withSyntheticNames(KUBEADM_COREFILE);
    assert.equal(withSyntheticNames(once), once);
    assert.equal(withSyntheticNames(withSyntheticNames(KUBEADM_COREFILE, '10.96.0.99')), once, 'a new answer replaces the old block');
    const two = `example.org:53 {\n    forward . 1.1.1.1\n}\n${KUBEADM_COREFILE}`;
    const out = withSyntheticNames(two).split('\n');
    assert.equal(out[3], '.:53 {');
    assert.match(out[4]!, /notdns: synthetic names/);
    assert.deepEqual(out.slice(0, 3), ['example.org:53 {', '    forward . 1.1.1.1', '}']);
  });

  it('refuses a Corefile without the cluster zone, and an answer that is not an address', () => {
    assert.throws(
      () => withSyntheticNames('.:53 {\n    forward . /etc/resolv.conf\n}\n'),
      (e: any) => e.kind === 'harness' && /kubernetes cluster\.local/.test(e.message),
    );
    assert.throws(() => withSyntheticNames(KUBEADM_COREFILE, '{{ .Name }}'), /not an IPv4 address/);
  });

  it('the regex (RE2 here is plain JS-compatible) matches exactly the names the workloads ask for, fully qualified', () => {
    const re = new RegExp(SYNTHETIC_NAME_REGEX);
    for (const ok of ['q1.default.svc.cluster.local.', 'q123456.default.svc.cluster.local.', 'check7.default.svc.cluster.local.'])
      assert.ok(re.test(ok), ok);
    for (const no of [
      'q1.default.svc.cluster.local',
      'qx.default.svc.cluster.local.',
      'q1.other.svc.cluster.local.',
      'kube-dns.kube-system.svc.cluster.local.',
      'metrics-service.default.svc.cluster.local.',
      'xq1.default.svc.cluster.local.',
      'q1.default.svc.cluster.localx.',
    ])
      assert.ok(!re.test(no), no);
  });

  it('the ConfigMap and the Deployment patch are valid; CoreDNS stays off the server nodes and restarts on a new Corefile', () => {
    const cf = withSyntheticNames(KUBEADM_COREFILE);
    const cm = corednsConfigMap(cf);
    assert.deepEqual(validateObject(cm as never), []);
    assert.equal(cm.data!.Corefile, cf);
    const p = corednsDeploymentPatch(cf);
    assert.deepEqual(validateObject(p as never), []);
    assert.deepEqual(p.metadata, { name: 'coredns', namespace: 'kube-system' });
    assert.deepEqual(p.spec!.selector.matchLabels, { 'k8s-app': 'kube-dns' });
    const term = p.spec!.template.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms;
    assert.deepEqual(term, [{ matchExpressions: [{ key: ROLE_LABEL, operator: 'NotIn', values: ['server'] }] }]);
    assert.equal(p.spec!.template.metadata!.annotations![COREFILE_ANNOTATION], corefileHash(cf));
    assert.notEqual(corefileHash(cf), corefileHash(KUBEADM_COREFILE));
  });
});

describe('kind: NOTDNS_KEEP_CLUSTER', function () {
  this.timeout(60_000);
  const topo: Topology = { nodes: 2, serverNodes: 1, eniHasAddress: false, unreachableOnDelete: false, nodeLocalDns: false };
  const doctorDeps: DoctorDeps = { ...defaultDoctorDeps, readFile: async () => '', writableDir: async () => true };
  let state: string;
  beforeEach(async () => {
    state = await mkdtemp(join(tmpdir(), 'nd-keep-'));
  });
  afterEach(async () => {
    await rm(state, { recursive: true, force: true });
    delete process.env.NOTDNS_KEEP_CLUSTER;
  });

  it('values: 0/unset none, 1 all, last; anything else is refused', () => {
    assert.equal(keepModeOf(undefined), 'none');
    assert.equal(keepModeOf('0'), 'none');
    assert.equal(keepModeOf('1'), 'all');
    assert.equal(keepModeOf('last'), 'last');
    assert.throws(
      () => keepModeOf('on-failure'),
      (e: any) => e.kind === 'usage',
    );
  });

  it("the runner's sweep of a kept run keeps its cluster; `down --all` (sweep of every run) still removes it", async () => {
    const fake = await installFakeTools({ clusters: ['nd-abc123'] });
    process.env.NOTDNS_KEEP_CLUSTER = '1';
    await mkdir(join(state, 'abc123'));
    let one: SweepResult, all: SweepResult;
    try {
      const p = createKindProvider({ stateRoot: state });
      one = await p.sweep('abc123');
      assert.deepEqual(await readdir(state), ['abc123'], 'its state (the kubeconfig) is kept with it');
      all = await p.sweep();
      assert.deepEqual(await readdir(state), []);
    } finally {
      fake.restore();
    }
    assert.deepEqual(one, { removed: [], live: [] });
    assert.deepEqual(all!.removed, ['kind cluster nd-abc123']);
    assert.deepEqual(
      (await fake.calls()).map((c) => c.slice(1)),
      [kindGetClustersArgv(), kindDeleteArgv('nd-abc123')],
      'only the sweep of every run touched kind',
    );
  });

  it("without it, the sweep of a run deletes that run's cluster", async () => {
    const fake = await installFakeTools({ clusters: ['nd-abc123'] });
    try {
      assert.deepEqual((await createKindProvider({ stateRoot: state }).sweep('abc123')).removed, ['kind cluster nd-abc123']);
    } finally {
      fake.restore();
    }
  });

  it("last: a failed bring-up keeps its cluster until the next variant's bring-up, which deletes it first", async () => {
    const fake = await installFakeTools();
    const p = createKindProvider({ keep: 'last', buildImage: false, doctorDeps, timeouts: { nodesReadyMs: 500 } });
    try {
      await p.up(topo, 'aaa111', { stateDir: join(state, 'a') }).catch(() => undefined);
      assert.deepEqual(p.kept, ['nd-aaa111']);
      await p.up(topo, 'bbb222', { stateDir: join(state, 'b') }).catch(() => undefined);
      assert.deepEqual(p.kept, ['nd-bbb222']);
    } finally {
      fake.restore();
    }
    const kind = (await fake.calls())
      .filter((c) => c[0] === 'kind' && (c[1] === 'create' || c[1] === 'delete'))
      .map((c) => `${c[1]} ${c[c.indexOf('--name') + 1]}`);
    assert.deepEqual(kind, ['create nd-aaa111', 'delete nd-aaa111', 'create nd-bbb222']);
  });

  it('1 (all): nothing kept is deleted by a later bring-up', async () => {
    const fake = await installFakeTools();
    const p = createKindProvider({ keep: 'all', buildImage: false, doctorDeps, timeouts: { nodesReadyMs: 500 } });
    try {
      await p.up(topo, 'aaa111', { stateDir: join(state, 'a') }).catch(() => undefined);
      await p.up(topo, 'bbb222', { stateDir: join(state, 'b') }).catch(() => undefined);
    } finally {
      fake.restore();
    }
    assert.deepEqual(p.kept, ['nd-aaa111', 'nd-bbb222']);
    assert.deepEqual(
      (await fake.calls()).filter((c) => c[0] === 'kind' && c[1] === 'delete'),
      [],
    );
  });
});

describe('kind: bring-up installs the node tools when missing (fake docker)', function () {
  this.timeout(60_000);
  const topo: Topology = { nodes: 2, serverNodes: 1, eniHasAddress: false, unreachableOnDelete: false, nodeLocalDns: false };
  const doctorDeps: DoctorDeps = { ...defaultDoctorDeps, readFile: async () => '', writableDir: async () => true };
  let state: string;
  beforeEach(async () => {
    state = await mkdtemp(join(tmpdir(), 'nd-tools-'));
  });
  afterEach(async () => {
    await rm(state, { recursive: true, force: true });
    delete process.env.NOTDNS_NODE_DEBS;
  });

  it('apt-get in every worker, then Cilium', async () => {
    const fake = await installFakeTools({ nodeTools: 'missing' });
    try {
      await createKindProvider({ buildImage: false, doctorDeps, timeouts: { nodesReadyMs: 500 } })
        .up(topo, 'abc123', { stateDir: state })
        .catch(() => undefined);
    } finally {
      fake.restore();
    }
    const calls = (await fake.calls()).map((c) => c.slice(1));
    for (const w of ['nd-abc123-worker', 'nd-abc123-worker2']) {
      assert.deepEqual(
        calls.filter((c) => c.includes(w) && c[0] === 'exec'),
        [nodeToolsCheckArgv(w), aptUpdateArgv(w), aptInstallArgv(w), nodeToolsCheckArgv(w)],
      );
    }
    assert.ok(
      !calls.some((c) => c.includes('nd-abc123-control-plane') && c[0] === 'exec'),
      "the control plane runs none of the harness's node commands",
    );
  });

  it('NOTDNS_NODE_DEBS: docker cp and dpkg -i; apt-get failing stops the bring-up with the hint (and deletes the cluster)', async () => {
    const debs = join(state, 'debs');
    await mkdir(debs);
    await writeFile(join(debs, 'bpftool_7.1.0_amd64.deb'), '');
    let fake = await installFakeTools({ nodeTools: 'missing', aptFails: true });
    process.env.NOTDNS_NODE_DEBS = debs;
    try {
      await createKindProvider({ buildImage: false, doctorDeps, timeouts: { nodesReadyMs: 500 } })
        .up(topo, 'abc123', { stateDir: join(state, 's1') })
        .catch(() => undefined);
    } finally {
      fake.restore();
    }
    let calls = (await fake.calls()).map((c) => c.slice(1));
    assert.ok(calls.some((c) => c[0] === 'cp' && c[1] === `${debs}/.` && c[2] === `nd-abc123-worker:${NODE_DEB_DIR}`));
    assert.ok(calls.some((c) => c.includes('dpkg') && c.includes(`${NODE_DEB_DIR}/bpftool_7.1.0_amd64.deb`)));
    assert.ok(!calls.some((c) => c.includes('apt-get')));
    delete process.env.NOTDNS_NODE_DEBS;

    fake = await installFakeTools({ nodeTools: 'missing', aptFails: true });
    let err: any;
    try {
      await createKindProvider({ buildImage: false, doctorDeps }).up(topo, 'abc123', { stateDir: join(state, 's2') });
    } catch (e) {
      err = e;
    } finally {
      fake.restore();
    }
    assert.equal(err?.kind, 'environment');
    assert.match(err.hint, /NOTDNS_NODE_DEBS/);
    calls = (await fake.calls()).map((c) => c.slice(1));
    assert.ok(!calls.some((c) => c[0] === 'upgrade'), 'Cilium was not installed');
    assert.deepEqual(calls[calls.length - 1], kindDeleteArgv('nd-abc123', join(state, 's2', 'kubeconfig')));
  });
});

describe('kind: preflight', () => {
  it("refuses the lab's address-less ENI switch and a bad NOTDNS_KEEP_CLUSTER before anything is created", async () => {
    const t: Topology = { nodes: 2, serverNodes: 1, eniHasAddress: false, unreachableOnDelete: false, nodeLocalDns: true };
    await createKindProvider().preflight([t]);
    await assert.rejects(
      createKindProvider().preflight([t, { ...t, eniHasAddress: true }]),
      (e: any) => e.kind === 'usage' && /eniHasAddress/.test(e.message),
    );
    process.env.NOTDNS_KEEP_CLUSTER = 'sometimes';
    try {
      await assert.rejects(createKindProvider().preflight([t]), (e: any) => e.kind === 'usage' && /NOTDNS_KEEP_CLUSTER/.test(e.message));
    } finally {
      delete process.env.NOTDNS_KEEP_CLUSTER;
    }
  });
});
