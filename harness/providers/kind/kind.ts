// --provider kind: a throwaway kind cluster per run (nd-<runid>) with Cilium (kube-proxy replacement, native
// routing, local redirect policy, classic tc filters after the ENA simulator's) and node-local-dns, the workload
// image preloaded, bpftool and dig installed in the nodes, CoreDNS answering the workloads' names from the nodes
// that do not host the Metrics Service, workloads as Deployments.
// Nodes are the kind node containers (docker exec); pods are Kubernetes pods; rollouts are real Deployment
// rollouts. Cilium #18505 (unreachable route for a deleted pod's IP) is emulated here, because with kind's IPAM
// (ipam.mode=kubernetes) Cilium's --enable-unreachable-routes has no effect.
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, spawnLong, stopProcess } from '../../exec.js';
import { NotdnsError } from '../../errors.js';
import { log } from '../../log.js';
import { KIND_CAPABILITIES } from '../capabilities.js';
import type { ClusterNode, Provider, SweepResult, Topology, UpOptions } from '../types.js';
import type { ProbeId } from '../../probes/catalog.js';
import {
  chooseInstaller,
  ciliumCliInstallArgv,
  ciliumCliStatusArgv,
  ciliumSysdumpArgv,
  ciliumValuesYaml,
  helmInstallArgv,
  renderCiliumValues,
} from './cilium.js';
import {
  clusterName,
  clustersToSweep,
  controlPlaneName,
  kindBin,
  kindConfigYaml,
  kindContext,
  kindCreateArgv,
  kindDeleteArgv,
  kindExportLogsArgv,
  kindGetClustersArgv,
  kindLoadImageArgv,
  parseKindClusters,
  renderKindConfig,
  workerNames,
} from './config.js';
import { K8sCluster, type AdminTransport, type K8sPod } from '../k8s/cluster.js';
import { defaultDoctorDeps, doctorProblems, FIX, kindDoctor, type DoctorDeps } from './doctor.js';
import {
  COREDNS_NAME,
  COREDNS_NAMESPACE,
  corednsConfigMap,
  corednsDeploymentPatch,
  waitForRecords,
  withKubernetesTtl,
  withSyntheticNames,
} from './coredns.js';
import { ensureNodeTools } from './node-tools.js';
import { buildWorkloadImage, WORKLOAD_IMAGE } from './images.js';
import { PREFIX } from '../../names.js';
import { stateRoot as defaultStateRoot } from '../../paths.js';
import { KubeClient, loadKubeConfig } from '../k8s/client.js';
import { ADMIN_PORT, renderNamespace, runNamespace } from '../k8s/manifests.js';
import { renderRunOwner } from '../k8s/lease.js';
import { kubeDnsUpstreamService, renderLrp, renderNodeLocalDns } from './manifests.js';
import {
  dockerBin,
  dockerExecArgv,
  dockerInspectArgv,
  installNodeDebs,
  KindNode,
  NODE_FILE_DIR,
  removeUnreachableRouteArgv,
  unreachableRouteArgv,
} from './node.js';
import { echoReadyArgv, echoServerArgv, estabAgentArgv, estabStopArgv, KIND_ECHO_PORT, parseEstabLine } from './estab.js';
import {
  CILIUM_METRICS_PORT,
  ciliumCtEntries,
  ciliumStaleIpDrops,
  metricsCurlArgv,
  NODE_LOCAL_DNS_LABEL,
  NODE_LOCAL_DNS_METRICS_PORT,
  nodeLocalDnsProbes,
  podIpsByNode,
} from './node-metrics.js';
import { PodNetns } from './pod-netns.js';
import { armEnaWatchdog, leaseRenewArgv } from './ena-watchdog.js';
import type { EnaHandle } from '../../ena/index.js';

export const UNREACHABLE_EMULATION =
  "emulated: Cilium's flag has no effect with kind's IPAM — on pod deletion notdns runs " +
  '`ip route replace unreachable <old pod IP>/32` in the node container (cilium/cilium#18505 behaviour)';

/**
 * NOTDNS_KEEP_CLUSTER: what happens to a variant's kind cluster when the variant ends. none (unset, 0): deleted.
 * all (1): every cluster of the run is kept (they all keep running: memory and CPU add up). last: each kept until
 * the next variant's bring-up starts, so at most one is left at any time: the last one, or the one whose variant
 * failed (a failure ends the run) — what CI keeps for its diagnostics.
 */
export type KeepMode = 'none' | 'all' | 'last';

export function keepModeOf(value: string | undefined): KeepMode {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '' || v === '0' || v === 'false' || v === 'no') return 'none';
  if (v === '1' || v === 'true' || v === 'yes' || v === 'all') return 'all';
  if (v === 'last') return 'last';
  throw new NotdnsError(`NOTDNS_KEEP_CLUSTER=${value} is not one of 0, 1 (every cluster), last (the newest only)`, {
    kind: 'usage',
    hint: 'NOTDNS_KEEP_CLUSTER=1 keeps every cluster of the run; NOTDNS_KEEP_CLUSTER=last keeps only the newest one.',
  });
}

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
  /** Keep clusters (to look at them): see KeepMode. Env: NOTDNS_KEEP_CLUSTER=0|1|last. */
  keep?: KeepMode;
  /** .deb files of bpftool and bind9-dnsutils for the nodes (no apt-get in them). Env: NOTDNS_NODE_DEBS. */
  nodeDebs?: string;
  /** Skip the doctor preflight (tests with fake tools). */
  skipPreflight?: boolean;
  /** What the doctor preflight reads (tests). */
  doctorDeps?: DoctorDeps;
  /** The state root whose <run id> directories sweep() removes (default: harness/paths.ts stateRoot). */
  stateRoot?: string;
  /** Time budgets. */
  timeouts?: { createMs?: number; ciliumMs?: number; nodesReadyMs?: number };
}

/** helm if it runs, else the cilium CLI (NOTDNS_CILIUM_INSTALLER=helm|cilium forces one). */
export async function detectInstaller(): Promise<'helm' | 'cilium' | undefined> {
  const ok = async (cmd: string, args: string[]) =>
    (await run(cmd, args, { reject: false, timeoutMs: 10_000 }).catch(() => undefined))?.exitCode === 0;
  const [helm, cilium] = await Promise.all([ok('helm', ['version', '--short']), ok('cilium', ['version', '--client'])]);
  return chooseInstaller({ helm, cilium });
}

/** curl argv for the admin port of a pod, run inside the pod's node container (pure; tested). */
export function curlArgv(method: 'GET' | 'POST', ip: string, port: number, path: string, withBody: boolean): string[] {
  return [
    'curl',
    '-sS',
    '--max-time',
    '5',
    '-o',
    '-',
    '-w',
    '\n%{http_code}',
    ...(method === 'POST' ? ['-X', 'POST'] : []),
    ...(withBody ? ['-H', 'content-type: application/json', '--data-binary', '@-'] : []),
    `http://${ip}:${port}${path}`,
  ];
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

  constructor(
    o: ConstructorParameters<typeof K8sCluster>[0],
    readonly name: string,
    readonly topology: Topology,
    readonly kubeconfig: string,
    private readonly keep: KeepMode,
    private readonly onKept: (name: string, kubeconfig: string) => void = () => undefined,
    /** The run's state directory (kind config, kubeconfig, values): removed with the cluster, kept with it. */
    private readonly stateDir?: string,
  ) {
    super(o);
    if (topology.unreachableOnDelete) this.emulations.push(UNREACHABLE_EMULATION);
  }

  /** The TTL the kubernetes plugin was last given (kubernetesDnsRecords). */
  private dnsTtl?: number;

  /** DNS discovery: the records are the headless Service's (Kubernetes changes them with readiness); the TTL is
   *  CoreDNS's kubernetes plugin `ttl` (set here once per cluster: kind clusters are per variant), then wait until
   *  the upstream (kube-dns-upstream, from the first node) answers exactly the ready pods. */
  async kubernetesDnsRecords(r: { ttlSeconds: number; ips: readonly string[]; timeoutMs: number }): Promise<{ servedMs: number | null }> {
    if (this.dnsTtl !== r.ttlSeconds) {
      const cm = await this.client.core.readNamespacedConfigMap({ name: COREDNS_NAME, namespace: COREDNS_NAMESPACE });
      const before = cm.data?.Corefile ?? '';
      const corefile = withKubernetesTtl(before, r.ttlSeconds);
      if (corefile !== before) {
        await this.client.apply([corednsConfigMap(corefile), corednsDeploymentPatch(corefile)]);
        await this.client.waitDeploymentAvailable(COREDNS_NAMESPACE, COREDNS_NAME, 300_000);
      }
      this.dnsTtl = r.ttlSeconds;
    }
    const node = this.nodes[0]!;
    const dig = async () =>
      (
        await node.exec('dig', ['+tries=1', '+time=1', `@${this.dns.upstream}`, this.metricsServiceDnsName, 'A'], {
          reject: false,
          timeoutMs: 4000,
        })
      ).stdout;
    return { servedMs: await waitForRecords(dig, r.ips, r.timeoutMs) };
  }

  /** Node containers with an armed ENA watchdog (ena-watchdog.ts): their lease file is renewed with the run's lease. */
  private readonly enaWatched = new Set<KindNode>();

  /** The ENA simulator's dead-man switch: a watchdog in the node container, renewed in the Kubernetes lease round
   *  (started here: the ENA stage comes before the workloads). */
  async armEnaDeadMan(h: EnaHandle): Promise<() => Promise<void>> {
    // no lease round without the run's owner object (only in tests): an unrenewed watchdog would detach at once
    if (!this.runOwner) return async () => undefined;
    const node = this.nodeByName(h.node.name);
    const disarm = await armEnaWatchdog(node, h);
    this.enaWatched.add(node);
    this.startLease();
    return async () => {
      this.enaWatched.delete(node);
      await disarm();
    };
  }

  protected override renewOthers(): Promise<{ exitCode: number }>[] {
    const [cmd, ...args] = leaseRenewArgv();
    return [...this.enaWatched].map((n) => n.exec(cmd!, args, { timeoutMs: 5_000, reject: false }));
  }

  /** A node container by name, also the control plane (not in `nodes`). */
  nodeByName(name: string): KindNode {
    return (this.nodes.find((n) => n.name === name) as KindNode | undefined) ?? new KindNode(name, '');
  }

  /** node → pod IP of its node-local-dns pod (listed again when a node is missing or its read failed). */
  private nldIps = new Map<string, string>();

  private async nodeLocalDnsIp(node: string): Promise<string> {
    let ip = this.nldIps.get(node);
    if (!ip) {
      this.nldIps = podIpsByNode((await this.client.listPods('kube-system', NODE_LOCAL_DNS_LABEL)).pods);
      ip = this.nldIps.get(node);
    }
    if (!ip)
      throw new NotdnsError(`no running node-local-dns pod on node ${node} (kube-system, ${NODE_LOCAL_DNS_LABEL})`, { kind: 'harness' });
    return ip;
  }

  /** Cilium's drops of packets to stale pod IPs and its conntrack map size, node-local-dns's failed upstream health
   *  checks (node-metrics.ts). */
  async extraNodeProbes(node: ClusterNode): Promise<Partial<Record<ProbeId, number>>> {
    const n = this.nodeByName(node.name);
    const [curl, ...args] = metricsCurlArgv('127.0.0.1', CILIUM_METRICS_PORT);
    const cilium = (await n.exec(curl!, args, { timeoutMs: 5_000 })).stdout;
    const out: Partial<Record<ProbeId, number>> = {
      'cilium.staleIpDrops': ciliumStaleIpDrops(cilium),
      'cilium.ctEntries': ciliumCtEntries(cilium),
    };
    if (this.topology.nodeLocalDns) {
      const ip = await this.nodeLocalDnsIp(node.name);
      const [c, ...a] = metricsCurlArgv(ip, NODE_LOCAL_DNS_METRICS_PORT);
      try {
        Object.assign(out, nodeLocalDnsProbes((await n.exec(c!, a, { timeoutMs: 5_000 })).stdout));
      } catch (e) {
        this.nldIps.delete(node.name); // the pod may have been replaced: list again next time
        throw e;
      }
    }
    return out;
  }

  /** The estab agents' echo in the control-plane container (estab.ts): its address, once it accepts connections. */
  private echoHost?: Promise<string>;

  private startEcho(maxSeconds: number): Promise<string> {
    this.echoHost ??= (async () => {
      const cp = this.nodeByName(controlPlaneName(this.name));
      const ip = (
        await run(dockerBin(), dockerInspectArgv(cp.container, '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}'))
      ).stdout.trim();
      if (!ip) throw new NotdnsError(`no address of the control-plane container ${cp.container}`, { kind: 'harness' });
      await cp.exec('mkdir', ['-p', NODE_FILE_DIR]);
      await run(dockerBin(), ['exec', '-d', cp.container, ...echoServerArgv(`${NODE_FILE_DIR}/echo.pid`, KIND_ECHO_PORT, maxSeconds)]);
      const ready = echoReadyArgv(KIND_ECHO_PORT);
      await cp.exec(ready[0]!, ready.slice(1), { timeoutMs: 15_000 });
      return ip;
    })();
    return this.echoHost;
  }

  /** The established-connection probe on kind: the bash agent in the node container (the node's netns), holding one
   *  connection to the echo in the control-plane container across the node's eth0 (estab.ts). */
  async startEstabAgent(node: ClusterNode, maxSeconds: number, onUpdate: (v: { ok: number; failed: number }) => void) {
    const host = await this.startEcho(maxSeconds + 60);
    const n = this.nodeByName(node.name);
    const pidfile = `${NODE_FILE_DIR}/estab.pid`;
    await n.exec('mkdir', ['-p', NODE_FILE_DIR]);
    const argv = estabAgentArgv({ host, port: KIND_ECHO_PORT, maxSeconds, pidfile });
    const p = spawnLong(dockerBin(), dockerExecArgv(n.container, argv[0]!, argv.slice(1)), {
      onLine: (l) => {
        const x = parseEstabLine(l);
        if (x) onUpdate(x);
      },
    });
    return async () => {
      const stop = estabStopArgv(pidfile);
      await n.exec(stop[0]!, stop.slice(1), { reject: false, timeoutMs: 10_000 }).catch(() => undefined);
      await stopProcess(p, 2000);
    };
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
      timeoutMs: 600_000,
      reject: false,
      env: { ...(process.env as Record<string, string>), KUBECONFIG: this.kubeconfig },
    }).catch(() => undefined);
    return r?.exitCode === 0;
  }

  protected async teardown(): Promise<void> {
    if (this.keep !== 'none') {
      this.onKept(this.name, this.kubeconfig);
      return;
    }
    await run(kindBin(), kindDeleteArgv(this.name, this.kubeconfig), { timeoutMs: 180_000 });
    if (this.stateDir) await rm(this.stateDir, { recursive: true, force: true });
  }
}

export class KindProvider implements Provider {
  readonly name = 'kind' as const;
  readonly capabilities = KIND_CAPABILITIES;

  /** Clusters kept by this provider (NOTDNS_KEEP_CLUSTER), oldest first. */
  readonly kept: string[] = [];

  /**
   * What kind nodes cannot be, refused before anything is created. The tools (docker, kind, helm or cilium, clang)
   * are checked at the start of up(), where the installer is also chosen.
   */
  async preflight(topologies: readonly Topology[] = []): Promise<void> {
    keepModeOf(this.opts.keep ?? process.env.NOTDNS_KEEP_CLUSTER); // a bad value is bad input, refused now
    const eni = topologies.find((t) => t.eniHasAddress);
    if (eni) {
      throw new NotdnsError(
        "topology.eniHasAddress cannot be honoured on kind: a kind node has one interface, eth0, with an address; the lab's address-less secondary ENI (ens6) and the switch that gives it one do not exist there.",
        {
          kind: 'usage',
          hint: 'Run this experiment on --provider lab.',
        },
      );
    }
  }

  constructor(readonly opts: KindProviderOptions = {}) {}

  /** Where runs keep their state (<stateRoot>/<run id>, the runner's convention). */
  private get stateRoot(): string {
    return this.opts.stateRoot ?? defaultStateRoot;
  }

  keepMode(): KeepMode {
    return this.opts.keep ?? keepModeOf(process.env.NOTDNS_KEEP_CLUSTER);
  }

  private noteKept(name: string, kubeconfig?: string): void {
    if (!this.kept.includes(name)) this.kept.push(name);
    log.warn(
      { cluster: name, kubeconfig, keep: this.keepMode() },
      `keeping kind cluster ${name} (NOTDNS_KEEP_CLUSTER=${this.keepMode() === 'last' ? 'last: until the next variant starts' : '1'}); \`kind delete cluster --name ${name}\` or \`notdns down --all\` removes it`,
    );
  }

  /** NOTDNS_KEEP_CLUSTER=last: the cluster kept from an earlier variant goes before a new one is created. */
  private async dropKeptBefore(name: string): Promise<void> {
    if (this.keepMode() !== 'last') return;
    for (const c of this.kept.splice(0).filter((c) => c !== name)) {
      log.info({ cluster: c }, 'deleting the kind cluster kept from the previous variant (NOTDNS_KEEP_CLUSTER=last)');
      await run(kindBin(), kindDeleteArgv(c), { timeoutMs: 180_000, reject: false });
    }
  }

  /** bpftool and dig in the node containers (apt-get in the nodes, or NOTDNS_NODE_DEBS offline). */
  async installNodeTools(containers: readonly string[], signal?: AbortSignal) {
    return ensureNodeTools(
      containers,
      {
        docker: (args, o) => run(dockerBin(), args, { ...o }),
        listDir: (d) => readdir(d),
        installDebs: (c, dir) => installNodeDebs(new KindNode(c, ''), dir),
      },
      { debsDir: this.opts.nodeDebs ?? (process.env.NOTDNS_NODE_DEBS || undefined), signal },
    );
  }

  /** kind's CoreDNS answers the workloads' names and runs off the Metrics Service nodes (see coredns.ts). */
  async configureCoreDns(client: KubeClient, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const cm = await client.core.readNamespacedConfigMap({ name: COREDNS_NAME, namespace: COREDNS_NAMESPACE });
    const corefile = withSyntheticNames(cm.data?.Corefile ?? '');
    await client.apply([corednsConfigMap(corefile), corednsDeploymentPatch(corefile)]);
    await client.waitDeploymentAvailable(COREDNS_NAMESPACE, COREDNS_NAME, timeoutMs, signal);
  }

  async up(topology: Topology, runId: string, up: UpOptions): Promise<KindCluster> {
    const progress = (l: string) => {
      log.info(l);
      up.onProgress?.(l);
    };
    const name = clusterName(runId);
    const t = { createMs: 600_000, ciliumMs: 900_000, nodesReadyMs: 300_000, ...this.opts.timeouts };
    await mkdir(up.stateDir, { recursive: true });

    // what the doctor calls required must be there before we create anything
    const checks = this.opts.skipPreflight ? [] : await kindDoctor(this.opts.doctorDeps ?? defaultDoctorDeps, { checkRegistries: false });
    const problems = doctorProblems(checks);
    if (problems.length) {
      throw new NotdnsError(`this machine cannot run --provider kind:\n  - ${problems.join('\n  - ')}`, {
        kind: 'environment',
        phase: 'up',
        hint: 'Run `notdns doctor --provider kind`; --provider lab needs none of these.',
      });
    }
    const installer = await detectInstaller();
    if (!installer) {
      throw new NotdnsError('neither helm nor the cilium CLI can be run: Cilium cannot be installed', {
        kind: 'environment',
        phase: 'up',
        hint: FIX.helmOrCilium,
      });
    }

    const image = this.opts.image ?? WORKLOAD_IMAGE;
    if (this.opts.buildImage ?? process.env.NOTDNS_KIND_BUILD_IMAGE !== '0') {
      progress(`building the workload image ${image}`);
      const stageDir = join(up.stateDir, 'image-context');
      try {
        await buildWorkloadImage({ stageDir, tag: image, base: this.opts.imageBase, signal: up.signal });
      } finally {
        await rm(stageDir, { recursive: true, force: true });
      }
    }

    const cfgFile = join(up.stateDir, 'kind-config.yaml');
    const kubeconfig = join(up.stateDir, 'kubeconfig');
    const nodeImage = this.opts.nodeImage ?? process.env.NOTDNS_KIND_NODE_IMAGE;
    await writeFile(cfgFile, kindConfigYaml(renderKindConfig(topology, runId, { nodeImage })));
    await this.dropKeptBefore(name);
    progress(`creating kind cluster ${name} (1 control plane + ${topology.nodes} workers)`);
    const created = run(kindBin(), kindCreateArgv(name, cfgFile, kubeconfig), { timeoutMs: t.createMs, signal: up.signal });
    const keep = this.keepMode();
    const fail = async (e: unknown): Promise<never> => {
      if (keep === 'none')
        await run(kindBin(), kindDeleteArgv(name, kubeconfig), { timeoutMs: 180_000, reject: false }).catch(() => undefined);
      else this.noteKept(name, kubeconfig);
      throw e;
    };
    try {
      await created;
      const preload = [image, ...(this.opts.preload ?? process.env.NOTDNS_KIND_PRELOAD?.split(',').filter(Boolean) ?? [])];
      for (const img of preload) {
        progress(`kind load docker-image ${img}`);
        await run(kindBin(), kindLoadImageArgv(name, img), { timeoutMs: 600_000, signal: up.signal });
      }
      const workers = workerNames(name, topology.nodes);
      const tools = await this.installNodeTools(workers, up.signal);
      progress(`bpftool and dig in the nodes: ${tools.map((x) => `${x.container} ${x.how}`).join(', ')}`);

      const valuesFile = join(up.stateDir, 'cilium-values.yaml');
      await writeFile(valuesFile, ciliumValuesYaml(renderCiliumValues(name)));
      const target = { kubeconfig, context: kindContext(name), valuesFile };
      const env = { ...(process.env as Record<string, string>), KUBECONFIG: kubeconfig };
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
      await this.configureCoreDns(client, 300_000, up.signal);
      progress('CoreDNS answers q<n>/check<n>.default.svc.cluster.local and runs off the Metrics Service nodes');

      const kubeDns = await client.serviceClusterIP('kube-system', 'kube-dns');
      let upstream = kubeDns;
      if (topology.nodeLocalDns) {
        await client.apply([kubeDnsUpstreamService()]);
        upstream = await client.serviceClusterIP('kube-system', 'kube-dns-upstream');
        await client.apply(renderNodeLocalDns({ kubeDns, upstream, limits: topology.nodeLocalDnsLimits }));
        await client.waitDaemonSetReady('kube-system', 'node-local-dns', 300_000, up.signal);
        await client.apply(renderLrp());
        progress(`node-local-dns ready behind a CiliumLocalRedirectPolicy for kube-dns ${kubeDns} (upstream ${upstream}, force_tcp)`);
      }
      const namespace = runNamespace(runId);
      await client.apply([renderNamespace(runId)]);
      // the dead-man lease's owner object (k8s/lease.ts): every workload becomes its dependent
      const runOwner = await client.createConfigMap(renderRunOwner(namespace, runId));

      const nodes = await Promise.all(
        workers.map(async (n) => {
          const ip =
            (await run(dockerBin(), dockerInspectArgv(n, '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}'))).stdout
              .trim()
              .split(/\s+/)[0] ?? '';
          const node = new KindNode(n, ip);
          await node.resolvePid();
          // like the lab's nodes: martians are logged (the probes count them)
          await node.exec('sysctl', ['-qw', 'net.ipv4.conf.all.log_martians=1', 'net.ipv4.conf.default.log_martians=1'], { reject: false });
          return node;
        }),
      );
      const transport: AdminTransport = {
        async request(pod, method, path, body) {
          const node = nodes.find((x) => x.name === pod.node) ?? new KindNode(pod.node, '');
          const [cmd, ...args] = curlArgv(method, pod.ip, ADMIN_PORT, path, body !== undefined);
          const r = await node.exec(cmd!, args, {
            input: body === undefined ? undefined : JSON.stringify(body),
            reject: false,
            timeoutMs: 10_000,
          });
          if (r.exitCode !== 0)
            throw new NotdnsError(
              `${method} ${path} on pod ${pod.name} (${pod.ip}) from node ${pod.node}: curl exit ${r.exitCode}: ${r.stderr.trim()}`,
              { kind: 'harness' },
            );
          return parseCurlOutput(r.stdout);
        },
      };
      const podNetns = new PodNetns((n) => nodes.find((x) => x.name === n) ?? new KindNode(n, ''));
      progress(`kind cluster ${name} ready: ${nodes.map((n) => `${n.name} ${n.ip}`).join(', ')}`);
      return new KindCluster(
        {
          provider: 'kind',
          capabilities: KIND_CAPABILITIES,
          podCidr: KIND_POD_CIDR,
          runId,
          namespace,
          client,
          nodes,
          dns: { upstream, nodeLocal: kubeDns },
          transport,
          podProcNet: (pod, file) => podNetns.readProcNet(pod, file),
          image,
          runOwner,
        },
        name,
        topology,
        kubeconfig,
        keep,
        (n, k) => this.noteKept(n, k),
        up.stateDir,
      );
    } catch (e) {
      return fail(e);
    }
  }

  /**
   * Delete kind clusters of one run, or every nd-* cluster (`notdns down --all`, which also removes kept ones).
   * With NOTDNS_KEEP_CLUSTER set, the sweep of one run (the runner's, after each variant) keeps that run's cluster
   * and says so. Returns what was removed.
   */
  async sweep(runId?: string): Promise<SweepResult> {
    if (runId !== undefined && this.keepMode() !== 'none') {
      const name = clusterName(runId);
      log.info(
        { cluster: name },
        `sweep of run ${runId}: kind cluster ${name} kept (NOTDNS_KEEP_CLUSTER=${process.env.NOTDNS_KEEP_CLUSTER ?? this.keepMode()})`,
      );
      return { removed: [], live: [] };
    }
    const r = await run(kindBin(), kindGetClustersArgv(), { reject: false });
    if (r.exitCode !== 0) {
      if (/not installed|ENOENT/i.test(r.stderr) || r.exitCode === -1) return { removed: [], live: [] };
      throw new NotdnsError(`kind get clusters failed: ${r.stderr.trim()}`, { kind: 'command', command: r.command });
    }
    const removed: string[] = [];
    for (const c of clustersToSweep(parseKindClusters(r.stdout), runId)) {
      await run(kindBin(), kindDeleteArgv(c), { timeoutMs: 180_000 });
      removed.push(`kind cluster ${c}`);
      await rm(join(this.stateRoot, c.slice(PREFIX.length)), { recursive: true, force: true });
    }
    // the run's state (kind config, kubeconfig, values), also when its bring-up failed before a cluster existed
    if (runId !== undefined) await rm(join(this.stateRoot, runId), { recursive: true, force: true });
    return { removed, live: [] };
  }
}

export function createKindProvider(opts: KindProviderOptions = {}): KindProvider {
  return new KindProvider(opts);
}
