// `notdns sweep` end to end on the lab, as a user runs it: a 2×2 grid of a small experiment finishes within the
// time it announced and writes sweep.json (each point's results carry the point's settings in the effective config)
// and sweep.html; Ctrl-C after the first point keeps that point (exit 130). Needs root; run it under the lab lock.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../harness/paths.js';
import { listNamespaces } from '../../harness/providers/lab/lab.js';
import { OUTCOMES, SweepSchema } from '../../harness/sweep/run.js';

const CLI = join(repoRoot, 'bin', 'notdns');
const FIXTURE = join(repoRoot, 'test', 'sweep', 'fixtures', 'tiny-sweep.yaml');
const AE = 'workloads.alertingEngine';
const SETS = ['--set', `${AE}.reconnect.maxMs=300,1000`, '--set', `${AE}.channelsPerBackend=10,20`];

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  wallSeconds: number;
}

/** Run notdns; `interruptWhen` sends SIGINT once stderr matches it. */
function sweep(args: string[], interruptWhen?: RegExp): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(CLI, args, { env: { ...process.env, CI: 'true', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '',
      sent = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (interruptWhen && !sent && interruptWhen.test(stderr)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, wallSeconds: (Date.now() - t0) / 1000 }));
  });
}

async function leftNamespaces(): Promise<string[]> {
  return (await listNamespaces()).filter((n) => n.startsWith('nd-'));
}

describe('notdns sweep end to end on the lab @root', function () {
  this.timeout(600_000);
  let out: string;
  before(async () => {
    out = await mkdtemp(join(tmpdir(), 'notdns-sweep-e2e-'));
  });
  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return;
    const keep = join(repoRoot, 'test-artifacts', `sweep-e2e-${Date.now()}`);
    await cp(out, keep, { recursive: true }).catch(() => undefined);
    process.stdout.write(`      (sweep output kept in ${keep})\n`);
  });
  after(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('a 2×2 sweep finishes within its announced time and writes sweep.json and sweep.html', async () => {
    const before = await leftNamespaces();
    const dir = join(out, 'full');
    const p = await sweep(['sweep', FIXTURE, ...SETS, '--out', dir]);
    assert.equal(p.code, 0, `exit 0\n${p.stderr.slice(-3000)}`);
    const announced = /4 points \(2×2\), fast profile; it will take about (\d+:\d\d|\d+s)/.exec(p.stderr);
    assert.ok(announced, `the time is announced before it starts:\n${p.stderr.slice(0, 800)}`);
    assert.ok(p.stderr.indexOf(announced[0]) < p.stderr.indexOf('point 1/4'), 'announced before the first point');
    for (let i = 1; i <= 4; i++)
      assert.match(p.stderr, new RegExp(`point ${i}/4: maxMs=\\d+ channelsPerBackend=\\d+ .*of [\\d:s]+ announced`));

    const s = SweepSchema.parse(JSON.parse(await readFile(join(dir, 'sweep.json'), 'utf8')));
    assert.equal(s.points.length, 4);
    assert.equal(s.incomplete, undefined);
    assert.equal(s.variant, 'talk');
    assert.equal(s.profile, 'fast');
    for (const pt of s.points) {
      // the setting reached the run: the variant's effective configuration has it
      const ae = (pt.results.variants[0]!.config as { workloads: { alertingEngine: Record<string, unknown> } }).workloads.alertingEngine;
      assert.equal(ae.channelsPerBackend, pt.settings[`${AE}.channelsPerBackend`]);
      assert.equal((ae.reconnect as { maxMs: number }).maxMs, pt.settings[`${AE}.reconnect.maxMs`]);
      assert.equal(pt.results.profile, 'fast');
      assert.ok(
        pt.results.variants[0]!.series.some((x) => x.probe === 'syn.toOldPodIps'),
        'the point recorded its series',
      );
    }
    // honest bound: the sweep took no longer than announced (the process too, CLI start and reports included)
    console.log(`      announced ${s.announcedSeconds}s, sweep ${s.actualSeconds}s, process ${p.wallSeconds.toFixed(1)}s`);
    assert.ok(s.actualSeconds <= s.announcedSeconds, `actual ${s.actualSeconds}s <= announced ${s.announcedSeconds}s`);
    assert.ok(p.wallSeconds <= s.announcedSeconds + 5, `process ${p.wallSeconds}s within announced ${s.announcedSeconds}s (+5 s start-up)`);

    const html = await readFile(join(dir, 'sweep.html'), 'utf8');
    assert.equal(
      (html.match(/data-kind="heatmap" data-cells="4"/g) ?? []).length,
      OUTCOMES.length + 1,
      'a heat map of 4 cells per outcome',
    );
    assert.match(p.stdout, /maxMs\s+channelsPerBackend\s+peak SYN\/s/);
    assert.equal(p.stdout.match(/^(300|1000)\s+(10|20)\s/gm)?.length, 4, 'a table row per point');
    for (let i = 1; i <= 4; i++) assert.ok(existsSync(join(dir, 'points', String(i), 'results.json')), `points/${i}/results.json`);
    assert.deepEqual(await leftNamespaces(), before, 'nothing left behind');
  });

  it('Ctrl-C after the first point keeps it: sweep.json and sweep.html with 1 point, exit 130', async () => {
    const before = await leftNamespaces();
    const dir = join(out, 'interrupted');
    const p = await sweep(['sweep', FIXTURE, ...SETS, '--out', dir], /point 2\/4:/);
    assert.equal(p.code, 130, `exit 130\n${p.stderr.slice(-2000)}`);
    const s = SweepSchema.parse(JSON.parse(await readFile(join(dir, 'sweep.json'), 'utf8')));
    assert.equal(s.points.length, 1, 'the finished point is kept');
    assert.equal(s.total, 4);
    assert.equal(s.incomplete?.kind, 'interrupted');
    assert.match(s.incomplete!.reason, /interrupted during point 2\/4/);
    const html = await readFile(join(dir, 'sweep.html'), 'utf8');
    assert.match(html, /1\/4 points: interrupted during point 2\/4/);
    assert.match(html, /3 point\(s\) not run/);
    assert.deepEqual(await leftNamespaces(), before, 'the interrupted point was torn down');
  });
});
