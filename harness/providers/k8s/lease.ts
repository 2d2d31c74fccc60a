// The dead-man lease on Kubernetes (kind, kubeconfig): what stops the fault when the harness is gone.
//  - One owner object per run, the ConfigMap notdns-run-<id> in the run's namespace, created first and deleted at
//    teardown. The workloads' Deployments and Service and the node agent DaemonSet carry an ownerReference to it:
//    deleting it (`kubectl -n nd-<id> delete configmap notdns-run-<id>`) garbage-collects them all. Its data
//    `renewedAt` is rewritten at every renewal (for people and `kubectl get`; the checks below use files).
//  - activeDeadlineSeconds on every workload and node agent pod: the planned run length + DEADLINE_MARGIN_SECONDS.
//    A pod past it is killed by the kubelet; its controller starts a replacement, which the lease stops (below).
//  - The lease itself is a file in each pod (emptyDir at LEASE_DIR): the harness renews it every RENEW_SECONDS by
//    exec-ing a write into every Alerting Engine pod and node agent pod. A projected ConfigMap volume would be
//    refreshed by the kubelet only every ~60-90 s, too slow for a dead-man switch; an exec is seen at once.
//     · the Alerting Engine (--lease-file, checked every 0.5 s) stops its load once the file is older than
//       K8S_LEASE_SECONDS: worst case K8S_LEASE_SECONDS + 0.5 s after the last renewal;
//     · the node agent (kubeconfig) loops every AGENT_CHECK_SECONDS and, once the file is older than
//       K8S_LEASE_SECONDS, deletes the ENA simulator's tc filters on every interface of the node (and again at every
//       check while it stays expired): worst case K8S_LEASE_SECONDS + AGENT_CHECK_SECONDS.
//    docs/kind.md says the same, and what could not be run here.
import type { V1ConfigMap, V1DaemonSet, V1Deployment, V1OwnerReference, V1PodSpec } from '@kubernetes/client-node';
import { ENA_TC_HANDLE, ENA_TC_PREF } from '../../ena/index.js';
import { RUN_LABEL } from './manifests.js';

export const LEASE_DIR = '/run/notdns';
export const LEASE_PATH = `${LEASE_DIR}/lease`;
/** A lease older than this stops the fault (longer than the lab's 5 s: an exec through the API server can stall). */
export const K8S_LEASE_SECONDS = 30;
/** How often the harness renews the lease files and the owner's renewedAt. */
export const RENEW_SECONDS = 5;
/** How often the node agent looks at its lease file. */
export const AGENT_CHECK_SECONDS = 2;
/** activeDeadlineSeconds = the planned run (its load loops' own maximum) + this. */
export const DEADLINE_MARGIN_SECONDS = 300;
const VOLUME = 'notdns-lease';

export interface RunOwner {
  name: string;
  uid: string;
}

export function runOwnerName(runId: string): string {
  return `notdns-run-${runId}`;
}

/** The run's owner object: created first, deleted at teardown; everything else of the run is its dependent. */
export function renderRunOwner(namespace: string, runId: string, now = new Date()): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: runOwnerName(runId), namespace, labels: { [RUN_LABEL]: runId, 'app.kubernetes.io/part-of': 'notdns' } },
    data: { renewedAt: now.toISOString(), leaseSeconds: String(K8S_LEASE_SECONDS) },
  };
}

export function ownerReference(o: RunOwner): V1OwnerReference {
  return { apiVersion: 'v1', kind: 'ConfigMap', name: o.name, uid: o.uid, blockOwnerDeletion: false, controller: false };
}

export function deadlineFor(maxSeconds: number): number {
  return Math.ceil(maxSeconds) + DEADLINE_MARGIN_SECONDS;
}

/** Writes the lease file (the workload image has node; it creates the file in the init container and renews it). */
export const NODE_RENEW_ARGV = ['node', '-e', 'require("fs").writeFileSync(process.argv[1], String(Date.now()))', LEASE_PATH] as const;
/** The node agent image (debian) has touch. */
export const AGENT_RENEW_ARGV = ['touch', LEASE_PATH] as const;

export interface LeaseOptions {
  owner: RunOwner;
  /** activeDeadlineSeconds of the pods (deadlineFor(maxSeconds)); absent: no deadline (the run length is unknown). */
  deadlineSeconds?: number;
  /** An init container that creates the lease file with NODE_RENEW_ARGV (the workloads' image). */
  initLease?: boolean;
}

/** The owner reference, the pods' deadline and the lease volume (and its init container) on a Deployment/DaemonSet. */
export function withRunLease<T extends V1Deployment | V1DaemonSet>(obj: T, o: LeaseOptions): T {
  obj.metadata = { ...obj.metadata, ownerReferences: [...(obj.metadata?.ownerReferences ?? []), ownerReference(o.owner)] };
  const pod = obj.spec!.template.spec as V1PodSpec;
  if (o.deadlineSeconds !== undefined) pod.activeDeadlineSeconds = o.deadlineSeconds;
  pod.volumes = [
    ...(pod.volumes ?? []).filter((v) => v.name !== VOLUME),
    { name: VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
  ];
  const mount = { name: VOLUME, mountPath: LEASE_DIR };
  for (const c of pod.containers) c.volumeMounts = [...(c.volumeMounts ?? []).filter((m) => m.name !== VOLUME), mount];
  if (o.initLease) {
    const main = pod.containers[0]!;
    pod.initContainers = [
      ...(pod.initContainers ?? []).filter((c) => c.name !== 'lease-init'),
      {
        name: 'lease-init',
        image: main.image,
        imagePullPolicy: main.imagePullPolicy,
        command: [...NODE_RENEW_ARGV],
        volumeMounts: [mount],
      },
    ];
  }
  return obj;
}

/** The Alerting Engine's lease flags inside a pod (the lab passes its own file and 5 s). */
export function alertingEngineLeaseArgs(): string[] {
  return ['--lease-file', LEASE_PATH, '--lease-seconds', String(K8S_LEASE_SECONDS)];
}

/**
 * The node agent's loop (kubeconfig): create the lease file, then every AGENT_CHECK_SECONDS compare its age with
 * the lease; once expired, delete the ENA simulator's tc filters (pref/handle of harness/ena) on ingress and egress
 * of every interface of the node (nsenter into pid 1's mount and network namespaces: the node's own tc); it keeps
 * looping (a lease renewed again, e.g. after a slow start, is honoured again).
 * The harness still execs into the agent (ClusterNode.exec); the loop is its main process.
 */
export function nodeAgentScript(leaseSeconds = K8S_LEASE_SECONDS, tc = { pref: ENA_TC_PREF, handle: ENA_TC_HANDLE }): string {
  const handle = `0x${tc.handle.toString(16)}`;
  return [
    `lease=${LEASE_PATH}; max=${leaseSeconds}`,
    'touch "$lease"',
    'while :; do',
    '  age=$(( $(date +%s) - $(stat -c %Y "$lease" 2>/dev/null || echo 0) ))',
    '  if [ "$age" -gt "$max" ]; then',
    '    echo "notdns node agent: lease expired (${age}s > ${max}s): detaching the ENA simulator if attached"',
    `    nsenter -t 1 -m -n -- sh -c 'for d in $(ls /sys/class/net); do for h in ingress egress; do tc filter show dev "$d" "$h" 2>/dev/null | grep -q "ena_" && tc filter del dev "$d" "$h" pref ${tc.pref} handle ${handle} bpf && echo "detached $d $h"; done; done'`,
    '  fi',
    `  sleep ${AGENT_CHECK_SECONDS}`,
    'done',
  ].join('\n');
}

/** What a renewal touches: a pod's container and the command that writes its lease file. */
export interface LeaseTarget {
  pod: string;
  container: string;
  argv: readonly string[];
}

export interface LeaseClient {
  exec(
    namespace: string,
    pod: string,
    container: string,
    command: readonly string[],
    opts?: { timeoutMs?: number },
  ): Promise<{ exitCode: number }>;
  patchConfigMapData(namespace: string, name: string, data: Record<string, string>): Promise<void>;
}

/** Renews every target's lease file and the owner's renewedAt every RENEW_SECONDS; a failed renewal is retried at
 *  the next round (the lease is 6 rounds long). */
export class LeaseRenewer {
  private timer?: NodeJS.Timeout;
  private busy = false;
  rounds = 0;
  failures = 0;

  constructor(
    private readonly client: LeaseClient,
    private readonly namespace: string,
    private readonly owner: RunOwner,
    private readonly targets: () => LeaseTarget[],
    private readonly everyMs = RENEW_SECONDS * 1000,
    /** More renewals of the same round that are not pod execs (kind: the ENA watchdogs' lease files). */
    private readonly also: () => Promise<{ exitCode: number }>[] = () => [],
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.renew(), this.everyMs);
    this.timer.unref();
  }

  async renew(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const r = await Promise.allSettled([
        ...this.targets().map((t) => this.client.exec(this.namespace, t.pod, t.container, t.argv, { timeoutMs: this.everyMs })),
        this.client.patchConfigMapData(this.namespace, this.owner.name, { renewedAt: new Date().toISOString() }),
        ...this.also(),
      ]);
      this.failures += r.filter((x) => x.status === 'rejected' || (x.value && x.value.exitCode !== 0)).length;
      this.rounds++;
    } finally {
      this.busy = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
