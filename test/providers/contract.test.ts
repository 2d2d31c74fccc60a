// The provider contract: capabilities by name, pod networks, dead-workload detection on Kubernetes.
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { capabilitiesOf, createProvider, PROVIDER_NAMES } from '../../harness/providers/index.js';
import { unexpectedExitOf } from '../../harness/providers/k8s/cluster.js';
import { podCidrOf } from '../../harness/providers/kubeconfig/kubeconfig.js';
import { KIND_POD_CIDR } from '../../harness/providers/kind/kind.js';
import { LabCluster } from '../../harness/providers/lab/lab.js';
import { POD_SUPERNET } from '../../harness/providers/lab/addresses.js';
import { loadKindTemplate } from '../../harness/providers/kind/config.js';

describe('providers: capabilities and creation by name', () => {
  it('each provider says what it can do; only the lab enters nodes and pods and reads ENA pins on the host', () => {
    assert.deepEqual([...PROVIDER_NAMES], ['lab', 'kind', 'kubeconfig']);
    assert.deepEqual(capabilitiesOf('lab'), { ...capabilitiesOf('lab'), nodeNetns: true, podNetns: true, enaPins: 'host' });
    for (const p of ['kind', 'kubeconfig'] as const) {
      const c = capabilitiesOf(p);
      assert.equal(c.nodeNetns, false, p);
      assert.equal(c.enaPins, 'node', p);
      assert.match(c.deadWorkloads, /watch/, p);
    }
  });

  it('the kubeconfig provider is refused without the opt-in, by name too', async () => {
    await assert.rejects(
      createProvider('kubeconfig', {}),
      (e: any) => e.kind === 'usage' && /--i-know-this-is-not-a-test-cluster/.test(e.message),
    );
  });
});

describe("providers: the pod network each one offers (the load generator's --allow-cidr)", () => {
  it('lab: 10.1.0.0/16; kind: the podSubnet of its cluster template', () => {
    const topo = { nodes: 3, serverNodes: 2, eniHasAddress: false, unreachableOnDelete: false, nodeLocalDns: true };
    assert.equal(new LabCluster('abc123', topo, '/nonexistent').podCidr, POD_SUPERNET);
    assert.equal(KIND_POD_CIDR, (loadKindTemplate().networking as { podSubnet?: string }).podSubnet);
  });

  it("kubeconfig: --pod-cidr first, else the nodes' podCIDRs when they share a /16, else refused naming --pod-cidr", () => {
    const saved = process.env.NOTDNS_POD_CIDR;
    delete process.env.NOTDNS_POD_CIDR;
    try {
      assert.equal(podCidrOf({ podCidr: '10.0.0.0/16' }, [undefined]), '10.0.0.0/16');
      assert.equal(podCidrOf({}, ['10.244.1.0/24', '10.244.2.0/24']), '10.244.0.0/16');
      assert.throws(
        () => podCidrOf({}, [undefined, undefined]),
        (e: any) => e.kind === 'usage' && /--pod-cidr/.test(e.hint),
      );
      assert.throws(
        () => podCidrOf({}, ['10.244.1.0/24', '10.245.2.0/24']),
        (e: any) => e.kind === 'usage',
      );
      assert.throws(
        () => podCidrOf({ podCidr: '10.0.0.0' }, []),
        (e: any) => e.kind === 'usage' && /not an IPv4 CIDR/.test(e.message),
      );
      process.env.NOTDNS_POD_CIDR = '172.31.0.0/16';
      assert.equal(podCidrOf({}, [undefined]), '172.31.0.0/16');
    } finally {
      if (saved === undefined) delete process.env.NOTDNS_POD_CIDR;
      else process.env.NOTDNS_POD_CIDR = saved;
    }
  });
});

describe('providers: a dead workload on Kubernetes (pod watch)', () => {
  const pod = (status: V1Pod['status'], deleting = false): V1Pod => ({
    metadata: { name: 'ms-1', uid: 'u1', ...(deleting ? { deletionTimestamp: new Date() } : {}) },
    status,
  });
  it('a running pod is fine; a terminated or restarted container, or a failed pod, is an unexpected exit', () => {
    assert.equal(
      unexpectedExitOf(
        pod({
          phase: 'Running',
          containerStatuses: [{ name: 'app', restartCount: 0, ready: true, image: '', imageID: '', state: { running: {} } }],
        }),
      ),
      undefined,
    );
    assert.match(
      unexpectedExitOf(
        pod({
          phase: 'Running',
          containerStatuses: [
            {
              name: 'app',
              restartCount: 1,
              ready: true,
              image: '',
              imageID: '',
              state: { running: {} },
              lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } },
            },
          ],
        }),
      )!,
      /container app exited with code 137 \(OOMKilled\), restarted 1×/,
    );
    assert.match(
      unexpectedExitOf(
        pod({
          phase: 'Running',
          containerStatuses: [
            { name: 'app', restartCount: 0, ready: false, image: '', imageID: '', state: { terminated: { exitCode: 0, signal: 9 } } },
          ],
        }),
      )!,
      /killed by signal 9/,
    );
    assert.match(unexpectedExitOf(pod({ phase: 'Failed', reason: 'Evicted' }))!, /failed \(Evicted\)/);
  });
  it("a pod being deleted (a rollout's old pod, teardown) is expected to stop", () => {
    assert.equal(
      unexpectedExitOf(
        pod(
          {
            phase: 'Failed',
            containerStatuses: [
              { name: 'app', restartCount: 0, ready: false, image: '', imageID: '', state: { terminated: { exitCode: 143 } } },
            ],
          },
          true,
        ),
      ),
      undefined,
    );
  });
});
