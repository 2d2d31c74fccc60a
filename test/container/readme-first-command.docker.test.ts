// The README's first command, exactly, on a fresh Debian 12 with only Node 20 added: notdns/debian12-node20
// (`debootstrap --variant=minbase bookworm` + this machine's node/npm, scripts/docker/test-images.sh), a
// `git archive` of HEAD bind-mounted at /src, then `bash scripts/setup.sh && bin/notdns run rollout-syn-flood --fast`
// as root in the container. Passes when it exits 0, prints `all N expectations passed` (N: the flagship's plan on the lab), and the
// results.json it wrote has N expectations, all passing.
//
// Why `--network host`: only for egress. scripts/setup.sh apt-gets the lab's Debian packages and npm-installs the
// dependencies, and the engine of scripts/docker/start-dockerd.sh gives bridge containers no egress (no NAT). The
// lab itself needs no network from outside: it creates its own network namespaces (and veths between them only)
// and adds nothing to the root namespace, which here is the host's. The namespaces, bpffs mounts, processes and
// state live in the container's mount namespace: removing the container removes all of them. The daemons apt
// installs (unbound, nsd) are not started by their postinst there: no init, so invoke-rc.d finds no runlevel.
// `--privileged`: the lab needs CAP_SYS_ADMIN/CAP_NET_ADMIN/CAP_BPF (ip netns add, mount -t bpf, tc bpf).
// One thing of this machine goes in: where its egress needs an extra CA (a TLS-inspecting proxy), the file named by
// NODE_EXTRA_CA_CERTS here is mounted read-only and NODE_EXTRA_CA_CERTS set in the container, so npm can reach the
// registry; apt uses plain http. A fresh Debian 12 with direct egress needs none of it.
//
// Slow (measured here: see the log line it prints; setup.sh's apt-get of clang/llvm dominates): it runs in CI
// (root) like every test. Skips with the reason where Docker cannot start, or apt (or npm) cannot reach its
// mirror (registry) from the container, or not root. Bounded: 20 minutes for the command.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { repoRoot } from '../../harness/paths.js';
import { planOf } from '../../harness/plan.js';
import { loadExperiment } from '../../harness/spec/load.js';
import { removeContainers, startEngine, stopEngine, testImages } from './docker.js';

const COMMAND = 'bash scripts/setup.sh && bin/notdns run rollout-syn-flood --fast';
// every expectation of the flagship applies on the lab: the plan counts them (29: five variants and the comparisons)
const EXPECTATIONS = planOf((await loadExperiment('rollout-syn-flood')).experiment, 'lab').expectations.filter((x) => !x.na).length;
const LIMIT_MS = 20 * 60_000;

interface Results {
  verdict: { pass: boolean; expectations: { variant: string; label: string; pass: boolean; na?: string }[] };
}

describe(`README's first command in a fresh Debian 12 container with only Node 20 (--fast) @root @docker @slow`, function () {
  this.timeout(LIMIT_MS + 10 * 60_000);
  const name = `nd-test-readme-${randomBytes(3).toString('hex')}`;
  let startedEngine = false;
  let containers: string[] = [];
  let src: string | undefined;
  let exitCode = -1;
  let output = '';
  let results: Results | undefined;

  before(async function () {
    const skip = (why: string) => {
      console.log(`      skipped: ${why}`);
      this.skip();
    };
    if (process.getuid?.() !== 0) return skip('not root (the container is privileged, the lab needs root)');
    const engine = await startEngine();
    if ('skip' in engine) return skip(engine.skip);
    startedEngine = engine.ok.startedEngine;
    const image = await testImages(['debian12-node20']);
    if ('skip' in image) return skip(image.skip);

    // a fresh copy of the committed tree (what a `git clone` checks out), nothing built, no node_modules
    const t0 = Date.now();
    const rev = await execa('git', ['-C', repoRoot, 'rev-parse', '--short', 'HEAD'], { reject: false });
    if (rev.exitCode !== 0) return skip(`${repoRoot} is not a git checkout: nothing to archive`);
    src = await mkdtemp(join(tmpdir(), 'nd-readme-src-'));
    await execa('sh', ['-c', 'git -C "$1" archive --format=tar HEAD | tar -x -C "$2"', 'sh', repoRoot, src]);

    const ca = process.env.NODE_EXTRA_CA_CERTS;
    const caArgs =
      ca &&
      (await access(ca).then(
        () => true,
        () => false,
      ))
        ? ['-v', `${ca}:/etc/notdns-extra-ca.crt:ro`, '-e', 'NODE_EXTRA_CA_CERTS=/etc/notdns-extra-ca.crt']
        : [];
    containers.push(name);
    await execa('docker', [
      'run',
      '-d',
      '--init',
      '--privileged',
      '--network',
      'host',
      '--name',
      name,
      ...caArgs,
      '-v',
      `${src}:/src`,
      '-w',
      '/src',
      image.ok,
      'sleep',
      'infinity',
    ]);
    const apt = await execa('docker', ['exec', name, 'timeout', '120', 'apt-get', 'update', '-q'], { reject: false, all: true });
    if (apt.exitCode !== 0)
      return skip(`apt cannot reach the Debian mirror from the container: ${String(apt.all).trim().split('\n').slice(-2).join(' | ')}`);
    const npm = await execa('docker', ['exec', name, 'timeout', '60', 'npm', 'ping'], { reject: false, all: true });
    if (npm.exitCode !== 0)
      return skip(`npm cannot reach its registry from the container: ${String(npm.all).trim().split('\n').slice(-2).join(' | ')}`);

    const t1 = Date.now();
    const r = await execa('docker', ['exec', name, 'bash', '-c', COMMAND], { reject: false, all: true, timeout: LIMIT_MS });
    exitCode = r.timedOut ? -2 : (r.exitCode ?? -1);
    output = String(r.all ?? '');
    const outRoot = join(src, 'notdns-out');
    const runs = (await readdir(outRoot).catch(() => [] as string[])).filter((d) => d.startsWith('rollout-syn-flood-'));
    if (runs.length === 1) results = JSON.parse(await readFile(join(outRoot, runs[0]!, 'results.json'), 'utf8')) as Results;
    console.log(
      `      HEAD ${rev.stdout.trim()}: preflight ${((t1 - t0) / 1000).toFixed(0)} s, \`${COMMAND}\` ${((Date.now() - t1) / 1000).toFixed(0)} s, exit ${exitCode}`,
    );
  });

  after(async () => {
    await removeContainers(containers);
    containers = [];
    if (src) await rm(src, { recursive: true, force: true });
    if (startedEngine) await stopEngine();
  });

  const tail = () => output.trim().split('\n').slice(-25).join('\n');

  it('exits 0 within 20 minutes', () => {
    assert.notEqual(exitCode, -2, `timed out after ${LIMIT_MS / 60_000} min:\n${tail()}`);
    assert.equal(exitCode, 0, tail());
  });

  it(`prints the verdict line \`all ${EXPECTATIONS} expectations passed\``, () => {
    const verdict = output
      .trim()
      .split('\n')
      .filter((l) => /expectations? (passed|failed)/.test(l))
      .pop();
    assert.equal(verdict?.trim(), `all ${EXPECTATIONS} expectations passed`, tail());
  });

  it(`its results.json has ${EXPECTATIONS} expectations, all passing`, () => {
    assert.ok(results, 'exactly one notdns-out/rollout-syn-flood-*/results.json');
    const ex = results.verdict.expectations;
    assert.equal(ex.length, EXPECTATIONS);
    assert.deepEqual(
      ex.filter((e) => !e.pass || e.na).map((e) => `${e.variant}: ${e.label}`),
      [],
    );
    assert.equal(results.verdict.pass, true);
  });
});
