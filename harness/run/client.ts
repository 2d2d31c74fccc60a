// A custom client (workloads.client, docs/client-contract.md): its environment, the lab's guard command line
// (harness/run/client-guard.ts) and the targets file it reads.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientConfig, VariantConfig } from '../spec/schema.js';
import { GRPC_PORT } from './workloads.js';

/** The client-side gRPC probes: read from the client's own metrics (the Alerting Engine's, or a custom client's
 *  Prometheus endpoint); everything else is measured at the network level without the client's cooperation. */
export const isClientMetricProbe = (probe: string): boolean => probe.startsWith('grpc.');

export const CLIENT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The targets file of client instance `i` in `dir` (one `IP:PORT` per line). */
export const targetsFileOf = (dir: string, instance: number): string => join(dir, `client-${instance}.targets`);

/** Write the targets file atomically (readers see the old or the new set, never half of one), readable by all. */
export function writeTargets(file: string, backends: readonly string[]): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, backends.map((b) => `${b}\n`).join(''), { mode: 0o644 });
  renameSync(tmp, file);
}

/** setpriv's argv that runs `command` as `user` (its primary group, no supplementary groups, no new privileges),
 *  killed when its parent (the guard) dies. */
export function setprivArgv(user: string, gid: number, command: readonly string[]): string[] {
  return ['--reuid', user, '--regid', String(gid), '--clear-groups', '--no-new-privs', '--pdeathsig', 'KILL', '--', ...command];
}

/** The client's NOTDNS_* environment that does not depend on the provider (docs/client-contract.md): the Alerting
 *  Engine's knobs of the variant, so that a client can honour the same settings. */
export function clientEnv(cfg: VariantConfig, maxSeconds: number): Record<string, string> {
  const ae = cfg.workloads.alertingEngine,
    c = cfg.workloads.client;
  const env: Record<string, string> = {
    NOTDNS_TARGET_PORT: String(GRPC_PORT),
    NOTDNS_MAX_SECONDS: String(Math.ceil(maxSeconds)),
    NOTDNS_CHANNELS_PER_BACKEND: String(ae.channelsPerBackend),
    NOTDNS_CALL_INTERVAL_MS: String(ae.callIntervalMs),
    NOTDNS_CALL_DEADLINE_MS: String(ae.callDeadlineMs),
  };
  if (ae.reconnect !== 'grpc-defaults') {
    env.NOTDNS_RECONNECT_INITIAL_MS = String(ae.reconnect.initialMs);
    env.NOTDNS_RECONNECT_MAX_MS = String(ae.reconnect.maxMs);
    env.NOTDNS_CONNECT_TIMEOUT_MS = String(ae.reconnect.connectTimeoutMs);
  }
  if (c?.metricsPort) env.NOTDNS_METRICS_PORT = String(c.metricsPort);
  return env;
}

/** The lab's guard arguments for a client (the lab adds `--admin` and `--instance`). */
export function clientGuardArgs(
  cfg: VariantConfig,
  client: ClientConfig,
  backends: readonly string[],
  maxSeconds: number,
  stateDir: string,
  lease?: { file: string; seconds: number },
): string[] {
  if (!client.command) throw new Error('workloads.client has no command: the lab runs a command (an image is for kind)');
  const env = Object.entries(clientEnv(cfg, maxSeconds)).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
  return [
    '--user',
    client.user,
    '--max-seconds',
    String(Math.ceil(maxSeconds)),
    '--targets-dir',
    stateDir,
    '--backends',
    backends.map((ip) => `${ip}:${GRPC_PORT}`).join(','),
    '--propagation-seconds',
    String(cfg.workloads.alertingEngine.dnsPropagationSeconds),
    ...(client.metricsPort ? ['--metrics-port', String(client.metricsPort)] : []),
    ...(lease ? ['--lease-file', lease.file, '--lease-seconds', String(lease.seconds)] : []),
    ...env,
    '--',
    ...client.command,
  ];
}
