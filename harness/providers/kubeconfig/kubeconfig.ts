// --provider kubeconfig: an existing cluster (e.g. EKS with Cilium in ENI mode), opt-in only. Nodes are reached
// through a privileged hostPID DaemonSet (manifests/ena-sim/daemonset.yaml): ClusterNode.exec runs
// `nsenter -t 1 -m -u -i -n -p -- CMD` in the node's agent pod, so tc/ip/ethtool/nstat run on the node itself.
// Pods' admin ports are reached through the API server's pod proxy. The real ENA counters come from
// `ethtool -S <iface>` on the node (readNodeEnaCounters: every ENA interface in one exec, summed); harness/ena-install.ts
// reads them for the recorder, and attaches the ENA simulator only with --ena-simulator count|enforce.
// Everything the run creates lives in namespace nd-<runid>.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { RunOptions, RunResult } from '../../exec.js';
import { NotdnsError } from '../../errors.js';
import { log } from '../../log.js';
import { KUBECONFIG_CAPABILITIES } from '../capabilities.js';
import type { ClusterNode, Provider, SweepResult, Topology, UpOptions } from '../types.js';
import { K8sCluster, type AdminTransport } from '../k8s/cluster.js';
import { KubeClient, loadKubeConfig } from '../k8s/client.js';
import { ADMIN_PORT, RUN_LABEL, renderNamespace, runNamespace } from '../k8s/manifests.js';
import { renderNodeAgent } from './manifests.js';
import { AGENT_RENEW_ARGV, deadlineFor, type LeaseTarget, renderRunOwner } from '../k8s/lease.js';
import { waitFor } from '../../wait.js';
import {
  enaCounters,
  LIST_ENA_INTERFACES,
  parseEthtoolSections,
  parseEthtoolStats,
  READ_ENA_SCRIPT,
  sumEnaCounters,
  type EnaCounters,
  type NodeEnaCounters,
  type RealEnaNode,
} from './ethtool.js';
import { checkContextName, validateKubeconfigOptions, type EnaSimulatorMode, type KubeconfigProviderOptions } from './options.js';

export const AGENT_CONTAINER = 'agent';
export const AGENT_FILE_DIR = '/tmp/notdns';

/** argv run in the agent container for a command on the node (pure; tested). */
export function nodeCommandArgv(cmd: string, args: readonly string[]): string[] {
  return ['nsenter', '-t', '1', '-m', '-u', '-i', '-n', '-p', '--', cmd, ...args];
}

export class AgentNode implements ClusterNode, RealEnaNode {
  constructor(
    readonly name: string,
    readonly ip: string,
    readonly uplinks: readonly string[],
    private readonly client: KubeClient,
    private readonly namespace: string,
    readonly agentPod: string,
  ) {}

  async exec(cmd: string, args: readonly string[], opts: Omit<RunOptions, 'ns'> = {}): Promise<RunResult> {
    const envArgs = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`);
    const argv = envArgs.length ? nodeCommandArgv('env', [...envArgs, cmd, ...args]) : nodeCommandArgv(cmd, args);
    const r = await this.client.exec(this.namespace, this.agentPod, AGENT_CONTAINER, argv, {
      input: opts.input,
      timeoutMs: opts.timeoutMs,
    });
    if (r.failed && (opts.reject ?? true)) {
      throw new NotdnsError(
        `command on node ${this.name} exited with code ${r.exitCode}: ${r.stderr.trim().split('\n').slice(-3).join(' | ') || '(no stderr)'}`,
        {
          kind: 'command',
          command: `${cmd} ${args.join(' ')} (node ${this.name})`,
        },
      );
    }
    return r;
  }

  async readProcNet(file: string): Promise<string> {
    return (await this.exec('cat', [`/proc/net/${file}`])).stdout;
  }

  async putFile(localPath: string): Promise<string> {
    const data = await readFile(localPath);
    const name = basename(localPath);
    // the agent mounts the node's /tmp/notdns at /host/tmp/notdns: write there without nsenter
    const r = await this.client.exec(
      this.namespace,
      this.agentPod,
      AGENT_CONTAINER,
      ['sh', '-c', `mkdir -p /host${AGENT_FILE_DIR} && cat > "/host${AGENT_FILE_DIR}/$1"`, 'put', name],
      { input: data, timeoutMs: 60_000 },
    );
    if (r.failed) throw new NotdnsError(`copying ${localPath} to node ${this.name} failed: ${r.stderr}`, { kind: 'command' });
    return `${AGENT_FILE_DIR}/${name}`;
  }

  /** The real ENA allowance counters of one of the node's interfaces (`ethtool -S`). */
  async readEnaCounters(iface: string): Promise<EnaCounters> {
    const r = await this.exec('ethtool', ['-S', iface]);
    const c = enaCounters(parseEthtoolStats(r.stdout));
    if (!c)
      throw new NotdnsError(`${iface} on node ${this.name} has no conntrack_allowance_exceeded counter (not an ENA interface?)`, {
        kind: 'environment',
      });
    return c;
  }

  /** The real ENA allowance counters of the node: `ethtool -S` of every uplink in ONE exec, summed (sumEnaCounters). */
  async readNodeEnaCounters(): Promise<NodeEnaCounters> {
    const r = await this.exec('sh', ['-c', READ_ENA_SCRIPT, 'sh', ...this.uplinks], { reject: false, timeoutMs: 15_000 });
    const sections = parseEthtoolSections(r.stdout);
    if (sections.length !== this.uplinks.length) {
      throw new NotdnsError(
        `reading the ENA counters of node ${this.name} failed (exit ${r.exitCode}): ${r.stderr.trim().split('\n').slice(-2).join(' | ') || 'no output'}`,
        { kind: 'command', command: `ethtool -S ${this.uplinks.join(' ')} (node ${this.name})` },
      );
    }
    return sumEnaCounters(this.name, sections);
  }
}

/** The pod network of an existing cluster: --pod-cidr / NOTDNS_POD_CIDR, else the nodes' podCIDRs when they all
 *  lie in one /16 (kubenet-style IPAM). ENI IPAM (EKS) puts pods in the VPC's subnets, which no API object names:
 *  then the user has to say it. */
export function podCidrOf(opts: { podCidr?: string }, nodePodCidrs: (string | undefined)[]): string {
  const given = opts.podCidr ?? process.env.NOTDNS_POD_CIDR;
  if (given) {
    if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(given))
      throw new NotdnsError(`--pod-cidr "${given}" is not an IPv4 CIDR`, {
        kind: 'usage',
        hint: 'e.g. --pod-cidr 10.0.0.0/16 (the VPC subnets your pods get addresses from)',
      });
    return given;
  }
  const sixteen = new Set(nodePodCidrs.map((c) => (c ? c.split('.').slice(0, 2).join('.') : '')));
  if (sixteen.size === 1 && !sixteen.has('')) return `${[...sixteen][0]}.0.0/16`;
  throw new NotdnsError(
    'the pod network of this cluster cannot be told from its nodes (no podCIDR on them, as with ENI IPAM); the load generator may only target pod addresses.',
    {
      kind: 'usage',
      hint: 'Pass --pod-cidr <CIDR> (or NOTDNS_POD_CIDR): the subnets your pods get addresses from, e.g. the VPC CIDR 10.0.0.0/16.',
    },
  );
}

export class KubeconfigCluster extends K8sCluster {
  /** --ena-simulator (default off: the nodes' real ENA counters, nothing attached); read by harness/ena-install.ts. */
  enaSimulator: EnaSimulatorMode = 'off';

  /** The Alerting Engine pods and every node agent (its lease loop detaches the ENA simulator: k8s/lease.ts). */
  protected override leaseTargets(): LeaseTarget[] {
    const agents = this.nodes.flatMap((n) =>
      n instanceof AgentNode ? [{ pod: n.agentPod, container: AGENT_CONTAINER, argv: AGENT_RENEW_ARGV }] : [],
    );
    return [...super.leaseTargets(), ...agents];
  }

  protected async teardown(): Promise<void> {
    await this.client.deleteNamespace(this.namespace);
  }
}

export class KubeconfigProvider implements Provider {
  readonly name = 'kubeconfig' as const;
  readonly capabilities = KUBECONFIG_CAPABILITIES;

  /** The opt-in flag was checked when the provider was created; the cluster itself is checked in up(). */
  async preflight(): Promise<void> {}

  constructor(readonly opts: KubeconfigProviderOptions = {}) {}

  /** Validate the flag, load the kubeconfig and check the context. */
  connect(): KubeClient {
    const o = validateKubeconfigOptions(this.opts);
    const kc = loadKubeConfig({ kubeconfig: o.kubeconfig, context: o.context });
    checkContextName(kc.getCurrentContext());
    return new KubeClient(kc);
  }

  async up(topology: Topology, runId: string, up: UpOptions): Promise<KubeconfigCluster> {
    const client = this.connect();
    const progress = (l: string) => {
      log.info(l);
      up.onProgress?.(l);
    };
    const image = this.opts.image ?? process.env.NOTDNS_WORKLOAD_IMAGE;
    if (!image) {
      throw new NotdnsError('--provider kubeconfig needs the workload image in a registry the cluster can pull from', {
        kind: 'usage',
        hint: 'Build workloads/Dockerfile, push it (e.g. to ECR) and set NOTDNS_WORKLOAD_IMAGE=<registry>/notdns/workloads:<tag>.',
      });
    }
    progress(`using context ${client.context}`);
    const nodeList = await client.core.listNode();
    const ready = nodeList.items
      .filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && !n.spec?.unschedulable)
      .filter((n) => !n.spec?.taints?.some((t) => t.effect === 'NoSchedule'))
      .sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
    if (ready.length < topology.nodes) {
      throw new NotdnsError(`the cluster has ${ready.length} schedulable Ready nodes; the experiment needs ${topology.nodes}`, {
        kind: 'environment',
      });
    }
    const chosen = ready.slice(0, topology.nodes);
    const podCidr = podCidrOf(
      this.opts,
      chosen.map((n) => n.spec?.podCIDR),
    );
    const namespace = runNamespace(runId);
    await client.apply([renderNamespace(runId)]);
    // the dead-man lease's owner object (k8s/lease.ts): the node agents and the workloads become its dependents
    const runOwner = await client.createConfigMap(renderRunOwner(namespace, runId));
    const ds = renderNodeAgent(namespace, runId, {
      owner: runOwner,
      deadlineSeconds: up.maxSeconds ? deadlineFor(up.maxSeconds) : undefined,
    });
    const podSpec = ds.spec!.template.spec!;
    if (this.opts.agentImage) podSpec.containers[0]!.image = this.opts.agentImage;
    podSpec.affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            {
              matchExpressions: [
                {
                  key: 'kubernetes.io/hostname',
                  operator: 'In',
                  values: chosen.map((n) => n.metadata!.labels?.['kubernetes.io/hostname'] ?? n.metadata!.name!),
                },
              ],
            },
          ],
        },
      },
    };
    await client.apply([ds]);
    const cluster = async (): Promise<KubeconfigCluster> => {
      await client.waitDaemonSetReady(namespace, ds.metadata!.name!, 300_000, up.signal);
      const agents = await waitFor(
        'node agent pods',
        async () => {
          const { pods } = await client.listPods(namespace, 'app=nd-node-agent');
          const running = pods.filter((p) => p.status?.phase === 'Running' && p.spec?.nodeName);
          return running.length >= chosen.length ? running : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 2000, signal: up.signal },
      );
      const nodes = await Promise.all(
        chosen.map(async (n) => {
          const name = n.metadata!.name!;
          const agent = agents.find((p) => p.spec!.nodeName === name);
          if (!agent) throw new NotdnsError(`no node agent pod on ${name}`, { kind: 'harness' });
          const ip = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '';
          const probe = new AgentNode(name, ip, [], client, namespace, agent.metadata!.name!);
          const enis = (await probe.exec('sh', ['-c', LIST_ENA_INTERFACES], { reject: false })).stdout.split('\n').filter(Boolean);
          return new AgentNode(name, ip, enis.length ? enis : ['eth0'], client, namespace, agent.metadata!.name!);
        }),
      );
      let kubeDns = '',
        upstream = '';
      try {
        kubeDns = await client.serviceClusterIP('kube-system', 'kube-dns');
      } catch {
        /* clusters without kube-dns */
      }
      try {
        upstream = await client.serviceClusterIP('kube-system', 'kube-dns-upstream');
      } catch {
        upstream = kubeDns;
      }
      const transport: AdminTransport = {
        request: (pod, method, path, body) => client.podProxy(namespace, pod.name, ADMIN_PORT, method, path, body),
      };
      const c = new KubeconfigCluster({
        provider: 'kubeconfig',
        capabilities: KUBECONFIG_CAPABILITIES,
        podCidr,
        runId,
        namespace,
        client,
        nodes,
        dns: { upstream, nodeLocal: kubeDns },
        transport,
        image,
        runOwner,
      });
      c.startLease(); // the node agents' leases run from their start: renew them before the ENA simulator exists
      c.enaSimulator = this.opts.enaSimulator ?? 'off';
      if (topology.unreachableOnDelete)
        c.emulations.push(
          'not emulated on an existing cluster: the unreachable route comes from Cilium itself (--enable-unreachable-routes, ENI IPAM)',
        );
      progress(
        `existing cluster ready for run ${runId}: namespace ${namespace}, nodes ${nodes.map((n) => `${n.name} (${n.uplinks.join(',')})`).join(', ')}; ENA: ${
          c.enaSimulator === 'off' ? 'real counters (ethtool -S), no simulator' : `simulator (${c.enaSimulator}) on the ENIs`
        }`,
      );
      return c;
    };
    try {
      return await cluster();
    } catch (e) {
      await client.deleteNamespace(namespace).catch(() => undefined);
      throw e;
    }
  }

  /** Delete the namespaces of one run (or of every notdns run) in the configured cluster. */
  async sweep(runId?: string): Promise<SweepResult> {
    const client = this.connect();
    const names = await client.namespacesWithLabel(runId ? `${RUN_LABEL}=${runId}` : RUN_LABEL);
    for (const n of names) await client.deleteNamespace(n);
    return { removed: names.map((n) => `namespace ${n} (context ${client.context})`), live: [] };
  }
}

export function createKubeconfigProvider(opts: KubeconfigProviderOptions = {}): KubeconfigProvider {
  validateKubeconfigOptions(opts);
  return new KubeconfigProvider(opts);
}
