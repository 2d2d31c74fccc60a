// Bad input at the CLI: unknown experiment, invalid field, unknown variant, not root, a missing package (unbound
// hidden from PATH), a bad run id for `down`. Each is exit 2 and one paragraph that names the problem and the fix,
// no stack trace, and nothing left behind: no output folder, no state dir, no namespace, no process.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { assertNoStack, cliSync, tempDir, tinySpec, writeSpec } from './helpers.js';

const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

describe('reliability: bad input at the CLI → exit 2, one paragraph, nothing left @root', function () {
  this.timeout(60_000);
  let dir: string;
  let cwd: string;
  let spec: string;
  let hidePath: string;

  before(async () => {
    dir = await tempDir();
    await chmod(dir, 0o755);
    cwd = join(dir, 'cwd');
    await mkdir(cwd);
    await chmod(cwd, 0o777); // writable by nobody too: if notdns created anything there, we would see it
    spec = await writeSpec(dir, 'tiny.yaml', tinySpec());
    await writeSpec(
      dir,
      'bad-field.yaml',
      tinySpec().replace('topology: { nodes: 2, serverNodes: 1 }', 'topology: { nodez: 2, serverNodes: 1 }'),
    );
    await chmod(spec, 0o644);
    // a PATH with everything but unbound (what a machine without the Debian package looks like)
    hidePath = join(dir, 'path');
    await mkdir(hidePath);
    for (const d of (process.env.PATH ?? '').split(':').filter(Boolean)) {
      for (const f of await readdir(d).catch(() => [] as string[])) {
        if (f.startsWith('unbound') || existsSync(join(hidePath, f))) continue;
        await symlink(join(d, f), join(hidePath, f)).catch(() => undefined);
      }
    }
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Run the CLI and check the common contract; returns stderr. */
  async function refused(
    args: string[],
    head: RegExp,
    opts: { env?: NodeJS.ProcessEnv; wrap?: string[]; out?: string } = {},
  ): Promise<string> {
    const r = cliSync(args, { cwd, env: opts.env, wrap: opts.wrap });
    assert.equal(r.code, 2, `exit code (stdout: ${r.stdout}; stderr: ${r.stderr})`);
    assert.match(r.stderr, head);
    assert.match(r.stderr, /\nFix: \S/, 'says what to do');
    assertNoStack(r.stderr);
    assert.doesNotMatch(r.stderr, /unexpected error|Error:/);
    assert.ok(r.stderr.split('\n').length <= 8, `one paragraph, got:\n${r.stderr}`);
    assert.deepEqual(await readdir(cwd), [], 'nothing created in the working directory');
    if (opts.out) assert.equal(existsSync(opts.out), false, `no output folder ${opts.out}`);
    assert.doesNotMatch(r.stderr, /nd-[0-9a-f]{6}-\*/, 'refused before a lab (or its state dir) was created');
    return r.stderr;
  }

  it('unknown experiment: names it, lists the built-ins', async () => {
    const out = join(dir, 'o1');
    const s = await refused(['run', 'no-such-experiment', '--out', out], /^notdns: bad usage\nunknown experiment "no-such-experiment"/, {
      out,
    });
    assert.match(s, /rollout-syn-flood, rp-filter-edge-case/);
  });

  it('invalid field: names the file, the field and the typo', async () => {
    const out = join(dir, 'o2');
    const s = await refused(
      ['run', join(dir, 'bad-field.yaml'), '--out', out],
      /^notdns: invalid experiment\n.*bad-field\.yaml is not a valid experiment/,
      { out },
    );
    assert.match(s, /topology: unknown field\(s\) "nodez" \(typo\?\)/);
  });

  it('unknown variant: names it and the variants there are, before the output folder is created', async () => {
    const out = join(dir, 'o3');
    const s = await refused(
      ['run', spec, '--variant', 'nope', '--out', out],
      /^notdns: bad usage\nexperiment reliability-tiny has no variant "nope"\./,
      { out },
    );
    assert.match(s, /Fix: Use --variant with one of: only\./);
  });

  it('not root (as nobody): says root is needed and how, with or without a writable --out', async () => {
    const s = await refused(['run', spec], /^notdns: this machine is not ready\nthe lab provider needs root/, { wrap: NOBODY });
    assert.match(s, /Fix: Run it as root \(e\.g\. `sudo bin\/notdns/);
    const out = join(dir, 'root-only'); // nobody cannot create this
    await refused(['run', spec, '--out', out], /^notdns: this machine is not ready\nthe lab provider needs root/, { wrap: NOBODY, out });
    await refused(['down', '--all'], /^notdns: this machine is not ready\nnotdns down needs root/, { wrap: NOBODY });
  });

  it('missing package (unbound not on PATH): names the command, the Debian package and the apt-get command, before anything is created', async () => {
    const out = join(dir, 'o5');
    const t0 = Date.now();
    const s = await refused(
      ['run', spec, '--out', out],
      /^notdns: this machine is not ready\nthe lab needs unbound \(Debian package unbound\), not found on PATH\./,
      { env: { PATH: hidePath }, out },
    );
    assert.match(s, /Fix: Install it: apt-get update && apt-get install -y --no-install-recommends unbound\./);
    assert.ok(Date.now() - t0 < 8000, `refused up front, not after a bring-up timeout (${Date.now() - t0} ms)`);
  });

  it('down with a bad run id, or without one: usage, nothing removed', async () => {
    await refused(['down', 'xyz'], /^notdns: bad usage\n"xyz" is not a run id/);
    await refused(['down'], /^notdns: bad usage\nsay which run to remove, or --all\./);
  });
});
