// .github/workflows/nightly-kind.yml: the steps docs/kind.md promises, in an order that can work.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../../harness/paths.js';

describe('kind: nightly workflow', () => {
  const wf = parse(readFileSync(join(repoRoot, '.github', 'workflows', 'nightly-kind.yml'), 'utf8'));
  const job = wf.jobs.kind;
  const steps: { name?: string; uses?: string; run?: string; if?: string; with?: Record<string, unknown>; env?: Record<string, string> }[] = job.steps;
  const idx = (re: RegExp) => steps.findIndex((s) => re.test(`${s.uses ?? ''} ${s.run ?? ''}`));

  it('runs nightly and on demand, over a matrix of experiments', () => {
    assert.ok(wf.on.schedule[0].cron);
    assert.ok('workflow_dispatch' in wf.on);
    assert.match(job.strategy.matrix.experiment, /fromJSON/);
    assert.equal(job.strategy['fail-fast'], false);
    assert.match(job['runs-on'], /ubuntu/);
  });

  it('sets up kind and helm, builds, runs notdns with --provider kind into out/<exp>, then reports', () => {
    const order = [/helm\/kind-action/, /azure\/setup-helm/, /npm run build/, /build-workload-image\.sh/,
      /bin\/notdns run \$\{\{ matrix\.experiment \}\} --provider kind --out out\/\$\{\{ matrix\.experiment \}\}/, /mikepenz\/action-junit-report/];
    const at = order.map(idx);
    assert.ok(at.every((i) => i >= 0), `missing steps: ${order.filter((_, i) => at[i]! < 0).join(', ')}`);
    assert.ok(at.slice(2).every((v, i, a) => i === 0 || v > a[i - 1]!), 'build → image → run → junit in that order');
    const junit = steps[idx(/action-junit-report/)]!;
    assert.equal(junit.if, '${{ always() }}');
    assert.equal(junit.with!.report_paths, 'out/**/junit.xml');
    const upload = steps.find((s) => s.uses?.startsWith('actions/upload-artifact') && String(s.with?.path).includes('junit.xml'))!;
    assert.match(String(upload.with!.path), /out\/\*\*\/report\.html/);
    assert.equal(upload.if, '${{ always() }}');
  });

  it('collects kind logs and a Cilium sysdump on failure, and always deletes nd-* clusters', () => {
    const diag = steps[idx(/cilium sysdump/)]!;
    assert.equal(diag.if, '${{ failure() }}');
    assert.match(diag.run!, /kind export logs/);
    const last = steps[steps.length - 1]!;
    assert.equal(last.if, '${{ always() }}');
    assert.match(last.run!, /kind delete cluster/);
    assert.equal(steps[idx(/bin\/notdns run/)]!.env!.NOTDNS_KEEP_CLUSTER, '1');
  });
});
