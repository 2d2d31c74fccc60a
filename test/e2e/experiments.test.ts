// End to end, as a user runs it: `notdns run <experiment> --fast` on the lab, then look at what it left:
// the verdict, results.json / junit.xml / report.html, measured differences between variants, and nothing else.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, stateRoot } from '../../harness/paths.js';
import { listNamespaces } from '../../harness/providers/lab/lab.js';
import { missingLabProbes } from '../../harness/probes/catalog.js';
import { ResultsSchema, type Results } from '../../harness/results.js';

const cli = join(repoRoot, 'bin', 'notdns');

async function leftovers(runId: string): Promise<string[]> {
  const ids = [runId.slice(0, 4)];
  const ns = (await listNamespaces()).filter((n) => ids.some((id) => n.startsWith(`nd-${id}`)));
  const mounts = (await readFile('/proc/mounts', 'utf8')).split('\n').filter((l) => l.includes(stateRoot));
  // every process of a run carries its state dir (/run/notdns/<id>...) in its arguments, but the estab agent
  const procs = (await execa('pgrep', ['-af', `${stateRoot}/${ids[0]}|estab-agent`], { reject: false })).stdout.split('\n').filter(Boolean);
  return [...ns, ...mounts, ...procs];
}

function summary(r: Results, variant: string): Record<string, number> {
  const v = r.variants.find((x) => x.name === variant);
  assert.ok(v, `variant ${variant} in results`);
  return v.summary;
}

/** `notdns run <experiment> --fast` as a user runs it; asserts the verdict passed (exit 0), naming what failed. */
async function runPassing(experiment: string, dir: string) {
  const p = await execa(cli, ['run', experiment, '--fast', '--out', dir], { reject: false, all: true, env: { CI: 'true' } });
  const results = ResultsSchema.parse(JSON.parse(await readFile(join(dir, 'results.json'), 'utf8')));
  const failed = results.verdict.expectations.filter((e) => !e.pass).map((e) => `${e.variant}: ${e.label} measured ${e.measured}`);
  assert.equal(p.exitCode, 0, `verdict should pass; failed: ${failed.join('; ')}\n${p.all?.slice(-3000)}`);
  return { p, results };
}

describe('experiments end to end on the lab @root', function () {
  this.timeout(600_000);
  let out: string;
  before(async () => {
    out = await mkdtemp(join(tmpdir(), 'notdns-e2e-'));
  });
  afterEach(async function () {
    // keep what a failed run wrote (results, report, logs) where CI shows it
    if (this.currentTest?.state !== 'failed') return;
    const keep = join(repoRoot, 'test-artifacts', `e2e-${Date.now()}`);
    await cp(out, keep, { recursive: true }).catch(() => undefined);
    process.stdout.write(`      (run output kept in ${keep})\n`);
  });
  after(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('rollout-syn-flood --fast: baseline floods, exhausts the allowance and breaks DNS; the fix does not; nothing is left behind', async () => {
    const dir = join(out, 'flagship');
    const { p, results } = await runPassing('rollout-syn-flood', dir);
    assert.match(p.stdout, /expectations passed/);
    const b = summary(results, 'baseline'),
      f = summary(results, 'fix');
    // measured, not configured: the difference comes out of the series
    assert.ok(
      b.synToOldPodIpsTotal! > 2 * f.synToOldPodIpsTotal!,
      `baseline SYNs ${b.synToOldPodIpsTotal} vs fix ${f.synToOldPodIpsTotal}`,
    );
    assert.ok(b.allowanceExceededFlooded! > 0 && f.allowanceExceededAll === 0);
    assert.ok(b.dnsErrors! > 0 && b.dnsCheckFailed! > 0, `baseline breaks DNS: ${b.dnsErrors} errors, ${b.dnsCheckFailed} dig failures`);
    assert.equal(f.dnsErrors, 0, 'the fix: not one DNS error');
    assert.equal(f.dnsCheckFailed, 0, 'the fix: every dig +tcp answered');
    assert.ok(b.martianDrops! > 0);
    // every variant has node-local DNS: each records every probe the catalog says the lab supplies
    assert.deepEqual(missingLabProbes(results), [], 'probes the catalog says the lab records');
    for (const file of ['junit.xml', 'report.html', 'notdns.log']) assert.ok(existsSync(join(dir, file)), `${file} written`);
    assert.deepEqual(await leftovers(results.runId), [], 'no namespace, mount or process left');
  });

  it('rp-filter-edge-case --fast: martians only without an address on the ENI', async () => {
    const dir = join(out, 'rpf');
    const { results } = await runPassing('rp-filter-edge-case', dir);
    assert.ok(summary(results, 'eni-without-address').martianDrops! > 0);
    assert.equal(summary(results, 'eni-with-address').martianDrops, 0);
    assert.deepEqual(await leftovers(results.runId), []);
  });
});
