// The probes kind supplies through its node containers, against fakes (no kind cluster here: docs/kind.md "What
// could not be run"): a pod's netns found with crictl and entered with nsenter, Cilium's stale-IP drops and
// node-local-dns's failed upstream health checks read from the agents' Prometheus pages.
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { parsePromText, promSum } from '../../harness/probes/prom-text.js';
import { KIND_CAPABILITIES } from '../../harness/providers/capabilities.js';
import { K8sPod } from '../../harness/providers/k8s/cluster.js';
import { KindCluster } from '../../harness/providers/kind/kind.js';
import {
  ciliumCtEntries,
  ciliumStaleIpDrops,
  metricsCurlArgv,
  nodeLocalDnsUpstreamFailures,
  podIpsByNode,
} from '../../harness/providers/kind/node-metrics.js';
import { KindNode } from '../../harness/providers/kind/node.js';
import { PodNetns, sandboxNetnsPath } from '../../harness/providers/kind/pod-netns.js';
import type { KubeClient } from '../../harness/providers/k8s/client.js';
import { CILIUM_METRICS, COREDNS_METRICS, CRICTL_INSPECTP, SANDBOX_NETNS } from './fixtures/agent-output.js';
import { installFakeTools } from './fake-tools.js';

const noTransport = {
  request: async () => {
    throw new Error('not used');
  },
};

describe('kind: pod network namespaces through the node container', () => {
  it("crictl inspectp's JSON: the network namespace path of info.runtimeSpec.linux.namespaces", () => {
    assert.equal(sandboxNetnsPath(CRICTL_INSPECTP), SANDBOX_NETNS);
  });

  it('no network path (a hostNetwork sandbox), no runtimeSpec (not verbose) or no JSON: an error, never a guess', () => {
    const j = JSON.parse(CRICTL_INSPECTP);
    j.info.runtimeSpec.linux.namespaces = j.info.runtimeSpec.linux.namespaces.filter((n: { type: string }) => n.type !== 'network');
    assert.throws(() => sandboxNetnsPath(JSON.stringify(j)), /hostNetwork/);
    assert.throws(() => sandboxNetnsPath(JSON.stringify({ status: j.status })), /no info\.runtimeSpec/);
    assert.throws(() => sandboxNetnsPath('FATA[0000] getting the pod sandbox status'), /did not print JSON/);
  });

  it("K8sPod.readProcNet on kind: crictl finds the sandbox once, then nsenter reads the pod's /proc/net through docker exec", async () => {
    const fake = await installFakeTools();
    let out: string[];
    try {
      const node = new KindNode('nd-abc123-worker', '172.18.0.11');
      const netns = new PodNetns(() => node);
      const pod = new K8sPod('metrics-service-7c9d8f6b5-x2kql', 'metrics-service', node.name, '10.244.1.23', 'u1', noTransport, {
        read: (p, f) => netns.readProcNet(p, f),
        namespace: 'notdns-abc123',
      });
      out = [await pod.readProcNet!('snmp'), await pod.readProcNet!('snmp')];
    } finally {
      fake.restore();
    }
    assert.match(out[0]!, /Tcp: 1 200 120000 -1 4321 0/);
    assert.deepEqual(
      (await fake.calls()).map((c) => c.slice(1)),
      [
        [
          'exec',
          'nd-abc123-worker',
          'crictl',
          'pods',
          '--namespace',
          'notdns-abc123',
          '--name',
          'metrics-service-7c9d8f6b5-x2kql',
          '--state',
          'ready',
          '-q',
        ],
        ['exec', 'nd-abc123-worker', 'crictl', 'inspectp', '--output', 'json', 'sb-metrics-service-7c9d8f6b5-x2kql'],
        ['exec', 'nd-abc123-worker', 'nsenter', `--net=${SANDBOX_NETNS}`, 'cat', '/proc/net/snmp'],
        ['exec', 'nd-abc123-worker', 'nsenter', `--net=${SANDBOX_NETNS}`, 'cat', '/proc/net/snmp'],
      ],
    );
  });

  it('a pod without a kind reader has no readProcNet (the probes that need it are not supplied)', () => {
    const pod = new K8sPod('p', 'alerting-engine', 'n', '10.0.0.1', 'u', noTransport);
    assert.equal(pod.readProcNet, undefined);
  });
});

describe("kind: the agents' own counters", () => {
  it('Prometheus text: labels (escaped quotes too), exponents, timestamps; comments skipped', () => {
    const s = parsePromText('# HELP x y\nm{a="1",b="say \\"hi\\""} 2.5e+03 1700000000000\nn 3\n\nbad line\n');
    assert.deepEqual(s, [
      { name: 'm', labels: { a: '1', b: 'say "hi"' }, value: 2500 },
      { name: 'n', labels: {}, value: 3 },
    ]);
  });

  it('cilium.staleIpDrops: cilium_drop_count_total{reason="Stale or unroutable IP"} over both directions, not other reasons', () => {
    assert.equal(ciliumStaleIpDrops(CILIUM_METRICS), 1234 + 66);
    assert.equal(ciliumStaleIpDrops(CILIUM_METRICS.replace(/.*Stale.*\n/g, '')), 0, 'no such drop yet: the series is absent, 0');
  });

  it("cilium.ctEntries: the TCP map's alive entries at the last GC pass, not the deleted ones or non-TCP", () => {
    assert.equal(ciliumCtEntries(CILIUM_METRICS), 4711);
    // the agent sets the gauge only when a GC pass completes: before that there is no sample, a failed read, not 0
    assert.throws(
      () => ciliumCtEntries(CILIUM_METRICS.replace(/.*TCP",status="alive".*\n/g, '')),
      /no conntrack GC pass has completed yet/,
    );
    assert.throws(() => ciliumCtEntries(''), /no cilium_\* metric/);
  });

  it('nld.upstreamFailures: coredns_proxy_healthcheck_failures_total over upstreams', () => {
    assert.equal(nodeLocalDnsUpstreamFailures(COREDNS_METRICS), 7 + 2);
  });

  it("a page that is not the agent's (empty, an error page) is a failed read, not a zero", () => {
    assert.throws(() => ciliumStaleIpDrops(''), /no cilium_\* metric/);
    assert.throws(() => nodeLocalDnsUpstreamFailures('404 page not found\n'), /no coredns_\* metric/);
    assert.equal(promSum(CILIUM_METRICS, 'cilium_forward_count_total'), 9876500);
  });

  it('node-local-dns pods by node: running ones only', () => {
    const pod = (node: string, ip: string, phase = 'Running', deleting = false): V1Pod => ({
      metadata: { name: `nld-${node}`, ...(deleting ? { deletionTimestamp: new Date() } : {}) },
      spec: { nodeName: node, containers: [] },
      status: { podIP: ip, phase },
    });
    const m = podIpsByNode([pod('w1', '10.244.1.5'), pod('w2', '10.244.2.5', 'Pending'), pod('w3', '10.244.3.5', 'Running', true)]);
    assert.deepEqual([...m], [['w1', '10.244.1.5']]);
  });

  it('KindCluster.extraNodeProbes: curl in the node container, Cilium on 127.0.0.1:9962, node-local-dns at its pod IP:9253', async () => {
    const fake = await installFakeTools();
    const node = new KindNode('nd-abc123-worker', '172.18.0.11');
    const listed: string[] = [];
    const client = {
      listPods: async (ns: string, sel: string) => {
        listed.push(`${ns} ${sel}`);
        return { pods: [{ spec: { nodeName: node.name, containers: [] }, status: { podIP: '10.244.1.5', phase: 'Running' } }] };
      },
    } as unknown as KubeClient;
    const topology = { nodes: 1, serverNodes: 1, eniHasAddress: false, unreachableOnDelete: false, nodeLocalDns: true };
    const c = new KindCluster(
      {
        provider: 'kind',
        capabilities: KIND_CAPABILITIES,
        podCidr: '10.244.0.0/16',
        runId: 'abc123',
        namespace: 'notdns-abc123',
        client,
        nodes: [node],
        dns: { upstream: '10.96.0.11', nodeLocal: '10.96.0.10' },
        transport: noTransport,
        image: 'x',
      },
      'nd-abc123',
      topology,
      '/nonexistent/kubeconfig',
      'none',
    );
    let v: unknown[];
    try {
      v = [await c.extraNodeProbes(node), await c.extraNodeProbes(node)];
    } finally {
      fake.restore();
    }
    assert.deepEqual(v, [
      { 'cilium.staleIpDrops': 1300, 'cilium.ctEntries': 4711, 'nld.queries': 0, 'nld.rejects': 0, 'nld.upstreamFailures': 9 },
      { 'cilium.staleIpDrops': 1300, 'cilium.ctEntries': 4711, 'nld.queries': 0, 'nld.rejects': 0, 'nld.upstreamFailures': 9 },
    ]);
    assert.deepEqual(listed, ['kube-system k8s-app=node-local-dns'], 'the pod IP is looked up once');
    assert.deepEqual((await fake.calls()).map((x) => x.slice(1)).slice(0, 2), [
      ['exec', node.name, ...metricsCurlArgv('127.0.0.1', 9962)],
      ['exec', node.name, ...metricsCurlArgv('10.244.1.5', 9253)],
    ]);
  });

  it('KindCluster.startEstabAgent: the echo in the control-plane container (once), the bash agent in the node container, stopped by its pidfile', async () => {
    const fake = await installFakeTools();
    const nodes = [new KindNode('nd-abc123-worker', '172.18.0.11'), new KindNode('nd-abc123-worker2', '172.18.0.12')];
    const c = new KindCluster(
      {
        provider: 'kind',
        capabilities: KIND_CAPABILITIES,
        podCidr: '10.244.0.0/16',
        runId: 'abc123',
        namespace: 'notdns-abc123',
        client: {} as KubeClient,
        nodes,
        dns: { upstream: '10.96.0.11', nodeLocal: '10.96.0.10' },
        transport: noTransport,
        image: 'x',
      },
      'nd-abc123',
      { nodes: 2, serverNodes: 2, eniHasAddress: false, unreachableOnDelete: false, nodeLocalDns: true },
      '/nonexistent/kubeconfig',
      'none',
    );
    const seen: { node: string; ok: number; failed: number }[] = [];
    try {
      const stops = [];
      for (const n of nodes) stops.push(await c.startEstabAgent(n, 90, (v) => seen.push({ node: n.name, ok: v.ok, failed: v.failed })));
      await new Promise((r) => setTimeout(r, 1500));
      for (const s of stops) await s();
    } finally {
      fake.restore();
    }
    assert.deepEqual(
      seen.map((x) => x.node).sort(),
      nodes.map((n) => n.name),
    );
    assert.ok(seen.every((x) => x.ok === 3 && x.failed === 0));
    const calls = (await fake.calls()).filter((x) => x[0] === 'docker').map((x) => x.slice(1));
    const echo = calls.filter((x) => x[0] === 'exec' && x[1] === '-d');
    assert.equal(echo.length, 1, 'one echo for all agents');
    assert.deepEqual(echo[0]!.slice(0, 5), ['exec', '-d', 'nd-abc123-control-plane', 'sh', '-c']);
    for (const n of nodes) {
      const agent = calls.find((x) => x[0] === 'exec' && x[1] === n.name && x[2] === 'bash')!;
      // control-plane address from docker inspect, the echo's port, the run's bound, the pidfile in the node
      assert.deepEqual(agent.slice(-5), ['estab', '172.18.0.11', '7007', '90', '/tmp/notdns/estab.pid']);
      assert.ok(
        calls.some((x) => x[0] === 'exec' && x[1] === n.name && x[2] === 'sh' && x.includes('/tmp/notdns/estab.pid')),
        'stopped',
      );
    }
  });
});
