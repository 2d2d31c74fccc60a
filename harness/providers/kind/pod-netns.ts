// A kind pod's own network namespace, entered from its node container: the per-pod TCP and ICMP counters
// (PodHandle.readProcNet) on kind. containerd in kindest/node creates every sandbox's netns as a bind mount under
// /var/run/netns/cni-<uuid> inside the node container; crictl (in kindest/node) finds the pod's sandbox and its
// verbose status names that path: `crictl inspectp` prints {"status": ..., "info": <containerd's SandboxInfo>},
// and SandboxInfo.runtimeSpec is the sandbox's OCI runtime spec, whose linux.namespaces lists
// {"type": "network", "path": ...}. `nsenter --net=<path> cat /proc/net/<file>` (util-linux, also in the node)
// then reads the pod's counters. The path is looked up once per pod and cached (a pod's sandbox keeps its netns).
import { NotdnsError } from '../../errors.js';
import type { RunResult } from '../../exec.js';
import { nsenterNetArgv } from './node.js';

/** argv of crictl (inside a node) listing the ids of a pod's ready sandboxes, newest first (pure; tested). */
export function crictlPodsArgv(namespace: string, pod: string): string[] {
  return ['pods', '--namespace', namespace, '--name', pod, '--state', 'ready', '-q'];
}

/** argv of crictl (inside a node) printing a sandbox's verbose status as JSON (pure; tested). */
export function crictlInspectpArgv(sandboxId: string): string[] {
  return ['inspectp', '--output', 'json', sandboxId];
}

/** The network namespace path of a sandbox from `crictl inspectp --output json` (pure; tested). */
export function sandboxNetnsPath(inspectpJson: string): string {
  let j: unknown;
  try {
    j = JSON.parse(inspectpJson);
  } catch (e) {
    throw new Error(`crictl inspectp did not print JSON: ${(e as Error).message}`);
  }
  const spec = (j as { info?: { runtimeSpec?: { linux?: { namespaces?: unknown } } } } | null)?.info?.runtimeSpec;
  const namespaces = spec?.linux?.namespaces;
  const net = Array.isArray(namespaces)
    ? (namespaces as { type?: unknown; path?: unknown }[]).find((n) => n?.type === 'network')
    : undefined;
  if (typeof net?.path !== 'string' || !net.path.startsWith('/'))
    throw new Error(
      spec
        ? 'the sandbox has no network namespace path (info.runtimeSpec.linux.namespaces): a hostNetwork pod?'
        : 'crictl inspectp printed no info.runtimeSpec (not verbose, or not containerd)',
    );
  return net.path;
}

/** What PodNetns needs of a node: a command in its container. */
export interface NodeExec {
  exec(cmd: string, args: readonly string[], opts?: { timeoutMs?: number }): Promise<RunResult>;
}

export interface PodRef {
  name: string;
  node: string;
  namespace: string;
}

/** Reads pods' /proc/net files through their node containers; netns paths cached per pod. */
export class PodNetns {
  private readonly paths = new Map<string, string>();

  constructor(private readonly nodeOf: (name: string) => NodeExec) {}

  private async resolve(pod: PodRef): Promise<string> {
    const node = this.nodeOf(pod.node);
    const ids = (await node.exec('crictl', crictlPodsArgv(pod.namespace, pod.name), { timeoutMs: 10_000 })).stdout
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    if (ids.length === 0)
      throw new NotdnsError(`no ready sandbox of pod ${pod.namespace}/${pod.name} on node ${pod.node} (crictl pods)`, { kind: 'harness' });
    const r = await node.exec('crictl', crictlInspectpArgv(ids[0]!), { timeoutMs: 10_000 });
    return sandboxNetnsPath(r.stdout);
  }

  async readProcNet(pod: PodRef, file: string): Promise<string> {
    const key = `${pod.namespace}/${pod.name}`;
    let path = this.paths.get(key);
    if (!path) {
      path = await this.resolve(pod);
      this.paths.set(key, path);
    }
    try {
      return (await this.nodeOf(pod.node).exec('nsenter', nsenterNetArgv(path, 'cat', [`/proc/net/${file}`]), { timeoutMs: 10_000 }))
        .stdout;
    } catch (e) {
      this.paths.delete(key); // looked up again next time (a restarted sandbox has a new netns)
      throw e;
    }
  }

  /** Forget a pod (it was deleted). */
  forget(pod: Pick<PodRef, 'name' | 'namespace'>): void {
    this.paths.delete(`${pod.namespace}/${pod.name}`);
  }
}
