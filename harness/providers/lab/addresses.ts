// The lab's address plan. Everything lives inside the run's own namespaces, so two runs never collide on
// addresses; only names (which carry the run id) are global.
export const VPC_SUBNET_PREFIX = 24;
export const VPC_ROUTER = '10.0.0.1';
export const VPC_ROUTER_MAC = '02:00:00:00:00:01';
export const DNS_UPSTREAM = '10.0.0.53';
export const NODE_LOCAL_DNS = '169.254.20.10';
/** TCP echo service on the upstream DNS host (the established-connection probe's peer). */
export const ECHO_PORT = 7;
export const POD_GATEWAY = '169.254.1.1';
/** Cilium ENI mode: one routing table per ENI; we have one secondary ENI per node. */
export const ENI_TABLE = 100;
/** Cilium ENI-mode rule priorities: to-pod 20, from-pod 110. */
export const RULE_PRIO_TO_POD = 20;
export const RULE_PRIO_FROM_POD = 110;
/** All pod IPs of a run (Alerting Engine --allow-cidr). */
export const POD_SUPERNET = '10.1.0.0/16';

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

/** Node i (1-based): primary ENI address on ens5. */
export const nodeIp = (i: number) => `10.0.0.${10 + i}`;
/** Node i: the secondary ENI's primary IP, known to the VPC (static neighbour) but NOT configured on ens6. */
export const eniIp = (i: number) => `10.0.0.${100 + i}`;
/** An address unrelated to the network for the eniHasAddress variant (TEST-NET-1, only ever inside the node). */
export const eniUnrelatedIp = (i: number) => `192.0.2.${i}`;
export const podCidr = (i: number) => `10.1.${i}.0/24`;
/** k-th pod ever created on node i (IPs are never reused within a run: an old IP stays unbound). */
export const podIp = (i: number, k: number) => {
  if (k < 0 || k > 240) throw new Error(`pod index ${k} out of range for node ${i} (max 240 pods per node per run)`);
  return `10.1.${i}.${10 + k}`;
};
export const nodeMac = (i: number, eni: 5 | 6) => `02:00:00:00:${hex2(i)}:0${eni}`;
export const podMac = (i: number, k: number) => `02:00:00:01:${hex2(i)}:${hex2(k)}`;
/** Host side of a pod's veth, Cilium style (lxc + hex). At most 15 characters. */
export const lxcName = (i: number, k: number) => `lxc${hex2(i)}${hex2(k)}`;
