import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';

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
/** Where the harness keeps per-run state (pid files, configs, bpffs mounts). Swept by `down --all`. */
export const stateRoot = process.env.NOTDNS_STATE_DIR ?? '/run/notdns';
/** Build artefacts that are not TypeScript (compiled bpf objects). */
export const buildDir = join(repoRoot, 'dist', 'build');
