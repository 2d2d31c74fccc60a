// Unknown names at the CLI: exit 2, one paragraph on stderr with the closest name, nothing on stdout. Nothing here
// needs root or creates anything: every name is refused before a provider is asked for (and `run` goes through
// --provider kubeconfig without its flag, which refuses too).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { assertNoStack, notdns } from './helpers.js';

function refused(args: string[], opts: { cwd?: string } = {}): string {
  const r = notdns(args, opts);
  assert.equal(r.code, 2, `notdns ${args.join(' ')}: exit code (stdout: ${r.stdout}; stderr: ${r.stderr})`);
  assert.equal(r.stdout, '', `notdns ${args.join(' ')}: nothing on stdout (no help)`);
  assertNoStack(r.stderr);
  assert.match(r.stderr, /\nFix: \S/, 'says what to do');
  return r.stderr;
}

describe('cli: unknown names → exit 2 and the closest name', function () {
  this.timeout(120_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'notdns-cli-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('an unknown command, with or without --help (and as `help <command>`): exit 2, the nearest command', () => {
    for (const args of [['lsit'], ['lsit', '--help'], ['help', 'lsit'], ['lsit', '-h']]) {
      const s = refused(args);
      assert.match(
        s,
        /^notdns: bad usage\nunknown command "lsit"\.\nFix: Did you mean `notdns list`\? The commands are: run, sweep, plan, list, validate, up, down, stop, doctor, report, compare, schema /,
        args.join(' '),
      );
    }
    assert.match(refused(['cleanup', '--help']), /unknown command "cleanup"\.\nFix: Did you mean `notdns down`\?/, 'what people call down');
    assert.match(refused(['comapre', 'a.json', 'b.json']), /Did you mean `notdns compare`\?/);
    const far = refused(['frobnicate', '--help']);
    assert.match(far, /unknown command "frobnicate"\.\nFix: The commands are: run, sweep, plan, list/);
    assert.doesNotMatch(far, /Did you mean/, 'nothing is near frobnicate');
  });

  it('known commands still show their help (exit 0) and the top-level options still work', () => {
    for (const args of [['list', '--help'], ['help', 'list'], ['--version'], ['--help']]) {
      const r = notdns(args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stdout.length > 0);
    }
  });

  it('a usage error of a command (unknown option, missing argument) exits 2 as well', () => {
    for (const args of [
      ['compare', 'only-one.json'],
      ['list', '--frobnicate'],
    ]) {
      const r = notdns(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assertNoStack(r.stderr);
    }
  });

  it('an unknown experiment: the closest built-in', () => {
    const s = refused(['run', 'rollout-syn-flod', '--provider', 'kubeconfig']);
    assert.match(s, /unknown experiment "rollout-syn-flod"/);
    assert.match(
      s,
      /Fix: Did you mean `rollout-syn-flood`\? Use one of: ([a-z-]+, )*rollout-syn-flood-kind, rollout-syn-flood, rp-filter-edge-case/,
    );
    assert.match(refused(['validate', 'rp-filter']), /Did you mean `rp-filter-edge-case`\?/);
  });

  it('an unknown variant: the closest variant of the experiment', () => {
    const s = refused(['run', 'rollout-syn-flood', '--variant', 'basline', '--provider', 'kubeconfig'], { cwd: dir });
    assert.match(
      s,
      /experiment rollout-syn-flood has no variant "basline"\.\nFix: Did you mean `baseline`\? Use --variant with one of: baseline, fix, cilium-unreachable, nld-bigger, dns-round-robin\./,
    );
  });

  it('an unknown probe and a mistyped target in an experiment file: the closest name before the list', async () => {
    const file = join(dir, 'typos.yaml');
    await writeFile(
      file,
      stringify({
        name: 'typos',
        description: 'an experiment with typos',
        steps: [{ steady: 2 }, { rollout: { batch: 1 } }, { observe: 2 }],
        variants: { baseline: {} },
        expect: {
          baseline: [
            { probe: 'dns.errrors', target: 'flooded-node-pods', stat: 'total', op: '>=', value: 1 },
            { probe: 'martian.drops', target: 'flooded-node', stat: 'total', op: '>=', value: 1 },
          ],
        },
      }),
    );
    const s = refused(['validate', file]);
    assert.match(s, /^notdns: invalid experiment\n.*typos\.yaml is not a valid experiment:/);
    assert.match(
      s,
      /expect\.baseline\[0\]\.probe: unknown probe "dns\.errrors": did you mean `dns\.errors`\? known probes: syn\.toOldPodIps, .*estab\.failed/,
    );
    assert.match(
      s,
      /expect\.baseline\[1\]\.target: unknown target "flooded-node": did you mean `flooded-nodes`\? a target is sum \| max \| flooded-nodes/,
    );
  });
});
