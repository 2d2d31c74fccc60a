// --provider kind: a throwaway kind cluster per run (nd-<runid>) with Cilium (kube-proxy replacement, native
// routing, local redirect policy) and node-local-dns, the workload image preloaded, workloads as Deployments.
// Nodes are the kind node containers (docker exec); pods are Kubernetes pods; rollouts are real Deployment
// rollouts. Cilium #18505 (unreachable route for a deleted pod's IP) is emulated here, because with kind's IPAM
// (ipam.mode=kubernetes) Cilium's --enable-unreachable-routes has no effect.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../exec.js';
import { NotdnsError } from '../../errors.js';
import { log } from '../../log.js';
import { KIND_CAPABILITIES } from '../capabilities.js';
import type { Provider, SweepResult, Topology, UpOptions } from '../types.js';
import { chooseInstaller, ciliumCliInstallArgv, ciliumCliStatusArgv, ciliumSysdumpArgv, ciliumValuesYaml, helmInstallArgv, renderCiliumValues } from './cilium.js';
import {
  clusterName, clustersToSweep, kindBin, kindConfigYaml, kindContext, kindCreateArgv, kindDeleteArgv, kindExportLogsArgv,
  kindGetClustersArgv, kindLoadImageArgv, parseKindClusters, renderKindConfig, workerNames,
} from './config.js';
import { K8sCluster, type AdminTransport, type K8sPod } from '../k8s/cluster.js';
import { doctorProblems, FIX, kindDoctor } from './doctor.js';
import { buildWorkloadImage, WORKLOAD_IMAGE } from './images.js';
import { KubeClient, loadKubeConfig } from '../k8s/client.js';
import { ADMIN_PORT, renderNamespace, runNamespace } from '../k8s/manifests.js';
import { kubeDnsUpstreamService, renderLrp, renderNodeLocalDns } from './manifests.js';
import { dockerBin, dockerInspectArgv, KindNode, removeUnreachableRouteArgv, unreachableRouteArgv } from './node.js';

export const UNREACHABLE_EMULATION = "emulated: Cilium's flag has no effect with kind's IPAM — on pod deletion notdns runs "
  + '`ip route replace unreachable <old pod IP>/32` in the node container (cilium/cilium#18505 behaviour)';

export interface KindProviderOptions {
  /** Workload image to load (default notdns/workloads:dev, built from workloads/Dockerfile unless buildImage=false
   * or NOTDNS_KIND_BUILD_IMAGE=0, e.g. when CI built it in an earlier step). */
  image?: string;
  buildImage?: boolean;
  /** Base image for the workload image (default node:20-bookworm-slim; offline: notdns/node-base:bookworm). */
  imageBase?: string;
  /** kindest/node image (default: kind's own default). Env: NOTDNS_KIND_NODE_IMAGE. */
  nodeImage?: string;
  /** More images to `kind load` (Cilium, node-cache, k6) when nodes cannot pull. Env: NOTDNS_KIND_PRELOAD=a,b. */
  preload?: string[];
  /** Keep the cluster when bring-up fails (to look at it). Env: NOTDNS_KEEP_CLUSTER=1. */
  keepOnFailure?: boolean;
  /** Skip the doctor preflight (tests with fake tools). */
  skipPreflight?: boolean;
  /** Time budgets. */
  timeouts?: { createMs?: number; ciliumMs?: number; nodesReadyMs?: number };
}

/** helm if it runs, else the cilium CLI (NOTDNS_CILIUM_INSTALLER=helm|cilium forces one). */
export async function detectInstaller(): Promise<'helm' | 'cilium' | undefined> {
  const ok = async (cmd: string, args: string[]) => (await run(cmd, args, { reject: false, timeoutMs: 10_000 }).catch(() => undefined))?.exitCode === 0;
  const [helm, cilium] = await Promise.all([ok('helm', ['version', '--short']), ok('cilium', ['version', '--client'])]);
  return chooseInstaller({ helm, cilium });
}

/** curl argv for the admin port of a pod, run inside the pod's node container (pure; tested). */
export function curlArgv(method: 'GET' | 'POST', ip: string, port: number, path: string, withBody: boolean): string[] {
  return ['curl', '-sS', '--max-time', '5', '-o', '-', '-w', '\n%{http_code}',
    ...(method === 'POST' ? ['-X', 'POST'] : []),
    ...(withBody ? ['-H', 'content-type: application/json', '--data-binary', '@-'] : []),
    `http://${ip}:${port}${path}`];
}

/** Split curl's output (body, then the status code on the last line, from -w). */
export function parseCurlOutput(stdout: string): { status: number; body: string } {
  const i = stdout.lastIndexOf('\n');
  const code = Number(stdout.slice(i + 1).trim());
  return { status: Number.isFinite(code) ? code : 0, body: i < 0 ? '' : stdout.slice(0, i) };
}

/** kind's pod network (manifests/kind/cluster.yaml networking.podSubnet; Cilium's native routing CIDR). */
export const KIND_POD_CIDR = '10.244.0.0/16';

export class KindCluster extends K8sCluster {
  /** old pod IP → node where the emulated unreachable route was installed */
  private readonly unreachable = new Map<string, string>();

  constructor(o: ConstructorParameters<typeof K8sCluster>[0], readonly name: string, readonly topology: Topology,
    readonly kubeconfig: string, private readonly keep: boolean) {
    super(o);
    if (topology.unreachableOnDelete) this.emulations.push(UNREACHABLE_EMULATION);
  }

  /** A node container by name, also the control plane (not in `nodes`). */
  nodeByName(name: string): KindNode {
    return (this.nodes.find((n) => n.name === name) as KindNode | undefined) ?? new KindNode(name, '');
  }

  protected override async afterPodDeleted(pod: K8sPod): Promise<void> {
    if (!this.topology.unreachableOnDelete || !pod.ip || !pod.node) return;
    await this.nodeByName(pod.node).exec('ip', unreachableRouteArgv(pod.ip));
    this.unreachable.set(pod.ip, pod.node);
    log.info({ node: pod.node, ip: pod.ip }, UNREACHABLE_EMULATION);
  }

  protected override async afterPodReady(pod: K8sPod): Promise<void> {
    // Cilium replaces the /32 when it reuses an IP for a new endpoint; so does the emulation
    const node = this.unreachable.get(pod.ip);
    if (node === undefined) return;
    await this.nodeByName(node).exec('ip', removeUnreachableRouteArgv(pod.ip), { reject: false });
    this.unreachable.delete(pod.ip);
  }

  /** `kind export logs` (node journals, kubelet, containerd, pod logs) into dir. */
  async exportLogs(dir: string): Promise<void> {
    await run(kindBin(), kindExportLogsArgv(this.name, dir), { timeoutMs: 300_000, reject: false });
  }

  /** `cilium sysdump` when the cilium CLI is there (CI uploads it on failure). */
  async sysdump(outputFile: string): Promise<boolean> {
    const r = await run('cilium', ciliumSysdumpArgv(kindContext(this.name), outputFile), {
      timeoutMs: 600_000, reject: false, env: { ...process.env as Record<string, string>, KUBECONFIG: this.kubeconfig },
    }).catch(() => undefined);
    return r?.exitCode === 0;
  }

  protected async teardown(): Promise<void> {
    if (this.keep) {
      log.warn({ cluster: this.name, kubeconfig: this.kubeconfig }, 'keeping the kind cluster (NOTDNS_KEEP_CLUSTER=1): `notdns down --all` removes it');
      return;
    }
    await run(kindBin(), kindDeleteArgv(this.name, this.kubeconfig), { timeoutMs: 180_000 });
  }
}

export class KindProvider implements Provider {
  readonly name = 'kind' as const;
  readonly capabilities = KIND_CAPABILITIES;

  /** kind's own checks (docker, kind, helm or cilium) run at the start of up(), where they also find the installer. */
  async preflight(): Promise<void> {}

  constructor(readonly opts: KindProviderOptions = {}) {}

  private keep(): boolean {
    return this.opts.keepOnFailure ?? process.env.NOTDNS_KEEP_CLUSTER === '1';
  }

  async up(topology: Topology, runId: string, up: UpOptions): Promise<KindCluster> {
    const progress = (l: string) => { log.info(l); up.onProgress?.(l); };
    const name = clusterName(runId);
    const t = { createMs: 600_000, ciliumMs: 900_000, nodesReadyMs: 300_000, ...this.opts.timeouts };
    await mkdir(up.stateDir, { recursive: true });

    // what the doctor calls required must be there before we create anything
    const checks = this.opts.skipPreflight ? [] : await kindDoctor(undefined, { checkRegistries: false });
    const problems = doctorProblems(checks);
    if (problems.length) {
      throw new NotdnsError(`this machine cannot run --provider kind:\n  - ${problems.join('\n  - ')}`, {
        kind: 'environment', phase: 'up', hint: 'Run `notdns doctor --provider kind`; --provider lab needs none of these.',
      });
    }
    const installer = await detectInstaller();
    if (!installer) {
      throw new NotdnsError('neither helm nor the cilium CLI can be run: Cilium cannot be installed', { kind: 'environment', phase: 'up', hint: FIX.helmOrCilium });
    }

    const image = this.opts.image ?? WORKLOAD_IMAGE;
    if (this.opts.buildImage ?? process.env.NOTDNS_KIND_BUILD_IMAGE !== '0') {
      progress(`building the workload image ${image}`);
      await buildWorkloadImage({ stageDir: join(up.stateDir, 'image-context'), tag: image, base: this.opts.imageBase, signal: up.signal });
    }

    const cfgFile = join(up.stateDir, 'kind-config.yaml');
    const kubeconfig = join(up.stateDir, 'kubeconfig');
    const nodeImage = this.opts.nodeImage ?? process.env.NOTDNS_KIND_NODE_IMAGE;
    await writeFile(cfgFile, kindConfigYaml(renderKindConfig(topology, runId, { nodeImage })));
    progress(`creating kind cluster ${name} (1 control plane + ${topology.nodes} workers)`);
    const created = run(kindBin(), kindCreateArgv(name, cfgFile, kubeconfig), { timeoutMs: t.createMs, signal: up.signal });
    const fail = async (e: unknown): Promise<never> => {
      if (!this.keep()) await run(kindBin(), kindDeleteArgv(name, kubeconfig), { timeoutMs: 180_000, reject: false }).catch(() => undefined);
      throw e;
    };
    try {
      await created;
      const preload = [image, ...(this.opts.preload ?? (process.env.NOTDNS_KIND_PRELOAD?.split(',').filter(Boolean) ?? []))];
      for (const img of preload) {
        progress(`kind load docker-image ${img}`);
        await run(kindBin(), kindLoadImageArgv(name, img), { timeoutMs: 600_000, signal: up.signal });
      }

      const valuesFile = join(up.stateDir, 'cilium-values.yaml');
      await writeFile(valuesFile, ciliumValuesYaml(renderCiliumValues(name)));
      const target = { kubeconfig, context: kindContext(name), valuesFile };
      const env = { ...process.env as Record<string, string>, KUBECONFIG: kubeconfig };
      progress(`installing Cilium with ${installer}`);
      if (installer === 'helm') {
        await run('helm', helmInstallArgv(target), { timeoutMs: t.ciliumMs, signal: up.signal, env });
      } else {
        await run('cilium', ciliumCliInstallArgv(target), { timeoutMs: t.ciliumMs, signal: up.signal, env });
        await run('cilium', ciliumCliStatusArgv(target.context), { timeoutMs: t.ciliumMs, signal: up.signal, env });
      }

      const client = new KubeClient(loadKubeConfig({ kubeconfig, context: kindContext(name) }));
      await client.waitNodesReady(topology.nodes + 1, t.nodesReadyMs, up.signal);
      progress('nodes Ready (Cilium runs)');

      const kubeDns = await client.serviceClusterIP('kube-system', 'kube-dns');
      let upstream = kubeDns;
      if (topology.nodeLocalDns) {
        await client.apply([kubeDnsUpstreamService()]);
        upstream = await client.serviceClusterIP('kube-system', 'kube-dns-upstream');
        await client.apply(renderNodeLocalDns({ kubeDns, upstream }));
        await client.waitDaemonSetReady('kube-system', 'node-local-dns', 300_000, up.signal);
        await client.apply(renderLrp());
        progress(`node-local-dns ready behind a CiliumLocalRedirectPolicy for kube-dns ${kubeDns} (upstream ${upstream}, force_tcp)`);
      }
      const namespace = runNamespace(runId);
      await client.apply([renderNamespace(runId)]);

      const nodes = await Promise.all(workerNames(name, topology.nodes).map(async (n) => {
        const ip = (await run(dockerBin(), dockerInspectArgv(n, '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}'))).stdout.trim().split(/\s+/)[0] ?? '';
        const node = new KindNode(n, ip);
        await node.resolvePid();
        // like the lab's nodes: martians are logged (the probes count them)
        await node.exec('sysctl', ['-qw', 'net.ipv4.conf.all.log_martians=1', 'net.ipv4.conf.default.log_martians=1'], { reject: false });
        return node;
      }));
      const transport: AdminTransport = {
        async request(pod, method, path, body) {
          const node = nodes.find((x) => x.name === pod.node) ?? new KindNode(pod.node, '');
          const [cmd, ...args] = curlArgv(method, pod.ip, ADMIN_PORT, path, body !== undefined);
          const r = await node.exec(cmd!, args, { input: body === undefined ? undefined : JSON.stringify(body), reject: false, timeoutMs: 10_000 });
          if (r.exitCode !== 0) throw new NotdnsError(`${method} ${path} on pod ${pod.name} (${pod.ip}) from node ${pod.node}: curl exit ${r.exitCode}: ${r.stderr.trim()}`, { kind: 'harness' });
          return parseCurlOutput(r.stdout);
        },
      };
      progress(`kind cluster ${name} ready: ${nodes.map((n) => `${n.name} ${n.ip}`).join(', ')}`);
      return new KindCluster({
        provider: 'kind', capabilities: KIND_CAPABILITIES, podCidr: KIND_POD_CIDR, runId, namespace, client, nodes, dns: { upstream, nodeLocal: kubeDns }, transport, image,
      }, name, topology, kubeconfig, this.keep());
    } catch (e) {
      return fail(e);
    }
  }

  /** Delete kind clusters of one run, or every nd-* cluster. Returns what was removed. */
  async sweep(runId?: string): Promise<SweepResult> {
    const r = await run(kindBin(), kindGetClustersArgv(), { reject: false });
    if (r.exitCode !== 0) {
      if (/not installed|ENOENT/i.test(r.stderr) || r.exitCode === -1) return { removed: [], live: [] };
      throw new NotdnsError(`kind get clusters failed: ${r.stderr.trim()}`, { kind: 'command', command: r.command });
    }
    const removed: string[] = [];
    for (const c of clustersToSweep(parseKindClusters(r.stdout), runId)) {
      await run(kindBin(), kindDeleteArgv(c), { timeoutMs: 180_000 });
      removed.push(`kind cluster ${c}`);
    }
    return { removed, live: [] };
  }
}

export function createKindProvider(opts: KindProviderOptions = {}): KindProvider {
  return new KindProvider(opts);
}
