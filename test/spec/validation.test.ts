// Experiment files are validated with zod; every error names the file, the field, the expected form and an example.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { listExperiments, loadExperiment, validateExperiment, expandVariant, scaleTime } from '../../harness/spec/load.js';
import { NotdnsError } from '../../harness/errors.js';

const base = () => ({
  name: 'tiny',
  description: 'a tiny experiment',
  steps: [{ steady: 2 }, { rollout: { batch: 1 } }, { observe: 2 }],
  variants: { baseline: {}, fix: { workloads: { alertingEngine: { reconnect: 'grpc-defaults' } } } },
  expect: { baseline: [{ probe: 'syn.toOldPodIps', stat: 'total', op: '>=', value: 1 }] },
  compare: [{ ratio: ['baseline', 'fix'], probe: 'syn.toOldPodIps', stat: 'total', op: '>=', value: 2 }],
});
type Spec = ReturnType<typeof base> & Record<string, unknown>;

/** [what is wrong, mutate, fragments the error must contain] */
const BAD: [string, (s: Spec) => unknown, string[]][] = [
  ['name not kebab-case', (s) => ({ ...s, name: 'Rollout Flood' }), ['name', 'kebab-case']],
  [
    'name missing',
    (s) => {
      const { name: _n, ...r } = s;
      return r;
    },
    ['name'],
  ],
  ['description empty', (s) => ({ ...s, description: '' }), ['description']],
  ['unknown top-level field', (s) => ({ ...s, variantz: {} }), ['unknown field', 'variantz']],
  ['nodes a string', (s) => ({ ...s, topology: { nodes: 'three' } }), ['topology.nodes', 'example']],
  ['nodes 0', (s) => ({ ...s, topology: { nodes: 0 } }), ['topology.nodes', 'at least 1']],
  ['nodes fractional', (s) => ({ ...s, topology: { nodes: 2.5 } }), ['topology.nodes', 'whole number']],
  ['too many nodes', (s) => ({ ...s, topology: { nodes: 64 } }), ['topology.nodes', 'at most 20']],
  ['serverNodes >= nodes', (s) => ({ ...s, topology: { nodes: 2, serverNodes: 2 } }), ['serverNodes', 'less than topology.nodes']],
  ['allowance 0', (s) => ({ ...s, ena: { conntrackAllowance: 0 } }), ['ena.conntrackAllowance', 'at least 1']],
  ['allowance too small', (s) => ({ ...s, ena: { conntrackAllowance: 4 } }), ['conntrackAllowance', 'too small']],
  ['negative idle timeout', (s) => ({ ...s, ena: { timeouts: { unrepliedSeconds: -5 } } }), ['ena.timeouts.unrepliedSeconds', '> 0']],
  ['unknown ena field', (s) => ({ ...s, ena: { allowance: 10 } }), ['ena', 'unknown field', 'allowance']],
  ['replicas 0', (s) => ({ ...s, workloads: { metricsService: { replicas: 0 } } }), ['workloads.metricsService.replicas']],
  ['negative grace period', (s) => ({ ...s, workloads: { metricsService: { gracefulStopSeconds: -1 } } }), ['gracefulStopSeconds', '> 0']],
  ['dns rate negative', (s) => ({ ...s, workloads: { metricsService: { dnsLookupsPerSecond: -3 } } }), ['dnsLookupsPerSecond', '>= 0']],
  ['channels a string', (s) => ({ ...s, workloads: { alertingEngine: { channelsPerBackend: '500' } } }), ['channelsPerBackend']],
  ['unknown discovery', (s) => ({ ...s, workloads: { alertingEngine: { discovery: 'pick_first' } } }), ['discovery']],
  ['reconnect typo', (s) => ({ ...s, workloads: { alertingEngine: { reconnect: 'grpc-default' } } }), ['reconnect', 'grpc-defaults']],
  ['reconnect missing maxMs', (s) => ({ ...s, workloads: { alertingEngine: { reconnect: { initialMs: 200 } } } }), ['reconnect']],
  [
    'too many pods for the machine',
    (s) => ({ ...s, workloads: { metricsService: { replicas: 50 }, alertingEngine: { instances: 20 } } }),
    ['pods', 'more than this harness runs'],
  ],
  [
    'too many channels',
    (s) => ({ ...s, workloads: { metricsService: { replicas: 10 }, alertingEngine: { instances: 10, channelsPerBackend: 20000 } } }),
    ['channels', 'channelsPerBackend'],
  ],
  ['no steps', (s) => ({ ...s, steps: [] }), ['steps', 'at least one step']],
  ['negative step duration', (s) => ({ ...s, steps: [{ steady: -1 }] }), ['steps']],
  ['unknown step', (s) => ({ ...s, steps: [{ wait: 3 }] }), ['steps[0]', 'unknown field', 'wait']],
  ['rollout of an unknown app', (s) => ({ ...s, steps: [{ rollout: { app: 'alerting-engine' } }] }), ['steps[0]']],
  ['no variants', (s) => ({ ...s, variants: {} }), ['variants', 'at least one variant']],
  ['variant name with spaces', (s) => ({ ...s, variants: { 'my variant': {} } }), ['variants', 'kebab-case']],
  [
    'unknown field in a variant',
    (s) => ({ ...s, variants: { baseline: { workload: {} } } }),
    ['variants.baseline', 'unknown field', 'workload'],
  ],
  ['expect for an unknown variant', (s) => ({ ...s, expect: { basline: [] } }), ['expect.basline', 'no variant named', 'baseline']],
  [
    'unknown probe',
    (s) => ({ ...s, expect: { baseline: [{ probe: 'syn.flood', stat: 'total', op: '>=', value: 1 }] } }),
    ['expect.baseline[0].probe', 'unknown probe', 'known probes'],
  ],
  [
    'unknown stat',
    (s) => ({ ...s, expect: { baseline: [{ probe: 'syn.in', stat: 'p99', op: '>=', value: 1 }] } }),
    ['stat', 'unknown stat'],
  ],
  ['bad op', (s) => ({ ...s, expect: { baseline: [{ probe: 'syn.in', stat: 'total', op: '=>', value: 1 }] } }), ['op', 'one of']],
  [
    'value not a number',
    (s) => ({ ...s, expect: { baseline: [{ probe: 'syn.in', stat: 'total', op: '>=', value: 'lots' }] } }),
    ['value', 'number'],
  ],
  [
    'unknown window',
    (s) => ({ ...s, expect: { baseline: [{ probe: 'syn.in', stat: 'total', op: '>=', value: 1, window: 'flood' }] } }),
    ['window', 'unknown window'],
  ],
  [
    'compare with an unknown variant',
    (s) => ({ ...s, compare: [{ ratio: ['baseline', 'fixed'], probe: 'syn.in', stat: 'total', op: '>=', value: 2 }] }),
    ['compare[0].ratio[1]', 'fixed'],
  ],
  [
    'recovery window without a recover step',
    (s) => ({ ...s, expect: { baseline: [{ probe: 'dns.errors', stat: 'total', op: '==', value: 0, window: 'recovery' }] } }),
    ['recovery', 'no {recover', '{ recover: 20 }'],
  ],
  [
    'rollout window without a rollout step',
    (s) => ({
      ...s,
      steps: [{ steady: 3 }],
      expect: { baseline: [{ probe: 'syn.in', stat: 'total', op: '>=', value: 1, window: 'rollout' }] },
    }),
    ['rollout', 'no {rollout'],
  ],
  ['fastTimeScale above 1', (s) => ({ ...s, fastTimeScale: 2 }), ['fastTimeScale']],
];

describe('experiment validation', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'notdns-spec-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts every built-in experiment', async () => {
    const list = await listExperiments();
    assert.ok(list.length >= 2);
    for (const x of list) {
      const { experiment } = await loadExperiment(x.name);
      assert.equal(experiment.name, x.name, `${x.file}: name must match the file name`);
    }
  });

  it('accepts the minimal spec and fills in defaults', () => {
    const e = validateExperiment(base(), 'tiny.yaml');
    assert.equal(e.topology.nodes, 3);
    assert.equal(e.ena.timeouts.establishedSeconds, 432_000);
    assert.equal(expandVariant(e, 'fix').workloads.alertingEngine.reconnect, 'grpc-defaults');
    assert.equal(expandVariant(e, 'baseline').workloads.alertingEngine.reconnect, 'grpc-defaults');
  });

  it('merges a variant over the base and scales every duration with --fast', () => {
    const e = validateExperiment(
      {
        ...base(),
        steps: [...base().steps, { recover: 4 }],
        variants: { a: { topology: { unreachableOnDelete: true }, workloads: { metricsService: { gracefulStopSeconds: 8 } } } },
        expect: {},
        compare: [],
      },
      'x.yaml',
    );
    const v = expandVariant(e, 'a');
    assert.equal(v.topology.unreachableOnDelete, true);
    assert.equal(v.topology.nodes, 3, 'unset fields keep the base value');
    assert.equal(v.workloads.metricsService.gracefulStopSeconds, 8);
    const f = scaleTime(v, 0.5);
    assert.equal(f.workloads.metricsService.gracefulStopSeconds, 4);
    assert.equal(f.ena.timeouts.unrepliedSeconds, v.ena.timeouts.unrepliedSeconds / 2);
    assert.deepEqual(f.steps, [{ steady: 1 }, { rollout: { app: 'metrics-service', batch: 1 } }, { observe: 1 }, { recover: 2 }]);
  });

  it(`rejects ${BAD.length} malformed specs, each with an error naming the file and the field`, async () => {
    assert.ok(BAD.length >= 30);
    for (const [what, mutate, fragments] of BAD) {
      const file = join(dir, `${what.replace(/\W+/g, '-')}.yaml`);
      await writeFile(file, stringify(mutate(base())));
      await assert.rejects(
        loadExperiment(file),
        (e: unknown) => {
          assert.ok(e instanceof NotdnsError, `${what}: not a NotdnsError: ${e}`);
          assert.equal(e.kind, 'spec', what);
          const text = e.explain();
          assert.ok(text.includes(file), `${what}: error must name the file:\n${text}`);
          for (const f of fragments) assert.ok(text.includes(f), `${what}: error must mention "${f}":\n${text}`);
          assert.ok(!/\n\s+at /.test(text), `${what}: no stack trace in the message`);
          return true;
        },
        what,
      );
    }
  });

  it('names the built-ins when the experiment is unknown', async () => {
    await assert.rejects(
      loadExperiment('rollout-syn-flod'),
      (e: NotdnsError) => e.kind === 'usage' && /rollout-syn-flood/.test(e.explain()),
    );
  });

  it('reports a YAML syntax error with the file', async () => {
    const file = join(dir, 'broken.yaml');
    await writeFile(file, 'name: x\nsteps: [\n');
    await assert.rejects(loadExperiment(file), (e: NotdnsError) => e.kind === 'spec' && e.message.includes(file));
  });
});
