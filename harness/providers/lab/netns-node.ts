// A lab node (or any host) that is a Linux network namespace. Commands run through `ip netns exec`;
// /proc/net files are read through a sentinel process living in the namespace (/proc/<pid>/net/...),
// so sampling needs no fork per read.
import { readFile, readlink } from 'node:fs/promises';
import { run, spawnLong, stopProcess, type RunOptions, type RunResult } from '../../exec.js';
import type { ClusterNode } from '../types.js';
import { waitFor } from '../../wait.js';
import type { ResultPromise } from 'execa';

export class NetnsNode implements ClusterNode {
  private sentinel?: ResultPromise;

  constructor(
    readonly name: string,
    /** The network namespace name (nd-<run>-<name>). */
    readonly ns: string,
    readonly ip: string,
    readonly uplinks: readonly string[] = ['ens5', 'ens6'],
  ) {}

  get netns(): string {
    return this.ns;
  }

  exec(cmd: string, args: readonly string[], opts: Omit<RunOptions, 'ns'> = {}): Promise<RunResult> {
    return run(cmd, args, { ...opts, ns: this.ns });
  }

  /** Start the sentinel process used for /proc/<pid>/net reads. Call once the namespace exists. */
  async startSentinel(): Promise<void> {
    if (this.sentinel) return;
    this.sentinel = spawnLong('sleep', ['infinity'], { ns: this.ns });
    const p = this.sentinel;
    // `ip netns exec` execs in place: the pid we have is the sleep process, once it has entered the namespace.
    await waitFor(
      `sentinel process in ${this.ns}`,
      async () => {
        if (!p.pid) return false;
        const link = await readlink(`/proc/${p.pid}/ns/net`).catch(() => '');
        const self = await readlink('/proc/self/ns/net');
        return link !== '' && link !== self;
      },
      { timeoutMs: 5000, intervalMs: 10 },
    );
  }

  get sentinelPid(): number | undefined {
    return this.sentinel?.pid;
  }

  async readProcNet(file: string): Promise<string> {
    const pid = this.sentinel?.pid;
    if (pid) return readFile(`/proc/${pid}/net/${file}`, 'utf8');
    return (await this.exec('cat', [`/proc/net/${file}`])).stdout;
  }

  async putFile(localPath: string): Promise<string> {
    return localPath; // same filesystem
  }

  async stopSentinel(): Promise<void> {
    if (this.sentinel) await stopProcess(this.sentinel, 500);
    this.sentinel = undefined;
  }
}
