// Every manifest parses and is schema-checked against the Kubernetes types; the generated kind config, the
// Cilium values and the rendered objects have the fields the kind path depends on, and agree with each other.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import type { KubernetesObject, V1ConfigMap, V1DaemonSet, V1Deployment, V1Service } from '@kubernetes/client-node';
import { repoRoot } from '../../harness/paths.js';
import {
  loadKindTemplate,
  renderKindConfig,
  ROLE_LABEL,
  workerNames,
  roleNodes,
  clusterName,
  kindConfigYaml,
} from '../../harness/providers/kind/config.js';
import { CILIUM_CT_GC_INTERVAL, CILIUM_TC_PRIORITY, loadCiliumValues, renderCiliumValues } from '../../harness/providers/kind/cilium.js';
import {
  ADMIN_PORT,
  GRPC_PORT,
  commandWithRuntimeArgs,
  flagValue,
  loadManifest,
  renderNamespace,
  renderWorkload,
  rolloutPatch,
  ROLLOUT_ANNOTATION,
  RUN_LABEL,
  terminationGraceFor,
} from '../../harness/providers/k8s/manifests.js';
import { alertingEngineRuntimeArgs, SMALL_POD_V8 } from '../../harness/run/workloads.js';
import { fillPillars, kubeDnsUpstreamService, renderK6, renderLrp, renderNodeLocalDns } from '../../harness/providers/kind/manifests.js';
import { renderNodeAgent } from '../../harness/providers/kubeconfig/manifests.js';
import { AGENT_FILE_DIR } from '../../harness/providers/kubeconfig/kubeconfig.js';
import { KNOWN_KINDS, validateObject, requiredFields } from './k8s-schema.js';

const manifests = join(repoRoot, 'manifests');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? yamlFiles(p) : /\.ya?ml$/.test(e) ? [p] : [];
  });
}

/** Files that are not Kubernetes objects. */
const NOT_K8S = ['kind/cluster.yaml', 'cilium/values.yaml', 'node-local-dns/kustomization.yaml'];

function assertValid(o: KubernetesObject): void {
  const errs = validateObject(o as never);
  assert.deepEqual(errs, [], `${o.kind}/${o.metadata?.name}:\n  ${errs.join('\n  ')}`);
}

function podLabelsMatch(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  return !!selector && Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

describe('kind: manifests parse and are schema-checked against the Kubernetes types', () => {
  const files = yamlFiles(manifests);

  it('finds the manifests', () => {
    const rel = files.map((f) => relative(manifests, f)).sort();
    for (const want of [
      'kind/cluster.yaml',
      'cilium/values.yaml',
      'node-local-dns/node-local-dns.yaml',
      'node-local-dns/lrp.yaml',
      'workloads/metrics-service.yaml',
      'workloads/alerting-engine.yaml',
      'workloads/k6-job.yaml',
      'workloads/namespace.yaml',
      'ena-sim/daemonset.yaml',
    ]) {
      assert.ok(rel.includes(want), `manifests/${want} missing (have ${rel.join(', ')})`);
    }
  });

  for (const f of yamlFiles(manifests)) {
    const rel = relative(manifests, f);
    it(`${rel}: parses${NOT_K8S.includes(rel) ? '' : ', every object valid'}`, () => {
      const docs = parseAllDocuments(readFileSync(f, 'utf8'));
      for (const d of docs)
        assert.deepEqual(
          d.errors.map((e) => e.message),
          [],
          rel,
        );
      if (NOT_K8S.includes(rel)) return;
      const objs = docs.map((d) => d.toJS()).filter(Boolean) as KubernetesObject[];
      assert.ok(objs.length > 0);
      for (const o of objs) assertValid(o);
    });
  }

  it('the schema check itself catches typos, wrong types, missing required fields and unknown kinds', () => {
    const [dep] = loadManifest<V1Deployment>('workloads/metrics-service.yaml');
    const typo = structuredClone(dep!) as any;
    typo.spec.template.spec.terminationGracePeriod = 30;
    assert.match(validateObject(typo).join(), /terminationGracePeriod: unknown field for V1PodSpec/);
    const wrongType = structuredClone(dep!) as any;
    wrongType.spec.replicas = 'two';
    assert.match(validateObject(wrongType).join(), /spec\.replicas: expected a number/);
    const noName = structuredClone(dep!) as any;
    delete noName.spec.template.spec.containers[0].name;
    assert.match(validateObject(noName).join(), /containers\[0\]\.name: required by V1Container/);
    const noSelector = structuredClone(dep!) as any;
    delete noSelector.spec.selector;
    assert.match(validateObject(noSelector).join(), /spec\.selector: required by V1DeploymentSpec/);
    assert.match(
      validateObject({ apiVersion: 'extensions/v1beta1', kind: 'Deployment', metadata: { name: 'x' } }).join(),
      /unknown apiVersion\/kind/,
    );
    assert.deepEqual(requiredFields('V1ContainerPort'), ['containerPort']);
    assert.ok(Object.keys(KNOWN_KINDS).length >= 7);
  });

  it('kustomization lists files that exist', () => {
    const k = parse(readFileSync(join(manifests, 'node-local-dns/kustomization.yaml'), 'utf8')) as { resources: string[] };
    for (const r of k.resources) assert.ok(existsSync(join(manifests, 'node-local-dns', r)), r);
  });
});

describe('kind: cluster config from the Topology', () => {
  it('template: no default CNI, no kube-proxy, a control plane and a worker', () => {
    const t = loadKindTemplate();
    assert.equal(t.kind, 'Cluster');
    assert.equal(t.apiVersion, 'kind.x-k8s.io/v1alpha4');
    assert.equal(t.networking.disableDefaultCNI, true);
    assert.equal(t.networking.kubeProxyMode, 'none');
    assert.deepEqual(
      t.nodes.map((n) => n.role),
      ['control-plane', 'worker'],
    );
  });

  it('renders nd-<runid> with one worker per node, the first serverNodes labelled server', () => {
    const c = renderKindConfig({ nodes: 4, serverNodes: 2 }, 'abc123');
    assert.equal(c.name, 'nd-abc123');
    assert.equal(c.networking.disableDefaultCNI, true);
    assert.equal(c.networking.kubeProxyMode, 'none');
    assert.deepEqual(
      c.nodes.map((n) => n.role),
      ['control-plane', 'worker', 'worker', 'worker', 'worker'],
    );
    assert.deepEqual(
      c.nodes.slice(1).map((n) => n.labels?.[ROLE_LABEL]),
      ['server', 'server', 'client', 'client'],
    );
    assert.equal(c.nodes[0]!.labels, undefined);
    assert.deepEqual(workerNames('nd-abc123', 3), ['nd-abc123-worker', 'nd-abc123-worker2', 'nd-abc123-worker3']);
    assert.deepEqual(roleNodes('nd-abc123', { nodes: 3, serverNodes: 2 }), {
      server: ['nd-abc123-worker', 'nd-abc123-worker2'],
      client: ['nd-abc123-worker3'],
    });
    // the YAML kind reads back is the same object
    assert.deepEqual(parse(kindConfigYaml(c)), c);
  });

  it('sets the node image on every node when asked', () => {
    const c = renderKindConfig({ nodes: 2, serverNodes: 1 }, 'abc123', { nodeImage: 'kindest/node:v1.33.1' });
    assert.ok(c.nodes.every((n) => n.image === 'kindest/node:v1.33.1'));
  });

  it('refuses a topology without a client node, and run ids kind cannot use', () => {
    assert.throws(
      () => renderKindConfig({ nodes: 2, serverNodes: 2 }, 'abc123'),
      (e: any) => e.kind === 'spec' && /serverNodes/.test(e.message),
    );
    assert.throws(
      () => clusterName('ABC_1'),
      (e: any) => e.kind === 'usage',
    );
  });
});

describe('kind: Cilium helm values', () => {
  const v = loadCiliumValues();
  it('has what Cilium on kind needs (kube-proxy replacement, Kubernetes IPAM, local redirect policy, local images)', () => {
    assert.equal(v.kubeProxyReplacement, true);
    assert.equal(v.k8sServicePort, 6443);
    assert.equal(v.ipam.mode, 'kubernetes');
    assert.deepEqual(v.localRedirectPolicies, { enabled: true });
    assert.equal('localRedirectPolicy' in v, false, 'the legacy name of the value is not used');
    assert.equal(v.image.pullPolicy, 'IfNotPresent');
  });
  it("classic tc filters, Cilium's after the ENA simulator's pref 1 (file and code agree)", () => {
    assert.equal(v.bpf.enableTCX, false);
    assert.equal(v.extraConfig['bpf-filter-priority'], String(CILIUM_TC_PRIORITY));
    assert.ok(CILIUM_TC_PRIORITY > 1, "pref 1 is the ENA simulator's: Cilium must come later");
    // the rendered values enforce both even from a file that says otherwise
    const r = renderCiliumValues('nd-abc123', {
      ...structuredClone(v),
      bpf: { enableTCX: true, masquerade: true },
      extraConfig: { 'bpf-filter-priority': '1', other: 'x' },
    });
    assert.deepEqual(r.bpf, { enableTCX: false, masquerade: true });
    assert.deepEqual(r.extraConfig, { 'bpf-filter-priority': String(CILIUM_TC_PRIORITY), other: 'x' });
  });
  it("the agent's Prometheus metrics on 9962 (cilium.staleIpDrops reads them), enforced by the rendered values", () => {
    assert.deepEqual(v.prometheus, { enabled: true, port: 9962 });
    const r = renderCiliumValues('nd-abc123', {
      ...structuredClone(v),
      prometheus: { enabled: false, serviceMonitor: { enabled: false } },
    });
    assert.deepEqual(r.prometheus, { enabled: true, port: 9962, serviceMonitor: { enabled: false } });
  });
  it('a fixed conntrack GC interval (cilium.ctEntries is set by each GC pass; the adaptive one starts at 5 min)', () => {
    assert.equal(v.conntrackGCInterval, CILIUM_CT_GC_INTERVAL);
    const r = renderCiliumValues('nd-abc123', { ...structuredClone(v), conntrackGCInterval: '' });
    assert.equal(r.conntrackGCInterval, CILIUM_CT_GC_INTERVAL);
  });
  it('routes natively inside the kind pod subnet (SYNs cross eth0 unencapsulated)', () => {
    assert.equal(v.routingMode, 'native');
    assert.equal(v.autoDirectNodeRoutes, true);
    assert.equal(v.ipv4NativeRoutingCIDR, loadKindTemplate().networking.podSubnet);
  });
  it("points k8sServiceHost at the cluster's control-plane container", () => {
    const r = renderCiliumValues('nd-abc123');
    assert.equal(r.k8sServiceHost, 'nd-abc123-control-plane');
    assert.equal(r.k8sServicePort, 6443);
    assert.equal(v.k8sServiceHost, 'notdns-control-plane', 'the checked-in file is for the template cluster "notdns"');
  });
});

describe("kind: node-local-dns like cilium-cli's kind CI", () => {
  const objs = loadManifest('node-local-dns/node-local-dns.yaml');
  const ds = objs.find((o) => o.kind === 'DaemonSet') as V1DaemonSet;
  const cm = objs.find((o) => o.kind === 'ConfigMap') as V1ConfigMap;
  const [lrp] = renderLrp() as any[];

  it('node-cache runs as a normal pod that sets up neither interface nor iptables', () => {
    const c = ds.spec!.template.spec!.containers[0]!;
    for (const f of ['-skipteardown=true', '-setupinterface=false', '-setupiptables=false']) assert.ok(c.args!.includes(f), f);
    assert.equal(ds.spec!.template.spec!.hostNetwork, undefined);
    assert.equal(flagValue(c.args!, '-upstreamsvc'), 'kube-dns-upstream');
    assert.equal(c.image, 'registry.k8s.io/dns/k8s-dns-node-cache:1.26.4', 'CoreDNS 1.11.3 inside: coredns_proxy_* metrics');
    assert.equal(c.imagePullPolicy, 'IfNotPresent');
    assert.equal(ds.spec!.template.metadata!.annotations!['policy.cilium.io/no-track-port'], '53');
  });

  it('Corefile forwards cluster.local over TCP to the upstream with the upstream cache settings', () => {
    const cf = cm.data!.Corefile!;
    assert.match(cf, /cluster\.local:53 \{[\s\S]*?forward \. __PILLAR__CLUSTER__DNS__ \{\s*force_tcp\s*expire 0s\s*\}/);
    // the other zones keep CoreDNS's connection reuse (only the cluster zone is what the experiment looks up)
    assert.equal(cf.match(/expire/g)!.length, 1);
    assert.match(cf, /success 9984 30/);
    assert.match(cf, /denial 9984 5/);
    assert.match(cf, /prometheus :9253/);
    const vol = ds.spec!.template.spec!.volumes!.find((x) => x.name === 'config-volume')!;
    assert.equal(vol.configMap!.name, cm.metadata!.name);
    assert.deepEqual(vol.configMap!.items, [{ key: 'Corefile', path: 'Corefile.base' }]);
  });

  it('rendering fills the kube-dns and upstream IPs (node-cache fills the upstream servers itself)', () => {
    const r = renderNodeLocalDns({ kubeDns: '10.96.0.10', upstream: '10.96.12.34' });
    const text = JSON.stringify(r);
    assert.ok(!text.includes('__PILLAR__DNS__SERVER__') && !text.includes('__PILLAR__CLUSTER__DNS__'));
    assert.ok(text.includes('__PILLAR__UPSTREAM__SERVERS__'));
    const rc = r.find((o) => o.kind === 'ConfigMap') as V1ConfigMap;
    assert.match(rc.data!.Corefile!, /forward \. 10\.96\.12\.34 \{\s*force_tcp\s*expire 0s\s*\}/);
    const rds = r.find((o) => o.kind === 'DaemonSet') as V1DaemonSet;
    assert.equal(flagValue(rds.spec!.template.spec!.containers[0]!.args!, '-localip'), '169.254.20.10,10.96.0.10');
    for (const o of r) assertValid(o);
    assert.equal(fillPillars('a __PILLAR__DNS__SERVER__ b', { kubeDns: '1', upstream: '2' }), 'a 1 b');
    assert.equal(rds.spec!.template.spec!.containers[0]!.resources!.limits, undefined, 'stock: no memory limit');
    assert.doesNotMatch(rc.data!.Corefile!, /max_concurrent/);
  });

  it('topology.nodeLocalDnsLimits: max_concurrent in the cluster.local forward block, the memory limit on node-cache', () => {
    const r = renderNodeLocalDns({ kubeDns: '10.96.0.10', upstream: '10.96.12.34', limits: { maxConcurrent: 80, memoryMb: 64 } });
    const rc = r.find((o) => o.kind === 'ConfigMap') as V1ConfigMap;
    assert.match(rc.data!.Corefile!, /forward \. 10\.96\.12\.34 \{\s*force_tcp\s*expire 0s\s*max_concurrent 80\s*\}/);
    assert.equal(rc.data!.Corefile!.match(/max_concurrent/g)!.length, 1);
    assert.ok(rc.data!.Corefile!.indexOf('max_concurrent') < rc.data!.Corefile!.indexOf('in-addr.arpa:53'), 'in the cluster.local block');
    const rds = r.find((o) => o.kind === 'DaemonSet') as V1DaemonSet;
    assert.deepEqual(rds.spec!.template.spec!.containers[0]!.resources, {
      requests: { cpu: '25m', memory: '5Mi' },
      limits: { memory: '64Mi' },
    });
    for (const o of r) assertValid(o);
  });

  it('kube-dns-upstream selects the CoreDNS pods; the LRP redirects kube-dns to the node-cache pods on 53/UDP+TCP', () => {
    const up = kubeDnsUpstreamService();
    assert.equal(up.metadata!.name, 'kube-dns-upstream');
    assert.deepEqual(up.spec!.selector, { 'k8s-app': 'kube-dns' });
    assert.equal(lrp.kind, 'CiliumLocalRedirectPolicy');
    assert.equal(lrp.apiVersion, 'cilium.io/v2');
    assert.deepEqual(lrp.spec.redirectFrontend.serviceMatcher, { serviceName: 'kube-dns', namespace: 'kube-system' });
    assert.ok(podLabelsMatch(lrp.spec.redirectBackend.localEndpointSelector.matchLabels, ds.spec!.template.metadata!.labels));
    const ports = ds.spec!.template.spec!.containers[0]!.ports!;
    for (const p of lrp.spec.redirectBackend.toPorts) {
      assert.ok(
        ports.some((c) => c.name === p.name && String(c.containerPort) === p.port && c.protocol === p.protocol),
        JSON.stringify(p),
      );
    }
    assert.ok(podLabelsMatch(ds.spec!.selector.matchLabels, ds.spec!.template.metadata!.labels));
  });
});

describe('kind: workload Deployments and Services', () => {
  const nodes = ['nd-abc123-worker', 'nd-abc123-worker2'];
  const msArgs = ['--port', '50052', '--graceful-stop-seconds', '12', '--dns-lookups-per-second', '20'];
  const { deployment: ms, service: svc } = renderWorkload(
    { app: 'metrics-service', replicas: 3, nodes, args: msArgs },
    { namespace: 'nd-abc123', runId: 'abc123', image: 'notdns/workloads:test' },
  );

  it('templates are consistent on their own (ports ↔ flags, selectors ↔ labels, grace > graceful stop)', () => {
    for (const app of ['metrics-service', 'alerting-engine'] as const) {
      const objs = loadManifest(`workloads/${app}.yaml`);
      const d = objs.find((o) => o.kind === 'Deployment') as V1Deployment;
      const c = d.spec!.template.spec!.containers[0]!;
      assert.ok(podLabelsMatch(d.spec!.selector.matchLabels, d.spec!.template.metadata!.labels), app);
      assert.equal(flagValue(c.args!, '--admin'), `tcp:${ADMIN_PORT}`);
      assert.equal(c.ports!.find((p) => p.name === 'admin')!.containerPort, ADMIN_PORT);
      assert.equal(c.readinessProbe!.httpGet!.path, '/healthz');
      assert.ok(
        c.ports!.some((p) => p.name === c.readinessProbe!.httpGet!.port),
        'readiness probe names a declared port',
      );
      assert.deepEqual(c.command, ['node', `dist/workloads/${app}/main.js`]);
      assert.equal(c.imagePullPolicy, 'IfNotPresent');
      if (app === 'metrics-service') {
        assert.equal(String(c.ports!.find((p) => p.name === 'grpc')!.containerPort), flagValue(c.args!, '--port'));
        assert.ok(d.spec!.template.spec!.terminationGracePeriodSeconds! > Number(flagValue(c.args!, '--graceful-stop-seconds')));
        const s = objs.find((o) => o.kind === 'Service') as V1Service;
        assert.equal(s.spec!.clusterIP, 'None');
        assert.ok(podLabelsMatch(s.spec!.selector, d.spec!.template.metadata!.labels));
      }
    }
  });

  it("metrics-service: the caller's args after --admin, ports from the flags, grace above the graceful stop", () => {
    const c = ms.spec!.template.spec!.containers[0]!;
    assert.deepEqual(c.args, ['--admin', `tcp:${ADMIN_PORT}`, ...msArgs]);
    assert.equal(c.image, 'notdns/workloads:test');
    assert.equal(c.ports!.find((p) => p.name === 'grpc')!.containerPort, 50052);
    assert.equal(c.ports!.find((p) => p.name === 'admin')!.containerPort, ADMIN_PORT);
    assert.equal(svc!.spec!.ports![0]!.port, 50052);
    assert.equal(svc!.spec!.ports![0]!.targetPort, 'grpc');
    assert.equal(ms.spec!.template.spec!.terminationGracePeriodSeconds, 17);
    assert.ok(ms.spec!.template.spec!.terminationGracePeriodSeconds! > 12);
    assert.equal(c.lifecycle, undefined, 'no preStop: the workload stops gracefully on SIGTERM by itself');
  });

  it('metrics-service: rolling update maxSurge 1 / maxUnavailable 0, headless Service, pods on the given nodes', () => {
    assert.deepEqual(ms.spec!.strategy, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
    assert.equal(ms.spec!.replicas, 3);
    assert.equal(svc!.spec!.clusterIP, 'None');
    assert.ok(podLabelsMatch(svc!.spec!.selector, ms.spec!.template.metadata!.labels));
    assert.ok(podLabelsMatch(ms.spec!.selector.matchLabels, ms.spec!.template.metadata!.labels));
    const term = ms.spec!.template.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms[0]!;
    assert.deepEqual(term.matchExpressions, [{ key: 'kubernetes.io/hostname', operator: 'In', values: nodes }]);
    assert.equal(ms.metadata!.namespace, 'nd-abc123');
    assert.equal(svc!.metadata!.namespace, 'nd-abc123');
    assert.equal(ms.metadata!.labels![RUN_LABEL], 'abc123');
    assertValid(ms);
    assertValid(svc!);
  });

  it("Node.js runtime flags go between node and main.js (as the lab starts its pods); none: the template's command", () => {
    const { deployment } = renderWorkload(
      {
        app: 'alerting-engine',
        replicas: 1,
        nodes: ['w3'],
        args: ['--channels-per-backend', '5'],
        runtimeArgs: alertingEngineRuntimeArgs(10),
      },
      { namespace: 'nd-abc123', runId: 'abc123' },
    );
    const c = deployment.spec!.template.spec!.containers[0]!;
    assert.deepEqual(c.command, ['node', ...SMALL_POD_V8, 'dist/workloads/alerting-engine/main.js']);
    assert.deepEqual(c.args, ['--admin', 'tcp:9090', '--channels-per-backend', '5']);
    assertValid(deployment);
    assert.deepEqual(ms.spec!.template.spec!.containers[0]!.command, ['node', 'dist/workloads/metrics-service/main.js']);
    assert.deepEqual(commandWithRuntimeArgs(['node', 'x/main.js'], ['--a', '--b']), ['node', '--a', '--b', 'x/main.js']);
    assert.throws(
      () => commandWithRuntimeArgs(['/app/run.sh'], ['--a']),
      (e: any) => e.kind === 'harness',
    );
  });

  it("a caller's own --admin is replaced (the harness reaches pods on 9090)", () => {
    const { deployment } = renderWorkload(
      { app: 'alerting-engine', replicas: 2, nodes: ['w3'], args: ['--admin', 'unix:/x.sock', '--channels-per-backend', '5'] },
      { namespace: 'nd-abc123', runId: 'abc123' },
    );
    const c = deployment.spec!.template.spec!.containers[0]!;
    assert.deepEqual(c.args, ['--admin', 'tcp:9090', '--channels-per-backend', '5']);
    assert.equal(c.image, 'notdns/workloads:dev');
    assert.equal(deployment.spec!.replicas, 2);
    assertValid(deployment);
  });

  it('the rollout patch is a valid partial Deployment: new template annotation, maxSurge=batch, grace above the stop', () => {
    const p = rolloutPatch('metrics-service', 'nd-abc123', '2025-01-01T00:00:00Z', { batch: 2, gracefulStopSeconds: 10 });
    assertValid(p);
    assert.equal(p.spec!.template.metadata!.annotations![ROLLOUT_ANNOTATION], '2025-01-01T00:00:00Z');
    assert.deepEqual(p.spec!.strategy!.rollingUpdate, { maxSurge: 2, maxUnavailable: 0 });
    assert.equal(p.spec!.template.spec!.terminationGracePeriodSeconds, terminationGraceFor(10));
    assert.ok(terminationGraceFor(10) > 10);
    assert.ok(podLabelsMatch(p.spec!.selector.matchLabels, ms.spec!.template.metadata!.labels));
  });

  it('namespace per run', () => {
    const ns = renderNamespace('abc123');
    assert.equal(ns.metadata!.name, 'nd-abc123');
    assert.equal(ns.metadata!.labels![RUN_LABEL], 'abc123');
    assertValid(ns);
  });
});

describe('kind: k6 Job and the kubeconfig node agent', () => {
  it("k6 Job mounts the script and proto where its args and PROTO_DIR say, targets the run's headless Service", () => {
    const { configMap, job } = renderK6('nd-abc123', 'abc123', { script: '// s', proto: 'syntax = "proto3";' }, { vus: 5 });
    assertValid(configMap);
    assertValid(job);
    const pod = job.spec!.template.spec!;
    const c = pod.containers[0]!;
    const env = Object.fromEntries(c.env!.map((e) => [e.name, e.value]));
    assert.equal(env.TARGET, `metrics-service.nd-abc123.svc.cluster.local:${GRPC_PORT}`);
    assert.equal(env.VUS, '5');
    const mount = c.volumeMounts!.find((m) => m.name === 'script')!;
    assert.equal(env.PROTO_DIR, mount.mountPath);
    assert.ok(c.args!.includes(`${mount.mountPath}/script.ts`));
    assert.equal(pod.volumes!.find((v) => v.name === 'script')!.configMap!.name, configMap.metadata!.name);
    assert.deepEqual(Object.keys(configMap.data!).sort(), ['metrics.proto', 'script.ts']);
    assert.equal(pod.restartPolicy, 'Never');
    assert.match(c.image!, /^grafana\/k6:/);
  });

  it("node agent: privileged, host PID and network, the node's /tmp/notdns mounted where putFile writes", () => {
    const ds = renderNodeAgent('nd-abc123', 'abc123');
    assertValid(ds);
    const spec = ds.spec!.template.spec!;
    assert.equal(spec.hostPID, true);
    assert.equal(spec.hostNetwork, true);
    assert.equal(spec.containers[0]!.securityContext!.privileged, true);
    assert.equal(spec.containers[0]!.name, 'agent');
    assert.equal(spec.volumes![0]!.hostPath!.path, AGENT_FILE_DIR);
    assert.equal(spec.containers[0]!.volumeMounts![0]!.mountPath, `/host${AGENT_FILE_DIR}`);
    assert.equal(ds.metadata!.namespace, 'nd-abc123');
  });
});
