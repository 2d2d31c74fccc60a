// Safety: the Alerting Engine can only send to pod IPs of the run (--allow-cidr 10.1.0.0/16, never --allow-any-target)
// and refuses anything else for real; every load loop is bounded in time (--max-duration-seconds) and stops by
// itself; the kubeconfig provider (a real cluster) refuses to start without --i-know-this-is-not-a-test-cluster.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { run } from '../../harness/exec.js';
import { newRunId, nsName } from '../../harness/names.js';
import { distDir, repoRoot } from '../../harness/paths.js';
import { POD_SUPERNET } from '../../harness/providers/lab/addresses.js';
import { LabCluster } from '../../harness/providers/lab/lab.js';
import { parseNetstat } from '../../harness/probes/procnet.js';
import { alertingEngineArgs, metricsServiceArgs } from '../../harness/run/workloads.js';
import { plannedSeconds } from '../../harness/run/steps.js';
import { expandVariant, listExperiments, loadExperiment } from '../../harness/spec/load.js';
import type { VariantConfig } from '../../harness/spec/schema.js';
import { assertNoStack, cliSync, tempDir, tinySpec, writeSpec } from './helpers.js';

async function allVariants(): Promise<VariantConfig[]> {
  const out: VariantConfig[] = [];
  for (const x of await listExperiments()) {
    const { experiment } = await loadExperiment(x.file);
    for (const v of Object.keys(experiment.variants)) for (const fast of [false, true]) out.push(expandVariant(experiment, v, { fast }));
  }
  return out;
}

const flag = (args: string[], name: string) => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};

describe('reliability: safety (target allow-list, bounded load, kubeconfig opt-in) @root', function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => {
    dir = await tempDir();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the runner always gives the Alerting Engine --allow-cidr 10.1.0.0/16 and never --allow-any-target (every built-in variant, normal and --fast)', async () => {
    const variants = await allVariants();
    assert.ok(variants.length >= 8);
    assert.equal(POD_SUPERNET, '10.1.0.0/16');
    for (const cfg of variants) {
      const lab = new LabCluster('abc123', cfg.topology, '/nonexistent');
      // as the runner calls it: the provider's pod network, and its node-local DNS (DNS-discovery variants resolve there)
      const args = alertingEngineArgs(
        cfg,
        ['10.1.1.10', '10.1.2.10'],
        plannedSeconds(cfg) + 120,
        lab.podCidr,
        undefined,
        lab.dns.nodeLocal,
      );
      assert.equal(flag(args, '--allow-cidr'), '10.1.0.0/16', `${cfg.name}: ${args.join(' ')}`);
      assert.ok(!args.includes('--allow-any-target'), cfg.name);
    }
    // the runner passes the provider's pod network, nothing else
    assert.match(
      await readFile(join(repoRoot, 'harness/run/variant.ts'), 'utf8'),
      /alertingEngineArgs\(\s*cfg,[^;]*?,\s*cluster\.podCidr[,)]/,
    );
    // grep level: nothing in the harness can turn the safety net off
    for (const f of ['harness/run/variant.ts', 'harness/run/workloads.ts', 'harness/providers/lab/lab.ts', 'harness/cli.ts']) {
      assert.doesNotMatch(await readFile(join(repoRoot, f), 'utf8'), /allow-any-target/, f);
    }
  });

  it('every load loop is bounded: both workloads and the estab agent get --max-duration-seconds = planned time + 120 s', async () => {
    for (const cfg of await allVariants()) {
      const max = Math.ceil(plannedSeconds(cfg) + 120);
      assert.ok(max <= 3600, `${cfg.name}: ${max} s`);
      assert.equal(
        flag(
          alertingEngineArgs(cfg, ['10.1.1.10'], plannedSeconds(cfg) + 120, POD_SUPERNET, undefined, '169.254.20.10'),
          '--max-duration-seconds',
        ),
        String(max),
        cfg.name,
      );
      assert.equal(
        flag(metricsServiceArgs(cfg, '169.254.20.10', plannedSeconds(cfg) + 120), '--max-duration-seconds'),
        String(max),
        cfg.name,
      );
    }
    const runner = await readFile(join(repoRoot, 'harness/run/variant.ts'), 'utf8');
    // the agent's argv, whatever the formatter made of its lines: [agent.js, host, port, String(v.maxSeconds)]
    assert.match(
      runner,
      /estab-agent\.js'\),\s*cluster\.echo!\.host,\s*String\(cluster\.echo!\.port\),\s*String\(v\.maxSeconds\),?\s*\]/,
      'the estab agent is started with the same bound',
    );
    assert.match(runner, /maxSeconds: plannedSeconds\(cfg\) \+ 120,/);
  });

  it("for real: an Alerting Engine started with the runner's arguments refuses a backend outside 10.1.0.0/16 and sends no SYN; the bound stops a workload by itself", async () => {
    const { experiment } = await loadExperiment(await writeSpec(dir, 'tiny.yaml', tinySpec()));
    const cfg = expandVariant(experiment, 'only');
    const ns = nsName(newRunId(), 'safety'); // named like a run's: `down --all` would sweep it if this test died
    await run('ip', ['netns', 'add', ns]);
    try {
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      const ae = join(distDir, 'workloads/alerting-engine/main.js');
      const refused = await execa('ip', ['netns', 'exec', ns, 'node', ae, ...alertingEngineArgs(cfg, ['10.0.0.11'], 30, POD_SUPERNET)], {
        reject: false,
        timeout: 20_000,
      });
      assert.notEqual(refused.exitCode, 0, 'refused');
      assert.match(refused.stderr, /10\.0\.0\.11:50051 outside --allow-cidr 10\.1\.0\.0\/16; refusing to send traffic there/);
      const snmp = parseNetstat((await run('ip', ['netns', 'exec', ns, 'cat', '/proc/net/snmp'])).stdout);
      assert.equal(snmp.TcpActiveOpens, 0, 'not a single connect() left the process');

      // allowed target (nothing listens: connects fail inside the namespace), bound 1 s: it ends by itself with exit 0
      const t0 = Date.now();
      const bounded = await execa('ip', ['netns', 'exec', ns, 'node', ae, ...alertingEngineArgs(cfg, ['10.1.1.10'], 1, POD_SUPERNET)], {
        reject: false,
        timeout: 20_000,
      });
      const took = Date.now() - t0;
      assert.equal(bounded.exitCode, 0, bounded.stderr);
      assert.ok(took < 10_000, `stopped after ${took} ms`);
      assert.match(bounded.stdout, /"event":"stopping"[^\n]*"reason":"max-duration"/);
      const ms = join(distDir, 'workloads/metrics-service/main.js');
      const msRun = await execa('ip', ['netns', 'exec', ns, 'node', ms, ...metricsServiceArgs(cfg, '169.254.20.10', 1)], {
        reject: false,
        timeout: 20_000,
      });
      assert.equal(msRun.exitCode, 0, msRun.stderr);
      assert.match(msRun.stdout, /"reason":"max-duration"/);
    } finally {
      await run('ip', ['netns', 'del', ns], { reject: false });
    }
  });

  it('--provider kubeconfig without --i-know-this-is-not-a-test-cluster: exit 2, names the flag, creates nothing', async () => {
    const spec = await writeSpec(dir, 'k.yaml', tinySpec());
    const out = join(dir, 'kube-out');
    const r = cliSync(['run', spec, '--provider', 'kubeconfig', '--out', out], { cwd: dir });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^notdns: bad usage\n/);
    assert.match(r.stderr, /--i-know-this-is-not-a-test-cluster/);
    assert.match(r.stderr, /\nFix: /);
    assertNoStack(r.stderr);
    assert.equal(existsSync(out), false, 'no output folder');
    assert.equal(existsSync(join(dir, 'notdns-out')), false);
  });
});
