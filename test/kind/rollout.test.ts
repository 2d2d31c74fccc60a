// Rollouts on kind: pod watch events → RolloutEvents, the emulated Cilium #18505 route in the old pod's node
// container (docker exec, fake docker on PATH), and watch drops handled by re-listing.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { KIND_POD_CIDR, KindCluster, UNREACHABLE_EMULATION } from '../../harness/providers/kind/kind.js';
import { KIND_CAPABILITIES } from '../../harness/providers/capabilities.js';
import { KindNode } from '../../harness/providers/kind/node.js';
import { podView, RolloutTracker, type PodView } from '../../harness/providers/k8s/rollout.js';
import { ROLLOUT_ANNOTATION } from '../../harness/providers/k8s/manifests.js';
import type { KubeClient } from '../../harness/providers/k8s/client.js';
import type { Topology } from '../../harness/providers/types.js';
import { installFakeTools } from './fake-tools.js';

function pod(name: string, node: string, ip: string, o: { ready?: boolean; deleting?: boolean } = {}): V1Pod {
  return {
    metadata: { name, uid: `uid-${name}`, labels: { app: 'metrics-service' }, ...(o.deleting ? { deletionTimestamp: new Date() } : {}) },
    spec: { nodeName: node, containers: [{ name: 'metrics-service' }] },
    status: { podIP: ip, conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
  };
}

describe('kind: rollout tracker (pod watch → RolloutEvents)', () => {
  it('podView reads readiness, deletion, node and IP', () => {
    assert.deepEqual(podView(pod('a', 'w1', '10.244.1.5')), {
      name: 'a',
      uid: 'uid-a',
      node: 'w1',
      ip: '10.244.1.5',
      ready: true,
      deleting: false,
    });
    assert.equal(podView(pod('a', 'w1', '10.244.1.5', { deleting: true })).deleting, true);
    assert.equal(podView(pod('a', 'w1', '', { ready: false })).ready, false);
  });

  it('ready once per new pod, stopping on deletionTimestamp, deleted on DELETED; done when all old are gone', () => {
    const seen: string[] = [];
    const t = new RolloutTracker([podView(pod('a', 'w1', '10.0.0.1')), podView(pod('b', 'w2', '10.0.0.2'))], 2, {
      ready: (p) => seen.push(`ready ${p.name}`),
      stopping: (p) => seen.push(`stopping ${p.name}`),
      deleted: (p) => seen.push(`deleted ${p.name} ${p.ip}`),
    });
    t.event('ADDED', podView(pod('c', 'w1', '', { ready: false })));
    t.event('MODIFIED', podView(pod('c', 'w1', '10.0.0.3')));
    t.event('MODIFIED', podView(pod('c', 'w1', '10.0.0.3')));
    t.event('MODIFIED', podView(pod('a', 'w1', '10.0.0.1', { deleting: true })));
    t.event('MODIFIED', podView(pod('a', 'w1', '10.0.0.1', { deleting: true, ready: false })));
    assert.equal(t.done, false);
    t.event('DELETED', podView(pod('a', 'w1', '10.0.0.1', { deleting: true })));
    t.event('ADDED', podView(pod('d', 'w2', '10.0.0.4')));
    // a DELETED without a MODIFIED before it still means the pod stopped first
    t.event('DELETED', podView(pod('b', 'w2', '10.0.0.2')));
    assert.equal(t.done, true);
    assert.deepEqual(seen, ['ready c', 'stopping a', 'deleted a 10.0.0.1', 'ready d', 'stopping b', 'deleted b 10.0.0.2']);
    assert.match(t.progress, /2\/2 new ready, 2\/2 old stopping, 2\/2 old deleted/);
  });

  it('resync after a dropped watch: old pods missing from the listing are deleted', () => {
    const seen: string[] = [];
    const t = new RolloutTracker([podView(pod('a', 'w1', '10.0.0.1'))], 1, {
      ready: (p) => seen.push(`ready ${p.name}`),
      stopping: (p) => seen.push(`stopping ${p.name}`),
      deleted: (p) => seen.push(`deleted ${p.name}`),
    });
    t.resync([podView(pod('c', 'w1', '10.0.0.3'))]);
    assert.deepEqual(seen, ['ready c', 'stopping a', 'deleted a']);
    assert.equal(t.done, true);
  });
});

/** An in-memory API server that plays a Deployment rollout (maxSurge 1, maxUnavailable 0) once the patch comes. */
class FakeApi {
  pods = new Map<string, V1Pod>();
  applied: { objs: KubernetesObject[]; manager?: string }[] = [];
  watchers: { cb: (t: string, p: V1Pod) => void; done: (e?: unknown) => void }[] = [];
  rv = 1;
  dropWatchAfter?: number;
  private sent = 0;

  constructor(
    initial: V1Pod[],
    private readonly plan: { name: string; node: string; ip: string }[],
  ) {
    for (const p of initial) this.pods.set(p.metadata!.uid!, p);
  }

  private emit(type: string, p: V1Pod) {
    if (type === 'DELETED') this.pods.delete(p.metadata!.uid!);
    else this.pods.set(p.metadata!.uid!, p);
    this.rv++;
    this.sent++;
    for (const w of this.watchers) w.cb(type, p);
    if (this.dropWatchAfter !== undefined && this.sent === this.dropWatchAfter) {
      const ws = this.watchers.splice(0);
      for (const w of ws) w.done(new Error('watch closed by the API server'));
    }
  }

  private async play() {
    const old = [...this.pods.values()];
    for (let i = 0; i < old.length; i++) {
      const n = this.plan[i]!;
      await new Promise((r) => setTimeout(r, 20));
      this.emit('ADDED', pod(n.name, n.node, '', { ready: false }));
      this.emit('MODIFIED', pod(n.name, n.node, n.ip));
      const o = old[i]!;
      this.emit('MODIFIED', pod(o.metadata!.name!, o.spec!.nodeName!, o.status!.podIP!, { deleting: true }));
      await new Promise((r) => setTimeout(r, 20));
      this.emit('DELETED', pod(o.metadata!.name!, o.spec!.nodeName!, o.status!.podIP!, { deleting: true }));
    }
  }

  client(): KubeClient {
    return {
      listPods: async () => ({ pods: [...this.pods.values()], resourceVersion: String(this.rv) }),
      watchPods: async (
        _ns: string,
        _sel: string,
        _rv: string | undefined,
        cb: (t: string, p: V1Pod) => void,
        done: (e?: unknown) => void,
      ) => {
        const w = { cb, done };
        this.watchers.push(w);
        return () => {
          this.watchers = this.watchers.filter((x) => x !== w);
        };
      },
      apply: async (objs: KubernetesObject[], manager?: string) => {
        this.applied.push({ objs, manager });
        if (manager === 'notdns-rollout') void this.play();
      },
    } as unknown as KubeClient;
  }
}

describe('kind: KindCluster.rollout (fake API server, fake docker)', function () {
  this.timeout(30_000);
  const topo = (unreachableOnDelete: boolean): Topology => ({
    nodes: 3,
    serverNodes: 2,
    eniHasAddress: false,
    unreachableOnDelete,
    nodeLocalDns: true,
  });
  const transport = { request: async () => ({ status: 200, body: '[]' }) };

  function cluster(api: FakeApi, unreachable: boolean): KindCluster {
    const nodes = ['nd-abc123-worker', 'nd-abc123-worker2', 'nd-abc123-worker3'].map((n, i) => new KindNode(n, `172.18.0.${11 + i}`));
    return new KindCluster(
      {
        provider: 'kind',
        capabilities: KIND_CAPABILITIES,
        podCidr: KIND_POD_CIDR,
        runId: 'abc123',
        namespace: 'nd-abc123',
        client: api.client(),
        nodes,
        dns: { upstream: '10.96.0.20', nodeLocal: '10.96.0.10' },
        transport,
        image: 'notdns/workloads:dev',
      },
      'nd-abc123',
      topo(unreachable),
      '/tmp/kubeconfig',
      'none',
    );
  }

  it('patches the template annotation (SSA, own field manager) and reports ready → stopping → deleted per pod', async () => {
    const api = new FakeApi(
      [pod('ms-a', 'nd-abc123-worker', '10.244.1.5'), pod('ms-b', 'nd-abc123-worker2', '10.244.2.6')],
      [
        { name: 'ms-c', node: 'nd-abc123-worker', ip: '10.244.1.9' },
        { name: 'ms-d', node: 'nd-abc123-worker2', ip: '10.244.2.9' },
      ],
    );
    const c = cluster(api, false);
    const seen: string[] = [];
    await c.rollout(
      'metrics-service',
      { batch: 1, gracefulStopSeconds: 1 },
      {
        onPodReady: (p) => seen.push(`ready ${p.name} ${p.ip} ${p.node}`),
        onPodStopping: (p) => seen.push(`stopping ${p.name} ${p.ip}`),
        onPodDeleted: (p) => seen.push(`deleted ${p.name} ${p.ip}`),
      },
    );
    assert.deepEqual(seen, [
      'ready ms-c 10.244.1.9 nd-abc123-worker',
      'stopping ms-a 10.244.1.5',
      'deleted ms-a 10.244.1.5',
      'ready ms-d 10.244.2.9 nd-abc123-worker2',
      'stopping ms-b 10.244.2.6',
      'deleted ms-b 10.244.2.6',
    ]);
    const patch = api.applied.find((a) => a.manager === 'notdns-rollout')!.objs[0] as any;
    assert.equal(patch.kind, 'Deployment');
    assert.ok(patch.spec.template.metadata.annotations[ROLLOUT_ANNOTATION]);
    assert.deepEqual(patch.spec.strategy.rollingUpdate, { maxSurge: 1, maxUnavailable: 0 });
    assert.deepEqual(
      c
        .pods('metrics-service')
        .map((p) => p.name)
        .sort(),
      ['ms-c', 'ms-d'],
    );
    assert.deepEqual(c.emulations, []);
  });

  it("unreachableOnDelete: `ip route replace unreachable <old IP>/32` in the old pod's node container before onPodDeleted, labelled as emulated", async () => {
    const fake = await installFakeTools();
    const api = new FakeApi(
      [pod('ms-a', 'nd-abc123-worker', '10.244.1.5')],
      [{ name: 'ms-c', node: 'nd-abc123-worker2', ip: '10.244.2.9' }],
    );
    const c = cluster(api, true);
    let callsAtDelete: string[][] = [];
    try {
      await c.rollout(
        'metrics-service',
        { batch: 1, gracefulStopSeconds: 1 },
        {
          onPodDeleted: () => {
            callsAtDelete = readFileSync(fake.log, 'utf8')
              .split('\n')
              .filter(Boolean)
              .map((l) => JSON.parse(l));
          },
        },
      );
    } finally {
      fake.restore();
    }
    const execs = (await fake.calls()).filter((x) => x[1] === 'exec').map((x) => x.slice(2));
    assert.deepEqual(execs, [['nd-abc123-worker', 'ip', 'route', 'replace', 'unreachable', '10.244.1.5/32']]);
    assert.equal(callsAtDelete.length, 1, 'the route was in place when onPodDeleted ran');
    assert.deepEqual(c.emulations, [UNREACHABLE_EMULATION]);
    assert.match(UNREACHABLE_EMULATION, /emulated: Cilium's flag has no effect with kind's IPAM/);
  });

  it('a new pod that gets an old IP back loses the emulated route (as Cilium would replace it)', async () => {
    const fake = await installFakeTools();
    const api = new FakeApi(
      [pod('ms-a', 'nd-abc123-worker', '10.244.1.5'), pod('ms-b', 'nd-abc123-worker', '10.244.1.6')],
      [
        { name: 'ms-c', node: 'nd-abc123-worker', ip: '10.244.1.7' },
        { name: 'ms-d', node: 'nd-abc123-worker', ip: '10.244.1.5' },
      ],
    );
    const c = cluster(api, true);
    try {
      await c.rollout('metrics-service', { batch: 1, gracefulStopSeconds: 1 });
    } finally {
      fake.restore();
    }
    const execs = (await fake.calls()).filter((x) => x[1] === 'exec').map((x) => x.slice(3).join(' '));
    assert.deepEqual(execs, [
      'ip route replace unreachable 10.244.1.5/32',
      'ip route del unreachable 10.244.1.5/32',
      'ip route replace unreachable 10.244.1.6/32',
    ]);
  });

  it('survives the API server closing the watch mid-rollout (re-list, watch again)', async () => {
    const api = new FakeApi(
      [pod('ms-a', 'w1', '10.244.1.5'), pod('ms-b', 'w2', '10.244.2.6')],
      [
        { name: 'ms-c', node: 'w1', ip: '10.244.1.9' },
        { name: 'ms-d', node: 'w2', ip: '10.244.2.9' },
      ],
    );
    api.dropWatchAfter = 3;
    const c = cluster(api, false);
    const deleted: string[] = [];
    await c.rollout('metrics-service', { batch: 1, gracefulStopSeconds: 1 }, { onPodDeleted: (p) => deleted.push(p.name) });
    assert.deepEqual(deleted, ['ms-a', 'ms-b']);
  });

  it('stops waiting when the run is interrupted (AbortSignal)', async () => {
    const api = new FakeApi([pod('ms-a', 'w1', '10.244.1.5')], [{ name: 'ms-c', node: 'w1', ip: '10.244.1.9' }]);
    (api as any).play = async () => undefined; // the Deployment controller never acts
    const c = cluster(api, false);
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('test abort')), 500);
    await assert.rejects(c.rollout('metrics-service', { batch: 1, gracefulStopSeconds: 1, signal: ac.signal }), /test abort/);
  });
});

// PodView is part of the exported surface
export type { PodView };
