// The node agent DaemonSet of the kubeconfig provider (manifests/ena-sim/daemonset.yaml): privileged, hostPID,
// one pod per chosen node; ClusterNode.exec runs through it.
import type { V1DaemonSet } from '@kubernetes/client-node';
import { loadManifest, one, RUN_LABEL } from '../k8s/manifests.js';

export function renderNodeAgent(namespace: string, runId: string): V1DaemonSet {
  const ds = one<V1DaemonSet>(loadManifest('ena-sim/daemonset.yaml'), 'DaemonSet', 'ena-sim/daemonset.yaml');
  ds.metadata = { ...ds.metadata, namespace, labels: { ...ds.metadata?.labels, [RUN_LABEL]: runId } };
  return ds;
}
