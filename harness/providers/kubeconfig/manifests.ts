// The node agent DaemonSet of the kubeconfig provider (manifests/ena-sim/daemonset.yaml): privileged, hostPID,
// one pod per chosen node; ClusterNode.exec runs through it.
import type { V1DaemonSet } from '@kubernetes/client-node';
import { loadManifest, one, RUN_LABEL } from '../k8s/manifests.js';
import { type LeaseOptions, nodeAgentScript, withRunLease } from '../k8s/lease.js';

export function renderNodeAgent(namespace: string, runId: string, lease?: LeaseOptions): V1DaemonSet {
  const ds = one<V1DaemonSet>(loadManifest('ena-sim/daemonset.yaml'), 'DaemonSet', 'ena-sim/daemonset.yaml');
  ds.metadata = { ...ds.metadata, namespace, labels: { ...ds.metadata?.labels, [RUN_LABEL]: runId } };
  if (!lease) return ds;
  // the dead-man lease (k8s/lease.ts): the agent's main process is the lease loop instead of `sleep infinity`
  withRunLease(ds, lease);
  const c = ds.spec!.template.spec!.containers[0]!;
  c.command = ['sh', '-c', nodeAgentScript()];
  return ds;
}
