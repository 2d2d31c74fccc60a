// Bring your own client (workloads.client, docs/client-contract.md): the schema, the plan's n/a for a client
// without metrics, the guard's command line and environment, the Prometheus text it scrapes, the kind manifest.
import assert from 'node:assert/strict';
import { clientEnv, clientGuardArgs, isClientMetricProbe, setprivArgv, targetsFileOf, writeTargets } from '../../harness/run/client.js';
import { parsePromText } from '../../harness/run/prom-text.js';
import { notApplicableIn, planOf } from '../../harness/plan.js';
import { expandVariant, loadExperiment } from '../../harness/spec/load.js';
import { ExperimentSchema, type ExperimentInput } from '../../harness/spec/schema.js';
import { renderWorkload } from '../../harness/providers/k8s/manifests.js';
import { metricQuantile, metricSum } from '../../workloads/common/metrics-types.js';
import { validateObject } from '../kind/k8s-schema.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const base = (over: Partial<ExperimentInput> = {}): ExperimentInput => ({
  name: 'byo',
  description: 'x',
  workloads: { alertingEngine: { channelsPerBackend: 7, reconnect: { initialMs: 200, maxMs: 300, connectTimeoutMs: 300 } } },
  steps: [{ steady: 5 }, { rollout: {} }, { observe: 5 }],
  variants: {
    silent: { workloads: { client: { command: ['node', 'c.mjs'] } } },
    talking: { workloads: { client: { command: ['node', 'c.mjs'], metricsPort: 9464 } } },
    engine: { workloads: { alertingEngine: { reconnect: 'grpc-defaults' } } },
  },
  expect: {
    silent: [
      { probe: 'grpc.errors', stat: 'total', op: '==', value: 0 },
      { probe: 'syn.toOldPodIps', stat: 'total', op: '>=', value: 1 },
      { probe: 'tcp.activeOpens', stat: 'total', op: '>=', value: 1 },
    ],
    talking: [{ probe: 'grpc.calls', stat: 'total', op: '>=', value: 1 }],
    engine: [{ probe: 'grpc.calls', stat: 'total', op: '>=', value: 1 }],
  },
  compare: [
    { ratio: ['engine', 'silent'], probe: 'grpc.connectAttempts', stat: 'total', op: '>=', value: 1 },
    { ratio: ['engine', 'talking'], probe: 'grpc.connectAttempts', stat: 'total', op: '>=', value: 1 },
  ],
  ...over,
});

describe('custom client: schema and plan', () => {
  it('a client needs a command or an image, never runs as root, defaults to nobody', () => {
    const e = ExperimentSchema.parse(base());
    assert.equal(expandVariant(e, 'silent').workloads.client?.user, 'nobody');
    assert.equal(expandVariant(e, 'engine').workloads.client, undefined);
    assert.deepEqual(expandVariant(e, 'silent', { fast: true }).workloads.client?.command, ['node', 'c.mjs'], '--fast keeps the client');
    const bad = (client: unknown) =>
      ExperimentSchema.safeParse(base({ variants: { v: { workloads: { client: client as never } } } }))
        .error?.issues.map((i) => i.message)
        .join();
    assert.match(bad({}) ?? '', /needs a command \(lab\) or an image \(kind\)/);
    assert.match(bad({ command: ['x'], user: 'root' }) ?? '', /never runs as root/);
    assert.match(bad({ command: [] }) ?? '', /at least the program/);
    assert.equal(bad({ image: 'me/client:1', metricsPort: 9464 }), undefined);
  });

  it("a variant's override keeps the experiment's other keys (no default creeps back in)", () => {
    const e = ExperimentSchema.parse(base());
    const engine = expandVariant(e, 'engine').workloads.alertingEngine;
    assert.equal(engine.channelsPerBackend, 7, 'the experiment says 7; the schema default is 200');
    assert.equal(engine.reconnect, 'grpc-defaults');
    assert.deepEqual(expandVariant(e, 'silent').workloads.alertingEngine.reconnect, { initialMs: 200, maxMs: 300, connectTimeoutMs: 300 });
  });

  it('gRPC probes of a custom client without metricsPort are n/a with the reason; network probes apply', () => {
    const e = ExperimentSchema.parse(base());
    const p = planOf(e, 'lab');
    const row = (variant: string, re: RegExp) => p.expectations.find((x) => x.variant === variant && re.test(x.label))!;
    assert.match(
      row('silent', /gRPC errors/).na ?? '',
      /^n\/a on lab: custom client exposes no metrics \(workloads.client of silent has no metricsPort\)/,
    );
    assert.equal(row('silent', /SYNs to old pod IPs/).na, undefined);
    assert.equal(row('silent', /TCP connect attempts/).na, undefined);
    assert.equal(row('talking', /gRPC calls/).na, undefined, 'with metricsPort its gRPC probes are measured');
    assert.equal(row('engine', /gRPC calls/).na, undefined);
    const cmp = p.expectations.filter((x) => x.variant === 'compare');
    assert.match(cmp[0]!.na ?? '', /of silent has no metricsPort/);
    assert.equal(cmp[1]!.na, undefined);
    // where the harness cannot scrape the client (no guard in the pod), even a metricsPort does not help
    assert.match(notApplicableIn(e, 'talking', e.expect.talking![0]!, 'kind') ?? '', /wired on the lab only/);
    assert.ok(isClientMetricProbe('grpc.latencyP99') && !isClientMetricProbe('tcp.activeOpens'));
  });

  it('rollout-syn-flood-ccore: the C-core client is the first user of workloads.client, with metrics', async () => {
    const { experiment } = await loadExperiment('rollout-syn-flood-ccore');
    const c = expandVariant(experiment, 'ccore-baseline');
    assert.deepEqual(c.workloads.client?.command?.slice(0, 2), ['/usr/bin/python3', 'workloads/python-client/client.py']);
    assert.equal(c.workloads.alertingEngine.channelsPerBackend, 100);
    assert.equal(expandVariant(experiment, 'grpcjs-baseline').workloads.client, undefined);
    assert.deepEqual(
      planOf(experiment, 'lab').expectations.filter((x) => x.na),
      [],
    );
  });
});

describe('custom client: the guard and the contract', () => {
  const e = ExperimentSchema.parse(base());
  it("the guard's arguments: user, bound, targets, propagation, lease, environment, then the command", () => {
    const cfg = expandVariant(e, 'talking');
    const a = clientGuardArgs(cfg, cfg.workloads.client!, ['10.1.1.10', '10.1.2.10'], 99.2, '/run/notdns/x', {
      file: '/run/notdns/x/lease',
      seconds: 5,
    });
    const flag = (f: string) => a[a.indexOf(f) + 1];
    assert.equal(flag('--user'), 'nobody');
    assert.equal(flag('--max-seconds'), '100');
    assert.equal(flag('--backends'), '10.1.1.10:50051,10.1.2.10:50051');
    assert.equal(flag('--propagation-seconds'), '20');
    assert.equal(flag('--lease-file'), '/run/notdns/x/lease');
    assert.equal(flag('--metrics-port'), '9464');
    assert.deepEqual(a.slice(a.indexOf('--') + 1), ['node', 'c.mjs']);
    const env = a.flatMap((x, i) => (a[i - 1] === '--env' ? [x] : []));
    for (const kv of [
      'NOTDNS_TARGET_PORT=50051',
      'NOTDNS_MAX_SECONDS=100',
      'NOTDNS_CHANNELS_PER_BACKEND=7',
      'NOTDNS_RECONNECT_MAX_MS=300',
      'NOTDNS_METRICS_PORT=9464',
    ])
      assert.ok(env.includes(kv), kv);
    assert.equal(clientEnv(expandVariant(e, 'engine'), 10).NOTDNS_RECONNECT_MAX_MS, undefined, "grpc-defaults: the client's own defaults");
    assert.throws(() => clientGuardArgs(cfg, { image: 'x', user: 'nobody' }, [], 1, '/x'), /the lab runs a command/);
  });

  it('setpriv: the unprivileged user, no new privileges, killed with its parent', () => {
    assert.deepEqual(setprivArgv('nobody', 65534, ['node', 'c.mjs']), [
      '--reuid',
      'nobody',
      '--regid',
      '65534',
      '--clear-groups',
      '--no-new-privs',
      '--pdeathsig',
      'KILL',
      '--',
      'node',
      'c.mjs',
    ]);
  });

  it('the targets file: one IP:PORT per line, replaced atomically', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'notdns-targets-'));
    try {
      const f = targetsFileOf(dir, 3);
      assert.equal(f, join(dir, 'client-3.targets'));
      writeTargets(f, ['10.1.1.10:50051', '10.1.2.10:50051']);
      assert.equal(await readFile(f, 'utf8'), '10.1.1.10:50051\n10.1.2.10:50051\n');
      writeTargets(f, ['10.1.1.11:50051']);
      assert.equal(await readFile(f, 'utf8'), '10.1.1.11:50051\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("Prometheus text → the harness' metrics: counters with labels, a summary's quantiles, +Inf, timestamps", () => {
    const m = parsePromText(
      [
        '# HELP ae_calls_total calls',
        '# TYPE ae_calls_total counter',
        'ae_calls_total 12',
        '# TYPE ae_call_errors_total counter',
        'ae_call_errors_total{code="UNAVAILABLE"} 3',
        'ae_call_errors_total{code="DEADLINE_EXCEEDED",note="a \\"b\\""} 2 1700000000000',
        '# TYPE ae_call_latency_seconds summary',
        'ae_call_latency_seconds{quantile="0.9"} 0.25',
        'ae_call_latency_seconds{quantile="0.99"} +Inf',
        'ae_call_latency_seconds_sum 4',
        'ae_call_latency_seconds_count 12',
        '# TYPE ae_channels gauge',
        'ae_channels{state="CONNECTING"} 5',
        'ae_channels{state="READY"} 1',
        'garbage line',
      ].join('\n'),
    );
    assert.equal(metricSum(m, 'ae_calls_total'), 12);
    assert.equal(metricSum(m, 'ae_call_errors_total'), 5);
    assert.equal(metricSum(m, 'ae_call_errors_total', { code: 'UNAVAILABLE' }), 3);
    assert.equal(m.find((f) => f.name === 'ae_call_errors_total')!.values[1]!.labels.note, 'a "b"');
    assert.equal(metricQuantile(m, 'ae_call_latency_seconds', 0.9), 0.25);
    assert.equal(metricQuantile(m, 'ae_call_latency_seconds', 0.99), Infinity);
    assert.equal(m.find((f) => f.name === 'ae_call_latency_seconds')!.type, 'summary');
    assert.equal(metricSum(m, 'ae_channels', { state: 'CONNECTING' }), 5);
    assert.deepEqual(parsePromText(''), []);
  });
});

describe('custom client on Kubernetes: the client Deployment', () => {
  const env = { NOTDNS_TARGET_PORT: '50051', NOTDNS_MAX_SECONDS: '100' };
  it("its image, the contract's environment, the headless Service's name, the pod name as instance, non-root", () => {
    const { deployment, service } = renderWorkload(
      { app: 'alerting-engine', replicas: 2, nodes: ['w3'], args: [], client: { image: 'me/client:1', env, metricsPort: 9464 } },
      { namespace: 'nd-abc123', runId: 'abc123' },
    );
    assert.equal(service, undefined);
    const c = deployment.spec!.template.spec!.containers[0]!;
    assert.equal(c.image, 'me/client:1');
    assert.equal(c.command, undefined, "the image's entrypoint");
    assert.deepEqual(c.args, []);
    const byName = Object.fromEntries((c.env ?? []).map((x) => [x.name, x]));
    assert.equal(byName.NOTDNS_TARGET_PORT!.value, '50051');
    assert.equal(byName.NOTDNS_TARGET_NAME!.value, 'metrics-service.nd-abc123.svc.cluster.local');
    assert.deepEqual(byName.NOTDNS_INSTANCE!.valueFrom, { fieldRef: { fieldPath: 'metadata.name' } });
    assert.deepEqual(c.ports, [{ name: 'metrics', containerPort: 9464, protocol: 'TCP' }]);
    assert.equal(c.readinessProbe?.httpGet?.port, 'metrics');
    assert.equal(c.securityContext?.runAsNonRoot, true);
    assert.equal(deployment.spec!.replicas, 2);
    assert.deepEqual(validateObject(deployment as never), []);
  });

  it('without metricsPort: no port and no readiness probe on the admin port it does not have; a command overrides the entrypoint', () => {
    const { deployment } = renderWorkload(
      { app: 'alerting-engine', replicas: 1, nodes: [], args: [], client: { image: 'me/client:1', command: ['/bin/client', '-v'], env } },
      { namespace: 'nd-abc123', runId: 'abc123' },
    );
    const c = deployment.spec!.template.spec!.containers[0]!;
    assert.deepEqual(c.command, ['/bin/client', '-v']);
    assert.deepEqual(c.ports, []);
    assert.equal(c.readinessProbe, undefined);
    assert.deepEqual(validateObject(deployment as never), []);
    assert.throws(
      () =>
        renderWorkload(
          { app: 'alerting-engine', replicas: 1, nodes: [], args: [], client: { command: ['x'], env } },
          { namespace: 'n', runId: 'r' },
        ),
      /has no image/,
    );
  });
});
