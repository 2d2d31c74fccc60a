// Tools the harness runs inside kind node containers that kindest/node does not have: bpftool (loads and reads the
// ENA simulator) and dig (the independent DNS check). kindest/node is Debian bookworm-slim with a fixed package list
// (no bpftool, no dnsutils), so they come from the node image's own Debian release: `apt-get install` in each node
// (nodes have egress on a CI runner), or, offline, .deb files from NOTDNS_NODE_DEBS installed with node.ts
// installNodeDebs (one docker cp, one dpkg). They live in the node containers, so they go away with the cluster. Pure argv builders, tested; the one
// function that runs them takes the runner as a parameter.
import { readdir } from 'node:fs/promises';
import { NotdnsError } from '../../errors.js';
import type { RunOptions, RunResult } from '../../exec.js';
import { debFiles, dockerExecArgv } from './node.js';

/** Debian packages (bookworm) that bring bpftool and dig. */
export const NODE_TOOL_PACKAGES = ['bpftool', 'bind9-dnsutils'] as const;
/** Commands they must make available. */
export const NODE_TOOL_COMMANDS = ['bpftool', 'dig'] as const;
const APT_ENV = { DEBIAN_FRONTEND: 'noninteractive' };

/** Exit 0 when every tool is on the node's PATH. */
export function nodeToolsCheckArgv(container: string): string[] {
  return dockerExecArgv(container, 'sh', ['-c', NODE_TOOL_COMMANDS.map((c) => `command -v ${c} >/dev/null`).join(' && ')]);
}

/** kindest/node removes apt's lists when it is built: they are fetched first. */
export function aptUpdateArgv(container: string): string[] {
  return dockerExecArgv(container, 'apt-get', ['update', '-q'], { env: APT_ENV });
}

export function aptInstallArgv(container: string, packages: readonly string[] = NODE_TOOL_PACKAGES): string[] {
  return dockerExecArgv(container, 'apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], { env: APT_ENV });
}

export interface NodeToolsDeps {
  /** Runs docker with an argv (the kind provider passes exec's run with its docker binary). */
  docker(args: string[], opts?: Pick<RunOptions, 'timeoutMs' | 'signal' | 'reject'>): Promise<RunResult>;
  listDir(dir: string): Promise<string[]>;
  /** Install the .deb files of a local folder in a node container (the kind provider: node.ts installNodeDebs). */
  installDebs(container: string, dir: string): Promise<unknown>;
}

export const defaultListDir = (dir: string): Promise<string[]> => readdir(dir);

export interface NodeToolsResult {
  container: string;
  how: 'present' | 'apt' | 'debs';
}

/**
 * Make bpftool and dig available in each node container: nothing when they are there already (a custom node
 * image), the .deb files of `debsDir` when given (no network needed), else apt-get from the node's Debian mirror.
 */
export async function ensureNodeTools(
  containers: readonly string[],
  deps: NodeToolsDeps,
  opts: { debsDir?: string; signal?: AbortSignal } = {},
): Promise<NodeToolsResult[]> {
  const debs = opts.debsDir
    ? debFiles(
        await deps.listDir(opts.debsDir).catch((e: Error) => {
          throw new NotdnsError(`NOTDNS_NODE_DEBS=${opts.debsDir}: ${e.message}`, {
            kind: 'environment',
            hint: 'Point it at a directory of .deb files, or unset it to use apt-get in the nodes.',
          });
        }),
      )
    : [];
  if (opts.debsDir && !debs.length) {
    throw new NotdnsError(`NOTDNS_NODE_DEBS=${opts.debsDir} has no .deb files`, { kind: 'environment', hint: debsHint() });
  }
  const one = async (c: string): Promise<NodeToolsResult> => {
    const present = async () =>
      (await deps.docker(nodeToolsCheckArgv(c), { reject: false, timeoutMs: 30_000, signal: opts.signal })).exitCode === 0;
    if (await present()) return { container: c, how: 'present' };
    const step = async (args: string[], what: string, hint: string) => {
      const r = await deps.docker(args, { reject: false, timeoutMs: 300_000, signal: opts.signal });
      if (r.exitCode !== 0) {
        throw new NotdnsError(`${what} in kind node ${c} failed (exit ${r.exitCode}): ${lastLines(r.stderr || r.stdout)}`, {
          kind: 'environment',
          command: r.command,
          hint,
        });
      }
    };
    if (opts.debsDir) {
      await deps.installDebs(c, opts.debsDir);
    } else {
      const hint = `The nodes need HTTPS access to Debian's mirror; offline, set NOTDNS_NODE_DEBS. ${debsHint()}`;
      await step(aptUpdateArgv(c), 'apt-get update', hint);
      await step(aptInstallArgv(c), `apt-get install ${NODE_TOOL_PACKAGES.join(' ')}`, hint);
    }
    if (!(await present())) {
      throw new NotdnsError(
        `${NODE_TOOL_COMMANDS.join(' and ')} are still missing in kind node ${c} after installing ${opts.debsDir ? `the packages of ${opts.debsDir}` : NODE_TOOL_PACKAGES.join(' ')}`,
        {
          kind: 'environment',
          hint: debsHint(),
        },
      );
    }
    return { container: c, how: opts.debsDir ? 'debs' : 'apt' };
  };
  return Promise.all(containers.map(one));
}

function debsHint(): string {
  return (
    `NOTDNS_NODE_DEBS must hold ${NODE_TOOL_PACKAGES.join(' and ')} for the node image's Debian release (bookworm for kindest/node v1.34) ` +
    'with every dependency kindest/node lacks, e.g. from `apt-get install --download-only --no-install-recommends ' +
    `${NODE_TOOL_PACKAGES.join(' ')}\` in a debian:bookworm-slim container (the files land in /var/cache/apt/archives).`
  );
}

function lastLines(s: string, n = 4): string {
  return s.trim().split('\n').slice(-n).join(' | ');
}
