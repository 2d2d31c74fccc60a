// The dead-man lease on Kubernetes (harness/providers/k8s/lease.ts): the generated manifests (owner reference,
// activeDeadlineSeconds, lease volume, the Alerting Engine's lease flags, the node agent's loop), the node agent's
// loop run for real against a stale lease file (tc/nsenter stubbed), and the renewer. No cluster runs here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject, V1Deployment, V1Pod } from '@kubernetes/client-node';
import { KIND_CAPABILITIES } from '../../harness/providers/capabilities.js';
import { K8sCluster } from '../../harness/providers/k8s/cluster.js';
import type { KubeClient } from '../../harness/providers/k8s/client.js';
import { ENA_TC_HANDLE, ENA_TC_PREF } from '../../harness/ena/index.js';
import {
  AGENT_RENEW_ARGV,
  alertingEngineLeaseArgs,
  DEADLINE_MARGIN_SECONDS,
  deadlineFor,
  K8S_LEASE_SECONDS,
  LEASE_DIR,
  LEASE_PATH,
  LeaseRenewer,
  NODE_RENEW_ARGV,
  nodeAgentScript,
  renderRunOwner,
  withRunLease,
} from '../../harness/providers/k8s/lease.js';
import { renderWorkload, RUN_LABEL } from '../../harness/providers/k8s/manifests.js';
import { renderNodeAgent } from '../../harness/providers/kubeconfig/manifests.js';

const owner = { name: 'notdns-run-abc123', uid: '6f1c7a8e-0000-4000-8000-000000000001' };

describe('kubernetes dead-man lease: manifests', () => {
  it('the owner object is a ConfigMap notdns-run-<id> in the run namespace, labelled with the run', () => {
    const cm = renderRunOwner('nd-abc123', 'abc123', new Date('2026-11-30T12:00:00Z'));
    assert.equal(cm.kind, 'ConfigMap');
    assert.equal(cm.metadata?.name, 'notdns-run-abc123');
    assert.equal(cm.metadata?.namespace, 'nd-abc123');
    assert.equal(cm.metadata?.labels?.[RUN_LABEL], 'abc123');
    assert.equal(cm.data?.renewedAt, '2026-11-30T12:00:00.000Z');
    assert.equal(cm.data?.leaseSeconds, String(K8S_LEASE_SECONDS));
  });

  it('workload Deployments: owner reference, activeDeadlineSeconds = run + margin, lease volume; the Alerting Engine gets an init container that creates the lease', () => {
    const { deployment } = renderWorkload(
      { app: 'alerting-engine', replicas: 1, nodes: ['n1'], args: ['--max-duration-seconds', '200', ...alertingEngineLeaseArgs()] },
      { namespace: 'nd-abc123', runId: 'abc123', image: 'img:1' },
    );
    const d = withRunLease(deployment, { owner, deadlineSeconds: deadlineFor(200), initLease: true });
    assert.deepEqual(d.metadata?.ownerReferences, [
      { apiVersion: 'v1', kind: 'ConfigMap', name: owner.name, uid: owner.uid, blockOwnerDeletion: false, controller: false },
    ]);
    const pod = d.spec!.template.spec!;
    assert.equal(pod.activeDeadlineSeconds, 200 + DEADLINE_MARGIN_SECONDS);
    assert.ok(pod.volumes?.some((v) => v.name === 'notdns-lease' && v.emptyDir));
    assert.ok(pod.containers[0]!.volumeMounts?.some((m) => m.mountPath === LEASE_DIR));
    const init = pod.initContainers?.find((c) => c.name === 'lease-init');
    assert.ok(init, 'lease-init container');
    assert.equal(init.image, 'img:1');
    assert.deepEqual(init.command, [...NODE_RENEW_ARGV]);
    assert.ok(init.volumeMounts?.some((m) => m.mountPath === LEASE_DIR));
    const args = pod.containers[0]!.args!;
    assert.equal(args[args.indexOf('--lease-file') + 1], LEASE_PATH);
    assert.equal(args[args.indexOf('--lease-seconds') + 1], String(K8S_LEASE_SECONDS));
    // idempotent: applying twice adds no second volume or init container
    withRunLease(d, { owner, deadlineSeconds: 1, initLease: true });
    assert.equal(pod.volumes!.filter((v) => v.name === 'notdns-lease').length, 1);
    assert.equal(pod.initContainers!.length, 1);
  });

  it('NODE_RENEW_ARGV really writes the lease file (node -e, as in the pod)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nd-lease-'));
    try {
      const f = join(dir, 'lease');
      const [cmd, ...rest] = [...NODE_RENEW_ARGV.slice(0, -1), f];
      const r = spawnSync(cmd === 'node' ? process.execPath : cmd!, rest, { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(Math.abs(Number(readFileSync(f, 'utf8')) - Date.now()) < 5000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the node agent DaemonSet: owner reference, deadline, its main process is the lease loop with the ENA filter pref/handle', () => {
    const ds = renderNodeAgent('nd-abc123', 'abc123', { owner, deadlineSeconds: 500 });
    assert.equal(ds.metadata?.ownerReferences?.[0]?.uid, owner.uid);
    const pod = ds.spec!.template.spec!;
    assert.equal(pod.activeDeadlineSeconds, 500);
    assert.equal(pod.initContainers, undefined, 'the agent creates its own lease file (debian image, no node)');
    const c = pod.containers[0]!;
    assert.deepEqual(c.command?.slice(0, 2), ['sh', '-c']);
    const script = c.command![2]!;
    assert.match(script, new RegExp(`lease=${LEASE_PATH}; max=${K8S_LEASE_SECONDS}`));
    assert.match(script, new RegExp(`tc filter del dev "\\$d" "\\$h" pref ${ENA_TC_PREF} handle 0x${ENA_TC_HANDLE.toString(16)} bpf`));
    assert.equal(spawnSync('sh', ['-n', '-c', script]).status, 0, 'the script parses');
    assert.ok(c.volumeMounts?.some((m) => m.mountPath === LEASE_DIR));
    assert.deepEqual([...AGENT_RENEW_ARGV], ['touch', LEASE_PATH]);
    // without a lease the template is unchanged (sleep infinity)
    assert.deepEqual(renderNodeAgent('nd-x', 'x').spec!.template.spec!.containers[0]!.command, ['sleep', 'infinity']);
  });
});

describe('kubernetes dead-man lease: the node agent loop, run for real (tc stubbed)', function () {
  this.timeout(20_000);

  function runLoop(renewEveryMs: number | null, runMs: number): { calls: string; out: string } {
    const dir = mkdtempSync(join(tmpdir(), 'nd-agent-'));
    try {
      const lease = join(dir, 'lease'),
        calls = join(dir, 'calls');
      writeFileSync(calls, '');
      // nsenter stub: logs its argv and runs the inner sh with a tc stub that reports an ENA filter on eth0 only
      writeFileSync(join(dir, 'nsenter'), `#!/bin/sh\necho "nsenter $*" >> ${calls}\nshift 5\nPATH=${dir}/tcbin:$PATH exec "$@"\n`);
      chmodSync(join(dir, 'nsenter'), 0o755);
      mkdirSync(join(dir, 'tcbin'));
      writeFileSync(
        join(dir, 'tcbin', 'tc'),
        `#!/bin/sh\necho "tc $*" >> ${calls}\ncase "$*" in "filter show dev eth0 "*) echo "filter protocol all pref 1 bpf chain 0 handle 0xe4a ena_ingress.o:[tc] direct-action";; esac\n`,
      );
      chmodSync(join(dir, 'tcbin', 'tc'), 0o755);
      const script = nodeAgentScript(1).replaceAll(LEASE_PATH, lease).replace('$(ls /sys/class/net)', 'lo eth0');
      const renew = renewEveryMs
        ? `(while :; do touch ${lease}; sleep ${renewEveryMs / 1000}; done) & R=$!; `
        : `touch ${lease}; touch -d '-60 seconds' ${lease}; `;
      const r = spawnSync(
        'sh',
        [
          '-c',
          `${renew}PATH=${dir}:$PATH timeout ${runMs / 1000} sh -c '${script.replaceAll("'", "'\\''")}'; ${renewEveryMs ? 'kill $R' : 'true'}`,
        ],
        {
          encoding: 'utf8',
          timeout: runMs + 5000,
        },
      );
      return { calls: readFileSync(calls, 'utf8'), out: r.stdout + r.stderr };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('a lease renewed in time: no tc call at all', () => {
    const { calls } = runLoop(300, 3500);
    assert.equal(calls, '', `calls while the lease was renewed:\n${calls}`);
  });

  it('a lease never renewed: the ENA filters are deleted on the node (via nsenter into pid 1), only where attached', () => {
    const { calls, out } = runLoop(null, 3500);
    assert.match(calls, /^nsenter -t 1 -m -n -- sh -c /m);
    assert.match(calls, /tc filter show dev lo ingress/);
    assert.match(calls, new RegExp(`tc filter del dev eth0 ingress pref ${ENA_TC_PREF} handle 0x${ENA_TC_HANDLE.toString(16)} bpf`));
    assert.match(calls, /tc filter del dev eth0 egress/);
    assert.doesNotMatch(calls, /tc filter del dev lo/);
    assert.match(out, /lease expired/);
  });
});

describe('kubernetes dead-man lease: the renewer', () => {
  it('execs the renewal into every target and patches the owner renewedAt; failures are counted, not thrown', async () => {
    const execs: string[] = [],
      patches: Record<string, string>[] = [];
    let fail = false;
    const client = {
      async exec(ns: string, pod: string, container: string, cmd: readonly string[]) {
        execs.push(`${ns}/${pod}/${container}: ${cmd.join(' ')}`);
        if (fail && pod === 'ae-1') throw new Error('exec stalled');
        return { exitCode: 0 };
      },
      async patchConfigMapData(_ns: string, _name: string, data: Record<string, string>) {
        patches.push(data);
      },
    };
    const r = new LeaseRenewer(client, 'nd-x', owner, () => [
      { pod: 'ae-1', container: 'alerting-engine', argv: NODE_RENEW_ARGV },
      { pod: 'nd-node-agent-abcde', container: 'agent', argv: AGENT_RENEW_ARGV },
    ]);
    await r.renew();
    assert.equal(execs.length, 2);
    assert.match(execs[0]!, /^nd-x\/ae-1\/alerting-engine: node -e .* \/run\/notdns\/lease$/);
    assert.equal(execs[1], 'nd-x/nd-node-agent-abcde/agent: touch /run/notdns/lease');
    assert.ok(patches[0]?.renewedAt);
    fail = true;
    await r.renew();
    assert.equal(r.rounds, 2);
    assert.equal(r.failures, 1);
    r.start();
    r.stop();
  });

  it('a Deployment without the lease (lab-style render) keeps no deadline nor owner', () => {
    const { deployment } = renderWorkload(
      { app: 'metrics-service', replicas: 1, nodes: [], args: [] },
      { namespace: 'nd-x', runId: 'x' },
    ) as { deployment: V1Deployment };
    assert.equal(deployment.metadata?.ownerReferences, undefined);
    assert.equal(deployment.spec!.template.spec!.activeDeadlineSeconds, undefined);
  });
});

describe('kubernetes dead-man lease: K8sCluster wiring (fake client)', () => {
  class TestCluster extends K8sCluster {
    torn = false;
    protected async teardown(): Promise<void> {
      this.torn = true;
    }
  }

  function fakeClient() {
    const applied: KubernetesObject[] = [],
      calls: string[] = [];
    const pod = (name: string, app: string): V1Pod => ({
      metadata: { name, uid: `uid-${name}`, labels: { app } },
      spec: { nodeName: 'n1', containers: [] },
      status: { podIP: '10.0.0.9', conditions: [{ type: 'Ready', status: 'True' }] },
    });
    const client = {
      async apply(objs: KubernetesObject[]) {
        applied.push(...objs);
      },
      async waitDeploymentAvailable() {},
      async listPods(_ns: string, selector: string) {
        return { pods: [pod(`${selector.slice(4)}-1`, selector.slice(4))] };
      },
      async exec(ns: string, p: string, c: string, cmd: readonly string[]) {
        calls.push(`exec ${ns}/${p}/${c} ${cmd[0]}`);
        return { exitCode: 0 };
      },
      async patchConfigMapData(ns: string, name: string) {
        calls.push(`patch ${ns}/${name}`);
      },
      async deleteConfigMap(ns: string, name: string) {
        calls.push(`delete ${ns}/${name}`);
        return true;
      },
    };
    return { client: client as unknown as KubeClient, applied, calls };
  }

  function cluster(client: KubeClient, withOwner: boolean): TestCluster {
    return new TestCluster({
      provider: 'kind',
      capabilities: KIND_CAPABILITIES,
      podCidr: '10.0.0.0/16',
      runId: 'abc123',
      namespace: 'nd-abc123',
      client,
      nodes: [],
      dns: { upstream: '', nodeLocal: '' },
      transport: { request: async () => ({ status: 200, body: '' }) },
      image: 'img:1',
      runOwner: withOwner ? owner : undefined,
    });
  }

  it('deploy: the Alerting Engine gets the lease flags, an owner reference and its deadline; destroy deletes the owner first', async () => {
    const f = fakeClient();
    const c = cluster(f.client, true);
    await c.deploy({ app: 'alerting-engine', replicas: 1, nodes: ['n1'], args: ['--max-duration-seconds', '150'] });
    await c.deploy({ app: 'metrics-service', replicas: 1, nodes: ['n1'], args: ['--max-duration-seconds', '150'] });
    const ae = f.applied.find((o) => o.kind === 'Deployment' && o.metadata?.name === 'alerting-engine') as V1Deployment;
    assert.equal(ae.metadata?.ownerReferences?.[0]?.uid, owner.uid);
    assert.equal(ae.spec!.template.spec!.activeDeadlineSeconds, 150 + DEADLINE_MARGIN_SECONDS);
    assert.ok(ae.spec!.template.spec!.containers[0]!.args!.includes('--lease-file'));
    assert.ok(ae.spec!.template.spec!.initContainers?.some((x) => x.name === 'lease-init'));
    const ms = f.applied.find((o) => o.kind === 'Deployment' && o.metadata?.name === 'metrics-service') as V1Deployment;
    assert.equal(ms.spec!.template.spec!.activeDeadlineSeconds, 150 + DEADLINE_MARGIN_SECONDS);
    assert.equal(ms.spec!.template.spec!.initContainers, undefined);
    assert.ok(!ms.spec!.template.spec!.containers[0]!.args!.includes('--lease-file'));
    const svc = f.applied.find((o) => o.kind === 'Service');
    assert.equal(svc?.metadata?.ownerReferences?.[0]?.name, owner.name);
    await c.destroy();
    assert.deepEqual(
      f.calls.filter((x) => x.startsWith('delete')),
      [`delete nd-abc123/${owner.name}`],
    );
    assert.ok(c.torn);
  });

  it('without an owner (the provider made none) nothing changes', async () => {
    const f = fakeClient();
    const c = cluster(f.client, false);
    await c.deploy({ app: 'alerting-engine', replicas: 1, nodes: [], args: ['--max-duration-seconds', '150'] });
    const ae = f.applied[0] as V1Deployment;
    assert.equal(ae.metadata?.ownerReferences, undefined);
    assert.ok(!ae.spec!.template.spec!.containers[0]!.args!.includes('--lease-file'));
    await c.destroy();
    assert.deepEqual(f.calls, []);
  });
});
