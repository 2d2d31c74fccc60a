// Teardown on every exit path of `notdns run`, in reverse order of set-up: success, failed expectation, a harness
// error inside a phase (NOTDNS_FAULT, harness/faults.ts), SIGINT / SIGTERM at a random moment, Ctrl-C to the whole
// process group (as a terminal sends it), and a second Ctrl-C that forces.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { dig } from '../../harness/providers/lab/dns.js';
import {
  assertNoStack,
  cliSync,
  describeLeftovers,
  hostWide,
  isClean,
  leftovers,
  readResults,
  rng,
  seed,
  sleep,
  startCli,
  tempDir,
  tinySpec,
  traceOf,
  writeSpec,
  type CliRun,
} from './helpers.js';

const reversed = <T>(a: T[] | undefined) => [...(a ?? [])].reverse();

/** Teardown, per level (runner, lab), is exactly the reverse of what was set up. */
async function assertReverseTeardown(logFile: string, expectRunner?: string[]): Promise<void> {
  const t = await traceOf(logFile);
  assert.ok(t.setup.lab?.length, `the lab logged its set-up steps (${logFile})`);
  assert.deepEqual(t.teardown.lab, reversed(t.setup.lab), 'lab teardown is the reverse of its set-up');
  assert.deepEqual(t.teardown.runner ?? [], reversed(t.setup.runner), 'runner teardown is the reverse of its set-up');
  if (expectRunner) assert.deepEqual(t.setup.runner ?? [], expectRunner, 'runner set-up steps reached');
}

describe('reliability: teardown on every exit path @root', function () {
  this.timeout(120_000);
  let dir: string;
  let spec: string;
  const S = seed();
  const rand = rng(S);

  before(async () => {
    dir = await tempDir();
    spec = await writeSpec(dir, 'tiny.yaml', tinySpec());
    await writeSpec(dir, 'fails.yaml', tinySpec('reliability-fails', { expectValue: 1e12 }));
    await writeSpec(dir, 'grace8.yaml', tinySpec('reliability-grace8').replace('gracefulStopSeconds: 1,', 'gracefulStopSeconds: 8,'));
    console.log(`      seed ${S} (RELIABILITY_SEED=${S} replays the random moments)`);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function finish(r: CliRun): Promise<void> {
    await r.exited;
    const left = await leftovers(r.ids(), r.tag);
    assert.ok(isClean(left), `left behind: ${describeLeftovers(left)}`);
  }

  it('success: exit 0, teardown in reverse order of set-up, nothing left', async () => {
    const out = join(dir, 'ok');
    const r = startCli(['run', spec, '--out', out]);
    const e = await r.exited;
    assert.equal(e.code, 0, r.stderr);
    assert.equal(r.ids().length, 1);
    await assertReverseTeardown(join(out, 'notdns.log'), ['cluster', 'stop switch', 'dead-man lease', 'ena', 'probes']);
    await finish(r);
  });

  it('failed expectation: exit 1 (a verdict), same teardown, nothing left', async () => {
    const out = join(dir, 'fails');
    const r = startCli(['run', join(dir, 'fails.yaml'), '--out', out]);
    const e = await r.exited;
    assert.equal(e.code, 1, r.stderr);
    assert.match(r.stdout, /fail/);
    const res = await readResults(out);
    assert.equal(res.verdict.pass, false);
    assert.equal(res.error, undefined, 'a failed expectation is a verdict, not a harness error');
    await assertReverseTeardown(join(out, 'notdns.log'), ['cluster', 'stop switch', 'dead-man lease', 'ena', 'probes']);
    await finish(r);
  });

  const faults: [string, string[]][] = [
    ['up', ['cluster']],
    ['deploy', ['cluster', 'stop switch', 'dead-man lease', 'ena']],
    ['rollout', ['cluster', 'stop switch', 'dead-man lease', 'ena', 'probes']],
    ['collect', ['cluster', 'stop switch', 'dead-man lease', 'ena', 'probes']],
  ];
  for (const [point, reached] of faults) {
    it(`harness error inside "${point}" (NOTDNS_FAULT=${point}): exit 3, error in results.json, one paragraph, reverse teardown, nothing left`, async () => {
      const out = join(dir, `fault-${point}`);
      const r = startCli(['run', spec, '--out', out], { env: { NOTDNS_FAULT: point } });
      const e = await r.exited;
      assert.equal(e.code, 3, r.stderr);
      const res = await readResults(out);
      assert.equal(res.error?.kind, 'harness');
      assert.equal(res.error?.phase, point);
      assert.match(res.error!.message, new RegExp(`injected fault at "${point}"`));
      assert.match(r.stderr, new RegExp(`notdns: error \\(phase: ${point}\\)\\ninjected fault at "${point}"[^\\n]*\\nFix: `));
      assertNoStack(r.stderr);
      await assertReverseTeardown(join(out, 'notdns.log'), reached);
      await finish(r);
    });
  }

  it('an uncaught exception inside the harness (NOTDNS_FAULT=uncaught): torn down anyway, exit 3, one paragraph, error in results.json', async () => {
    const out = join(dir, 'uncaught');
    const r = startCli(['run', spec, '--out', out], { env: { NOTDNS_FAULT: 'uncaught' } });
    const e = await r.exited;
    assert.equal(e.code, 3, r.stderr);
    assert.match(
      r.stderr,
      /notdns: error \(phase: steady\)\nnotdns hit an internal error: injected uncaught exception \(NOTDNS_FAULT=uncaught\)[^\n]*\nFix: /,
    );
    assertNoStack(r.stderr);
    const res = await readResults(out);
    assert.equal(res.error?.kind, 'harness');
    assert.match(res.error!.message, /internal error/);
    await assertReverseTeardown(join(out, 'notdns.log'), ['cluster', 'stop switch', 'dead-man lease', 'ena', 'probes']);
    await finish(r);
  });

  // SIGHUP: the terminal (an ssh session) went away mid-run
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    it(`${sig} at a random moment: exit 130, everything torn down by the run itself`, async () => {
      const out = join(dir, `sig-${sig}`);
      const r = startCli(['run', spec, '--out', out]);
      await r.waitForLine(/nd-[0-9a-f]{6}-\*/);
      const delay = Math.round(rand() * 6500); // the tiny run ends ~8 s after its id line: stay inside it
      await sleep(delay);
      const at = r.lastLine();
      assert.equal(r.exit, undefined, 'the run is still going');
      r.child.kill(sig);
      const e = await r.exited;
      console.log(
        `      ${sig} ${delay} ms after the run id was printed (during: ${at.trim().slice(0, 70)}): exit ${e.code} after ${e.at - r.startedAt - delay} ms`,
      );
      assert.equal(e.code, 130, r.stderr);
      assert.match(r.stderr, /notdns: interrupted/);
      assertNoStack(r.stderr);
      await finish(r);
    });
  }

  it('SIGINT mid-rollout while an old pod is in an 8 s graceful stop: teardown starts at once, the process exits right after it', async () => {
    const out = join(dir, 'grace8');
    const r = startCli(['run', join(dir, 'grace8.yaml'), '--out', out]);
    await r.waitForLine(/✔ .*: steady/);
    await sleep(1500 + Math.round(rand() * 2500)); // the new pod is ready after ~1 s; the old one then stops for 8 s
    const sent = Date.now();
    r.child.kill('SIGINT');
    const said = await r.waitForLine(/^notdns: interrupted/).then(() => Date.now());
    const e = await r.exited;
    console.log(`      SIGINT → "interrupted" printed after ${said - sent} ms → exit after ${e.at - sent} ms`);
    assert.equal(e.code, 130, r.stderr);
    assert.ok(said - sent < 5000, `teardown should not wait for the graceful stop (${said - sent} ms)`);
    assert.ok(
      e.at - said < 1500,
      `nothing (a pending graceful stop, a timer) keeps the process alive after it is done (${e.at - said} ms)`,
    );
    assertNoStack(r.stderr);
    await finish(r);
  });

  it('SIGINT during the last teardown (measurements complete): still exit 130, not a verdict; results written, nothing left', async () => {
    const out = join(dir, 'late');
    const r = startCli(['run', spec, '--out', out]);
    await r.waitForLine(/✔ .*collect/);
    r.child.kill('SIGINT');
    const e = await r.exited;
    assert.equal(e.code, 130, r.stderr);
    assert.match(r.stderr, /interrupted after its measurements were complete/);
    assert.equal((await readResults(out)).verdict.pass, true, 'the complete results were written');
    assertNoStack(r.stderr);
    await finish(r);
  });

  it('Ctrl-C from a terminal (SIGINT to the whole process group, workloads included) mid-run: exit 130, nothing left', async () => {
    const out = join(dir, 'pgrp');
    const r = startCli(['run', spec, '--out', out], { detached: true });
    await r.waitForLine(/✔ .*deploy workloads/);
    const delay = Math.round(rand() * 4000);
    await sleep(delay);
    const at = r.lastLine();
    process.kill(-r.pid, 'SIGINT');
    const e = await r.exited;
    console.log(`      SIGINT to the process group ${delay} ms after deploy (during: ${at.trim().slice(0, 70)}): exit ${e.code}`);
    assert.equal(e.code, 130, r.stderr);
    assertNoStack(r.stderr);
    await finish(r);
  });

  it('a second Ctrl-C forces: exits promptly with 130; `down --all` then leaves nothing', async () => {
    const out = join(dir, 'twice');
    const r = startCli(['run', spec, '--out', out]);
    await r.waitForLine(/✔ .*deploy workloads/);
    await sleep(Math.round(rand() * 2000));
    r.child.kill('SIGINT');
    await sleep(150);
    const second = Date.now();
    r.child.kill('SIGINT');
    const e = await r.exited;
    const took = e.at - second;
    assert.equal(e.code, 130, r.stderr);
    assert.match(r.stderr, /again: forcing cleanup/);
    assert.ok(took < 5000, `the forced exit took ${took} ms`);
    const before = await leftovers(r.ids(), r.tag);
    console.log(`      forced exit ${took} ms after the second SIGINT; left before down --all: ${describeLeftovers(before)}`);
    const down = cliSync(['down', '--all']);
    assert.equal(down.code, 0, down.stderr);
    await finish(r);
    console.log(`      ${await hostWide()}`);
  });
  it('`up` leaves a working lab after the CLI exits (node-local DNS answers); `down <id>` removes all of it', async () => {
    const up = cliSync(['up', '--nodes', '2', '--server-nodes', '1'], { timeoutMs: 60_000 });
    assert.equal(up.code, 0, up.stderr);
    const id = /^lab ([0-9a-f]{6}) is up/m.exec(up.stdout)?.[1];
    assert.ok(id, up.stdout);
    try {
      const answer = await dig(`nd-${id}-node1`, '169.254.20.10', 'after-up.default.svc.cluster.local', { tcp: false });
      assert.equal(answer.status, 'NOERROR', "the lab's DNS daemons outlive `notdns up`");
      assert.ok(
        (await leftovers([id])).nsProcesses.some((p) => /unbound/.test(p)),
        'unbound runs inside the lab namespaces',
      );
    } finally {
      const down = cliSync(['down', id!]);
      assert.equal(down.code, 0, down.stderr);
    }
    const left = await leftovers([id!]);
    assert.ok(isClean(left), `left behind: ${describeLeftovers(left)}`);
  });
});
