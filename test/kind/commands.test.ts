// The commands the kind/kubeconfig providers run: pure argv builders, and the kind provider's up()/sweep()
// driven end to end against fake docker/kind/helm on PATH up to where a real API server is needed.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  clustersToSweep,
  kindCreateArgv,
  kindDeleteArgv,
  kindLoadImageArgv,
  kindExportLogsArgv,
  parseKindClusters,
  kindContext,
} from '../../harness/providers/kind/config.js';
import {
  chooseInstaller,
  ciliumCliInstallArgv,
  ciliumCliStatusArgv,
  helmInstallArgv,
  CILIUM_HELM_REPO,
  CILIUM_VERSION,
} from '../../harness/providers/kind/cilium.js';
import {
  dockerCpArgv,
  dockerExecArgv,
  dockerInspectArgv,
  KindNode,
  removeUnreachableRouteArgv,
  unreachableRouteArgv,
} from '../../harness/providers/kind/node.js';
import { curlArgv, parseCurlOutput, createKindProvider } from '../../harness/providers/kind/kind.js';
import { bareImports, dependencyClosure, dockerBuildArgv, packageOf, stageBuildContext } from '../../harness/providers/kind/images.js';
import { defaultDoctorDeps, doctorProblems, kindDoctor, type DoctorDeps } from '../../harness/providers/kind/doctor.js';
import { nodeToolsCheckArgv } from '../../harness/providers/kind/node-tools.js';
import { exitCodeOf } from '../../harness/providers/k8s/client.js';
import { repoRoot } from '../../harness/paths.js';
import { installFakeTools } from './fake-tools.js';
import type { Topology } from '../../harness/providers/types.js';

const topo: Topology = { nodes: 3, serverNodes: 2, eniHasAddress: false, unreachableOnDelete: true, nodeLocalDns: true };

describe('kind: argv of every command (pure)', () => {
  it('kind', () => {
    assert.deepEqual(kindCreateArgv('nd-abc123', '/s/kind-config.yaml', '/s/kubeconfig'), [
      'create',
      'cluster',
      '--name',
      'nd-abc123',
      '--config',
      '/s/kind-config.yaml',
      '--kubeconfig',
      '/s/kubeconfig',
      '--wait',
      '0s',
    ]);
    assert.deepEqual(kindDeleteArgv('nd-abc123'), ['delete', 'cluster', '--name', 'nd-abc123']);
    assert.deepEqual(kindLoadImageArgv('nd-abc123', 'notdns/workloads:dev'), [
      'load',
      'docker-image',
      'notdns/workloads:dev',
      '--name',
      'nd-abc123',
    ]);
    assert.deepEqual(kindLoadImageArgv('nd-abc123', 'img', ['a', 'b']), [
      'load',
      'docker-image',
      'img',
      '--name',
      'nd-abc123',
      '--nodes',
      'a,b',
    ]);
    assert.deepEqual(kindExportLogsArgv('nd-abc123', '/o/logs'), ['export', 'logs', '/o/logs', '--name', 'nd-abc123']);
    assert.equal(kindContext('nd-abc123'), 'kind-nd-abc123');
  });

  it('kind get clusters → what sweep deletes', () => {
    const all = parseKindClusters('kind\nnd-abc123\nnd-0f0f0f\nmy-nd-x\n');
    assert.deepEqual(all, ['kind', 'nd-abc123', 'nd-0f0f0f', 'my-nd-x']);
    assert.deepEqual(parseKindClusters('No kind clusters found.\n'), []);
    assert.deepEqual(clustersToSweep(all), ['nd-abc123', 'nd-0f0f0f']);
    assert.deepEqual(clustersToSweep(all, 'abc123'), ['nd-abc123']);
  });

  it("helm and the cilium CLI install the same values into the cluster's context", () => {
    const t = { kubeconfig: '/s/kubeconfig', context: 'kind-nd-abc123', valuesFile: '/s/cilium-values.yaml' };
    assert.deepEqual(helmInstallArgv(t), [
      'upgrade',
      '--install',
      'cilium',
      'cilium',
      '--repo',
      CILIUM_HELM_REPO,
      '--version',
      CILIUM_VERSION,
      '--namespace',
      'kube-system',
      '--kubeconfig',
      '/s/kubeconfig',
      '--kube-context',
      'kind-nd-abc123',
      '--values',
      '/s/cilium-values.yaml',
      '--wait',
      '--timeout',
      '10m',
    ]);
    assert.deepEqual(helmInstallArgv({ ...t, chart: '/charts/cilium-1.18.3.tgz' }).slice(0, 6), [
      'upgrade',
      '--install',
      'cilium',
      '/charts/cilium-1.18.3.tgz',
      '--version',
      CILIUM_VERSION,
    ]);
    assert.deepEqual(ciliumCliInstallArgv(t), [
      'install',
      '--context',
      'kind-nd-abc123',
      '--version',
      CILIUM_VERSION,
      '--values',
      '/s/cilium-values.yaml',
      '--wait=false',
    ]);
    assert.deepEqual(ciliumCliStatusArgv('kind-nd-abc123'), [
      'status',
      '--context',
      'kind-nd-abc123',
      '--wait',
      '--wait-duration',
      '10m',
      '--interactive=false',
    ]);
    assert.equal(chooseInstaller({ helm: true, cilium: true }, undefined), 'helm');
    assert.equal(chooseInstaller({ helm: false, cilium: true }, undefined), 'cilium');
    assert.equal(chooseInstaller({ helm: true, cilium: true }, 'cilium'), 'cilium');
    assert.equal(chooseInstaller({ helm: true, cilium: false }, 'cilium'), undefined);
    assert.equal(chooseInstaller({ helm: false, cilium: false }, undefined), undefined);
  });

  it('docker exec / cp / inspect for node containers; the emulated #18505 route', () => {
    assert.deepEqual(dockerExecArgv('nd-abc123-worker', 'tc', ['qdisc', 'show', 'dev', 'eth0']), [
      'exec',
      'nd-abc123-worker',
      'tc',
      'qdisc',
      'show',
      'dev',
      'eth0',
    ]);
    assert.deepEqual(dockerExecArgv('w', 'sh', ['-c', 'cat'], { input: true, env: { A: '1' }, cwd: '/tmp' }), [
      'exec',
      '-i',
      '-e',
      'A=1',
      '-w',
      '/tmp',
      'w',
      'sh',
      '-c',
      'cat',
    ]);
    assert.deepEqual(dockerCpArgv('/tmp/ena.o', 'w', '/tmp/notdns/ena.o'), ['cp', '/tmp/ena.o', 'w:/tmp/notdns/ena.o']);
    assert.deepEqual(dockerInspectArgv('w', '{{.State.Pid}}'), ['inspect', '--type', 'container', '--format', '{{.State.Pid}}', 'w']);
    assert.deepEqual(unreachableRouteArgv('10.244.1.7'), ['route', 'replace', 'unreachable', '10.244.1.7/32']);
    assert.deepEqual(removeUnreachableRouteArgv('10.244.1.7'), ['route', 'del', 'unreachable', '10.244.1.7/32']);
  });

  it("curl to a pod's admin port from its node, and its output", () => {
    assert.deepEqual(curlArgv('GET', '10.244.1.7', 9090, '/metrics.json', false), [
      'curl',
      '-sS',
      '--max-time',
      '5',
      '-o',
      '-',
      '-w',
      '\n%{http_code}',
      'http://10.244.1.7:9090/metrics.json',
    ]);
    assert.deepEqual(curlArgv('POST', '10.244.1.7', 9090, '/backends', true), [
      'curl',
      '-sS',
      '--max-time',
      '5',
      '-o',
      '-',
      '-w',
      '\n%{http_code}',
      '-X',
      'POST',
      '-H',
      'content-type: application/json',
      '--data-binary',
      '@-',
      'http://10.244.1.7:9090/backends',
    ]);
    assert.deepEqual(parseCurlOutput('{"a":1}\n200'), { status: 200, body: '{"a":1}' });
    assert.deepEqual(parseCurlOutput('line1\nline2\n404'), { status: 404, body: 'line1\nline2' });
    assert.deepEqual(parseCurlOutput('\n000'), { status: 0, body: '' });
  });

  it("exec exit codes from the API server's status", () => {
    assert.equal(exitCodeOf({ status: 'Success' }), 0);
    assert.equal(
      exitCodeOf({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } }),
      3,
    );
    assert.equal(exitCodeOf({ status: 'Failure' }), 1);
  });

  it('docker build from the staged context with the base as a build-arg', () => {
    assert.deepEqual(dockerBuildArgv('/ctx', 'notdns/workloads:dev', 'node:20-bookworm-slim'), [
      'build',
      '--file',
      '/ctx/Dockerfile',
      '--tag',
      'notdns/workloads:dev',
      '--build-arg',
      'BASE=node:20-bookworm-slim',
      '/ctx',
    ]);
  });
});

describe('kind: image context (only what the compiled workloads import)', () => {
  it('finds bare imports in compiled ES modules', () => {
    const src = `import * as grpc from '@grpc/grpc-js';\nimport { x } from "./local.js";\nexport * from 'prom-client';\nimport 'side-effect';\nconst m = await import('commander');\nimport http from 'node:http';`;
    assert.deepEqual(bareImports(src).sort(), ['@grpc/grpc-js', 'commander', 'prom-client', 'side-effect']);
    assert.equal(packageOf('@grpc/grpc-js/build/src/x.js'), '@grpc/grpc-js');
    assert.equal(packageOf('yaml/util'), 'yaml');
    assert.equal(packageOf('./x.js'), undefined);
  });

  it('resolves dependencies like Node (nested before hoisted), from a lockfile', () => {
    const lock = {
      lockfileVersion: 3,
      packages: {
        '': {},
        'node_modules/a': { dependencies: { b: '^1', c: '^1' } },
        'node_modules/b': { dependencies: { c: '^2' } },
        'node_modules/b/node_modules/c': {},
        'node_modules/c': {},
        'node_modules/dev-only': { dev: true },
      },
    };
    assert.deepEqual(dependencyClosure(lock, ['a']), [
      'node_modules/a',
      'node_modules/b',
      'node_modules/b/node_modules/c',
      'node_modules/c',
    ]);
    assert.throws(() => dependencyClosure(lock, ['missing']), /does not have it/);
  });

  it('the real lockfile: grpc-js brings proto-loader and its own dependencies', async () => {
    const lock = JSON.parse(await readFile(join(repoRoot, 'package-lock.json'), 'utf8'));
    const c = dependencyClosure(lock, ['@grpc/grpc-js']);
    assert.ok(c.includes('node_modules/@grpc/grpc-js'));
    assert.ok(c.includes('node_modules/@grpc/proto-loader'));
    assert.ok(c.includes('node_modules/protobufjs'));
    assert.ok(!c.includes('node_modules/mocha'));
  });

  it('stages a context with the compiled workloads, protos, package.json and their node_modules', async function () {
    this.timeout(60_000);
    const dir = await mkdtemp(join(tmpdir(), 'nd-ctx-'));
    try {
      const s = await stageBuildContext(join(dir, 'ctx'));
      assert.ok(s.files > 0);
      const pkg = JSON.parse(await readFile(join(dir, 'ctx', 'package.json'), 'utf8'));
      assert.equal(pkg.type, 'module');
      await readFile(join(dir, 'ctx', 'workloads', 'proto', 'metrics.proto'));
      await readFile(join(dir, 'ctx', 'Dockerfile'));
      assert.ok(s.packages.includes('node_modules/@grpc/grpc-js'), s.packages.join(','));
      assert.ok(!s.packages.some((p) => /mocha|typescript|testcontainers|@kubernetes/.test(p)), 'no dev or harness-only packages');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('kind: doctor', () => {
  const FILES: Record<string, string> = {
    '/usr/include/bpf/bpf_helpers.h': '/* */',
    '/proc/sys/fs/inotify/max_user_watches': '524288\n',
    '/proc/sys/fs/inotify/max_user_instances': '512\n',
  };
  const deps = (
    present: Record<string, string | false>,
    registries = true,
    files: Record<string, string> = FILES,
    stateDir: true | string = true,
  ): DoctorDeps => ({
    async readFile(p) {
      return files[p];
    },
    async writableDir() {
      return stateDir;
    },
    async run(cmd, args) {
      const out = present[cmd];
      if (out === undefined || out === false) return { command: cmd, exitCode: -1, stdout: '', stderr: '', failed: true, durationMs: 0 };
      if (cmd === 'docker' && args[0] === 'info' && present['docker-engine'] === false) {
        return {
          command: cmd,
          exitCode: 1,
          stdout: '',
          stderr: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock',
          failed: true,
          durationMs: 0,
        };
      }
      return { command: cmd, exitCode: 0, stdout: out, stderr: '', failed: false, durationMs: 0 };
    },
    async httpStatus() {
      return registries ? 401 : 'ENOTFOUND';
    },
  });

  it('all there', async () => {
    const c = await kindDoctor(
      deps({
        docker: '28.2.2',
        kind: 'kind v0.30.0',
        helm: 'v3.18.4',
        clang: 'Debian clang version 14.0.6',
        kubectl: 'Client Version: v1.33',
      }),
    );
    assert.deepEqual(
      c.map((x) => [x.check, x.ok]),
      [
        ['docker CLI', true],
        ['docker engine reachable', true],
        ['kind', true],
        ['helm or cilium CLI', true],
        ['clang (builds the ENA simulator)', true],
        ['BPF headers (libbpf-dev)', true],
        ['state directory', true],
        ['host inotify limits (optional)', true],
        ['kubectl (optional)', true],
        ['registry access (image pulls)', true],
      ],
    );
    assert.deepEqual(doctorProblems(c), []);
    assert.ok(
      c.every((x) => x.fix.length > 20),
      'every check has an install hint',
    );
  });

  it('our machines: docker CLI only, no engine, no kind/helm/cilium, no registry', async () => {
    const c = await kindDoctor(
      deps(
        { docker: '28.2.2', 'docker-engine': false },
        false,
        { '/proc/sys/fs/inotify/max_user_watches': '192536', '/proc/sys/fs/inotify/max_user_instances': '128' },
        '/run/notdns is not writable',
      ),
    );
    const by = Object.fromEntries(c.map((x) => [x.check, x]));
    assert.equal(by['docker CLI']!.ok, true);
    assert.equal(by['docker engine reachable']!.ok, false);
    assert.match(by['docker engine reachable']!.detail, /Cannot connect/);
    assert.match(by['docker engine reachable']!.fix, /start-dockerd\.sh/);
    assert.equal(by.kind!.ok, false);
    assert.match(by.kind!.fix, /go install sigs\.k8s\.io\/kind/);
    assert.equal(by['helm or cilium CLI']!.ok, false);
    assert.equal(by['kubectl (optional)']!.optional, true);
    assert.equal(by['registry access (image pulls)']!.ok, false);
    assert.match(by['registry access (image pulls)']!.detail, /quay\.io.*ENOTFOUND/);
    assert.equal(by['clang (builds the ENA simulator)']!.ok, false);
    assert.equal(by['BPF headers (libbpf-dev)']!.ok, false);
    assert.match(by['BPF headers (libbpf-dev)']!.fix, /libbpf-dev/);
    assert.equal(by['state directory']!.ok, false);
    assert.match(by['state directory']!.fix, /NOTDNS_STATE_DIR/);
    const ino = by['host inotify limits (optional)']!;
    assert.equal(ino.ok, false);
    assert.equal(ino.optional, true);
    assert.equal(ino.detail, 'fs.inotify.max_user_watches=192536 (< 524288), fs.inotify.max_user_instances=128 (< 512)');
    assert.match(ino.fix, /sysctl -w fs\.inotify\.max_user_watches=524288 fs\.inotify\.max_user_instances=512/);
    assert.equal(doctorProblems(c).length, 7, 'kubectl and the inotify limits are optional');
  });

  it('a user outside the docker group is told so, not to start the engine', async () => {
    const d = deps({ docker: '28.2.2', kind: '1', helm: '1', clang: '1' });
    const c = await kindDoctor(
      {
        ...d,
        async run(cmd, args, o) {
          if (cmd === 'docker' && args[0] === 'info')
            return {
              command: cmd,
              exitCode: 1,
              stdout: '',
              stderr: 'permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock',
              failed: true,
              durationMs: 0,
            };
          return d.run(cmd, args, o);
        },
      },
      { checkRegistries: false },
    );
    assert.match(c.find((x) => x.check === 'docker engine reachable')!.fix, /docker group/);
  });

  it('nothing of the lab: no root, no namespaces, no lab packages', async () => {
    const asked: string[] = [];
    const d = deps({ docker: '1', kind: '1', helm: '1', clang: '1' });
    const c = await kindDoctor(
      {
        ...d,
        async run(cmd, args, o) {
          asked.push(cmd);
          return d.run(cmd, args, o);
        },
      },
      { checkRegistries: false },
    );
    assert.deepEqual([...new Set(asked)].sort(), ['clang', 'docker', 'helm', 'cilium', 'kind', 'kubectl'].sort());
    assert.ok(!c.some((x) => /root|namespace|nsd|unbound|socat|conntrack/i.test(x.check)), c.map((x) => x.check).join(', '));
    assert.deepEqual(doctorProblems(c), []);
  });

  it('the cilium CLI is enough when helm is missing', async () => {
    const c = await kindDoctor(deps({ docker: '1', kind: '1', clang: '1', cilium: 'cilium-cli: v0.18.7' }), { checkRegistries: false });
    assert.match(c.find((x) => x.check === 'helm or cilium CLI')!.detail, /with cilium/);
    assert.equal(c.length, 9);
    assert.deepEqual(doctorProblems(c), []);
  });
});

/** The doctor as up() runs it, with this machine's headers and state directory taken as present. */
const doctorDeps: DoctorDeps = { ...defaultDoctorDeps, readFile: async () => '', writableDir: async () => true };
/** Calls that only ask for versions (the doctor). */
const versionCall = (c: string[]) => c[1] === 'version' || c[1] === '--version' || (c[0] === 'docker' && c[1] === 'info');

describe('kind: provider against fake docker/kind/helm on PATH', function () {
  this.timeout(60_000);
  let state: string;
  beforeEach(async () => {
    state = await mkdtemp(join(tmpdir(), 'nd-kind-state-'));
  });
  afterEach(async () => {
    await rm(state, { recursive: true, force: true });
  });

  it('up(): builds and loads the image, creates the cluster from the rendered config, installs Cilium with helm, then needs an API server (and cleans up)', async () => {
    const fake = await installFakeTools();
    let err: any;
    try {
      await createKindProvider({ timeouts: { nodesReadyMs: 1500 }, doctorDeps }).up(topo, 'abc123', { stateDir: state });
    } catch (e) {
      err = e;
    } finally {
      fake.restore();
    }
    assert.ok(err, 'up() must fail without an API server');
    assert.match(err.message, /Kubernetes nodes to be Ready|ECONNREFUSED|connect/i);
    const all = (await fake.calls()).filter((c) => !versionCall(c));
    // the nodes are looked at in parallel: bpftool and dig are there already, so nothing is installed
    const execs = all.filter((c) => c[1] === 'exec').map((c) => c.slice(1));
    assert.deepEqual(execs.sort(), ['nd-abc123-worker', 'nd-abc123-worker2', 'nd-abc123-worker3'].map(nodeToolsCheckArgv).sort());
    const at = all.map((c, i) => (c[1] === 'exec' ? i : -1)).filter((i) => i >= 0);
    assert.ok(
      at[0]! > all.findIndex((c) => c[1] === 'load') && at[at.length - 1]! < all.findIndex((c) => c[0] === 'helm'),
      'after the nodes exist, before Cilium',
    );
    const calls = all.filter((c) => c[1] !== 'exec');
    const summary = calls.map((c) => c.slice(0, 3).join(' '));
    assert.deepEqual(summary, [
      'docker build --file',
      'kind create cluster',
      'kind load docker-image',
      'helm upgrade --install',
      'kind delete cluster',
    ]);
    const [build, create, load, helm, del] = calls;
    assert.deepEqual(build!.slice(build!.indexOf('--tag'), build!.indexOf('--tag') + 4), [
      '--tag',
      'notdns/workloads:dev',
      '--build-arg',
      'BASE=node:20-bookworm-slim',
    ]);
    assert.deepEqual(create!.slice(1), kindCreateArgv('nd-abc123', join(state, 'kind-config.yaml'), join(state, 'kubeconfig')));
    assert.deepEqual(load!.slice(1), kindLoadImageArgv('nd-abc123', 'notdns/workloads:dev'));
    assert.deepEqual(
      helm!.slice(1),
      helmInstallArgv({ kubeconfig: join(state, 'kubeconfig'), context: 'kind-nd-abc123', valuesFile: join(state, 'cilium-values.yaml') }),
    );
    assert.deepEqual(del!.slice(1), kindDeleteArgv('nd-abc123', join(state, 'kubeconfig')));
    assert.equal(existsSync(join(state, 'image-context')), false, 'the staged image context is removed once built');
    // the files the commands were given
    const cfg = parse(await readFile(join(state, 'kind-config.yaml'), 'utf8'));
    assert.equal(cfg.name, 'nd-abc123');
    assert.equal(cfg.nodes.length, 4);
    assert.equal(cfg.networking.kubeProxyMode, 'none');
    const values = parse(await readFile(join(state, 'cilium-values.yaml'), 'utf8'));
    assert.equal(values.k8sServiceHost, 'nd-abc123-control-plane');
    assert.equal(values.ipam.mode, 'kubernetes');
    assert.equal(values.bpf.enableTCX, false);
    assert.equal(values.extraConfig['bpf-filter-priority'], '2');
  });

  it('up(): the cilium CLI when helm is missing; an offline image base; NOTDNS_KEEP_CLUSTER keeps the cluster', async () => {
    const fake = await installFakeTools({ helm: false, cilium: true });
    process.env.NOTDNS_KEEP_CLUSTER = '1';
    try {
      await createKindProvider({ imageBase: 'notdns/node-base:bookworm', timeouts: { nodesReadyMs: 1000 }, doctorDeps })
        .up(topo, 'abc123', { stateDir: state })
        .catch(() => undefined);
    } finally {
      fake.restore();
      delete process.env.NOTDNS_KEEP_CLUSTER;
    }
    const calls = (await fake.calls()).filter((c) => !versionCall(c) && !(c[1] === 'exec'));
    assert.deepEqual(
      calls.map((c) => c.slice(0, 2).join(' ')),
      ['docker build', 'kind create', 'kind load', 'cilium install', 'cilium status'],
    );
    assert.ok(calls[0]!.includes('BASE=notdns/node-base:bookworm'));
    assert.deepEqual(
      calls[3]!.slice(1),
      ciliumCliInstallArgv({
        kubeconfig: join(state, 'kubeconfig'),
        context: 'kind-nd-abc123',
        valuesFile: join(state, 'cilium-values.yaml'),
      }),
    );
  });

  it('up(): refuses at once, naming every missing tool, when the doctor says no', async () => {
    const fake = await installFakeTools({ helm: false });
    let err: any;
    try {
      await createKindProvider({ doctorDeps }).up(topo, 'abc123', { stateDir: state });
    } catch (e) {
      err = e;
    } finally {
      fake.restore();
    }
    assert.equal(err?.kind, 'environment');
    assert.match(err.message, /helm or cilium CLI/);
    assert.deepEqual(
      (await fake.calls()).filter((c) => c[1] === 'create'),
      [],
      'nothing was created',
    );
  });

  it('sweep(): deletes nd-* kind clusters (all, or one run) and their state directories', async () => {
    const fake = await installFakeTools({ clusters: ['kind', 'nd-abc123', 'nd-0f0f0f'] });
    for (const id of ['abc123', '0f0f0f', '111111']) await mkdir(join(state, id, 'x'), { recursive: true });
    let all: string[], one: string[];
    try {
      all = (await createKindProvider({ stateRoot: state }).sweep()).removed;
      assert.deepEqual((await readdir(state)).sort(), ['111111'], 'the state of the deleted clusters, no other');
      await mkdir(join(state, '0f0f0f'));
      one = (await createKindProvider({ stateRoot: state }).sweep('0f0f0f')).removed;
      assert.deepEqual(await readdir(state), ['111111']);
    } finally {
      fake.restore();
    }
    assert.deepEqual(all, ['kind cluster nd-abc123', 'kind cluster nd-0f0f0f']);
    assert.deepEqual(one, ['kind cluster nd-0f0f0f']);
    const deletes = (await fake.calls()).filter((c) => c[0] === 'kind' && c[1] === 'delete').map((c) => c.slice(1));
    assert.deepEqual(deletes, [kindDeleteArgv('nd-abc123'), kindDeleteArgv('nd-0f0f0f'), kindDeleteArgv('nd-0f0f0f')]);
  });

  it('sweep(): nothing to do where kind is not installed', async () => {
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      assert.deepEqual(await createKindProvider({ stateRoot: state }).sweep(), { removed: [], live: [] });
    } finally {
      process.env.PATH = saved;
    }
  });

  it('KindNode: exec / putFile / readProcNet go through docker exec and docker cp', async () => {
    const fake = await installFakeTools();
    try {
      const n = new KindNode('nd-abc123-worker', '172.18.0.11');
      assert.deepEqual(n.uplinks, ['eth0']);
      await n.exec('tc', ['filter', 'show', 'dev', 'eth0', 'ingress']);
      assert.equal(await n.putFile('/tmp/x/ena_allowance.o'), '/tmp/notdns/ena_allowance.o');
      assert.equal(await n.resolvePid(), undefined, 'fake pid 0: no direct /proc reads');
      await n.readProcNet('netstat');
    } finally {
      fake.restore();
    }
    assert.deepEqual(
      (await fake.calls()).map((c) => c.slice(1)),
      [
        ['exec', 'nd-abc123-worker', 'tc', 'filter', 'show', 'dev', 'eth0', 'ingress'],
        ['exec', 'nd-abc123-worker', 'mkdir', '-p', '/tmp/notdns'],
        ['cp', '/tmp/x/ena_allowance.o', 'nd-abc123-worker:/tmp/notdns/ena_allowance.o'],
        ['inspect', '--type', 'container', '--format', '{{.State.Pid}}', 'nd-abc123-worker'],
        ['exec', 'nd-abc123-worker', 'cat', '/proc/net/netstat'],
      ],
    );
  });
});
