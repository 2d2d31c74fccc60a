// The built-in lab: a cluster made of Linux network namespaces (nodes you can run commands in, pods you can replace).
//   vpc   : a bridge + router playing the AWS VPC fabric (knows which ENI owns which pod IP)
//   nodeN : ens5 = primary ENI (addressed, default route), ens6 = secondary ENI WITHOUT an address and its own
//           routing table (Cilium ENI mode), rp_filter=2, log_martians=1; node-local DNS on 169.254.20.10
//   pods  : a namespace + veth whose node side has no address, a /32 route and Cilium's per-pod ENI rules
//   dns   : the upstream DNS host (nsd) + a TCP echo service
// Nothing is added to the host's root namespace except the named namespaces themselves.
import { mkdir, rm, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ResultPromise } from 'execa';
import { batch, run, spawnLong, stopProcess } from '../../exec.js';
import { NotdnsError } from '../../errors.js';
import { log } from '../../log.js';
import { nsName, PREFIX, runIdOf } from '../../names.js';
import { distDir, stateRoot } from '../../paths.js';
import { sleep, waitFor } from '../../wait.js';
import { fetchMetrics, isHealthy, postControl } from '../../../workloads/common/admin-client.js';
import { LAB_CAPABILITIES } from '../capabilities.js';
import type {
  AppName,
  Cluster,
  ClusterNode,
  PodHandle,
  Provider,
  RolloutEvents,
  RolloutOptions,
  SweepResult,
  Topology,
  UnexpectedExit,
  UpOptions,
  WorkloadDeployment,
} from '../types.js';
import { TeardownStack } from '../../teardown.js';
import { requireLabTools } from './preflight.js';
import { NetnsNode } from './netns-node.js';
import * as A from './addresses.js';
import {
  LINKLOCAL_RESOLVER,
  readNodeLocalStats,
  startLinklocalNodeLocal,
  startLinklocalUpstream,
  startNodeLocal,
  startUpstream,
  ZoneRecords,
  type ServiceRecords,
} from './dns.js';
import { nldProbes } from '../../probes/nld.js';
import type { ProbeId } from '../../probes/catalog.js';
import { pidAlive } from '../../stop.js';

export class LabPod implements PodHandle {
  stopping = false;
  constructor(
    readonly name: string,
    readonly app: AppName,
    readonly node: string,
    readonly nodeIndex: number,
    readonly ip: string,
    readonly ns: string,
    readonly admin: string,
    readonly proc: ResultPromise,
    /** The workload's arguments: a replacement pod in a rollout starts with the same ones. */
    readonly args: readonly string[],
    readonly runtimeArgs: readonly string[] = [],
    /** The program instead of workloads/<app>/main.js (a custom client's guard). */
    readonly program?: string,
  ) {}
  metrics() {
    return fetchMetrics(this.admin);
  }
  control(path: string, body: unknown) {
    return postControl(this.admin, path, body);
  }
  get alive(): boolean {
    return this.proc.exitCode === null || this.proc.exitCode === undefined;
  }
  /** The pod's own /proc/net (TcpActiveOpens, IcmpInDestUnreachs of the workload's namespace). */
  readProcNet(file: string): Promise<string> {
    if (!this.proc.pid || !this.alive) return Promise.reject(new Error(`pod ${this.name} is not running`));
    return readFile(`/proc/${this.proc.pid}/net/${file}`, 'utf8');
  }
}

export class LabCluster implements Cluster {
  readonly provider = 'lab' as const;
  readonly capabilities = LAB_CAPABILITIES;
  readonly podCidr = A.POD_SUPERNET;
  readonly dns = { upstream: A.DNS_UPSTREAM, nodeLocal: A.NODE_LOCAL_DNS };
  readonly echo = { host: A.DNS_UPSTREAM, port: A.ECHO_PORT };
  readonly nodes: NetnsNode[] = [];
  private readonly podList: LabPod[] = [];
  private readonly podCount = new Map<number, number>();
  private readonly teardowns: TeardownStack;
  private readonly daemons: ResultPromise[] = [];
  private destroyed = false;
  /** The upstream's service names (DNS discovery); only with node-local DNS. */
  private zone?: ZoneRecords;
  private readonly exitWatchers: UnexpectedExit[] = [];
  /** Pod namespaces (they come and go; whatever is left is deleted on destroy). */
  private readonly extraNs: string[] = [];
  /** Node-side veth of every pod, by pod IP. */
  private readonly lxcByIp = new Map<string, string>();
  /** node-local DNS (unbound) per node: its process and control socket (the nld.* probes). */
  private readonly nodeLocal = new Map<string, { proc: ResultPromise; controlSocket: string }>();
  readonly vpcNs: string;
  readonly dnsNs: string;
  readonly logDir: string;

  constructor(
    readonly runId: string,
    readonly topology: Topology,
    readonly stateDir: string,
    logDir?: string,
  ) {
    this.vpcNs = nsName(runId, 'vpc');
    this.dnsNs = nsName(runId, 'dns');
    this.logDir = logDir ?? join(stateDir, 'logs');
    this.teardowns = new TeardownStack('lab', runId);
  }

  /** Register an undo step; destroy() runs them in reverse order. */
  onDestroy(label: string, fn: () => Promise<void>): void {
    this.teardowns.push(label, fn);
  }

  node(name: string): NetnsNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n)
      throw new NotdnsError(`no node named ${name} in this lab (nodes: ${this.nodes.map((x) => x.name).join(', ')})`, { kind: 'harness' });
    return n;
  }

  nodeIndex(name: string): number {
    return this.nodes.findIndex((x) => x.name === name) + 1;
  }

  async build(opts: UpOptions): Promise<void> {
    const t = this.topology;
    // claim the run id: its namespaces must not exist and its state dir is created here, atomically; otherwise the id
    // is another run's and nothing of it may be touched (no teardown is registered before the claim)
    await mkdir(dirname(this.stateDir), { recursive: true });
    const taken = (await listNamespaces()).filter((n) => n.startsWith(`${PREFIX}${this.runId}-`));
    const claimed = taken.length
      ? false
      : await mkdir(this.stateDir).then(
          () => true,
          (e: NodeJS.ErrnoException) => {
            if (e.code === 'EEXIST') return false;
            throw e;
          },
        );
    if (!claimed) {
      throw new NotdnsError(
        `run id ${this.runId} is already in use on this host (${taken.length ? `namespaces ${taken.join(', ')}` : this.stateDir} exist${taken.length ? '' : 's'}); nothing was created or removed.`,
        {
          kind: 'harness',
          phase: 'up',
          hint: 'Run again: a new run gets a new random id. If the other run is dead, `notdns down --all` removes what it left.',
        },
      );
    }
    await mkdir(this.logDir, { recursive: true });
    await writeFile(join(this.stateDir, 'owner.pid'), String(process.pid));
    this.onDestroy('state dir', () => rm(this.stateDir, { recursive: true, force: true }));
    const nodeNames = Array.from({ length: t.nodes }, (_, i) => `node${i + 1}`);
    const all = [this.vpcNs, this.dnsNs, ...nodeNames.map((n) => nsName(this.runId, n))];
    // every namespace first, so a failure part-way leaves only named namespaces that destroy()/sweep remove
    this.onDestroy('namespaces', async () => {
      await deleteNamespaces(all);
    });
    await batch(
      'ip',
      all.map((n) => `netns add ${n}`),
    );
    opts.onProgress?.(`namespaces created (${all.length})`);

    // VPC: bridge + router; one veth pair per ENI, created in vpc with the peer moved straight into the node
    const vpc: string[] = [
      'link set lo up',
      'link add br0 type bridge',
      `link set br0 address ${A.VPC_ROUTER_MAC}`,
      'link set br0 up',
      `addr add ${A.VPC_ROUTER}/${A.VPC_SUBNET_PREFIX} dev br0`,
    ];
    nodeNames.forEach((n, j) => {
      const i = j + 1,
        ns = nsName(this.runId, n);
      vpc.push(
        `link add n${i}-ens5 type veth peer name ens5 netns ${ns}`,
        `link add n${i}-ens6 type veth peer name ens6 netns ${ns}`,
        `link set n${i}-ens5 master br0 up`,
        `link set n${i}-ens6 master br0 up`,
        // the VPC delivers the secondary ENI's addresses to ens6's MAC (ens6 has no IP, it cannot answer ARP)
        `neigh replace ${A.eniIp(i)} lladdr ${A.nodeMac(i, 6)} dev br0 nud permanent`,
        `route add ${A.podCidr(i)} via ${A.eniIp(i)} dev br0`,
      );
    });
    vpc.push(`link add dns0 type veth peer name eth0 netns ${this.dnsNs}`, 'link set dns0 master br0 up');
    await batch('ip', vpc, { ns: this.vpcNs });
    await run(
      'sysctl',
      [
        '-qw',
        'net.ipv4.ip_forward=1',
        'net.ipv4.conf.all.send_redirects=0',
        'net.ipv4.conf.br0.send_redirects=0',
        'net.ipv4.conf.all.rp_filter=0',
        'net.ipv4.conf.br0.rp_filter=0',
      ],
      { ns: this.vpcNs },
    );
    // AWS source/destination check: an ENI only sends packets from its own addresses. Without it, a SYN that a
    // node forwards back out of ens5 (eniHasAddress variant) would loop between the VPC and the node.
    await run('nft', ['-f', '-'], { ns: this.vpcNs, input: srcDstCheck(t.nodes) });

    await batch(
      'ip',
      [
        'link set lo up',
        'link set eth0 up',
        `addr add ${A.DNS_UPSTREAM}/${A.VPC_SUBNET_PREFIX} dev eth0`,
        `route add default via ${A.VPC_ROUTER}`,
      ],
      { ns: this.dnsNs },
    );

    await Promise.all(
      nodeNames.map(async (n, j) => {
        const i = j + 1,
          ns = nsName(this.runId, n);
        const lines = [
          'link set lo up',
          `link set ens5 address ${A.nodeMac(i, 5)}`,
          'link set ens5 up',
          `link set ens6 address ${A.nodeMac(i, 6)}`,
          'link set ens6 up',
          `addr add ${A.nodeIp(i)}/${A.VPC_SUBNET_PREFIX} dev ens5`,
          `route add default via ${A.VPC_ROUTER} dev ens5`,
        ];
        if (t.eniHasAddress) lines.push(`addr add ${A.eniUnrelatedIp(i)}/32 dev ens6`);
        // the secondary ENI's table: default via the VPC router out of ens6 (+ static neighbour: ens6 can't ARP)
        lines.push(
          `neigh replace ${A.VPC_ROUTER} lladdr ${A.VPC_ROUTER_MAC} dev ens6 nud permanent`,
          `route replace ${A.VPC_ROUTER} dev ens6 scope link table ${A.ENI_TABLE}`,
          `route replace default via ${A.VPC_ROUTER} dev ens6 table ${A.ENI_TABLE}`,
        );
        if (t.nodeLocalDns) lines.push(`addr add ${A.NODE_LOCAL_DNS}/32 dev lo`);
        // link-local DNS upstream: the VPC resolver's address, reached through the primary ENI (the ENA counts it)
        if (t.nodeLocalDns && t.dnsUpstream === 'linklocal-udp')
          lines.push(`route add ${LINKLOCAL_RESOLVER}/32 via ${A.DNS_UPSTREAM} dev ens5`);
        await batch('ip', lines, { ns });
        await run(
          'sysctl',
          [
            '-qw',
            'net.ipv4.ip_forward=1',
            'net.ipv4.conf.all.rp_filter=2',
            'net.ipv4.conf.default.rp_filter=2',
            'net.ipv4.conf.ens5.rp_filter=2',
            'net.ipv4.conf.ens6.rp_filter=2',
            'net.ipv4.conf.all.log_martians=1',
            'net.ipv4.conf.default.log_martians=1',
            'net.ipv4.conf.ens6.log_martians=1',
            // both ENIs sit on the same VPC bridge: by default Linux answers ARP for the node IP on ens6 too ("ARP flux"),
            // and the upstream's replies then arrive on the addressless ens6 and die as martians. The real VPC answers
            // ARP itself; here each ENI answers only for its own addresses.
            'net.ipv4.conf.all.arp_ignore=1',
            'net.ipv4.conf.all.arp_announce=2',
          ],
          { ns },
        );
        // kernel conntrack only tracks a namespace once something there uses it: a counting rule turns it on
        await run('nft', ['-f', '-'], {
          ns,
          input: `table inet notdns {
  chain pre { type filter hook prerouting priority -150; policy accept; ct state new counter; }
  chain out { type filter hook output priority -150; policy accept; ct state new counter; }
}\n`,
        });
        const node = new NetnsNode(n, ns, A.nodeIp(i));
        await node.startSentinel();
        this.nodes[j] = node;
      }),
    );
    this.onDestroy('sentinels', async () => {
      await Promise.all(this.nodes.map((n) => n.stopSentinel()));
    });
    opts.onProgress?.(`${t.nodes} nodes wired (ens5 addressed, ens6 without address, rp_filter=2)`);

    if (t.nodeLocalDns) {
      const dnsDir = join(this.stateDir, 'dns');
      this.onDestroy('dns daemons', async () => {
        await Promise.all(this.daemons.map((p) => stopProcess(p, 1000)));
      });
      const linklocal = t.dnsUpstream === 'linklocal-udp';
      const upstream = await (linklocal ? startLinklocalUpstream : startUpstream)(dnsDir, this.dnsNs, A.DNS_UPSTREAM, this.logDir);
      this.daemons.push(...upstream);
      // DNS discovery rewrites the lab zone's records (the link-local mode serves other zones)
      if (!linklocal) this.zone = new ZoneRecords(dnsDir, this.dnsNs, A.DNS_UPSTREAM, upstream[0]!);
      const caches = await Promise.all(
        this.nodes.map((n) =>
          linklocal
            ? startLinklocalNodeLocal(dnsDir, n.name, n.ns, A.NODE_LOCAL_DNS, t.nodeLocalCache ?? 'short', this.logDir)
            : startNodeLocal(dnsDir, n.name, n.ns, A.NODE_LOCAL_DNS, A.DNS_UPSTREAM, this.logDir, t.nodeLocalDnsLimits),
        ),
      );
      this.daemons.push(...caches.map((c) => c.proc));
      // the nld.* probes read unbound's control socket: the TCP-upstream cache has one (link-local mode: none yet)
      for (const [i, c] of caches.entries())
        if ('controlSocket' in c && typeof c.controlSocket === 'string')
          this.nodeLocal.set(this.nodes[i]!.name, { proc: c.proc, controlSocket: c.controlSocket });
      opts.onProgress?.(
        linklocal
          ? `DNS up: nsd on ${LINKLOCAL_RESOLVER} (link-local, UDP) + node-local unbound (${t.nodeLocalCache ?? 'short'} cache) on every node`
          : 'DNS up: nsd upstream + node-local unbound (TCP upstream) on every node',
      );
    }
    this.onDestroy('pods', async () => {
      await Promise.all(this.podList.map((p) => this.killPod(p)));
      await deleteNamespaces(this.extraNs.filter((n) => !all.includes(n)));
    });
  }

  /** The nld.* probes: the node's unbound statistics and RSS (dns.ts readNodeLocalStats). */
  async extraNodeProbes(node: ClusterNode): Promise<Partial<Record<ProbeId, number>>> {
    const c = this.nodeLocal.get(node.name);
    if (!c) return {};
    return nldProbes(await readNodeLocalStats(c.controlSocket, c.proc.pid));
  }

  /** DNS discovery: the upstream (nsd) serves `name` with these A records; resolves once it does. */
  async setDnsRecords(r: ServiceRecords): Promise<{ servedMs: number }> {
    if (!this.zone) throw new NotdnsError('DNS discovery needs the lab DNS (topology.nodeLocalDns: true)', { kind: 'spec' });
    return this.zone.set(r);
  }

  pods(app?: AppName): PodHandle[] {
    return this.podList.filter((p) => !app || p.app === app);
  }

  livePods(app?: AppName): LabPod[] {
    return this.podList.filter((p) => (!app || p.app === app) && p.alive && !p.stopping);
  }

  async deploy(d: WorkloadDeployment): Promise<PodHandle[]> {
    // a custom client runs under its guard (harness/run/client-guard.ts), which learns its instance index here
    const program = d.client ? join(distDir, 'harness', 'run', 'client-guard.js') : undefined;
    return Promise.all(
      Array.from({ length: d.replicas }, (_, r) =>
        this.startPod(
          d.app,
          d.nodes[r % d.nodes.length]!,
          program ? ['--instance', String(r), ...d.args] : d.args,
          d.runtimeArgs,
          undefined,
          program,
        ),
      ),
    );
  }

  /** Create a pod's network (namespace, veth, Cilium ENI-style routes and rules) on a node; nothing runs in it yet. */
  async plumbPod(prefix: string, nodeName: string): Promise<{ name: string; ns: string; ip: string; nodeIndex: number }> {
    const i = this.nodeIndex(nodeName);
    if (i < 1) throw new NotdnsError(`cannot place a pod on unknown node ${nodeName}`, { kind: 'harness' });
    const node = this.nodes[i - 1]!;
    const k = this.podCount.get(i) ?? 0;
    this.podCount.set(i, k + 1);
    const ip = A.podIp(i, k),
      lxc = A.lxcName(i, k),
      mac = A.podMac(i, k);
    const name = `${prefix}-${i}-${k}`;
    const ns = nsName(this.runId, name);
    await run('ip', ['netns', 'add', ns]);
    this.extraNs.push(ns);
    this.lxcByIp.set(ip, lxc);
    await batch(
      'ip',
      [
        `link add ${lxc} type veth peer name eth0 netns ${ns}`,
        `link set ${lxc} address ${mac}`,
        `link set ${lxc} up`,
        `route add ${ip}/32 dev ${lxc}`,
        `rule add to ${ip} lookup main priority ${A.RULE_PRIO_TO_POD}`,
        `rule add from ${ip} lookup ${A.ENI_TABLE} priority ${A.RULE_PRIO_FROM_POD}`,
      ],
      { ns: node.ns },
    );
    await batch(
      'ip',
      [
        'link set lo up',
        `addr add ${ip}/32 dev eth0`,
        'link set eth0 up',
        `route add ${A.POD_GATEWAY} dev eth0 scope link`,
        `route add default via ${A.POD_GATEWAY} dev eth0`,
        // Cilium answers the gateway's ARP from BPF; here a permanent neighbour does
        `neigh replace ${A.POD_GATEWAY} lladdr ${mac} dev eth0 nud permanent`,
      ],
      { ns },
    );
    return { name, ns, ip, nodeIndex: i };
  }

  /** Create a pod on a node and start the workload in it; resolves when its admin endpoint answers. */
  async startPod(
    app: AppName,
    nodeName: string,
    args: readonly string[],
    runtimeArgs: readonly string[] = [],
    signal?: AbortSignal,
    program?: string,
  ): Promise<LabPod> {
    const { name, ns, ip, nodeIndex: i } = await this.plumbPod(app === 'metrics-service' ? 'ms' : 'ae', nodeName);
    const admin = `unix:${join(this.stateDir, `${name}.sock`)}`;
    const main = program ?? join(distDir, 'workloads', app, 'main.js');
    const proc = spawnLong('node', [...runtimeArgs, main, '--admin', admin, ...args], { ns, logFile: join(this.logDir, `${name}.log`) });
    const pod = new LabPod(name, app, nodeName, i, ip, ns, admin, proc, args, runtimeArgs, program);
    this.podList.push(pod);
    await waitFor(
      `${app} pod ${name} (${ip}) to be ready`,
      async () => {
        if (!pod.alive)
          throw new NotdnsError(`${app} in pod ${name} exited with code ${proc.exitCode}; its log: ${join(this.logDir, `${name}.log`)}`, {
            kind: 'harness',
          });
        // a custom client's guard answers /healthz; its /metrics.json is the client's own (maybe none)
        if (program) return isHealthy(admin);
        await pod.metrics();
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 100, signal },
    );
    void proc.then((r) => {
      if (pod.stopping || this.destroyed) return; // a graceful stop or the teardown: expected
      const how = r.signal ? `was killed by ${r.signal}` : `exited with code ${r.exitCode}`;
      for (const cb of this.exitWatchers) cb(pod, how, join(this.logDir, `${name}.log`));
    });
    return pod;
  }

  /** Call `cb` when a running workload exits although nothing asked it to (not a graceful stop, not teardown). */
  onUnexpectedExit(cb: UnexpectedExit): void {
    this.exitWatchers.push(cb);
  }

  /** Graceful stop (SIGTERM, wait for the workload to exit on its own), then delete the pod. */
  async stopPod(pod: LabPod, graceSeconds: number, events?: RolloutEvents): Promise<void> {
    pod.stopping = true;
    pod.proc.kill('SIGTERM');
    events?.onPodStopping?.(pod);
    const exited = pod.proc.then(
      () => true,
      () => true,
    );
    let timer: NodeJS.Timeout | undefined;
    const killAfter = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), (graceSeconds + 5) * 1000);
    });
    const inTime = await Promise.race([exited, killAfter]);
    clearTimeout(timer); // a pending timer would keep the harness alive long after an interrupted run is torn down
    if (!inTime) {
      log.warn({ pod: pod.name }, 'workload did not exit after its grace period: SIGKILL');
      pod.proc.kill('SIGKILL');
      await exited;
    }
    await this.deletePod(pod);
    events?.onPodDeleted?.(pod);
  }

  /** Delete the pod like Cilium does in ENI mode: namespace and veth gone, per-pod rules removed; the IP is unbound. */
  async deletePod(pod: LabPod | { ns: string; ip: string; node: string }): Promise<void> {
    const node = this.node(pod.node);
    if (pod instanceof LabPod) await this.killPod(pod);
    const lxc = this.lxcByIp.get(pod.ip);
    if (this.topology.unreachableOnDelete) {
      // cilium/cilium#18505 (--enable-unreachable-routes): on endpoint deletion the pod's /32 route is replaced by
      // an unreachable route, so the old IP answers with ICMP host unreachable (rate-limited by the kernel).
      // The veth goes first, in the same batch: otherwise the dying pod's last FIN/RSTs reach the node after the
      // route is unreachable and fail rp_filter (a martian that the real datapath would not show).
      await batch('ip', [...(lxc ? [`link del ${lxc}`] : []), `route replace unreachable ${pod.ip}/32`], { ns: node.ns });
    }
    await run('ip', ['netns', 'del', pod.ns], { reject: false });
    if (!this.topology.unreachableOnDelete) {
      await batch('ip', [`route del ${pod.ip}/32`], { ns: node.ns }).catch(() => undefined); // already gone with the veth
    }
    await batch(
      'ip',
      [
        `rule del to ${pod.ip} lookup main priority ${A.RULE_PRIO_TO_POD}`,
        `rule del from ${pod.ip} lookup ${A.ENI_TABLE} priority ${A.RULE_PRIO_FROM_POD}`,
      ],
      { ns: node.ns },
    );
  }

  private async killPod(pod: LabPod): Promise<void> {
    if (pod.alive) await stopProcess(pod.proc, 1000);
  }

  async rollout(app: AppName, opts: RolloutOptions, events?: RolloutEvents): Promise<void> {
    const old = this.livePods(app);
    const stops: Promise<void>[] = [];
    try {
      for (let b = 0; b < old.length; b += opts.batch) {
        const group = old.slice(b, b + opts.batch);
        // maxSurge=batch, maxUnavailable=0: new pods first (same node, new IP), then the old ones stop
        const fresh = await Promise.all(group.map((p) => this.startPod(app, p.node, p.args, p.runtimeArgs, opts.signal, p.program)));
        for (const p of fresh) events?.onPodReady?.(p);
        stops.push(...group.map((p) => this.stopPod(p, opts.gracefulStopSeconds, events)));
        opts.signal?.throwIfAborted();
      }
      await abortable(Promise.all(stops), opts.signal);
    } catch (e) {
      // aborted (Ctrl-C, a dead workload) or failed: teardown takes over the pods still stopping; their promises
      // settle quietly (an unawaited rejection would crash the harness in the middle of its teardown)
      void Promise.allSettled(stops);
      throw e;
    }
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const errors = await this.teardowns.unwind();
    if (errors.length) {
      throw new NotdnsError(`teardown was incomplete: ${errors.join('; ')}`, {
        kind: 'harness',
        phase: 'down',
        hint: 'Run `notdns down --all` to remove what is left.',
      });
    }
  }
}

/** Wait for `p`, or reject with the signal's reason as soon as it aborts. */
function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Kill every process in the namespaces, then delete them. */
export async function deleteNamespaces(names: readonly string[]): Promise<void> {
  for (const sig of ['TERM', 'KILL'] as const) {
    const pids = (await Promise.all(names.map((n) => run('ip', ['netns', 'pids', n], { reject: false })))).flatMap((r) =>
      r.exitCode === 0 ? r.stdout.split(/\s+/).filter(Boolean) : [],
    );
    if (pids.length === 0) break;
    await run('kill', [`-${sig}`, ...pids], { reject: false });
    if (sig === 'TERM') await sleep(300);
  }
  const existing = new Set(await listNamespaces());
  const del = names.filter((n) => existing.has(n));
  if (del.length)
    await batch(
      'ip',
      del.map((n) => `netns del ${n}`),
    ).catch(async () => {
      for (const n of del) await run('ip', ['netns', 'del', n], { reject: false });
    });
}

export async function listNamespaces(): Promise<string[]> {
  const r = await run('ip', ['netns', 'list'], { reject: false });
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
}

/** Unmount every mount below a directory (bpffs pins), deepest first. */
export async function unmountBelow(dir: string): Promise<string[]> {
  const mounts = (await readFile('/proc/mounts', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[1])
    .filter((m): m is string => !!m && (m === dir || m.startsWith(dir + '/')));
  for (const m of mounts.sort((a, b) => b.length - a.length)) await run('umount', ['-l', m], { reject: false });
  return mounts;
}

/** nftables (netdev ingress on the VPC side of every ENI): drop what an ENI sends from an address it doesn't own. */
export function srcDstCheck(nodes: number): string {
  const chains = Array.from({ length: nodes }, (_, j) => {
    const i = j + 1;
    return `  chain n${i}e5 { type filter hook ingress device "n${i}-ens5" priority 0; policy accept; ip saddr != ${A.nodeIp(i)} counter name "dropped" drop; }
  chain n${i}e6 { type filter hook ingress device "n${i}-ens6" priority 0; policy accept; ip saddr != ${A.podCidr(i)} counter name "dropped" drop; }`;
  });
  return `table netdev notdns_srcdst {\n  counter dropped { }\n${chains.join('\n')}\n}\n`;
}

export class LabProvider implements Provider {
  readonly name = 'lab' as const;
  readonly capabilities = LAB_CAPABILITIES;

  async preflight(topologies: readonly Topology[]): Promise<void> {
    requireLabTools(topologies.some((t) => t.nodeLocalDns));
  }

  async up(topology: Topology, runId: string, opts: UpOptions): Promise<LabCluster> {
    const c = new LabCluster(runId, topology, opts.stateDir, opts.logDir);
    try {
      await c.build(opts);
    } catch (e) {
      await c.destroy().catch((te) => log.error({ err: te }, 'teardown after a failed bring-up'));
      throw e;
    }
    return c;
  }

  /** Remove what runs left behind: processes in their namespaces, the namespaces, bpffs mounts, state dirs.
   *  Without a run id: every notdns run whose owner process is gone (with force: also live ones). */
  async sweep(runId?: string, opts: { force?: boolean } = {}): Promise<SweepResult> {
    const allNs = (await listNamespaces()).filter((n) => n.startsWith(PREFIX));
    const { readdir } = await import('node:fs/promises');
    const ids = runId
      ? [runId]
      : [
          ...new Set([
            ...allNs.map((n) => runIdOf(n)).filter((x): x is string => !!x),
            ...(await readdir(stateRoot).catch(() => [] as string[])).filter((d) => /^[0-9a-f]{6}$/.test(d)),
          ]),
        ];
    const removed: string[] = [];
    const live: SweepResult['live'] = [];
    for (const id of ids) {
      const owner = await ownerAlive(id);
      if (owner && !opts.force) {
        live.push({ runId: id, pid: owner });
        continue;
      }
      const ns = allNs.filter((n) => n.startsWith(`${PREFIX}${id}-`));
      await deleteNamespaces(ns);
      removed.push(...ns.map((n) => `netns ${n}`));
      const dir = join(stateRoot, id);
      removed.push(...(await unmountBelow(dir)).map((m) => `mount ${m}`));
      if (existsSync(dir)) {
        await rm(dir, { recursive: true, force: true });
        removed.push(`dir ${dir}`);
      }
    }
    if (!runId) {
      // namespaces that are ours by prefix but carry no run id (e.g. tests' nd-test-*): only with force
      const odd = allNs.filter((n) => !runIdOf(n));
      if (opts.force && odd.length) {
        await deleteNamespaces(odd);
        removed.push(...odd.map((n) => `netns ${n}`));
      }
    }
    return { removed, live };
  }
}

/** The pid of a run's harness if it is still alive (and is not this process). */
async function ownerAlive(runId: string): Promise<number | undefined> {
  const pid = Number(await readFile(join(stateRoot, runId, 'owner.pid'), 'utf8').catch(() => ''));
  return pid && pid !== process.pid && pidAlive(pid) ? pid : undefined;
}
