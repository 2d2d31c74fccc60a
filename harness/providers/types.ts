// The one idea (ARCHITECTURE.md): a cluster is a set of nodes you can run commands in and pods you can start,
// stop and replace. Probes, the ENA simulator, rollouts, expectations and reports are written once against this.
import type { RunOptions, RunResult } from '../exec.js';
import type { WorkloadMetrics } from '../../workloads/common/metrics-types.js';

export type ProviderName = 'lab' | 'kind' | 'kubeconfig';
export type AppName = 'metrics-service' | 'alerting-engine';

/** A node: a netns (lab), a kind node container, or a node of an existing cluster. */
export interface ClusterNode {
  readonly name: string;
  /** The node's primary address (ens5 in the lab). */
  readonly ip: string;
  /** Interfaces where traffic enters/leaves the "instance": the ENA simulator attaches here (lab: ens5, ens6). */
  readonly uplinks: readonly string[];
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
}

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
}

export interface Cluster {
  readonly provider: ProviderName;
  readonly runId: string;
  readonly nodes: readonly ClusterNode[];
  /** Address of the upstream (authoritative) DNS server, and of the node-local DNS cache on every node. */
  readonly dns: { upstream: string; nodeLocal: string };
  deploy(d: WorkloadDeployment): Promise<PodHandle[]>;
  pods(app?: AppName): PodHandle[];
  /** Replace every pod of `app` like a Deployment rollout: new pod ready, old pod graceful stop, old pod deleted. */
  rollout(app: AppName, opts: RolloutOptions, events?: RolloutEvents): Promise<void>;
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
}

export interface UpOptions {
  /** Per-run state directory (pid files, sockets, configs, bpffs): <stateRoot>/<runId>. */
  stateDir: string;
  signal?: AbortSignal;
  /** Called with progress lines for long steps. */
  onProgress?(line: string): void;
}

export interface Provider {
  readonly name: ProviderName;
  up(topology: Topology, runId: string, opts: UpOptions): Promise<Cluster>;
  /** Remove leftovers of one run (or of every notdns run when runId is undefined). Returns what was removed. */
  sweep(runId?: string, opts?: { force?: boolean }): Promise<string[]>;
}
