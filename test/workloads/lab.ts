// Test helpers for the workloads: a throw-away network namespace, workloads started in it (compiled JS from dist/)
// with their admin endpoint on a unix socket in a temp dir, and TCP counters read from inside the namespace.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ResultPromise } from 'execa';
import { run, spawnLong, stopProcess } from '../../harness/exec.js';
import { distDir } from '../../harness/paths.js';
import { waitFor } from '../../harness/wait.js';
import { fetchMetrics, isHealthy } from '../../workloads/common/admin-client.js';
import { metricSum, type WorkloadMetrics } from '../../workloads/common/metrics-types.js';

export interface Workload {
  proc: ResultPromise;
  admin: string;
  logFile: string;
  metrics(): Promise<WorkloadMetrics>;
  /** Sum of a metric family (optionally filtered by labels). */
  sum(name: string, labels?: Record<string, string>): Promise<number>;
  alive(): boolean;
  log(): string;
}

export const WORKLOADS = {
  metricsService: join(distDir, 'workloads/metrics-service/main.js'),
  alertingEngine: join(distDir, 'workloads/alerting-engine/main.js'),
  dnsResponder: join(distDir, 'test/workloads/fixtures/dns-responder.js'),
};

/** One namespace (nd-test-wl-<random>) plus everything started in it; dispose() removes it all, even after failures. */
export class Lab {
  readonly ns = `nd-test-wl-${randomBytes(3).toString('hex')}`;
  readonly dir = mkdtempSync(join(tmpdir(), 'nd-wl-'));
  private readonly procs: ResultPromise[] = [];
  private n = 0;

  async create(addrs: string[] = []): Promise<this> {
    await run('ip', ['netns', 'add', this.ns]);
    await run('ip', ['-n', this.ns, 'link', 'set', 'lo', 'up']);
    for (const a of addrs) await run('ip', ['-n', this.ns, 'addr', 'add', `${a}/32`, 'dev', 'lo']);
    return this;
  }

  /** Silently drop TCP SYNs to ip:port in this namespace (a black hole: no RST, no ICMP). */
  async blackhole(ip: string, port: number): Promise<void> {
    const rules = `table inet nd_test_bh {\n chain input {\n  type filter hook input priority 0;\n  ip daddr ${ip} tcp dport ${port} drop\n }\n}\n`;
    await run('nft', ['-f', '-'], { ns: this.ns, input: rules });
  }

  /** Start a compiled workload in the namespace; `admin: true` adds --admin unix:<dir>/<name>.sock and waits for /healthz. */
  async start(script: string, args: string[], opts: { admin?: boolean; name?: string } = {}): Promise<Workload> {
    const name = `${opts.name ?? 'w'}-${this.n++}`;
    const logFile = join(this.dir, `${name}.log`);
    const admin = `unix:${join(this.dir, `${name}.sock`)}`;
    const argv = ['--enable-source-maps', script, ...args, ...(opts.admin === false ? [] : ['--admin', admin])];
    const proc = spawnLong('node', argv, { ns: this.ns, logFile });
    proc.catch(() => undefined);
    this.procs.push(proc);
    const alive = () => proc.exitCode === null || proc.exitCode === undefined;
    const readLog = () => {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    };
    const w: Workload = {
      proc,
      admin,
      logFile,
      alive,
      log: readLog,
      metrics: () => fetchMetrics(admin),
      sum: async (n, labels) => metricSum(await fetchMetrics(admin), n, labels),
    };
    if (opts.admin !== false) {
      await waitFor(
        `${name} admin /healthz`,
        async () => {
          if (!alive()) throw new Error(`${name} exited (code ${proc.exitCode}): ${readLog().slice(-600)}`);
          return isHealthy(admin);
        },
        { timeoutMs: 10_000, intervalMs: 50 },
      );
    }
    return w;
  }

  /** Connect once from inside the namespace: "connected" or the error code (e.g. ECONNREFUSED), "timeout" after 2 s. */
  async tryConnect(host: string, port: number): Promise<string> {
    const js =
      `const s=require('net').connect({host:${JSON.stringify(host)},port:${port}});` +
      `s.on('connect',()=>{console.log('connected');process.exit(0)});s.on('error',e=>{console.log(e.code);process.exit(0)});` +
      `setTimeout(()=>{console.log('timeout');process.exit(0)},2000)`;
    return (await run('node', ['-e', js], { ns: this.ns, timeoutMs: 10_000 })).stdout.trim();
  }

  /** The namespace's TCP MIB (ActiveOpens = connect() calls = new flows, RetransSegs includes SYN retransmits). */
  async tcp(): Promise<{ activeOpens: number; retransSegs: number }> {
    const lines = (await run('cat', ['/proc/net/snmp'], { ns: this.ns })).stdout.split('\n').filter((l) => l.startsWith('Tcp:'));
    const [names, values] = lines.map((l) => l.split(/\s+/).slice(1));
    const get = (k: string) => Number(values[names.indexOf(k)]);
    return { activeOpens: get('ActiveOpens'), retransSegs: get('RetransSegs') };
  }

  async dispose(): Promise<void> {
    await Promise.all(this.procs.map((p) => stopProcess(p, 3000).catch(() => undefined)));
    await run('ip', ['netns', 'del', this.ns], { reject: false });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Poll a workload metric until pred holds; returns the last value. */
export async function waitMetric(
  w: Workload,
  what: string,
  name: string,
  pred: (v: number) => boolean,
  opts: { labels?: Record<string, string>; timeoutMs?: number } = {},
): Promise<number> {
  let last = NaN;
  try {
    await waitFor(
      what,
      async () => {
        last = await w.sum(name, opts.labels);
        return pred(last);
      },
      { timeoutMs: opts.timeoutMs ?? 5000, intervalMs: 50 },
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}; last ${name}${JSON.stringify(opts.labels ?? {})} = ${last}`);
  }
  return last;
}
