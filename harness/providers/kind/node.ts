// A kind node is a (privileged) docker container running systemd + kubelet. It shares the host's kernel and has
// its own network namespace whose uplink is eth0 (on the kind docker network). So the ClusterNode contract maps
// directly onto docker: exec = `docker exec <container> CMD...`, putFile = `docker cp`, and /proc/net of the node
// is /proc/<container init pid>/net on the host (no fork per read when the harness runs on the docker host).
// The ENA simulator (harness/ena) and the probes reuse this unchanged.
import { readdir, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { NotdnsError } from '../../errors.js';
import { run, type RunOptions, type RunResult } from '../../exec.js';
import type { ClusterNode } from '../types.js';

/** Where putFile puts files inside a node container. */
export const NODE_FILE_DIR = '/tmp/notdns';

export function dockerBin(): string {
  return process.env.NOTDNS_DOCKER ?? 'docker';
}

/** argv of `docker exec` for a command in a node container (pure; tested). */
export function dockerExecArgv(
  container: string,
  cmd: string,
  args: readonly string[],
  opts: { input?: boolean; env?: Record<string, string>; cwd?: string; detach?: boolean } = {},
): string[] {
  const a = ['exec'];
  if (opts.detach) a.push('-d');
  if (opts.input) a.push('-i');
  for (const [k, v] of Object.entries(opts.env ?? {})) a.push('-e', `${k}=${v}`);
  if (opts.cwd) a.push('-w', opts.cwd);
  a.push(container, cmd, ...args);
  return a;
}

export function dockerCpArgv(localPath: string, container: string, remotePath: string): string[] {
  return ['cp', localPath, `${container}:${remotePath}`];
}

export function dockerInspectArgv(container: string, format: string): string[] {
  return ['inspect', '--type', 'container', '--format', format, container];
}

/** The command that implements Cilium #18505's behaviour on a kind node (see kind.ts, emulateUnreachable). */
export function unreachableRouteArgv(ip: string): string[] {
  return ['route', 'replace', 'unreachable', `${ip}/32`];
}

export function removeUnreachableRouteArgv(ip: string): string[] {
  return ['route', 'del', 'unreachable', `${ip}/32`];
}

/** Where installNodeDebs copies .deb files inside a node container (removed again afterwards). */
export const NODE_DEB_DIR = `${NODE_FILE_DIR}/debs`;

/** The .deb files among a directory's entries, sorted (pure). */
export function debFiles(entries: readonly string[]): string[] {
  return entries.filter((f) => f.endsWith('.deb') && !f.includes('/')).sort();
}

/** argv of `dpkg` installing .deb files inside a node in one transaction (pure; tested). */
export function dpkgInstallArgv(debPaths: readonly string[]): string[] {
  return ['--install', '--skip-same-version', ...debPaths];
}

/** argv (inside a node) that runs `cmd` in another network namespace of the node, e.g. a pod's (pure; tested). */
export function nsenterNetArgv(netnsPath: string, cmd: string, args: readonly string[]): string[] {
  return [`--net=${netnsPath}`, cmd, ...args];
}

/**
 * Install Debian packages on a node that has no egress: the .deb files of `debDir` on the machine running the
 * harness (fetched for the node's Debian release, e.g. `apt-get download` of bpftool and bind9-dnsutils plus the
 * dependencies the node lacks; scripts/docker/test-images.sh node-debs does it) are copied in with one `docker cp`
 * and installed with one `dpkg --install`. kindest/node has no bpftool and no dig. Returns the files installed.
 */
export async function installNodeDebs(node: KindNode, debDir: string): Promise<string[]> {
  const files = debFiles(
    await readdir(debDir).catch((e: Error) => {
      throw new NotdnsError(`cannot read the .deb folder ${debDir}: ${e.message}`, { kind: 'usage' });
    }),
  );
  if (files.length === 0)
    throw new NotdnsError(`no .deb files in ${debDir}`, {
      kind: 'usage',
      hint: 'Fetch them first, e.g. `apt-get download bpftool` in that folder.',
    });
  await node.exec('mkdir', ['-p', NODE_DEB_DIR]);
  try {
    await run(dockerBin(), dockerCpArgv(`${debDir}/.`, node.container, NODE_DEB_DIR), { timeoutMs: 120_000 });
    const r = await node.exec('dpkg', dpkgInstallArgv(files.map((f) => `${NODE_DEB_DIR}/${f}`)), {
      env: { DEBIAN_FRONTEND: 'noninteractive' },
      timeoutMs: 300_000,
      reject: false,
    });
    if (r.exitCode !== 0) {
      throw new NotdnsError(
        `dpkg could not install ${files.length} packages on node ${node.name}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`,
        {
          kind: 'environment',
          command: r.command,
          hint: `The .deb files must be for the node's Debian release and include every dependency it lacks (apt-get -s install against the node's /var/lib/dpkg/status says which).`,
        },
      );
    }
  } finally {
    await node.exec('rm', ['-rf', NODE_DEB_DIR], { reject: false });
  }
  return files;
}

export class KindNode implements ClusterNode {
  /** The container's init pid on the host (for /proc/<pid>/net reads); undefined when docker is remote. */
  private pid?: number;

  constructor(
    /** Kubernetes node name = docker container name (kind names both <cluster>-worker, -worker2, ...). */
    readonly name: string,
    /** Address on the kind docker network (eth0). */
    readonly ip: string,
    readonly uplinks: readonly string[] = ['eth0'],
  ) {}

  get container(): string {
    return this.name;
  }

  exec(cmd: string, args: readonly string[], opts: Omit<RunOptions, 'ns'> = {}): Promise<RunResult> {
    const argv = dockerExecArgv(this.container, cmd, args, { input: opts.input !== undefined, env: opts.env, cwd: opts.cwd });
    // env/cwd apply inside the container, not to the docker client
    return run(dockerBin(), argv, { timeoutMs: opts.timeoutMs, signal: opts.signal, input: opts.input, reject: opts.reject });
  }

  /** Find the container's init pid so readProcNet can read the node's /proc/net without a fork. */
  async resolvePid(): Promise<number | undefined> {
    const r = await run(dockerBin(), dockerInspectArgv(this.container, '{{.State.Pid}}'), { reject: false });
    const pid = Number(r.stdout.trim());
    if (r.exitCode === 0 && pid > 0) {
      // the pid is only ours to read if docker runs on this host (not a remote DOCKER_HOST)
      const ok = await readFile(`/proc/${pid}/net/snmp`, 'utf8').then(
        () => true,
        () => false,
      );
      this.pid = ok ? pid : undefined;
    }
    return this.pid;
  }

  async readProcNet(file: string): Promise<string> {
    if (this.pid) {
      try {
        return await readFile(`/proc/${this.pid}/net/${file}`, 'utf8');
      } catch {
        this.pid = undefined; // container restarted: fall back to docker exec
      }
    }
    return (await this.exec('cat', [`/proc/net/${file}`])).stdout;
  }

  async putFile(localPath: string): Promise<string> {
    const remote = `${NODE_FILE_DIR}/${basename(localPath)}`;
    await this.exec('mkdir', ['-p', NODE_FILE_DIR]);
    await run(dockerBin(), dockerCpArgv(localPath, this.container, remote));
    return remote;
  }

  /**
   * The host-side peer of the node's eth0 (the veth on the docker bridge): the place "outside the instance"
   * where a real ENA sits. Not used by default (uplinks = eth0 inside the node); see docs/kind.md about Cilium's
   * own tc programs on eth0.
   */
  async hostPeerInterface(): Promise<string | undefined> {
    const r = await this.exec('cat', ['/sys/class/net/eth0/iflink'], { reject: false });
    const idx = r.stdout.trim();
    if (r.exitCode !== 0 || !/^\d+$/.test(idx)) return undefined;
    const l = await run('ip', ['-o', 'link', 'show'], { reject: false });
    const line = l.stdout.split('\n').find((x) => x.startsWith(`${idx}: `));
    return line?.split(': ')[1]?.split('@')[0];
  }
}
