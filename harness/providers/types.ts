// The one idea: a cluster is a set of nodes you can run commands in and pods you can start, stop and replace.
// Probes, the ENA simulator, rollouts, expectations and reports are written once against this contract. What a
// provider can and cannot do is part of it, as types: its capabilities (below), optional members that only
// some nodes/pods have (`netns`, `readProcNet` of a pod), never a cast around the interface.
import type { RunOptions, RunResult } from '../exec.js';
import type { WorkloadMetrics } from '../../workloads/common/metrics-types.js';
import type { ProbeId } from '../probes/catalog.js';
import type { EnaHandle } from '../ena/index.js';

export type ProviderName = 'lab' | 'kind' | 'kubeconfig';
export type AppName = 'metrics-service' | 'alerting-engine';

/** A node: a netns (lab), a kind node container, or a node of an existing cluster. */
export interface ClusterNode {
  readonly name: string;
  /** The node's primary address (ens5 in the lab). */
  readonly ip: string;
  /** Interfaces where traffic enters/leaves the "instance": the ENA simulator attaches here (lab: ens5, ens6). */
  readonly uplinks: readonly string[];
  /** The node's network namespace on this host (`ip netns exec NAME`), where it has one the harness can enter
   *  directly (lab nodes). Processes the harness starts there (the estab agent) need it. */
  readonly netns?: string;
  /** Run a command on the node (in its network namespace). */
  exec(cmd: string, args: readonly string[], opts?: Omit<RunOptions, 'ns'>): Promise<RunResult>;
  /** Read a file of the node's /proc/net (e.g. 'netstat', 'snmp', 'stat/nf_conntrack') without spawning where possible. */
  readProcNet(file: string): Promise<string>;
  /** Make a local file available on the node; returns its path there. */
  putFile(localPath: string): Promise<string>;
}

export interface PodHandle {
  readonly name: string;
  readonly app: AppName;
  readonly node: string;
  readonly ip: string;
  /** Counters the workload exposes (Prometheus registry as JSON). */
  metrics(): Promise<WorkloadMetrics>;
  /** Send a control request to the workload (e.g. the Alerting Engine's new backend set). */
  control(path: string, body: unknown): Promise<unknown>;
  /** The pod's own /proc/net files (its netns: TcpActiveOpens, IcmpInDestUnreachs), where the harness can enter
   *  it (lab pods; kind pods through their node container). Absent elsewhere: the probes that need it are not
   *  supplied there. */
  readProcNet?(file: string): Promise<string>;
}

/** How a workload died when nothing had asked it to stop. */
export type UnexpectedExit = (pod: PodHandle, how: string, logFile: string) => void;

export interface RolloutEvents {
  /** A new pod is up and ready. */
  onPodReady?(pod: PodHandle): void;
  /** An old pod got SIGTERM: its graceful stop starts (new connections get RST from now on). */
  onPodStopping?(pod: PodHandle): void;
  /** An old pod is gone: its IP is not bound by anything any more. */
  onPodDeleted?(pod: PodHandle): void;
}

export interface RolloutOptions {
  /** Pods replaced at a time (Deployment maxSurge with maxUnavailable 0). */
  batch: number;
  gracefulStopSeconds: number;
  signal?: AbortSignal;
}

export interface WorkloadDeployment {
  app: AppName;
  replicas: number;
  /** Node names to place pods on (round robin). */
  nodes: readonly string[];
  /** Command-line arguments for the workload (see workloads/<app>/main.ts --help). */
  args: readonly string[];
  /** Node.js runtime flags (e.g. --max-semi-space-size=1 for small pods); providers that run images may ignore them. */
  runtimeArgs?: readonly string[];
  /** A custom client (workloads.client, docs/client-contract.md) instead of the Alerting Engine: the lab runs
   *  harness/run/client-guard.js with `args` (the command inside them); Kubernetes providers run `image` with `env`. */
  client?: { command?: readonly string[]; image?: string; env: Record<string, string>; metricsPort?: number };
}

export interface Cluster {
  readonly provider: ProviderName;
  readonly capabilities: Capabilities;
  readonly runId: string;
  /** The pod network: the only addresses the load generator may target (its --allow-cidr). */
  readonly podCidr: string;
  readonly nodes: readonly ClusterNode[];
  /** Address of the upstream (authoritative) DNS server, and of the node-local DNS cache on every node. */
  readonly dns: { upstream: string; nodeLocal: string };
  /** A TCP echo service the nodes can reach, for the established-connection probe (lab: on the upstream DNS host). */
  readonly echo?: { host: string; port: number };
  deploy(d: WorkloadDeployment): Promise<PodHandle[]>;
  pods(app?: AppName): PodHandle[];
  /** Replace every pod of `app` like a Deployment rollout: new pod ready, old pod graceful stop, old pod deleted. */
  rollout(app: AppName, opts: RolloutOptions, events?: RolloutEvents): Promise<void>;
  /** --ena-simulator, where the provider takes it (capabilities.enaDefault 'real-counters'); default off. */
  readonly enaSimulator?: EnaSimulatorMode;
  /** Call `cb` when a running workload exits although nothing asked it to (not a graceful stop in a rollout, not
   *  teardown): a dead workload makes the measurements incomplete, the run stops as a harness error. Required of
   *  every provider (lab: the process exits; Kubernetes: a pod watch sees a container terminate or restart). */
  onUnexpectedExit(cb: UnexpectedExit): void;
  /** Node probes only this provider can read (e.g. its CNI's or its DNS cache's own counters), read once per node
   *  per sample: the recorder records what it returns; a failed read counts like any other node reader's. */
  extraNodeProbes?(node: ClusterNode): Promise<Partial<Record<ProbeId, number>>>;
  /** The established-connection probe's agent where a node has no netns to start the harness's own in (kind: bash
   *  in the node container); `onUpdate` gets its counts; resolves to the function that stops it. */
  startEstabAgent?(
    node: ClusterNode,
    maxSeconds: number,
    onUpdate: (v: { ok: number; failed: number }) => void,
  ): Promise<() => Promise<void>>;
  /** The ENA simulator's dead-man switch on a node the harness only reaches from outside (kind: a watchdog in the
   *  node container, renewed with the run's lease): armed right after the simulator is attached on `h.node`;
   *  resolves to what stops it, called before the simulator is detached. */
  armEnaDeadMan?(h: EnaHandle): Promise<() => Promise<void>>;
  /** DNS discovery: the upstream DNS serves `name` with these A records and TTL; resolves once it does (with how
   *  long the change took to be served). capabilities.dnsRecords 'harness' (the lab). */
  setDnsRecords?(r: { name: string; ttlSeconds: number; ips: readonly string[] }): Promise<{ servedMs: number }>;
  /** capabilities.dnsRecords 'kubernetes': the Metrics Service's headless-Service name
   *  (metrics-service.<run namespace>.svc.cluster.local), used instead of metricsService.dns.name. */
  readonly metricsServiceDnsName?: string;
  /** capabilities.dnsRecords 'kubernetes': the cluster DNS answers its records with this TTL (set once), and waits
   *  until the upstream serves exactly `ips` for metricsServiceDnsName (servedMs; null: not within the timeout). */
  kubernetesDnsRecords?(r: { ttlSeconds: number; ips: readonly string[]; timeoutMs: number }): Promise<{ servedMs: number | null }>;
  /** Everything torn down, in reverse order of set-up. Idempotent. */
  destroy(): Promise<void>;
}

export interface Topology {
  nodes: number;
  /** Nodes that host the Metrics Service (the others host the Alerting Engine). */
  serverNodes: number;
  /** The pod's ENI (ens6) gets an unrelated /32: no rp_filter martians (talk, chapter 3). */
  eniHasAddress: boolean;
  /** Cilium #18505: an `unreachable` route for a deleted pod's IP. */
  unreachableOnDelete: boolean;
  nodeLocalDns: boolean;
  /** node-local DNS's concurrency and memory limits (absent: the provider's defaults). */
  nodeLocalDnsLimits?: { maxConcurrent: number; memoryMb: number };
  /** Node-local DNS's upstream: TCP to the DNS host (default), or UDP to a link-local resolver through the ENI (lab). */
  dnsUpstream?: 'tcp' | 'linklocal-udp';
  /** Link-local mode: the node-local cache ('short' by default). */
  nodeLocalCache?: 'short' | 'serve-stale';
}

export interface UpOptions {
  /** Per-run state directory (pid files, sockets, configs, bpffs): <stateRoot>/<runId>. */
  stateDir: string;
  /** Where workload and daemon logs go (the run's output folder); default <stateDir>/logs. */
  logDir?: string;
  signal?: AbortSignal;
  /** Called with progress lines for long steps. */
  onProgress?(line: string): void;
  /** The longest the variant can run (its load loops stop by themselves then): Kubernetes pods' activeDeadlineSeconds. */
  maxSeconds?: number;
}

/** What a provider can do, known before anything is created (plans, expectations, the ENA installer read it). */
export interface Capabilities {
  /** Nodes have a network namespace on this host (ClusterNode.netns): processes can be started in them directly. */
  readonly nodeNetns: boolean;
  /** Pods can be entered: PodHandle.readProcNet is there (per-pod TCP and ICMP counters). */
  readonly podNetns: boolean;
  /** Where the ENA program is loaded and its pins are read: on this host (one private bpffs of the run, lab) or
   *  on each node (its own /sys/fs/bpf, through ClusterNode.exec). */
  readonly enaPins: 'host' | 'node';
  /** How a dead workload is noticed (Cluster.onUnexpectedExit), in words for the plan. */
  readonly deadWorkloads: string;
  /** What measures the allowance unless told otherwise: the ENA simulator as the experiment says (lab, kind), or
   *  the nodes' real ENA counters (`ethtool -S`, an existing cluster; the simulator only with Cluster.enaSimulator). */
  readonly enaDefault: 'simulator' | 'real-counters';
  /** The nodes are real machines whose tc hooks another datapath may own with tcx (Cilium on an existing cluster):
   *  the simulator is refused on a node where tcx programs run, they would hide every packet from it. */
  readonly foreignDatapath: boolean;
  /** The workloads see this host's files (lab: processes of this host): the dead-man lease is a file they watch. */
  readonly sharesHostFiles: boolean;
  /** DNS discovery's records: the harness sets them (lab: Cluster.setDnsRecords), or Kubernetes does (the Metrics
   *  Service's headless Service: the EndpointSlice controller follows readiness; Cluster.kubernetesDnsRecords only
   *  sets the TTL and verifies). Absent: DNS-discovery variants are refused. */
  readonly dnsRecords?: 'harness' | 'kubernetes';
}

/** `--ena-simulator` of a provider whose default is the real counters: off, counting only, or enforcing. */
export const ENA_SIMULATOR_MODES = ['off', 'count', 'enforce'] as const;
export type EnaSimulatorMode = (typeof ENA_SIMULATOR_MODES)[number];

/** What a sweep found: what it removed, and runs it left alone because their harness is still alive. */
export interface SweepResult {
  removed: string[];
  live: { runId: string; pid: number }[];
}

export interface Provider {
  readonly name: ProviderName;
  readonly capabilities: Capabilities;
  /** Refuse, before anything is created, what this machine cannot run for these topologies (missing commands,
   *  no root): a NotdnsError naming the package and the fix. */
  preflight(topologies: readonly Topology[]): Promise<void>;
  up(topology: Topology, runId: string, opts: UpOptions): Promise<Cluster>;
  /** Remove leftovers of one run (or of every notdns run when runId is undefined). */
  sweep(runId?: string, opts?: { force?: boolean }): Promise<SweepResult>;
}
