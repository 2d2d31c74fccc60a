// The "done when": SIGKILL the harness at 10 random points of a lab run (bring-up, deploy, steady, rollout,
// observe, teardown), one run per kill, then `notdns down --all`: no nd-<id>-* namespace, no process in them, no
// process the run started, no bpffs mount and no state dir under /run/notdns is left. What each kill left before the
// sweep is printed: SIGKILL runs no cleanup, so this is what `down --all` exists for.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  cliSync,
  describeLeftovers,
  hostWide,
  isClean,
  leftovers,
  rng,
  seed,
  sleep,
  startCli,
  taggedProcesses,
  tempDir,
  tinySpec,
  until,
  writeSpec,
} from './helpers.js';

type Phase = 'bring-up' | 'deploy' | 'steady' | 'rollout' | 'observe' | 'teardown';
/** The phase a run was in, from the last phase it reported done (plain progress prints a line when a phase ends). */
function phaseAfter(stderr: string): string {
  const done = [...stderr.matchAll(/^✔ [^:]+: (bring up|deploy workloads|steady|rollout of|observe|collect|tear down)/gm)].at(-1)?.[1];
  return (
    (
      {
        'bring up': 'deploy',
        'deploy workloads': 'steady',
        steady: 'rollout',
        'rollout of': 'observe',
        observe: 'collect',
        collect: 'teardown',
        'tear down': 'reports',
      } as Record<string, string>
    )[done ?? ''] ?? 'bring-up'
  );
}
/** Where each phase starts (a line the CLI prints) and how long it lasts at most with the tiny spec (ms). */
const PHASES: Record<Phase, { after: RegExp; windowMs: number }> = {
  'bring-up': { after: /nd-[0-9a-f]{6}-\*/, windowMs: 700 },
  deploy: { after: /✔ .*bring up/, windowMs: 600 },
  steady: { after: /✔ .*deploy workloads/, windowMs: 2000 },
  rollout: { after: /✔ .*: steady/, windowMs: 1800 },
  observe: { after: /✔ .*rollout of/, windowMs: 2000 },
  teardown: { after: /✔ .*: collect/, windowMs: 900 },
};

describe('reliability: SIGKILL at 10 random points, then down --all leaves nothing @root', function () {
  this.timeout(300_000);
  let dir: string;
  let spec: string;
  const S = seed();
  const rand = rng(S);
  const order = Object.keys(PHASES) as Phase[];
  // every phase once, then 4 more at random; the moment inside each phase is random too
  const plan: Phase[] = [...order, ...Array.from({ length: 4 }, () => order[Math.floor(rand() * order.length)]!)];

  before(async () => {
    dir = await tempDir();
    spec = await writeSpec(dir, 'tiny.yaml', tinySpec('reliability-kill'));
    console.log(`      seed ${S} (RELIABILITY_SEED=${S} replays the kill points)`);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('10 kills, one run each: every kill is fully swept by `notdns down --all`', async () => {
    const t0 = Date.now();
    const evidence: string[] = [];
    const hits = new Set<string>();
    for (const [i, phase] of plan.entries()) {
      const { after, windowMs } = PHASES[phase];
      const r = startCli(['run', spec, '--out', join(dir, `kill-${i}`)]);
      const trigger = await r.waitForLine(after, 60_000);
      const delay = Math.round(rand() * windowMs);
      await sleep(delay);
      const wasRunning = r.exit === undefined;
      const hit = phaseAfter(r.stderr);
      r.child.kill('SIGKILL');
      const e = await r.exited;
      const ids = r.ids();
      assert.equal(ids.length, 1, `the run announced its id before creating anything:\n${r.stderr}`);
      const before = await leftovers(ids, r.tag);
      const down = cliSync(['down', '--all']);
      assert.equal(down.code, 0, `down --all: ${down.stderr}`);
      // short-lived commands the harness had started in the root namespace (ip, nft, bpftool) end by themselves
      await until(`processes started by run ${ids[0]} to be gone`, async () => (await taggedProcesses(r.tag)).length === 0, 5000).catch(
        () => undefined,
      );
      const afterSweep = await leftovers(ids, r.tag);
      const line =
        `kill ${i + 1}/10 aimed at ${phase}, hit ${hit} (${delay} ms after "${trigger
          .trim()
          .replace(/\s{2,}.*/, '')
          .slice(0, 40)}"` +
        `${wasRunning ? '' : ', run had already ended'}; ${e.signal ?? e.code}) run ${ids[0]}: left ${describeLeftovers(before)}` +
        ` → down --all ${down.ms} ms → ${describeLeftovers(afterSweep)}`;
      evidence.push(line);
      hits.add(hit);
      console.log(`      ${line}`);
      assert.ok(
        isClean(afterSweep),
        `after down --all, kill ${i + 1} (${phase}) still left: ${describeLeftovers(afterSweep)}\ndown said: ${down.stdout}${down.stderr}\nrun said: ${r.stderr.slice(-1500)}`,
      );
      if (!isClean(before)) {
        for (const ns of before.namespaces) assert.match(down.stdout, new RegExp(`netns ${ns}\\b`), 'down --all lists what it removed');
      }
    }
    console.log(`      ${await hostWide()}`);
    console.log(`      10 kills in ${Math.round((Date.now() - t0) / 1000)} s; phases hit: ${[...hits].join(', ')}`);
    assert.equal(evidence.length, 10);
  });
});
