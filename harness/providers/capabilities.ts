// What each provider can do, known before anything is created: `notdns plan`, the expectations' applicability and
// the ENA installer read these. Kept apart from the providers so that reading them loads no Kubernetes client.
import type { Capabilities, ProviderName } from './types.js';

export const LAB_CAPABILITIES: Capabilities = {
  nodeNetns: true,
  podNetns: true,
  enaPins: 'host',
  deadWorkloads: 'each workload is a process of the harness: its exit is seen at once',
  enaDefault: 'simulator',
  foreignDatapath: false,
  sharesHostFiles: true,
  dnsRecords: 'harness',
};

const K8S_DEAD_WORKLOADS = "a watch on the run namespace's pods (a container that terminates or restarts)";

/** podNetns: a pod's netns is entered from its node container (crictl finds it, nsenter enters it: kind/pod-netns.ts). */
/** foreignDatapath false: notdns installs kind's Cilium itself, on classic tc behind the simulator (kind/cilium.ts). */
export const KIND_CAPABILITIES: Capabilities = {
  nodeNetns: false,
  podNetns: true,
  enaPins: 'node',
  deadWorkloads: K8S_DEAD_WORKLOADS,
  enaDefault: 'simulator',
  foreignDatapath: false,
  sharesHostFiles: false,
  dnsRecords: 'kubernetes',
};

export const KUBECONFIG_CAPABILITIES: Capabilities = {
  nodeNetns: false,
  podNetns: false,
  enaPins: 'node',
  deadWorkloads: K8S_DEAD_WORKLOADS,
  enaDefault: 'real-counters',
  foreignDatapath: true,
  sharesHostFiles: false,
};

export const CAPABILITIES: Record<ProviderName, Capabilities> = {
  lab: LAB_CAPABILITIES,
  kind: KIND_CAPABILITIES,
  kubeconfig: KUBECONFIG_CAPABILITIES,
};
