// The workloads' command lines for one variant (the runner, the benchmarks and the tests build them here).
import { DNS_DISCOVERY, DnsNameSchema, type Reconnect, type VariantConfig } from '../spec/schema.js';

export const GRPC_PORT = 50051;
/** V8's young generation at 1 MB: ~30 MB less RSS for a small Alerting Engine (measured); above ~1000 channels GC
 *  would then starve the calls, so big ones keep the default. Not for the Metrics Service: its DNS timeouts are
 *  timed in its event loop, and the extra GC pauses during reconnect storms turned into spurious DNS timeouts. */
export const SMALL_POD_V8 = ['--max-semi-space-size=1'];
/** Node.js flags for an Alerting Engine with this many channels in total. */
export const alertingEngineRuntimeArgs = (channels: number): string[] => (channels <= 1000 ? SMALL_POD_V8 : []);

/** `allowCidr` is the provider's pod network (Cluster.podCidr): the engine refuses any backend outside it.
 *  `lease`: the dead-man lease file (lab: the pods share the harness' file system) and its maximum age. */
export function alertingEngineArgs(
  cfg: VariantConfig,
  backends: string[],
  maxSeconds: number,
  allowCidr: string,
  lease?: { file: string; seconds: number },
  nodeLocalDns?: string,
  /** DNS discovery: the name to resolve when the provider's is not metricsService.dns.name (Kubernetes: the headless Service's). */
  dnsName?: string,
): string[] {
  const ae = cfg.workloads.alertingEngine;
  const args = [
    ...discoveryArgs(cfg, backends, nodeLocalDns, dnsName),
    '--discovery',
    ae.discovery,
    '--channels-per-backend',
    String(ae.channelsPerBackend),
    '--call-interval-ms',
    String(ae.callIntervalMs),
    '--call-deadline-ms',
    String(ae.callDeadlineMs),
    '--dns-propagation-seconds',
    String(ae.dnsPropagationSeconds),
    '--allow-cidr',
    allowCidr,
    '--max-duration-seconds',
    String(Math.ceil(maxSeconds)),
  ];
  const leaseArgs = lease ? ['--lease-file', lease.file, '--lease-seconds', String(lease.seconds)] : [];
  return [...args, ...reconnectArgs(ae.reconnect), ...leaseArgs];
}

/** 'grpc-defaults' = what the talk's fix did: remove the options, so C-core's defaults apply
 *  (initial backoff 1 s, max 120 s, min connect timeout 20 s). */
export function reconnectArgs(r: Reconnect): string[] {
  if (r === 'grpc-defaults') return ['--connect-timeout-ms', '20000'];
  return [
    '--initial-backoff-ms',
    String(r.initialMs),
    '--max-backoff-ms',
    String(r.maxMs),
    '--connect-timeout-ms',
    String(r.connectTimeoutMs),
  ];
}

export function metricsServiceArgs(cfg: VariantConfig, dnsServer: string, maxSeconds: number): string[] {
  const ms = cfg.workloads.metricsService;
  return [
    '--port',
    String(GRPC_PORT),
    '--graceful-stop-seconds',
    String(ms.gracefulStopSeconds),
    '--dns-server',
    dnsServer,
    '--dns-lookups-per-second',
    String(cfg.topology.nodeLocalDns ? ms.dnsLookupsPerSecond : 0),
    '--dns-timeout-ms',
    String(ms.dnsTimeoutMs),
    '--max-duration-seconds',
    String(Math.ceil(maxSeconds)),
    ...dnsResolverArgs(ms.dnsResolver ?? 'plain', ms.dnsNamePool ?? 0),
  ];
}

/** A Kubernetes pod's resolv.conf search list (namespace `burst`) behind an EC2 node's own domain. */
export const POD_SEARCH = ['burst.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'ec2.internal'] as const;

/** The lookup generator's resolver mode (MetricsServiceSchema.dnsResolver): external names, search list or absolute. */
export function dnsResolverArgs(mode: 'plain' | 'ndots5' | 'fqdn', pool: number): string[] {
  const poolArgs = pool > 0 ? ['--dns-name-pool', String(pool)] : [];
  if (mode === 'plain') return poolArgs;
  const external = ['--dns-name-template', `api-{n}.example.com${mode === 'fqdn' ? '.' : ''}`];
  return [...external, '--dns-search', POD_SEARCH.join(','), '--dns-ndots', '5', ...poolArgs];
}

/** DNS discovery: the Metrics Service's name and TTL (the schema's defaults when the experiment names none). */
export function serviceDns(cfg: VariantConfig): { name: string; ttlSeconds: number } {
  return cfg.workloads.metricsService.dns ?? DnsNameSchema.parse({});
}

export const isDnsDiscovery = (cfg: VariantConfig): boolean =>
  (DNS_DISCOVERY as readonly string[]).includes(cfg.workloads.alertingEngine.discovery);

/** How the engine learns its backends: the initial set (later POST /backends), or a name resolved through node-local DNS. */
function discoveryArgs(cfg: VariantConfig, backends: string[], nodeLocalDns?: string, dnsName?: string): string[] {
  const ae = cfg.workloads.alertingEngine;
  if (!isDnsDiscovery(cfg)) return ['--backends', backends.map((ip) => `${ip}:${GRPC_PORT}`).join(',')];
  const name = dnsName ?? serviceDns(cfg).name;
  if (!nodeLocalDns) throw new Error(`discovery ${ae.discovery} needs node-local DNS`);
  if (ae.discovery === 'dns-per-ip')
    return [
      '--dns-name',
      `${name}:${GRPC_PORT}`,
      '--dns-server',
      nodeLocalDns,
      '--resolve-interval-ms',
      String(ae.resolveIntervalMs ?? 5000),
    ];
  return [
    '--target',
    `dns://${nodeLocalDns}:53/${name}:${GRPC_PORT}`,
    ...(ae.dnsMinTimeBetweenResolutionsMs !== undefined
      ? ['--dns-min-time-between-resolutions-ms', String(ae.dnsMinTimeBetweenResolutionsMs)]
      : []),
  ];
}
