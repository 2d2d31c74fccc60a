// DNS discovery on kind, without a cluster: the records are the Metrics Service's headless Service (Kubernetes
// changes them with readiness), the harness sets CoreDNS's kubernetes `ttl` and verifies what it serves; the engine
// resolves metrics-service.<run namespace>.svc.cluster.local through the kube-dns ClusterIP (node-local-dns by LRP).
import assert from 'node:assert/strict';
import { KIND_CAPABILITIES, KUBECONFIG_CAPABILITIES, LAB_CAPABILITIES } from '../../harness/providers/capabilities.js';
import { waitForRecords, withKubernetesTtl } from '../../harness/providers/kind/coredns.js';
import { KIND_POD_CIDR, KindCluster } from '../../harness/providers/kind/kind.js';
import type { KubeClient } from '../../harness/providers/k8s/client.js';
import type { Cluster, ClusterNode, PodHandle } from '../../harness/providers/types.js';
import type { Recorder } from '../../harness/probes/recorder.js';
import { discoveryDnsName, dnsRecordsAfter, parseDnsChanges, publishDnsRecords } from '../../harness/run/dns-discovery.js';
import { alertingEngineArgs } from '../../harness/run/workloads.js';
import { expandVariant, loadExperiment, validateExperiment } from '../../harness/spec/load.js';
import { TeardownStack } from '../../harness/teardown.js';

const COREFILE = `.:53 {
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    forward . /etc/resolv.conf
    cache 30 {
       disable success cluster.local
    }
}
`;

const NAME = 'metrics-service.nd-abc123.svc.cluster.local';
const dig = (ips: string[]) => `;; ANSWER SECTION:\n${ips.map((ip) => `${NAME}. 10 IN A ${ip}`).join('\n')}\n\n;; Query time: 1 msec\n`;

async function rrVariant() {
  const { experiment } = await loadExperiment('rollout-syn-flood');
  return expandVariant(experiment, 'dns-round-robin');
}

describe("kind: CoreDNS's kubernetes ttl", () => {
  it('replaces the ttl of the kubernetes block, nothing else; idempotent', () => {
    const out = withKubernetesTtl(COREFILE, 10);
    assert.match(out, /^ {7}ttl 10$/m);
    assert.doesNotMatch(out, /ttl 30/);
    assert.equal(out.replace('ttl 10', 'ttl 30'), COREFILE);
    assert.equal(withKubernetesTtl(out, 10), out);
  });

  it('adds a ttl line to a block without one, and braces to a bare plugin line', () => {
    const noTtl = COREFILE.replace('       ttl 30\n', '');
    assert.equal(withKubernetesTtl(noTtl, 7), COREFILE.replace('ttl 30', 'ttl 7').replace('       ttl', '        ttl'));
    const bare = '.:53 {\n    kubernetes cluster.local\n    forward . /etc/resolv.conf\n}\n';
    assert.equal(
      withKubernetesTtl(bare, 0),
      '.:53 {\n    kubernetes cluster.local {\n        ttl 0\n    }\n    forward . /etc/resolv.conf\n}\n',
    );
  });

  it('refuses a TTL CoreDNS does not take (0..3600), naming the field and the fix; a Corefile without kubernetes', () => {
    assert.throws(
      () => withKubernetesTtl(COREFILE, 3601),
      (e: Error & { hint?: string }) => /metricsService\.dns\.ttlSeconds 3601/.test(e.message) && /at most 3600/.test(e.hint ?? ''),
    );
    assert.throws(() => withKubernetesTtl('.:53 {\n    forward . 8.8.8.8\n}\n', 5), /no `kubernetes cluster.local`/);
  });
});

describe('kind: waiting for the records Kubernetes serves', () => {
  it('returns how long until the answer is exactly the ready set, null after the timeout', async () => {
    let t = 0;
    const clock = {
      now: () => t,
      sleep: async (ms: number) => {
        t += ms;
      },
      everyMs: 100,
    };
    const answers = [dig(['10.244.1.5']), dig(['10.244.1.5', '10.244.2.6']), dig(['10.244.2.6', '10.244.1.5'])];
    let i = 0;
    assert.equal(await waitForRecords(async () => answers[Math.min(i++, 2)]!, ['10.244.1.5', '10.244.2.6'], 1000, clock), 100);
    t = 0;
    assert.equal(await waitForRecords(async () => dig(['10.244.1.5']), ['10.244.2.6'], 1000, clock), null);
    assert.equal(t, 1000);
  });
});

function fakeKindCluster() {
  const applied: unknown[] = [];
  let corefile = COREFILE;
  const digs: string[][] = [];
  let serving: string[] = [];
  const client = {
    core: { readNamespacedConfigMap: async () => ({ data: { Corefile: corefile } }) },
    apply: async (objs: { kind?: string; data?: { Corefile: string } }[]) => {
      applied.push(...objs);
      for (const o of objs) if (o.kind === 'ConfigMap') corefile = o.data!.Corefile;
    },
    waitDeploymentAvailable: async () => undefined,
  } as unknown as KubeClient;
  const node: ClusterNode = {
    name: 'nd-abc123-worker',
    ip: '172.18.0.11',
    uplinks: ['eth0'],
    exec: async (cmd, args) => {
      digs.push([cmd, ...args]);
      return { stdout: dig(serving), stderr: '', exitCode: 0 } as never;
    },
    readProcNet: async () => '',
    putFile: async (p: string) => p,
  };
  const c = new KindCluster(
    {
      provider: 'kind',
      capabilities: KIND_CAPABILITIES,
      podCidr: KIND_POD_CIDR,
      runId: 'abc123',
      namespace: 'nd-abc123',
      client,
      nodes: [node],
      dns: { upstream: '10.96.0.20', nodeLocal: '10.96.0.10' },
      transport: { request: async () => ({ status: 200, body: '[]' }) },
      image: 'notdns/workloads:dev',
    },
    'nd-abc123',
    { nodes: 3, serverNodes: 2, eniHasAddress: false, unreachableOnDelete: false, nodeLocalDns: true },
    '/tmp/kubeconfig',
    'none',
  );
  return {
    c,
    applied,
    digs,
    serve: (ips: string[]) => {
      serving = ips;
    },
    corefile: () => corefile,
  };
}

const pods = (...ips: string[]) => ips.map((ip, i) => ({ name: `ms-${i}`, node: 'nd-abc123-worker2', ip }) as PodHandle);

describe('kind: DNS discovery through the headless Service', () => {
  it('publish: the name is the headless Service, the TTL goes into the Corefile, the records are verified at the upstream', async () => {
    const { c, applied, digs, serve, corefile } = fakeKindCluster();
    const cfg = await rrVariant();
    assert.equal(cfg.workloads.metricsService.dns?.name, 'metrics.default.svc.cluster.local');
    assert.equal(discoveryDnsName(c, cfg), NAME);
    serve(['10.244.2.6', '10.244.2.7']);
    const said: string[] = [];
    assert.equal(await publishDnsRecords(c, cfg, pods('10.244.2.7', '10.244.2.6'), (l) => said.push(l)), NAME);
    assert.match(corefile(), /^ {7}ttl 10$/m, "the experiment's ttlSeconds");
    assert.deepEqual(
      applied.map((o) => (o as { kind: string }).kind),
      ['ConfigMap', 'Deployment'],
      'the Corefile hash rolls the CoreDNS pods',
    );
    assert.deepEqual(digs[0], ['dig', '+tries=1', '+time=1', '@10.96.0.20', NAME, 'A']);
    assert.match(said[0]!, /metricsService\.dns\.name metrics\.default\.svc\.cluster\.local is not used/);
    assert.match(said[0]!, /TTL 10 s\), served by CoreDNS after \d+ ms; records follow readiness, dnsPropagationSeconds is not used/);
    // the same TTL again: the Corefile is not touched twice
    await publishDnsRecords(c, cfg, pods('10.244.2.7', '10.244.2.6'), () => undefined);
    assert.equal(applied.length, 2);
  });

  it("the engine's arguments on kind: the headless name through the kube-dns ClusterIP (node-local-dns behind the LRP)", async () => {
    const { c } = fakeKindCluster();
    const cfg = await rrVariant();
    const args = alertingEngineArgs(cfg, [], 60, c.podCidr, undefined, c.dns.nodeLocal, discoveryDnsName(c, cfg));
    assert.deepEqual(args.slice(0, 2), ['--target', `dns://10.96.0.10:53/${NAME}:50051`]);
    const e = validateExperiment(
      {
        name: 'dns-tiny',
        description: 'x',
        steps: [{ steady: 2 }],
        variants: { ip: { workloads: { alertingEngine: { discovery: 'dns-per-ip' } } } },
      },
      'x.json',
    );
    const ip = alertingEngineArgs(expandVariant(e, 'ip'), [], 60, c.podCidr, undefined, c.dns.nodeLocal, discoveryDnsName(c, cfg));
    assert.deepEqual(ip.slice(0, 4), ['--dns-name', `${NAME}:50051`, '--dns-server', '10.96.0.10']);
  });

  it('a rollout: no propagation delay, a marker when CoreDNS serves the new set', async () => {
    const { c, serve } = fakeKindCluster();
    const cfg = await rrVariant();
    assert.ok(cfg.workloads.alertingEngine.dnsPropagationSeconds > 0, 'the lab delay that kind ignores');
    const rec = { now: () => 42, markers: [] as { t: number; kind: string; label: string }[] } as unknown as Recorder;
    const stack = new TeardownStack('test', 'abc123');
    const update = dnsRecordsAfter(c, cfg, rec, c.nodes, stack);
    serve(['10.244.2.9']);
    update(pods('10.244.2.9'));
    await new Promise((r) => setTimeout(r, 50));
    await stack.unwind();
    const changes = parseDnsChanges(rec.markers);
    assert.equal(changes.length, 1);
    assert.deepEqual(changes[0]!.ips, ['10.244.2.9']);
    assert.equal(changes[0]!.ttlSeconds, 10);
  });

  it('refused where nobody serves the records (kubeconfig), or without node-local DNS', async () => {
    const cfg = await rrVariant();
    const bare = (capabilities: Cluster['capabilities']) => ({ provider: 'kubeconfig', capabilities }) as unknown as Cluster;
    await assert.rejects(
      publishDnsRecords(bare(KUBECONFIG_CAPABILITIES), cfg, [], () => undefined),
      (e: Error & { hint?: string }) => /the kubeconfig provider/.test(e.message) && /--provider kind/.test(e.hint ?? ''),
    );
    const { c } = fakeKindCluster();
    const off = { ...cfg, topology: { ...cfg.topology, nodeLocalDns: false } };
    await assert.rejects(
      publishDnsRecords(c, off, [], () => undefined),
      /no node-local DNS/,
    );
    assert.equal(LAB_CAPABILITIES.dnsRecords, 'harness');
    assert.equal(discoveryDnsName({ capabilities: LAB_CAPABILITIES } as Cluster, cfg), 'metrics.default.svc.cluster.local');
  });
});
