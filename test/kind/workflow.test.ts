// .github/workflows/nightly-kind.yml: the steps docs/kind.md promises, in an order that can work.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../../harness/paths.js';
import { loadExperiment } from '../../harness/spec/load.js';
import { INOTIFY_MIN } from '../../harness/providers/kind/doctor.js';
import { CILIUM_VERSION } from '../../harness/providers/kind/cilium.js';

type Step = {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  if?: string;
  shell?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
};

describe('kind: nightly workflow', () => {
  const wf = parse(readFileSync(join(repoRoot, '.github', 'workflows', 'nightly-kind.yml'), 'utf8'));
  const job = wf.jobs.kind;
  const steps: Step[] = job.steps;
  const idx = (re: RegExp) => steps.findIndex((s) => re.test(`${s.uses ?? ''} ${s.run ?? ''}`));
  const runStep = steps[idx(/bin\/notdns run/)]!;

  it('runs nightly and on demand, over a matrix the plan job fills', () => {
    assert.ok(wf.on.schedule[0].cron);
    assert.ok('workflow_dispatch' in wf.on);
    assert.equal(job.needs, 'plan');
    assert.equal(job.strategy.matrix.experiment, '${{ fromJSON(needs.plan.outputs.experiments) }}');
    assert.equal(job.strategy['fail-fast'], false);
    assert.match(job['runs-on'], /ubuntu/);
    assert.equal(wf.jobs.plan.outputs.experiments, '${{ steps.pick.outputs.experiments }}');
  });

  it("picks every experiment whose plan on kind has something that applies (the plan command's exit code)", () => {
    const pick = (wf.jobs.plan.steps as Step[]).find((s) => s.id === 'pick')!;
    assert.match(pick.run!, /for f in experiments\/\*\.ts/);
    assert.match(pick.run!, /if bin\/notdns plan "\$e" --provider kind; then picked\+=/);
    assert.ok(
      (wf.jobs.plan.steps as Step[]).findIndex((s) => /npm run build/.test(s.run ?? '')) < (wf.jobs.plan.steps as Step[]).indexOf(pick),
    );
  });

  it('the pick step, run for real against this checkout: the flagship as its kind edition, the lab-only rp-filter-edge-case out', function () {
    this.timeout(60_000);
    const pick = (wf.jobs.plan.steps as Step[]).find((s) => s.id === 'pick')!;
    const dir = mkdtempSync(join(tmpdir(), 'nd-wf-'));
    try {
      const out = join(dir, 'out');
      const r = spawnSync('bash', ['-eo', 'pipefail', '-c', pick.run!], {
        cwd: repoRoot,
        encoding: 'utf8',
        env: { ...process.env, GITHUB_OUTPUT: out, REQUESTED: '' },
      });
      assert.equal(r.status, 0, r.stderr);
      const line = readFileSync(out, 'utf8').trim();
      const picked = JSON.parse(line.replace(/^experiments=/, '')) as string[];
      assert.ok(picked.includes('rollout-syn-flood-kind'), line);
      assert.ok(!picked.includes('rollout-syn-flood'), `the flagship runs once, as its kind edition: ${line}`);
      assert.ok(!picked.includes('rp-filter-edge-case'), line);
      for (const e of picked)
        assert.equal(spawnSync(join(repoRoot, 'bin', 'notdns'), ['plan', e, '--provider', 'kind'], { encoding: 'utf8' }).status, 0, e);
      const requested = spawnSync('bash', ['-eo', 'pipefail', '-c', pick.run!], {
        cwd: repoRoot,
        encoding: 'utf8',
        env: { ...process.env, GITHUB_OUTPUT: out, REQUESTED: '[ "a" ]' },
      });
      assert.equal(requested.status, 0, requested.stderr);
      assert.match(readFileSync(out, 'utf8'), /experiments=\["a"\]\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a kind edition (<name>-kind) is <name> with more expectations: the same run, so the nightly runs only the edition', async () => {
    const editions = readdirSync(join(repoRoot, 'experiments')).filter((f) => /-kind\.ts$/.test(f));
    assert.ok(editions.length >= 1);
    for (const f of editions) {
      const { experiment: ed } = await loadExperiment(f.replace(/\.ts$/, ''));
      const { experiment: base } = await loadExperiment(f.replace(/-kind\.ts$/, ''));
      const { name: _a, description: _b, expect: ee, compare: ec, ...edRun } = ed;
      const { name: _c, description: _d, expect: be, compare: bc, ...baseRun } = base;
      assert.deepEqual(edRun, baseRun, `${f}: variants, topology, workloads, steps, abort as ${base.name}'s`);
      const key = (x: unknown) => JSON.stringify(x);
      for (const [v, list] of Object.entries(be)) {
        const have = new Set((ee[v] ?? []).map(key));
        for (const x of list) assert.ok(have.has(key(x)), `${f}: ${v} lacks ${key(x)}`);
      }
      const have = new Set(ec.map(key));
      for (const x of bc) assert.ok(have.has(key(x)), `${f}: compare lacks ${key(x)}`);
      // and whatever the edition adds is for kind only: on the lab the base experiment stays the one to run
      const added = [
        ...Object.entries(ee).flatMap(([v, l]) => l.filter((x) => !(be[v] ?? []).map(key).includes(key(x)))),
        ...ec.filter((x) => !bc.map(key).includes(key(x))),
      ];
      assert.ok(added.length > 0, `${f} adds nothing`);
      for (const x of added) assert.deepEqual(x.providers, ['kind'], key(x));
    }
  });

  it('prepares the runner: inotify limits, the BPF toolchain, pinned kind / helm / cilium CLI', () => {
    const sysctl = steps[idx(/sysctl -w/)]!;
    assert.ok(sysctl.run!.includes(`fs.inotify.max_user_watches=${INOTIFY_MIN.max_user_watches}`));
    assert.ok(sysctl.run!.includes(`fs.inotify.max_user_instances=${INOTIFY_MIN.max_user_instances}`));
    assert.match(steps[idx(/apt-get install/)]!.run!, /clang llvm libbpf-dev/);
    assert.match(wf.env.KIND_VERSION, /^v\d+\.\d+\.\d+$/);
    assert.match(wf.env.HELM_VERSION, /^v\d+\.\d+\.\d+$/);
    assert.match(wf.env.CILIUM_CLI_VERSION, /^v\d+\.\d+\.\d+$/);
    assert.match(steps[idx(/cilium-linux-amd64/)]!.run!, /\$\{CILIUM_CLI_VERSION\}/);
    assert.ok(!steps.some((s) => /stable\.txt/.test(s.run ?? '')), 'no unpinned "latest"');
    assert.equal(wf.on.workflow_dispatch.inputs.cilium_version.default, CILIUM_VERSION);
    assert.match(wf.env.NOTDNS_CILIUM_VERSION, new RegExp(`'${CILIUM_VERSION.replaceAll('.', '\\.')}'`));
    // the toolchain and the tools come before the run that needs them; doctor checks them first
    const at = [
      idx(/sysctl -w/),
      idx(/apt-get install/),
      idx(/helm\/kind-action/),
      idx(/azure\/setup-helm/),
      idx(/cilium-linux-amd64/),
      idx(/notdns doctor --provider kind/),
      idx(/bin\/notdns run/),
    ];
    assert.ok(
      at.every((v, i) => v >= 0 && (i === 0 || v > at[i - 1]!)),
      JSON.stringify(at),
    );
  });

  it('runs as the runner user with a state directory it can write', () => {
    assert.ok(!steps.some((s) => /sudo .*notdns/.test(s.run ?? '')), 'notdns never runs under sudo on kind');
    assert.match(job.env.NOTDNS_STATE_DIR, /^\$\{\{ github\.workspace \}\}\//);
  });

  it('sets up kind and helm, builds, runs notdns with --provider kind into out/<exp>, then reports', () => {
    const order = [
      /helm\/kind-action/,
      /azure\/setup-helm/,
      /npm run build/,
      /build-workload-image\.sh/,
      /bin\/notdns run \$\{\{ matrix\.experiment \}\} --provider kind --out out\/\$\{\{ matrix\.experiment \}\}/,
      /mikepenz\/action-junit-report/,
    ];
    const at = order.map(idx);
    assert.ok(
      at.every((i) => i >= 0),
      `missing steps: ${order.filter((_, i) => at[i]! < 0).join(', ')}`,
    );
    assert.ok(
      at.slice(2).every((v, i, a) => i === 0 || v > a[i - 1]!),
      'build → image → run → junit in that order',
    );
    const junit = steps[idx(/action-junit-report/)]!;
    assert.equal(junit.if, '${{ always() }}');
    assert.equal(junit.with!.report_paths, 'out/**/junit.xml');
    const upload = steps.find((s) => s.uses?.startsWith('actions/upload-artifact') && String(s.with?.path).includes('junit.xml'))!;
    assert.match(String(upload.with!.path), /out\/\*\*\/report\.html/);
    assert.match(String(upload.with!.path), /out\/\*\*\/notdns\.log/);
    assert.equal(upload.if, '${{ always() }}');
  });

  it('keeps a cluster for the diagnostics (kind logs, Cilium sysdump) on failure, and always deletes nd-* clusters last', () => {
    assert.equal(runStep.env!.NOTDNS_KEEP_CLUSTER, 'last');
    assert.equal(runStep.env!.NOTDNS_KIND_BUILD_IMAGE, '0');
    const diag = steps[idx(/cilium sysdump/)]!;
    assert.equal(diag.if, '${{ failure() }}');
    assert.ok(idx(/cilium sysdump/) > idx(/bin\/notdns run/));
    assert.match(diag.run!, /kind export logs/);
    assert.equal(diag.shell, 'bash {0}', 'one failed command does not skip the rest');
    const last = steps[steps.length - 1]!;
    assert.equal(last.if, '${{ always() }}');
    assert.match(last.run!, /kind delete cluster/);
  });

  it('the last step deletes nd-* clusters, and passes when there are none (GitHub runs bash with -e -o pipefail)', function () {
    this.timeout(30_000);
    const last = steps[steps.length - 1]!;
    const dir = mkdtempSync(join(tmpdir(), 'nd-wf-kind-'));
    try {
      const log = join(dir, 'calls');
      const fakeKind = `#!/bin/sh\necho "$@" >> ${log}\nif [ "$1 $2" = "get clusters" ]; then printf '%s' "$CLUSTERS"; fi\n`;
      execFileSync('sh', ['-c', `cat > ${dir}/kind && chmod +x ${dir}/kind`], { input: fakeKind });
      const env = { ...process.env, PATH: `${dir}:${process.env.PATH}` };
      const none = spawnSync('bash', ['-eo', 'pipefail', '-c', last.run!], { env: { ...env, CLUSTERS: 'kind\n' }, encoding: 'utf8' });
      assert.equal(none.status, 0, none.stderr);
      const some = spawnSync('bash', ['-eo', 'pipefail', '-c', last.run!], {
        env: { ...env, CLUSTERS: 'kind\nnd-abc123\nnd-0f0f0f\n' },
        encoding: 'utf8',
      });
      assert.equal(some.status, 0, some.stderr);
      assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), [
        'get clusters',
        'get clusters',
        'delete cluster --name nd-abc123',
        'delete cluster --name nd-0f0f0f',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
