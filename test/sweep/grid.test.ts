import assert from 'node:assert/strict';
import { NotdnsError } from '../../harness/errors.js';
import { loadExperiment, expandVariant } from '../../harness/spec/load.js';
import { plannedSeconds } from '../../harness/run/steps.js';
import {
  chooseVariant,
  estimate,
  expandGrid,
  LAB_OVERHEAD_SECONDS,
  parseSet,
  parseSets,
  pointExperiment,
  leafAt,
  settablePaths,
  settingsLabel,
} from '../../harness/sweep/grid.js';

const AE = 'workloads.alertingEngine';

/** The usage error a call throws, as the user reads it (message + fix). */
function refused(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof NotdnsError, `a NotdnsError, got ${String(e)}`);
    assert.equal(e.kind, 'usage');
    return `${e.message}\nFix: ${e.hint ?? ''}`;
  }
  assert.fail('expected a usage error');
}

describe('sweep: --set parsing and validation', () => {
  it('parses a path and its values, typed by the schema', () => {
    assert.deepEqual(parseSet(`${AE}.reconnect.maxMs=300,1000,5000`), { path: `${AE}.reconnect.maxMs`, values: [300, 1000, 5000] });
    assert.deepEqual(parseSet(`${AE}.discovery=per-backend,round-robin`).values, ['per-backend', 'round-robin']);
    assert.deepEqual(parseSet('topology.eniHasAddress=true,false').values, [true, false]);
    assert.deepEqual(parseSet('ena.timeouts.unrepliedSeconds=2.5,20').values, [2.5, 20]);
    assert.deepEqual(parseSet(`${AE}.reconnect=grpc-defaults`).values, ['grpc-defaults']);
  });

  it('a misspelt segment: did you mean, naming the field where it went wrong and its fields', () => {
    const s = refused(() => parseSet(`${AE}.reconect.maxMs=300`));
    assert.match(s, /workloads\.alertingEngine has no field "reconect"/);
    assert.match(s, /Did you mean `workloads\.alertingEngine\.reconnect\.maxMs`\?/);
    assert.match(s, /channelsPerBackend/, 'lists the fields there');
    assert.match(
      refused(() => parseSet('workload.alertingEngine.instances=1')),
      /Did you mean `workloads\.alertingEngine\.instances`/,
    );
  });

  it('a path without its parents: the full path that ends with it', () => {
    assert.match(
      refused(() => parseSet('channelsPerBackend=50')),
      /Did you mean `workloads\.alertingEngine\.channelsPerBackend`\?/,
    );
    assert.match(
      refused(() => parseSet('reconnect.maxMs=50')),
      /Did you mean `workloads\.alertingEngine\.reconnect\.maxMs`\?/,
    );
  });

  it('a group, or a field below a single value, is refused with what to set instead', () => {
    assert.match(
      refused(() => parseSet('ena.timeouts=3')),
      /group of settings[\s\S]*ena\.timeouts\.unrepliedSeconds/,
    );
    assert.match(
      refused(() => parseSet(`${AE}.instances.max=3`)),
      /instances is a single value, it has no field "max"/,
    );
  });

  it('a bad value names the field and what it takes', () => {
    assert.match(
      refused(() => parseSet(`${AE}.channelsPerBackend=50,lots`)),
      /"lots" is not a number; channelsPerBackend takes numbers/,
    );
    assert.match(
      refused(() => parseSet(`${AE}.channelsPerBackend=0`)),
      /channelsPerBackend must be at least 1/,
    );
    assert.match(
      refused(() => parseSet(`${AE}.instances=1.5`)),
      /instances must be a whole number/,
    );
    assert.match(
      refused(() => parseSet('topology.eniHasAddress=yes')),
      /"yes" is not true or false; eniHasAddress/,
    );
    assert.match(
      refused(() => parseSet(`${AE}.discovery=round-robn`)),
      /Did you mean `round-robin`\?/,
    );
    assert.match(
      refused(() => parseSet(`${AE}.channelsPerBackend=`)),
      /expected path=value1,value2/,
    );
    assert.match(
      refused(() => parseSet(`${AE}.channelsPerBackend=1,,2`)),
      /an empty value/,
    );
    assert.match(
      refused(() => parseSet(`${AE}.channelsPerBackend=1,1`)),
      /listed twice/,
    );
  });

  it('needs at least one --set, each path once', () => {
    assert.match(
      refused(() => parseSets([])),
      /at least one --set/,
    );
    assert.match(
      refused(() => parseSets([`${AE}.instances=1`, `${AE}.instances=2`])),
      /given twice/,
    );
  });

  it('every settable path parses (the help lists them)', () => {
    const paths = settablePaths();
    assert.ok(paths.includes(`${AE}.reconnect.maxMs`) && paths.includes('ena.conntrackAllowance'));
    assert.ok(!paths.includes('ena.timeouts') && !paths.includes('workloads.alertingEngine'), 'groups are not leaves');
    for (const p of paths) {
      const k = leafAt(p);
      const v = k.kind === 'strings' ? k.allowed[0]! : k.kind === 'boolean' ? 'true' : '2';
      assert.equal(parseSets([`${p}=${v}`])[0]!.path, p);
    }
  });
});

describe('sweep: grid, variant, points, time', () => {
  it('expands the cartesian product, the first --set slowest', () => {
    const g = expandGrid(parseSets([`${AE}.reconnect.maxMs=300,1000,5000`, `${AE}.channelsPerBackend=50,100`]));
    assert.equal(g.length, 6);
    assert.deepEqual(g[0], { [`${AE}.reconnect.maxMs`]: 300, [`${AE}.channelsPerBackend`]: 50 });
    assert.deepEqual(g[1], { [`${AE}.reconnect.maxMs`]: 300, [`${AE}.channelsPerBackend`]: 100 });
    assert.deepEqual(g[5], { [`${AE}.reconnect.maxMs`]: 5000, [`${AE}.channelsPerBackend`]: 100 });
    assert.equal(settingsLabel(g[5]!), 'maxMs=5000 channelsPerBackend=100');
    assert.equal(expandGrid(parseSets(['topology.nodes=3,4', 'ena.enabled=true,false', `${AE}.instances=1,2,3`])).length, 12);
  });

  it('an experiment with several variants needs --variant (a clear error); a misspelt one gets a suggestion', async () => {
    const { experiment } = await loadExperiment('rollout-syn-flood');
    assert.match(
      refused(() => chooseVariant(experiment)),
      new RegExp(
        `has ${Object.keys(experiment.variants).length} variants[\\s\\S]*--variant[\\s\\S]*${Object.keys(experiment.variants).join(', ')}`,
      ),
    );
    assert.match(
      refused(() => chooseVariant(experiment, 'basline')),
      /Did you mean `baseline`\?/,
    );
    assert.equal(chooseVariant(experiment, 'fix'), 'fix');
    const one = { ...experiment, variants: { baseline: experiment.variants.baseline! } };
    assert.equal(chooseVariant(one), 'baseline');
  });

  it("a point's experiment: the variant with the settings merged in, the rest of the config kept, validated", async () => {
    const { experiment, file } = await loadExperiment('rollout-syn-flood');
    const before = structuredClone(experiment);
    const x = pointExperiment(experiment, file, 'baseline', {
      [`${AE}.reconnect.maxMs`]: 5000,
      [`${AE}.channelsPerBackend`]: 50,
      'ena.timeouts.unrepliedSeconds': 7,
    });
    assert.deepEqual(Object.keys(x.variants), ['baseline'], 'only the swept variant');
    assert.deepEqual(x.compare, [], 'no cross-variant comparison');
    assert.equal(x.expect.baseline!.length, experiment.expect.baseline!.length, 'its own expectations');
    const v = expandVariant(x, 'baseline');
    const base = expandVariant(experiment, 'baseline');
    assert.deepEqual(v.workloads.alertingEngine.reconnect, { initialMs: 200, maxMs: 5000, connectTimeoutMs: 300 });
    assert.equal(v.workloads.alertingEngine.channelsPerBackend, 50);
    assert.equal(v.ena.timeouts.unrepliedSeconds, 7);
    assert.equal(v.ena.timeouts.closedSeconds, base.ena.timeouts.closedSeconds, 'the other timeouts kept');
    assert.deepEqual(v.topology, base.topology);
    assert.deepEqual(experiment, before, 'the experiment itself is not changed');
  });

  it("a point the experiment's checks refuse is refused before anything starts, naming the point", async () => {
    const { experiment, file } = await loadExperiment('rollout-syn-flood');
    const s = refused(() =>
      pointExperiment(experiment, file, 'baseline', { [`${AE}.channelsPerBackend`]: 20_000, [`${AE}.instances`]: 20 }),
    );
    assert.match(s, /sweep point channelsPerBackend=20000 instances=20/);
    assert.match(s, /gRPC channels in total/);
    assert.match(
      refused(() => pointExperiment(experiment, file, 'fix', { [`${AE}.reconnect.maxMs`]: 300 })),
      /reconnect is "grpc-defaults" in variant fix/,
    );
    assert.match(
      refused(() => pointExperiment(experiment, file, 'baseline', { 'topology.serverNodes': 3 })),
      /serverNodes \(3\) must be less than topology\.nodes/,
    );
  });

  it('the announced time is the planned steps of every point (--fast applied) plus the per-point overhead', async () => {
    const { experiment, file } = await loadExperiment('rollout-syn-flood');
    const pts = expandGrid(parseSets(['workloads.metricsService.gracefulStopSeconds=10,20'])).map((s) =>
      pointExperiment(experiment, file, 'baseline', s),
    );
    const fast = estimate(pts, 'baseline', { fast: true });
    const planned = pts.map((p) => plannedSeconds(expandVariant(p, 'baseline', { fast: true })));
    assert.deepEqual(fast.planned, planned);
    assert.ok(planned[1]! > planned[0]!, 'a longer graceful stop is a longer point');
    assert.equal(fast.overheadPerPoint, LAB_OVERHEAD_SECONDS);
    assert.equal(fast.totalSeconds, Math.ceil(planned[0]! + planned[1]! + 2 * LAB_OVERHEAD_SECONDS));
    const full = estimate(pts, 'baseline', { fast: false, overheadSeconds: 0 });
    assert.ok(full.totalSeconds > fast.totalSeconds, '--full plans the unscaled durations');
  });
});
