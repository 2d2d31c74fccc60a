// Two runs on one host at once do not collide (distinct names, both finish, both clean up); `down --all` while a run
// is live skips it (its owner.pid is alive); removing a live run takes --force. A run id that is already in use is
// refused without touching what the other run owns.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../harness/exec.js';
import { newRunId } from '../../harness/names.js';
import { stateRoot } from '../../harness/paths.js';
import { LabProvider, listNamespaces } from '../../harness/providers/lab/lab.js';
import { assertNoStack, cliSync, describeLeftovers, isClean, leftovers, startCli, tempDir, tinySpec, writeSpec } from './helpers.js';

describe('reliability: concurrent runs and down while a run is live @root', function () {
  this.timeout(120_000);
  let dir: string;
  let spec: string;

  before(async () => {
    dir = await tempDir();
    spec = await writeSpec(dir, 'tiny.yaml', tinySpec('reliability-concurrent'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('two runs at once: distinct names, `down --all` skips both while they live, both pass and clean up', async () => {
    const a = startCli(['run', spec, '--out', join(dir, 'a')]);
    const b = startCli(['run', spec, '--out', join(dir, 'b')]);
    await Promise.all([a.waitForLine(/✔ .*deploy workloads/), b.waitForLine(/✔ .*deploy workloads/)]);
    const [ia, ib] = [a.ids()[0]!, b.ids()[0]!];
    assert.notEqual(ia, ib, 'distinct run ids');
    const nsA = (await listNamespaces()).filter((n) => n.startsWith(`nd-${ia}-`));
    const nsB = (await listNamespaces()).filter((n) => n.startsWith(`nd-${ib}-`));
    assert.ok(nsA.length >= 4 && nsB.length >= 4, `both labs are up (${nsA.length}, ${nsB.length} namespaces)`);
    assert.equal(nsA.filter((n) => nsB.includes(n)).length, 0, 'no shared name');

    const down = cliSync(['down', '--all']);
    assert.equal(down.code, 0, down.stderr);
    for (const [id, r] of [
      [ia, a],
      [ib, b],
    ] as const) {
      assert.match(down.stdout, new RegExp(`skipped run ${id}: its harness, pid ${r.pid}, is still running; use --force`));
      assert.doesNotMatch(down.stdout, new RegExp(`netns nd-${id}-`));
    }
    const now = await listNamespaces();
    for (const id of [ia, ib]) {
      for (const what of ['vpc', 'dns', 'node1', 'node2']) assert.ok(now.includes(`nd-${id}-${what}`), `nd-${id}-${what} untouched`);
    }

    const [ea, eb] = await Promise.all([a.exited, b.exited]);
    assert.equal(ea.code, 0, a.stderr);
    assert.equal(eb.code, 0, b.stderr);
    for (const r of [a, b]) {
      const left = await leftovers(r.ids(), r.tag);
      assert.ok(isClean(left), `run ${r.ids()[0]} left ${describeLeftovers(left)}`);
    }
  });

  it('`down <id>` of a live run refuses without --force (exit 2, names the flag); with --force it removes it and the run reports a harness error', async () => {
    const c = startCli(['run', spec, '--out', join(dir, 'c')]);
    await c.waitForLine(/✔ .*deploy workloads/);
    const id = c.ids()[0]!;
    const refused = cliSync(['down', id]);
    assert.equal(refused.code, 2, refused.stdout + refused.stderr);
    assert.match(refused.stderr, new RegExp(`run ${id} is still running \\(harness pid ${c.pid}\\)`));
    assert.match(refused.stderr, /--force/);
    assertNoStack(refused.stderr);
    assert.ok(
      (await listNamespaces()).some((n) => n.startsWith(`nd-${id}-`)),
      'nothing was removed',
    );
    assert.equal(c.exit, undefined, 'the run goes on');

    const forced = cliSync(['down', id, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, new RegExp(`netns nd-${id}-node1`));
    const e = await c.exited;
    assert.equal(e.code, 3, `a run whose lab was removed under it is a harness error:\n${c.stderr}`);
    assertNoStack(c.stderr);
    const left = await leftovers([id], c.tag);
    assert.ok(isClean(left), describeLeftovers(left));
  });

  it("a run id already in use (state dir or namespaces of another run) is refused, and the other run's resources are untouched", async () => {
    const id = newRunId();
    const theirs = `nd-${id}-vpc`;
    await mkdir(join(stateRoot, id), { recursive: true });
    await writeFile(join(stateRoot, id, 'owner.pid'), String(process.ppid)); // a live process that is not us
    await run('ip', ['netns', 'add', theirs]);
    try {
      await assert.rejects(
        new LabProvider().up({ nodes: 2, serverNodes: 1, eniHasAddress: false, unreachableOnDelete: false, nodeLocalDns: false }, id, {
          stateDir: join(stateRoot, id),
        }),
        (e: Error) => /already in use/.test(e.message),
      );
      assert.ok((await listNamespaces()).includes(theirs), "the other run's namespace is still there");
      assert.ok(existsSync(join(stateRoot, id, 'owner.pid')), "the other run's state dir is still there");
      assert.equal((await listNamespaces()).filter((n) => n.startsWith(`nd-${id}-`)).length, 1, 'nothing was added');
    } finally {
      await run('ip', ['netns', 'del', theirs], { reject: false });
      await rm(join(stateRoot, id), { recursive: true, force: true });
    }
  });
});
