// The workload image: one image for both workloads (workloads/Dockerfile), built from a small staged context
// (package.json, dist/workloads, workloads/proto and only the node_modules the compiled workloads import), then
// preloaded into the kind nodes with `kind load docker-image` (pullPolicy IfNotPresent: nothing is pulled).
// On machines with a registry BASE is node:20-bookworm-slim; where none is reachable the debootstrap-based
// notdns/node-base:bookworm from scripts/docker/start-dockerd.sh is used (--base or NOTDNS_IMAGE_BASE).
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { run } from '../../exec.js';
import { NotdnsError } from '../../errors.js';
import { repoRoot } from '../../paths.js';
import { dockerBin } from './node.js';

export { WORKLOAD_IMAGE } from '../k8s/manifests.js';
import { WORKLOAD_IMAGE } from '../k8s/manifests.js';
export const DEFAULT_BASE = 'node:20-bookworm-slim';
export const OFFLINE_BASE = 'notdns/node-base:bookworm';
export const DOCKERFILE = join(repoRoot, 'workloads', 'Dockerfile');

export function imageBase(): string {
  return process.env.NOTDNS_IMAGE_BASE ?? DEFAULT_BASE;
}

export function dockerBuildArgv(contextDir: string, tag: string, base: string): string[] {
  return ['build', '--file', join(contextDir, 'Dockerfile'), '--tag', tag, '--build-arg', `BASE=${base}`, contextDir];
}

// ---- which node_modules the image needs ---------------------------------------------------------------------

interface LockPackage {
  version?: string;
  dev?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}
interface Lockfile {
  lockfileVersion: number;
  packages: Record<string, LockPackage>;
}

/** The package name of a bare import specifier ('@grpc/grpc-js/build/x' → '@grpc/grpc-js'); undefined for relative/builtin. */
export function packageOf(spec: string): string | undefined {
  if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:')) return undefined;
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Bare imports of an ES module's source (static `import ... from 'x'`, `export ... from 'x'`, `import('x')`). */
export function bareImports(source: string): string[] {
  const out = new Set<string>();
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]([^'"]+)['"]/g;
  for (const m of source.matchAll(re)) {
    const p = packageOf(m[1]!);
    if (p) out.add(p);
  }
  return [...out];
}

/**
 * Directories below node_modules the roots need: their transitive dependencies, resolved the way Node does
 * (nested node_modules first, then hoisted), from package-lock.json v2/v3.
 */
export function dependencyClosure(lock: Lockfile, roots: readonly string[]): string[] {
  if (!lock.packages)
    throw new NotdnsError('package-lock.json has no "packages" (lockfile v1?): run npm install with npm >= 7', { kind: 'environment' });
  const seen = new Set<string>();
  const resolve = (from: string, name: string): string | undefined => {
    // walk up from the requiring package's folder, like require.resolve
    let base = from;
    for (;;) {
      const candidate = `${base ? base + '/' : ''}node_modules/${name}`;
      if (lock.packages[candidate]) return candidate;
      if (!base) return undefined;
      const i = base.lastIndexOf('/node_modules/');
      base = i < 0 ? '' : base.slice(0, i);
    }
  };
  const visit = (key: string) => {
    if (seen.has(key)) return;
    seen.add(key);
    const p = lock.packages[key]!;
    for (const dep of [...Object.keys(p.dependencies ?? {}), ...Object.keys(p.optionalDependencies ?? {})]) {
      const k = resolve(key, dep);
      if (k) visit(k);
    }
  };
  for (const r of roots) {
    const k = resolve('', r);
    if (!k)
      throw new NotdnsError(`the workloads import "${r}" but package-lock.json does not have it`, {
        kind: 'harness',
        hint: 'Add it to package.json dependencies and run npm install.',
      });
    visit(k);
  }
  return [...seen].sort();
}

async function listJs(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listJs(p)));
    else if (e.name.endsWith('.js')) out.push(p);
  }
  return out;
}

export interface StagedContext {
  dir: string;
  packages: string[];
  files: number;
}

/**
 * Stage the docker build context in `dir`: Dockerfile, package.json (ESM "type"), dist/workloads, workloads/proto,
 * and the node_modules the compiled workloads import (with their dependencies).
 */
export async function stageBuildContext(dir: string, root = repoRoot): Promise<StagedContext> {
  const distWorkloads = join(root, 'dist', 'workloads');
  if (!existsSync(distWorkloads)) {
    throw new NotdnsError(`no compiled workloads in ${distWorkloads}`, { kind: 'environment', hint: 'Run `npm run build` first.' });
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const jsFiles = (await listJs(distWorkloads)).filter((f) => !f.includes(`${join('dist', 'workloads', 'alerting-engine-k6')}`));
  const roots = new Set<string>();
  for (const f of jsFiles) for (const p of bareImports(await readFile(f, 'utf8'))) roots.add(p);
  const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as Lockfile;
  const pkgs = dependencyClosure(lock, [...roots].sort());
  for (const f of jsFiles) {
    const to = join(dir, relative(root, f));
    await mkdir(dirname(to), { recursive: true });
    await cp(f, to);
  }
  await cp(join(root, 'workloads', 'proto'), join(dir, 'workloads', 'proto'), { recursive: true });
  for (const k of pkgs) await cp(join(root, k), join(dir, k), { recursive: true, dereference: true });
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { name: string; version: string; type?: string };
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({ name: `${pkg.name}-workloads`, version: pkg.version, type: pkg.type ?? 'module', private: true }, null, 2) + '\n',
  );
  await cp(DOCKERFILE, join(dir, 'Dockerfile'));
  return { dir, packages: pkgs, files: jsFiles.length };
}

/** Build the workload image; returns the tag. */
export async function buildWorkloadImage(opts: { stageDir: string; tag?: string; base?: string; signal?: AbortSignal }): Promise<string> {
  const tag = opts.tag ?? WORKLOAD_IMAGE;
  await stageBuildContext(opts.stageDir);
  await run(dockerBin(), dockerBuildArgv(opts.stageDir, tag, opts.base ?? imageBase()), { timeoutMs: 15 * 60_000, signal: opts.signal });
  return tag;
}
