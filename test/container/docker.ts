// Shared by the container tests: start (or reuse) the Docker engine of scripts/docker/start-dockerd.sh, build the
// test images of scripts/docker/test-images.sh (cached by tag), and the non-root harness user. Each returns a
// reason to skip instead of throwing where this machine cannot do it (no engine, no Debian mirror, not root).
import { execa } from 'execa';
import { join } from 'node:path';
import { repoRoot } from '../../harness/paths.js';

const SCRIPTS = join(repoRoot, 'scripts', 'docker');
/** The state directory of scripts/docker (rootfs tarballs, cached .deb folders, logs). */
export const DOCKER_DIR = process.env.NOTDNS_DOCKER_DIR ?? '/var/lib/notdns-docker';
/** The harness user of the kind-node test: a system user in group docker, no home, no shell. */
export const CI_USER = 'notdns-ci';

export type Outcome<T> = { ok: T } | { skip: string };

function tail(s: unknown, n = 2): string {
  return String(s ?? '')
    .trim()
    .split('\n')
    .slice(-n)
    .join(' | ');
}

/** Start the engine (idempotent). startedEngine: this call started it, so the suite stops it again. */
export async function startEngine(): Promise<Outcome<{ startedEngine: boolean }>> {
  if (process.env.NOTDNS_SKIP_DOCKER === '1') return { skip: 'NOTDNS_SKIP_DOCKER=1' };
  const r = await execa('bash', [join(SCRIPTS, 'start-dockerd.sh'), '--engine'], { reject: false, timeout: 5 * 60_000, all: true });
  if (r.exitCode !== 0) return { skip: `no Docker engine here (scripts/docker/start-dockerd.sh exit ${r.exitCode}): ${tail(r.all)}` };
  return { ok: { startedEngine: /starting dockerd/.test(String(r.all ?? '')) } };
}

export async function stopEngine(): Promise<void> {
  await execa('bash', [join(SCRIPTS, 'start-dockerd.sh'), '--stop'], { reject: false, timeout: 30_000 });
}

/** scripts/docker/test-images.sh ARGS: 0 → its stdout; 2 (no engine) or 4 (no mirror) → skip; else throw. */
export async function testImages(args: string[]): Promise<Outcome<string>> {
  const r = await execa('bash', [join(SCRIPTS, 'test-images.sh'), ...args], { reject: false, timeout: 15 * 60_000 });
  if (r.exitCode === 0) return { ok: String(r.stdout).trim().split('\n').pop()! };
  if (r.exitCode === 2 || r.exitCode === 4)
    return { skip: `scripts/docker/test-images.sh ${args[0]} exit ${r.exitCode}: ${tail(r.stderr)}` };
  throw new Error(`scripts/docker/test-images.sh ${args.join(' ')} failed (exit ${r.exitCode}): ${tail(r.stderr, 6)}`);
}

/** Create CI_USER (system user, group docker) if missing; returns its uid. Needs root. */
export async function ensureCiUser(): Promise<Outcome<number>> {
  if (process.getuid?.() !== 0) return { skip: 'not root: cannot create the non-root harness user' };
  const g = await execa('getent', ['group', 'docker'], { reject: false });
  if (g.exitCode !== 0) return { skip: 'no group docker on this machine (it comes with docker.io)' };
  const id = await execa('id', ['-u', CI_USER], { reject: false });
  if (id.exitCode !== 0) {
    await execa('useradd', [
      '--system',
      '--no-create-home',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
      '--groups',
      'docker',
      CI_USER,
    ]);
  } else {
    const groups = await execa('id', ['-nG', CI_USER]);
    if (!String(groups.stdout).split(/\s+/).includes('docker')) await execa('usermod', ['-aG', 'docker', CI_USER]);
  }
  return { ok: Number((await execa('id', ['-u', CI_USER])).stdout) };
}

export async function removeContainers(names: readonly string[]): Promise<void> {
  if (names.length) await execa('docker', ['rm', '-f', '-v', ...names], { reject: false, timeout: 60_000 });
}

export async function inspect(container: string, format: string): Promise<string> {
  return String((await execa('docker', ['inspect', '--type', 'container', '--format', format, container])).stdout).trim();
}
