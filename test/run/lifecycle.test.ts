// The run lifecycle's pieces that need no root: the teardown stack, the step table, the workloads' arguments.
import assert from 'node:assert/strict';
import { TeardownStack } from '../../harness/teardown.js';
import { plannedSeconds, STEP_KINDS, stepKind } from '../../harness/run/steps.js';
import { alertingEngineArgs } from '../../harness/run/workloads.js';
import { expandVariant, loadExperiment, scaleTime } from '../../harness/spec/load.js';
import { StepSchema } from '../../harness/spec/schema.js';

describe('run lifecycle: teardown stack', () => {
  it('unwinds newest first, runs every step even after a failure, reports each failure, and is idempotent', async () => {
    const s = new TeardownStack('test', 'abc123');
    const ran: string[] = [];
    s.push('cluster', () => {
      ran.push('cluster');
    });
    s.push('ena', () => {
      ran.push('ena');
      throw new Error('filter busy');
    });
    s.push('probes', async () => {
      ran.push('probes');
    });
    assert.equal(s.size, 3);
    assert.deepEqual(await s.unwind(), ['ena: filter busy']);
    assert.deepEqual(ran, ['probes', 'ena', 'cluster']);
    assert.deepEqual(await s.unwind(), [], 'nothing left to undo');
    assert.deepEqual(ran.length, 3);
  });
});

describe('run lifecycle: step kinds are one table', () => {
  it('every kind the schema accepts has an entry, and every entry is a kind the schema accepts', () => {
    const samples = [{ steady: 5 }, { observe: 5 }, { recover: 5 }, { rollout: { batch: 1 } }].map((x) => StepSchema.parse(x));
    assert.deepEqual(samples.map(stepKind).sort(), Object.keys(STEP_KINDS).sort());
  });

  it('planned seconds: waits as written, a rollout = graceful stop × batches + 2 s; --fast scales waits, not rollouts', async () => {
    const { experiment } = await loadExperiment('rollout-syn-flood');
    const cfg = expandVariant(experiment, 'baseline');
    const grace = cfg.workloads.metricsService.gracefulStopSeconds,
      replicas = cfg.workloads.metricsService.replicas;
    const waits = cfg.steps.reduce(
      (a, s) => a + (('steady' in s && s.steady) || ('observe' in s && s.observe) || ('recover' in s && s.recover) || 0),
      0,
    );
    const batches = cfg.steps
      .filter((s) => 'rollout' in s)
      .reduce((a, s) => a + Math.ceil(replicas / ('rollout' in s ? s.rollout.batch : 1)), 0);
    assert.equal(plannedSeconds(cfg), waits + grace * batches + 2 * cfg.steps.filter((s) => 'rollout' in s).length);
    const fast = scaleTime(cfg, 0.5);
    assert.deepEqual(fast.steps.map(stepKind), cfg.steps.map(stepKind), 'same steps in the same order');
    fast.steps.forEach((s, i) => {
      const o = cfg.steps[i]!;
      if ('rollout' in s) assert.deepEqual(s, o);
      else assert.equal(Object.values(s)[0], Math.max(0.5, Math.round((Object.values(o)[0] as number) * 5) / 10));
    });
  });
});

describe("run lifecycle: the load generator targets the provider's pod network only", () => {
  it("--allow-cidr is the cluster's pod CIDR, whatever it is", async () => {
    const { experiment } = await loadExperiment('rollout-syn-flood');
    const cfg = expandVariant(experiment, 'baseline');
    for (const cidr of ['10.1.0.0/16', '10.244.0.0/16', '172.31.0.0/16']) {
      const args = alertingEngineArgs(cfg, ['10.244.1.5'], 60, cidr);
      assert.equal(args[args.indexOf('--allow-cidr') + 1], cidr);
      assert.ok(!args.includes('--allow-any-target'));
    }
  });
});
