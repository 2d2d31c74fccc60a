// The kind-node look-alike test's shared pieces: what the root test hands the non-root driver, what the driver
// reports back, and the commands it runs inside the node (pure builders, so the unit test checks them too).
//
// Inside the node container (its own netns on the docker bridge, eth0 = the node's uplink, as on kind):
//
//   pod netns POD_NS ── veth ── node (lxc-<pod>)  eth0 ── docker bridge ── peer look-alike container
//   eth0 POD_IP/32                 POD_GW/32                               route POD_CIDR via <node IP>
//   default via POD_GW             route POD_IP/32 dev lxc-<pod>
//
// Cilium-like /32 pod addressing. The peer routes the pod CIDR back to the node, like the routes between kind nodes,
// so the peer's answers never leave the two containers (the docker bridge has no egress here anyway).

export const POD_NS = 'nd-pod';
export const POD_IF = `lxc-${POD_NS}`;
export const POD_CIDR = '10.244.1.0/24';
export const POD_IP = '10.244.1.10';
export const POD_GW = '10.244.1.1';
/** "A deleted pod's IP" on another node: only ever routed `unreachable` by the node, never sent anywhere. */
export const DEAD_POD_IP = '10.244.2.7';
/** A port nobody listens on at the peer: every connect is exactly one SYN answered by one RST. */
export const CLOSED_PORT = 50051;

export interface DriverArgs {
  node: string;
  nodeIp: string;
  /** The peer look-alike's container name (the echo runs there) and address. */
  peer: string;
  peerIp: string;
  debDir: string;
  /** /sys/fs/bpf/notdns/<runId>/<node> */
  runId: string;
  syns: number;
  allowance: number;
}

export interface Counters {
  [name: string]: number;
}

export interface DriverReport {
  uid: number;
  gid: number;
  groups: number[];
  /** KindNode.resolvePid(): can this (non-root) user read the node's /proc/<pid>/net directly? */
  pidResolved: boolean;
  debsInstalled: string[];
  bpftoolVersion: string;
  digVersion: string;
  pinDir: string;
  progIds: number[];
  filtersWhileAttached: { ingress: string[]; egress: string[] };
  synLoop: { sent: number; refused: number };
  enaBefore: Counters;
  enaAfter: Counters;
  synsToPeerBefore: number;
  synsToPeerAfter: number;
  podSnmpBefore: Counters;
  podSnmpAfter: Counters;
  unreachable: {
    getDuring: { exitCode: number; out: string };
    showDuring: string;
    connectErr: string;
    icmpBefore: number;
    icmpAfter: number;
    getAfter: { exitCode: number; out: string };
    showAfter: string;
  };
  afterDetach: { ingress: string; egress: string; qdisc: string; pinsLeft: string; progsAlive: number[] };
  estab: EstabReport;
  /** The ENA watchdog (harness/providers/kind/ena-watchdog.ts) armed with the first attach, stopped before its detach. */
  watchdogNormal: { pidWhileArmed: string; renewRounds: number; renewFailures: number; log: string; psAfterStop: string[] };
  deadMan: DeadManReport;
  ms: Record<string, number>;
}

/** The second attach: the watchdog renewed, then the renewals stopped (the harness SIGKILLed), filters polled. */
export interface DeadManReport {
  leaseSeconds: number;
  /** Renewal rounds done before the "SIGKILL", and whether the filters were still there after them. */
  renewRounds: number;
  filtersWhileRenewed: boolean;
  /** The lease file's mtime in the node at the last renewal (epoch ms), and when the poll saw both filters gone. */
  lastRenewalMs: number;
  goneAtMs: number;
  /** goneAtMs - lastRenewalMs; pollMs: the poll's step (what the measure can be late by). */
  goneAfterMs: number;
  pollMs: number;
  qdisc: string;
  pinsLeft: string;
  psAfter: string[];
  log: string;
}

/** `ip -batch` lines in the node: the pod's veth (its peer moved into POD_NS), the node side and its /32 route. */
export function podNodeLines(): string[] {
  return [
    `netns add ${POD_NS}`,
    `link add ${POD_IF} type veth peer name eth0 netns ${POD_NS}`,
    `addr add ${POD_GW}/32 dev ${POD_IF}`,
    `link set ${POD_IF} up`,
    `route add ${POD_IP}/32 dev ${POD_IF}`,
  ];
}

/** `ip -n POD_NS -batch` lines: the pod's address and default route through the node. */
export function podNsLines(): string[] {
  return [
    'link set lo up',
    `addr add ${POD_IP}/32 dev eth0`,
    'link set eth0 up',
    `route add ${POD_GW} dev eth0`,
    `route add default via ${POD_GW} dev eth0`,
  ];
}

/**
 * bash -c SCRIPT bash HOST PORT N: N connects through bash's /dev/tcp, one after the other, no fork per connect;
 * prints "<attempts> <failed>". Bounded by N (and by the caller's timeout).
 */
export const CONNECT_LOOP =
  'n=0; i=0; while [ "$i" -lt "$3" ]; do i=$((i+1)); { : 3<>"/dev/tcp/$1/$2"; } 2>/dev/null || n=$((n+1)); done; echo "$i $n"';

/** bash -c SCRIPT bash HOST PORT: one connect; prints bash's error (e.g. "No route to host") or "connected". */
export const CONNECT_ONCE = '{ : 3<>"/dev/tcp/$1/$2"; } 2>&1 && echo connected; true';

/** The estab agent's peer port (the echo is the harness's own, harness/providers/kind/estab.ts). */
export const ECHO_PORT = 7007;

/** The agent's last line at each step of the test: answering, blackholed, answering again, echo gone. */
export interface EstabReport {
  answering: { ok: number; failed: number; connected: boolean };
  blackholed: { ok: number; failed: number; connected: boolean };
  restored: { ok: number; failed: number; connected: boolean };
  closed: { ok: number; failed: number; connected: boolean };
  lines: number;
  exitCode: number | null;
  stderr: string;
}

/** Pick the counters of /proc/net/snmp the test looks at. */
export function snmpCounters(all: Record<string, number>): Counters {
  const keys = ['TcpActiveOpens', 'TcpAttemptFails', 'TcpOutRsts', 'IcmpInDestUnreachs', 'IcmpInMsgs'];
  return Object.fromEntries(keys.map((k) => [k, all[k] ?? Number.NaN]));
}
