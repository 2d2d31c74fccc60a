// Faults from outside the harness: a workload process killed mid-run (by pid, found with `ip netns pids`), and an
// output folder that runs out of space (a 64 KiB tmpfs). Both are harness errors (exit 3, one paragraph with the
// path and the fix, `error` in results.json where it can still be written), never a verdict, and cleanup completes.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../harness/exec.js';
import { listNamespaces } from '../../harness/providers/lab/lab.js';
import { stateRoot } from '../../harness/paths.js';
import { assertNoStack, describeLeftovers, isClean, leftovers, readResults, startCli, tempDir, tinySpec, writeSpec } from './helpers.js';

async function podPids(ns: string): Promise<string[]> {
  return (await run('ip', ['netns', 'pids', ns], { reject: false })).stdout.split(/\s+/).filter(Boolean);
}

describe('reliability: workload killed mid-run, output folder full @root', function () {
  this.timeout(90_000);
  let dir: string;
  let spec: string;
  let full: string | undefined;

  before(async () => {
    dir = await tempDir();
    spec = await writeSpec(dir, 'tiny.yaml', tinySpec('reliability-faults'));
  });
  after(async () => {
    if (full) await run('umount', ['-l', full], { reject: false });
    await rm(dir, { recursive: true, force: true });
  });

  const cases = [
    { app: 'alerting-engine', prefix: 'ae', after: /✔ .*deploy workloads/, phase: 'steady' },
    { app: 'metrics-service', prefix: 'ms', after: /✔ .*rollout of/, phase: 'observe' },
  ];
  for (const c of cases) {
    it(`${c.app} killed (SIGKILL) during ${c.phase}: harness error, exit 3, error in results.json, nothing left`, async () => {
      const out = join(dir, `kill-${c.prefix}`);
      const r = startCli(['run', spec, '--out', out]);
      await r.waitForLine(c.after);
      const id = r.ids()[0]!;
      // the live pod of that app (after the rollout: the new one)
      const ns = (await listNamespaces())
        .filter((n) => n.startsWith(`nd-${id}-${c.prefix}-`))
        .sort()
        .at(-1)!;
      assert.ok(ns, 'the pod namespace exists');
      const pids = await podPids(ns);
      assert.equal(pids.length, 1, `one process in ${ns}`);
      const cmdline = (await readFile(`/proc/${pids[0]}/cmdline`, 'utf8')).split('\0');
      assert.ok(
        cmdline.some((a) => a.endsWith(`workloads/${c.app}/main.js`)),
        cmdline.join(' '),
      );
      assert.ok(cmdline.includes('--max-duration-seconds'), 'the live workload is bounded');
      if (c.app === 'alerting-engine') {
        assert.equal(cmdline[cmdline.indexOf('--allow-cidr') + 1], '10.1.0.0/16');
        assert.ok(!cmdline.includes('--allow-any-target'));
      }
      process.kill(Number(pids[0]), 'SIGKILL');
      const pod = ns.slice(`nd-${id}-`.length);
      const e = await r.exited;
      assert.equal(e.code, 3, r.stderr);
      const res = await readResults(out);
      assert.equal(res.verdict.pass, false);
      assert.equal(res.error?.kind, 'harness');
      assert.equal(res.error?.phase, c.phase);
      assert.match(res.error!.message, new RegExp(`the ${c.app} workload of pod ${pod} was killed by SIGKILL during ${c.phase}`));
      assert.match(res.error!.message, /harness fault, not a verdict/);
      const log = join(out, 'logs', 'only', `${pod}.log`);
      assert.ok(res.error!.hint?.includes(log), res.error!.hint);
      assert.ok(existsSync(log));
      assert.match(
        r.stderr,
        new RegExp(
          `notdns: error \\(phase: ${c.phase}\\)\\nthe ${c.app} workload of pod ${pod} [^\\n]+\\nFix: Its log is ${log.replace(/[.]/g, '\\.')}`,
        ),
      );
      assertNoStack(r.stderr);
      const left = await leftovers(r.ids(), r.tag);
      assert.ok(isClean(left), describeLeftovers(left));
    });
  }

  it('the ENA reader broken on purpose (its bpffs unmounted mid-run): after 5 failed reads in a row, harness error naming the probe and the node, exit 3, nothing left', async () => {
    const slow = await writeSpec(dir, 'slow.yaml', tinySpec('reliability-ena-broken').replace('[{ steady: 2 }', '[{ steady: 20 }'));
    const out = join(dir, 'ena-broken');
    const r = startCli(['run', slow, '--out', out]);
    await r.waitForLine(/✔ .*deploy workloads/);
    const id = r.ids()[0]!;
    const bpffs = join(stateRoot, id, 'bpffs');
    await run('umount', ['-l', bpffs]); // every pin is gone at once: bpftool cannot open the maps any more
    const e = await r.exited;
    assert.equal(e.code, 3, r.stderr);
    const res = await readResults(out);
    assert.equal(res.error?.kind, 'harness');
    assert.equal(res.error?.phase, 'steady');
    assert.match(
      res.error!.message,
      /^the ena\.\*, syn\.\* probe could not be read on node node\d for 5 samples in a row \(the ENA simulator maps \(bpftool\)\): reading\/writing the ENA simulator maps on node\d failed: .*No such file/,
    );
    assert.match(res.error!.message, /broken harness, not a measurement/);
    assert.equal((res.verdict as { expectations?: unknown[] }).expectations?.length, 0, 'no expectation evaluated on the missing data');
    assert.match(r.stderr, /notdns: error \(phase: steady\)\nthe ena\.\*, syn\.\* probe could not be read on node node\d/);
    assertNoStack(r.stderr);
    const left = await leftovers(r.ids(), r.tag);
    assert.ok(isClean(left), describeLeftovers(left));
  });

  it('output folder on a full disk (64 KiB tmpfs): harness error naming the folder and the fix, exit 3, cleanup completes', async () => {
    full = join(dir, 'full');
    await mkdir(full);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', full]);
    const out = join(full, 'out');
    const r = startCli(['run', spec, '--out', out]);
    const e = await r.exited;
    assert.equal(e.code, 3, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `notdns: error \\(phase: report\\)\\ncould not write the reports to the output folder ${out}: no space left on the device \\(ENOSPC\\)`,
      ),
    );
    assert.match(r.stderr, new RegExp(`\\nFix: Free space on the file system of ${out} .*--out`));
    assertNoStack(r.stderr);
    assert.doesNotMatch(r.stderr, /unexpected error/);
    const left = await leftovers(r.ids(), r.tag);
    assert.ok(isClean(left), describeLeftovers(left));
    await run('umount', [full]);
    full = undefined;
  });
});
