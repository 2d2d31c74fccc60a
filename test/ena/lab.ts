// A three-namespace lab for the ENA simulator tests (everything inside our own namespaces, nothing in the root netns):
//
//   C "client"  eth0 10.77.1.1/24 ──veth── ens5 10.77.1.2/24  N "node"  ens6 10.77.2.2/24 ──veth── eth0 10.77.2.1/24  U "upstream"
//   default via 10.77.1.2                  ip_forward=1                                            default via 10.77.2.2
//                                          10.77.9.0/24 blackhole ("old pod IPs")                  10.77.8.0/24 blackhole
//                                          10.77.8.0/24 via 10.77.2.1
// Static neighbours (no ARP noise), IPv6 off (no ND/MLD noise): the only IPv4 TCP/UDP packets are the tests' own.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { run, spawnLong, stopProcess, type RunResult } from '../../harness/exec.js';
import { NetnsNode } from '../../harness/providers/lab/netns-node.js';
import { waitFor } from '../../harness/wait.js';

export const IP = {
  c: '10.77.1.1',
  nEns5: '10.77.1.2',
  nEns6: '10.77.2.2',
  u: '10.77.2.1',
  oldPod: '10.77.9.9',
  /** blackholed by U, routed there by N */ behindU: '10.77.8.8',
} as const;
export const ECHO_PORT = 7000;

export class EnaLab {
  readonly id = randomBytes(3).toString('hex');
  readonly prefix = `nd-test-ena-${this.id}-`;
  readonly c = `${this.prefix}c`;
  readonly n = `${this.prefix}n`;
  readonly u = `${this.prefix}u`;
  readonly node = new NetnsNode('node', this.n, IP.nEns5, ['ens5', 'ens6']);
  readonly upstream = new NetnsNode('upstream', this.u, IP.u, ['eth0']);
  private procs: ReturnType<typeof spawnLong>[] = [];

  async up(): Promise<void> {
    for (const ns of [this.c, this.n, this.u]) {
      await run('ip', ['netns', 'add', ns]);
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      for (const k of ['all', 'default']) await run('sysctl', ['-qw', `net.ipv6.conf.${k}.disable_ipv6=1`], { ns });
    }
    const mac = { c: '02:77:00:00:01:01', n5: '02:77:00:00:01:02', n6: '02:77:00:00:02:02', u: '02:77:00:00:02:01' };
    const ipn = (ns: string, ...a: string[]) => run('ip', ['-n', ns, ...a]);
    await ipn(this.c, 'link', 'add', 'eth0', 'address', mac.c, 'type', 'veth', 'peer', 'name', 'ens5', 'address', mac.n5, 'netns', this.n);
    await ipn(this.u, 'link', 'add', 'eth0', 'address', mac.u, 'type', 'veth', 'peer', 'name', 'ens6', 'address', mac.n6, 'netns', this.n);
    await ipn(this.c, 'addr', 'add', `${IP.c}/24`, 'dev', 'eth0');
    await ipn(this.n, 'addr', 'add', `${IP.nEns5}/24`, 'dev', 'ens5');
    await ipn(this.n, 'addr', 'add', `${IP.nEns6}/24`, 'dev', 'ens6');
    await ipn(this.u, 'addr', 'add', `${IP.u}/24`, 'dev', 'eth0');
    for (const [ns, dev] of [
      [this.c, 'eth0'],
      [this.n, 'ens5'],
      [this.n, 'ens6'],
      [this.u, 'eth0'],
    ] as const)
      await ipn(ns, 'link', 'set', dev, 'up');
    await ipn(this.c, 'neigh', 'replace', IP.nEns5, 'lladdr', mac.n5, 'dev', 'eth0', 'nud', 'permanent');
    await ipn(this.n, 'neigh', 'replace', IP.c, 'lladdr', mac.c, 'dev', 'ens5', 'nud', 'permanent');
    await ipn(this.n, 'neigh', 'replace', IP.u, 'lladdr', mac.u, 'dev', 'ens6', 'nud', 'permanent');
    await ipn(this.u, 'neigh', 'replace', IP.nEns6, 'lladdr', mac.n6, 'dev', 'eth0', 'nud', 'permanent');
    await ipn(this.c, 'route', 'add', 'default', 'via', IP.nEns5);
    await ipn(this.u, 'route', 'add', 'default', 'via', IP.nEns6);
    await ipn(this.n, 'route', 'add', 'blackhole', '10.77.9.0/24');
    await ipn(this.n, 'route', 'add', '10.77.8.0/24', 'via', IP.u);
    await ipn(this.u, 'route', 'add', 'blackhole', '10.77.8.0/24');
    await run('sysctl', ['-qw', 'net.ipv4.ip_forward=1'], { ns: this.n });
    // echo server on the upstream (stands for the DNS upstream node-local DNS talks TCP to)
    this.procs.push(spawnLong('socat', [`TCP-LISTEN:${ECHO_PORT},bind=${IP.u},reuseaddr,fork`, 'PIPE'], { ns: this.u }));
    const hex = `${IP.u
      .split('.')
      .reverse()
      .map((o) => Number(o).toString(16).padStart(2, '0'))
      .join('')
      .toUpperCase()}:${ECHO_PORT.toString(16).toUpperCase().padStart(4, '0')}`;
    await waitFor(
      'echo server listening',
      async () => (await this.upstream.readProcNet('tcp')).split('\n').some((l) => l.includes(` ${hex} `) && / 0A /.test(l)),
      { timeoutMs: 5000, intervalMs: 50 },
    );
  }

  /** Delete everything; safe to call on a half-built lab. Kills only processes inside our own namespaces. */
  async down(): Promise<void> {
    for (const p of this.procs) await stopProcess(p, 500).catch(() => undefined);
    this.procs = [];
    for (const ns of [this.c, this.n, this.u]) {
      const pids = await run('ip', ['netns', 'pids', ns], { reject: false });
      for (const pid of pids.stdout
        .split('\n')
        .map(Number)
        .filter((x) => x > 0)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await run('ip', ['netns', 'del', ns], { reject: false });
    }
  }
}

export interface HpingResult {
  sent: number;
  received: number;
  ms: number;
  res: RunResult;
}

/**
 * A bounded SYN burst: exactly `count` SYNs (source port +1 each: every SYN is a new flow), under timeout(1).
 * hping3 picks its base source port at random, so two bursts may share flows: pass `baseSport` when they must not.
 */
export async function hpingSyn(
  ns: string,
  dst: string,
  opts: { count: number; intervalUs: number; port?: number; baseSport?: number },
): Promise<HpingResult> {
  const t0 = performance.now();
  const sport = opts.baseSport === undefined ? [] : ['-s', String(opts.baseSport)];
  const res = await run(
    'timeout',
    ['30', 'hping3', '-q', '-S', ...sport, '-p', String(opts.port ?? 50051), '-c', String(opts.count), '-i', `u${opts.intervalUs}`, dst],
    { ns, reject: false, timeoutMs: 35_000 },
  );
  const m = /(\d+) packets tra\w*mitted, (\d+) packets received/.exec(res.stdout + res.stderr);
  if (!m) throw new Error(`hping3 printed no statistics: ${res.stdout} ${res.stderr}`);
  return { sent: Number(m[1]), received: Number(m[2]), ms: performance.now() - t0, res };
}

/** A fresh TCP connection from `ns` doing one echo round trip. true = it worked. */
export async function newConnectionWorks(ns: string, ip: string, port: number, connectTimeoutS = 1): Promise<boolean> {
  const r = await run('socat', ['-t', '2', '-', `TCP:${ip}:${port},connect-timeout=${connectTimeoutS}`], {
    ns,
    input: 'ping\n',
    reject: false,
    timeoutMs: (connectTimeoutS + 5) * 1000,
  });
  return r.exitCode === 0 && r.stdout.trim() === 'ping';
}

/** A long-lived TCP connection (socat in `ns`) we can do echo round trips on. */
export class EchoClient {
  private p: ChildProcessWithoutNullStreams;
  private buf = '';
  private exited = false;

  constructor(ns: string, ip: string, port: number) {
    this.p = spawn('ip', ['netns', 'exec', ns, 'socat', '-', `TCP:${ip}:${port},connect-timeout=2`], { stdio: 'pipe' });
    this.p.stdout.setEncoding('utf8');
    this.p.stdout.on('data', (d: string) => {
      this.buf += d;
    });
    this.p.on('exit', () => {
      this.exited = true;
    });
  }

  /** One round trip; resolves false on timeout or if the connection is gone. */
  async echo(msg: string, timeoutMs = 2000): Promise<boolean> {
    if (this.exited) return false;
    this.buf = '';
    this.p.stdin.write(`${msg}\n`);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.buf.includes(msg)) return true;
      if (this.exited) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
    return false;
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const done = new Promise((r) => this.p.once('exit', r));
    this.p.stdin.end();
    const t = setTimeout(() => this.p.kill('SIGKILL'), 2000);
    await done;
    clearTimeout(t);
  }
}
