// Stop conditions (`abort:`): the schema, how a variant gets them, and their evaluation on live series (a trip is a
// condition that HOLDS on the points recorded so far); `stopped` in results.json.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TargetContext } from '../../harness/expect.js';
import { ResultsSchema, VariantResultSchema, type Series } from '../../harness/results.js';
import { expandVariant, validateExperiment } from '../../harness/spec/load.js';
import { checkStopConditions, findRunning, HARNESS_FILE, stopLabel, stopRequested, STOP_REQUEST } from '../../harness/stop.js';
import type { ProbeStopCondition } from '../../harness/spec/schema.js';

const base = {
  name: 'stop-test',
  description: 'x',
  steps: [{ steady: 5 }, { rollout: {} }, { observe: 5 }],
  variants: { a: {}, b: { abort: [{ probe: 'grpc.errors', stat: 'total', op: '>', value: 10 }] } },
};

function counter(probe: string, target: string, values: number[]): Series {
  return { probe, target, unit: 'n', kind: 'counter', points: values.map((v, t) => [t, v] as [number, number]) };
}
const ctx: TargetContext = { floodedNodes: ['node1'], serverNodes: ['node1', 'node2'], serverPods: {} };

describe('stop conditions: schema', () => {
  it("accepts abort: at the experiment and per variant; a variant gets the experiment's then its own", () => {
    const e = validateExperiment(
      { ...base, abort: [{ probe: 'dns.errors', target: 'other-nodes', stat: 'total', op: '>', value: 0, why: 'bystander' }] },
      'x.yaml',
    );
    assert.equal(expandVariant(e, 'a').abort.length, 1);
    const b = expandVariant(e, 'b').abort as ProbeStopCondition[];
    assert.deepEqual(
      b.map((c) => c.probe),
      ['dns.errors', 'grpc.errors'],
    );
    assert.equal(b[0]!.window, 'all');
    assert.equal(b[1]!.target, 'sum');
    assert.deepEqual(expandVariant(validateExperiment(base, 'x.yaml'), 'a').abort, []);
  });

  it('refuses an unknown probe, a bad op and providers (a stop condition applies everywhere)', () => {
    assert.throws(
      () => validateExperiment({ ...base, abort: [{ probe: 'dns.eror', stat: 'total', op: '>', value: 0 }] }, 'x.yaml'),
      /unknown probe "dns.eror"/,
    );
    assert.throws(
      () => validateExperiment({ ...base, abort: [{ probe: 'dns.errors', stat: 'total', op: '!=', value: 0 }] }, 'x.yaml'),
      /op must be one of/,
    );
    assert.throws(
      () =>
        validateExperiment({ ...base, abort: [{ probe: 'dns.errors', stat: 'total', op: '>', value: 0, providers: ['lab'] }] }, 'x.yaml'),
      /providers/,
    );
  });
});

describe('stop conditions: evaluation on the live series', () => {
  const cond = { probe: 'syn.toOldPodIps', target: 'sum', stat: 'total', window: 'all', op: '>', value: 100 } as const;

  it('trips on the first sample where the condition holds, with the measured value', () => {
    const pts = [0, 0, 30, 80, 130, 300];
    let trip: ReturnType<typeof checkStopConditions>;
    let at = -1;
    for (let n = 1; n <= pts.length && !trip; n++) {
      trip = checkStopConditions({ series: [counter('syn.toOldPodIps', 'all', pts.slice(0, n))], markers: [], now: n - 1 }, [cond], ctx);
      at = n - 1;
    }
    assert.ok(trip);
    assert.equal(at, 4);
    assert.equal(trip.value, 130);
    assert.equal(trip.label, 'stop if total SYNs to old pod IPs > 100');
  });

  it('does not trip without data, or while the condition does not hold', () => {
    assert.equal(checkStopConditions({ series: [], markers: [], now: 10 }, [cond], ctx), undefined);
    assert.equal(
      checkStopConditions({ series: [counter('syn.toOldPodIps', 'all', [0, 50, 100])], markers: [], now: 2 }, [cond], ctx),
      undefined,
    );
    assert.equal(checkStopConditions({ series: [counter('syn.toOldPodIps', 'all', [0, 500])], markers: [], now: 1 }, [], ctx), undefined);
  });

  it('reads targets as expectations do: DNS errors on nodes outside the blast radius only', () => {
    const c = { probe: 'dnscheck.failed', target: 'other-nodes', stat: 'total', window: 'all', op: '>', value: 0 } as const;
    const flooded = counter('dnscheck.failed', 'node1', [0, 5, 9]);
    const quiet = counter('dnscheck.failed', 'node2', [0, 0, 0]);
    assert.equal(checkStopConditions({ series: [flooded, quiet], markers: [], now: 2 }, [c], ctx), undefined);
    const hit = checkStopConditions({ series: [flooded, counter('dnscheck.failed', 'node2', [0, 0, 1])], markers: [], now: 2 }, [c], ctx);
    assert.equal(hit?.value, 1);
  });

  it('the first condition that holds is the one reported', () => {
    const s = [counter('grpc.errors', 'ae-1', [0, 20]), counter('syn.toOldPodIps', 'all', [0, 200])];
    const a = { probe: 'grpc.errors', target: 'sum', stat: 'total', window: 'all', op: '>', value: 5 } as const;
    assert.equal(checkStopConditions({ series: s, markers: [], now: 1 }, [cond, a], ctx)?.condition, cond);
    assert.equal(stopLabel(a), 'stop if total gRPC errors > 5');
  });
});

describe('stop conditions: results.json and notdns stop files', () => {
  it('a variant result may say it was stopped, and when', () => {
    const v = {
      name: 'a',
      startedAt: 'x',
      durationSeconds: 9,
      config: {},
      series: [],
      markers: [{ t: 4.2, kind: 'stop-condition', label: 'stop if x' }],
      summary: {},
      replacedPods: [],
      stopped: { by: 'condition', label: 'stop if x', t: 4.2, value: 130, faultRemovedAt: 4.4 },
    };
    assert.equal(VariantResultSchema.parse(v).stopped?.value, 130);
    assert.throws(() => VariantResultSchema.parse({ ...v, stopped: { ...v.stopped, by: 'ctrl-c' } }));
    assert.ok(ResultsSchema.shape.variants);
  });

  it('findRunning finds a live harness by variant id or run id; stopRequested sees the request file', async () => {
    const root = await mkdtemp(join(tmpdir(), 'notdns-stop-'));
    try {
      const d = join(root, 'abcd10');
      await mkdir(d);
      await writeFile(
        join(d, HARNESS_FILE),
        JSON.stringify({ pid: process.pid, runId: 'abcd99', vid: 'abcd10', variant: 'a', startedAt: 'x' }),
      );
      const dead = join(root, 'abcd11');
      await mkdir(dead);
      await writeFile(
        join(dead, HARNESS_FILE),
        JSON.stringify({ pid: 2 ** 22 + 12345, runId: 'abcd99', vid: 'abcd11', variant: 'b', startedAt: 'x' }),
      );
      assert.deepEqual(
        (await findRunning(root, 'abcd10')).map((x) => x.vid),
        ['abcd10'],
      );
      assert.deepEqual(
        (await findRunning(root, 'abcd99')).map((x) => x.vid),
        ['abcd10'],
      );
      assert.deepEqual(await findRunning(root, 'ffffff'), []);
      assert.equal(stopRequested(d), false);
      await writeFile(join(d, STOP_REQUEST), '{}');
      assert.equal(stopRequested(d), true);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('stop conditions: the verdict and junit.xml say it', () => {
  it('terminal: STOPPED with the variant, time, condition, value and the fault removal; junit: a failure of type stopped', async () => {
    const { makeResults } = await import('../report/helpers.js');
    const { renderVerdict } = await import('../../harness/report/terminal.js');
    const { renderJunit } = await import('../../harness/report/junit.js');
    const r = makeResults({ variants: ['baseline'] });
    r.variants[0]!.stopped = {
      by: 'condition',
      label: 'stop if total SYNs to old pod IPs > 50',
      t: 4.04,
      value: 71,
      faultRemovedAt: 4.16,
      detail: 'load stopped on 1/1 Alerting Engine pod(s)',
    };
    r.verdict.pass = false;
    const text = renderVerdict(r, { color: false });
    assert.match(
      text,
      /STOPPED: variant baseline at t=4\.04s by condition\n {2}stop if total SYNs to old pod IPs > 50 \(measured 71\)\n {2}fault removed at t=4\.16s: load stopped/,
    );
    const xml = renderJunit(r);
    assert.match(xml, /<testsuite name="notdns\.[\w.-]+\.baseline\.stopped" tests="1" failures="1"/);
    assert.match(
      xml,
      /<failure message="stopped at t=4\.04s by condition: stop if total SYNs to old pod IPs &gt; 50 \(measured 71\)" type="stopped">/,
    );
    delete r.variants[0]!.stopped;
    assert.doesNotMatch(renderVerdict(r, { color: false }), /STOPPED/);
    assert.doesNotMatch(renderJunit(r), /type="stopped"/);
  });
});
