import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { NotdnsError } from './errors.js';
import { homedir } from 'node:os';

function findRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(d, 'package.json')) && existsSync(join(d, 'harness'))) return d;
    d = dirname(d);
  }
  throw new Error('cannot find the notdns repository root from ' + import.meta.url);
}

/** The repository root (where package.json is), whether running from dist/ or not. */
export const repoRoot = findRoot();
/** Compiled JavaScript lives here (tsc outDir). */
export const distDir = join(repoRoot, 'dist');
/** Kubernetes and kind templates (valid manifests on their own). */
export const manifestsDir = join(repoRoot, 'manifests');
/**
 * Where the harness keeps per-run state (pid files, configs, kubeconfigs, bpffs mounts): NOTDNS_STATE_DIR when set;
 * else /run/notdns for root (the lab always runs as root); else a directory the user can write without root, for
 * --provider kind as a member of the docker group: $XDG_RUNTIME_DIR/notdns, or ~/.local/state/notdns without one.
 */
export function chooseStateRoot(env: Record<string, string | undefined>, uid: number | undefined, home: string): string {
  if (env.NOTDNS_STATE_DIR) return env.NOTDNS_STATE_DIR;
  if (uid === 0) return '/run/notdns';
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'notdns');
  return join(home, '.local', 'state', 'notdns');
}

/** Per-run state lives in <stateRoot>/<run id>. Swept by `down --all`. */
export const stateRoot = chooseStateRoot(process.env, process.getuid?.(), homedir());
/** Build artefacts that are not TypeScript (compiled bpf objects). */
export const buildDir = join(repoRoot, 'dist', 'build');

/** Create a run's output folder (and its parents); an environment error naming the folder and the fix if it cannot be. */
export async function createOutDir(outDir: string): Promise<string> {
  await mkdir(outDir, { recursive: true }).catch((e: Error) => {
    throw new NotdnsError(`cannot create the output folder ${outDir}: ${e.message}`, {
      kind: 'environment',
      cause: e,
      hint: 'Choose a writable folder with --out.',
    });
  });
  return outDir;
}
