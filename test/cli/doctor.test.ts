// `notdns doctor --provider lab|kind|kubeconfig`: one spelling everywhere, and each provider's checks only.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { doctorChecks } from '../../harness/doctor.js';
import { repoRoot } from '../../harness/paths.js';
import type { DoctorDeps } from '../../harness/providers/kind/doctor.js';
import { assertNoStack, notdns } from './helpers.js';

const KUBECONFIG = (server: string) => `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: { server: "${server}" }
contexts:
- name: chaos-test
  context: { cluster: c, user: u }
- name: eks-prod
  context: { cluster: c, user: u }
current-context: chaos-test
users:
- name: u
  user: { token: not-a-secret }
`;

/** Text files of the repository a user or CI reads commands from. */
function sources(dir = repoRoot): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir)) {
    if (['node_modules', 'dist', '.git', 'test-artifacts', 'notdns-out'].includes(f)) continue;
    const p = join(dir, f);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (/\.(ts|md|ya?ml|sh)$/.test(f) || f === 'notdns') out.push(p);
  }
  return out;
}

describe('cli: doctor --provider', function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'notdns-doctor-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('kind checks what kind needs and nothing of the lab (root, unbound, nsd, bpftool)', async () => {
    const deps: DoctorDeps = {
      async run(cmd) {
        const out: Record<string, string> = {
          docker: '28.2.2',
          kind: 'kind v0.30.0',
          helm: 'v3.18.4',
          clang: 'Debian clang version 14.0.6',
        };
        return out[cmd]
          ? { command: cmd, exitCode: 0, stdout: out[cmd]!, stderr: '', failed: false, durationMs: 0 }
          : { command: cmd, exitCode: -1, stdout: '', stderr: '', failed: true, durationMs: 0 };
      },
      async httpStatus() {
        return 401;
      },
      async readFile(p) {
        return p.startsWith('/proc/sys/fs/inotify/') ? '1048576' : '/* header */';
      },
      async writableDir() {
        return true;
      },
    };
    const checks = await doctorChecks('kind', { kindDeps: deps });
    assert.deepEqual(
      checks.map((c) => [c.check, c.ok]),
      [
        ['docker CLI', true],
        ['docker engine reachable', true],
        ['kind', true],
        ['helm or cilium CLI', true],
        ['clang (builds the ENA simulator)', true],
        ['BPF headers (libbpf-dev)', true],
        ['state directory', true],
        ['host inotify limits (optional)', true],
        ['kubectl (optional)', false],
        ['registry access (image pulls)', true],
      ],
    );
    assert.ok(!checks.some((c) => /root|unbound|nsd|bpftool|apt-get|namespaces/.test(`${c.check} ${c.detail}`)), JSON.stringify(checks));
    assert.deepEqual(
      checks.filter((c) => !c.ok && !c.optional),
      [],
      'a missing optional kubectl is no problem',
    );
  });

  it('kubeconfig checks the kubeconfig, the context, the API server and the image, and nothing of the lab', async () => {
    const kc = join(dir, 'kubeconfig');
    await writeFile(kc, KUBECONFIG('https://127.0.0.1:1'));
    const r = notdns(['doctor', '--provider', 'kubeconfig'], { env: { KUBECONFIG: kc, NOTDNS_WORKLOAD_IMAGE: '' } });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.equal(r.stderr, '');
    const rows = r.stdout
      .split('\n')
      .filter((l) => /^(ok|FAIL|warn) /.test(l))
      .map((l) =>
        l
          .split(/\s{2,}/)
          .slice(0, 2)
          .join(' '),
      );
    assert.deepEqual(rows, ['ok kubeconfig', 'ok context', 'FAIL API server', 'FAIL workload image'], r.stdout);
    assert.match(r.stdout, /API server +https:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/);
    assert.match(r.stdout, /fix: Build workloads\/Dockerfile, push it .* NOTDNS_WORKLOAD_IMAGE=/);
    assert.match(r.stdout, /\n2 problem\(s\)\./);
    assert.doesNotMatch(r.stdout, /root|unbound|apt-get/);

    const prod = notdns(['doctor', '--provider', 'kubeconfig', '--context', 'eks-prod'], { env: { KUBECONFIG: kc } });
    assert.equal(prod.code, 2);
    assert.match(prod.stdout, /FAIL +context +context "eks-prod" looks like a production cluster/);
    assert.doesNotMatch(prod.stdout, /API server/, 'never talks to a cluster it refuses');

    const none = notdns(['doctor', '--provider', 'kubeconfig'], { env: { KUBECONFIG: join(dir, 'missing') } });
    assert.equal(none.code, 2);
    assert.match(none.stdout, /FAIL +kubeconfig +.*missing does not exist\n +fix: Point KUBECONFIG at/);
  });

  it('the old spelling --kind and an unknown provider are usage errors (exit 2)', () => {
    const old = notdns(['doctor', '--kind']);
    assert.equal(old.code, 2);
    assert.match(old.stderr, /unknown option '--kind'/);
    const bad = notdns(['doctor', '--provider', 'knid']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Allowed choices are lab, kind, kubeconfig/);
    for (const r of [old, bad]) {
      assert.equal(r.stdout, '');
      assertNoStack(r.stderr);
    }
  });

  it('one spelling everywhere: every `notdns doctor` in the code, docs, CI and Taskfile uses --provider', () => {
    const seen: string[] = [];
    for (const f of sources()) {
      if (f.endsWith(join('test', 'cli', 'doctor.test.ts'))) continue;
      const text = readFileSync(f, 'utf8');
      // `notdns doctor --x`, and the synopsis form `| doctor [--x ...]`
      for (const m of text.matchAll(/(?:notdns |\| |`)doctor((?: +\[?--?[\w-]+)*)/g)) {
        const flags = (m[1] ?? '')
          .trim()
          .split(/ +/)
          .map((x) => x.replace(/^\[/, ''))
          .filter((x) => x.startsWith('-'));
        seen.push(relative(repoRoot, f));
        for (const flag of flags)
          assert.ok(['--provider', '--context', '--help', '-h'].includes(flag), `${relative(repoRoot, f)}: "notdns doctor${m[1]}"`);
      }
    }
    for (const f of ['README.md', 'docs/kind.md', '.github/workflows/nightly-kind.yml', 'Taskfile.yml', 'harness/providers/kind/kind.ts']) {
      assert.ok(seen.includes(f), `${f} mentions notdns doctor`);
    }
  });
});
