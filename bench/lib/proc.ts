// What the benchmarks read from /proc: CPU time and memory of a process, host CPU counters, the machine.
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { cpus, hostname, loadavg, release, totalmem } from 'node:os';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on every Linux we know, asked once). */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface ProcCpu {
  /** utime + stime of the process itself, seconds. */
  self: number;
  user: number;
  system: number;
  /** cutime + cstime: CPU of its children that have exited and been waited for, seconds. */
  children: number;
}

function parseStat(text: string): ProcCpu {
  // fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15, cutime 16, cstime 17
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const f = (n: number) => Number(rest[n - 3]);
  return { self: (f(14) + f(15)) / CLK_TCK, user: f(14) / CLK_TCK, system: f(15) / CLK_TCK, children: (f(16) + f(17)) / CLK_TCK };
}

export async function procCpu(pid: number | 'self'): Promise<ProcCpu> {
  return parseStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
}

export interface ProcMem {
  /** Resident set size now, MB (MiB). */
  rssMb: number;
  /** Peak resident set size (VmHWM), MB. */
  hwmMb: number;
}

export async function procMem(pid: number): Promise<ProcMem> {
  const s = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

export interface HostCpu {
  /** Jiffies summed over all CPUs. */
  total: number;
  idle: number;
  softirq: number;
  system: number;
}

export function hostCpu(): HostCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line as [number, number, number, number, number, number, number, number];
  return { total: user + nice + system + idle + iowait + irq + softirq + (steal ?? 0), idle: idle + iowait, softirq, system };
}

/** Share of all CPUs (0..100 %) that was busy between two hostCpu() readings. */
export function busyPct(a: HostCpu, b: HostCpu): number {
  const t = b.total - a.total;
  return t > 0 ? (100 * (t - (b.idle - a.idle))) / t : NaN;
}

export interface Machine {
  hostname: string;
  kernel: string;
  cpuModel: string;
  cores: number;
  memGb: number;
  node: string;
  date: string;
  loadavgAtStart: number[];
}

export function machine(): Machine {
  let model = cpus()[0]?.model ?? 'unknown';
  try {
    model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? model;
  } catch {
    /* keep os.cpus() */
  }
  return {
    hostname: hostname(),
    kernel: release(),
    cpuModel: model,
    cores: cpus().length,
    memGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    date: new Date().toISOString(),
    loadavgAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

export function load1(): number {
  return Math.round(loadavg()[0]! * 100) / 100;
}
