// `notdns doctor` for --provider kind: is this machine able to create a kind cluster with Cilium and run the ENA
// simulator in it? Exactly what kind needs, nothing of the lab (no root, no namespaces, no lab packages): docker and
// its engine (the docker group is enough), kind, helm or the cilium CLI, clang and the BPF headers (the simulator is
// compiled here and loaded inside the nodes, where notdns installs bpftool itself), a writable state directory,
// the host's inotify limits, the image registries. Each check says what it found and how to fix it.
// The CLI prints them (harness/cli.ts calls kindDoctor()).
import { access, constants, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { run as realRun, type RunOptions, type RunResult } from '../../exec.js';
import { stateRoot } from '../../paths.js';
import { chooseInstaller } from './cilium.js';
import { kindBin } from './config.js';
import { dockerBin } from './node.js';

export interface DoctorCheck {
  check: string;
  ok: boolean;
  detail: string;
  fix: string;
  /** A failed optional check does not stop a run. */
  optional?: boolean;
}

export interface DoctorDeps {
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** HTTP status of a GET (any status means the host answered), or an error message. */
  httpStatus(url: string, timeoutMs: number): Promise<number | string>;
  /** A file's text, or undefined when it cannot be read. */
  readFile?(path: string): Promise<string | undefined>;
  /** true when the directory exists and is writable, or can be created; else why not. */
  writableDir?(path: string): Promise<true | string>;
}

async function readText(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch(() => undefined);
}

/** Writable, or creatable: the nearest existing ancestor is writable (nothing is created here). */
async function writableDir(path: string): Promise<true | string> {
  for (let d = path; ; d = dirname(d)) {
    try {
      await access(d, constants.F_OK);
    } catch {
      if (dirname(d) === d) return `no ancestor of ${path} exists`;
      continue;
    }
    try {
      await access(d, constants.W_OK);
      return true;
    } catch {
      return d === path ? `${path} is not writable` : `${path} does not exist and ${d} is not writable`;
    }
  }
}

async function httpStatus(url: string, timeoutMs: number): Promise<number | string> {
  try {
    const r = await fetch(url, { method: 'GET', signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    return r.status;
  } catch (e) {
    const c = (e as { cause?: { code?: string; message?: string } }).cause;
    return c?.code ?? c?.message ?? (e as Error).message;
  }
}

export const defaultDoctorDeps: DoctorDeps = { run: realRun, httpStatus, readFile: readText, writableDir };

/** The header the ENA simulator's build needs (Debian/Ubuntu package libbpf-dev). */
export const BPF_HEADER = '/usr/include/bpf/bpf_helpers.h';
/** kind's known issue "too many open files": host limits for clusters of several nodes (not namespaced). */
export const INOTIFY_MIN = { max_user_watches: 524288, max_user_instances: 512 } as const;

/** Registries the kind provider pulls from (kindest/node, Cilium, node-cache, k6). Each answers /v2/ with 200 or 401. */
export const REGISTRIES = [
  { name: 'Docker Hub (kindest/node, grafana/k6)', url: 'https://registry-1.docker.io/v2/' },
  { name: 'quay.io (Cilium images)', url: 'https://quay.io/v2/' },
  { name: 'registry.k8s.io (k8s-dns-node-cache)', url: 'https://registry.k8s.io/v2/' },
] as const;

export const FIX = {
  dockerCli: 'Install Docker: Debian/Ubuntu `apt-get install docker.io` (or Docker CE); see https://docs.docker.com/engine/install/.',
  dockerGroup:
    'The engine runs but this user may not use it: add the user to the docker group (`sudo usermod -aG docker $USER`, then log in again); notdns needs no root for --provider kind.',
  dockerEngine:
    'Start the engine: `sudo systemctl start docker`; on a VM without systemd `scripts/docker/start-dockerd.sh` starts dockerd (with the runc wrapper our VMs need for privileged containers). Rootless: export DOCKER_HOST.',
  kind: 'Install kind >= 0.27: `go install sigs.k8s.io/kind@v0.30.0`, or the release binary from https://kind.sigs.k8s.io/docs/user/quick-start/#installation (CI: helm/kind-action).',
  helmOrCilium:
    'Install helm (https://helm.sh/docs/intro/install/, CI: azure/setup-helm) or the cilium CLI (https://github.com/cilium/cilium-cli/releases, CI: cilium/cilium-cli action). Either installs Cilium with manifests/cilium/values.yaml.',
  kubectl:
    'Optional (notdns talks to the API server itself): `apt-get install kubectl` or https://kubernetes.io/docs/tasks/tools/ — handy to look at a cluster kept with NOTDNS_KEEP_CLUSTER=1.',
  clang:
    'Install clang (>= 14) and the BPF headers: `apt-get install -y --no-install-recommends clang llvm libbpf-dev`. The ENA simulator (harness/ena/ena.bpf.c) is compiled on this machine and loaded inside the kind nodes.',
  stateDir:
    'Set NOTDNS_STATE_DIR to a directory you can write (without root the default is $XDG_RUNTIME_DIR/notdns, else ~/.local/state/notdns).',
  inotify: `Raise the host's inotify limits (kind's known issue "too many open files"): \`sudo sysctl -w fs.inotify.max_user_watches=${INOTIFY_MIN.max_user_watches} fs.inotify.max_user_instances=${INOTIFY_MIN.max_user_instances}\` (CI does this before the run).`,
  registry:
    'kind needs image pulls: kindest/node (Docker Hub), Cilium (quay.io), node-cache (registry.k8s.io). Allow HTTPS to them or preload the images (`docker pull` elsewhere, `docker save`/`docker load`, then NOTDNS_KIND_PRELOAD=img1,img2 makes notdns `kind load` them).',
};

function firstLine(s: string): string {
  return s.trim().split('\n')[0] ?? '';
}

async function tool(deps: DoctorDeps, cmd: string, args: string[]): Promise<{ ok: boolean; missing: boolean; out: string }> {
  try {
    const r = await deps.run(cmd, args, { reject: false, timeoutMs: 10_000 });
    // execa reports a program that could not be started (ENOENT) without an exit code: run() gives -1
    if (r.exitCode === -1 && !r.stdout && !r.stderr) return { ok: false, missing: true, out: `${cmd} is not installed` };
    return { ok: r.exitCode === 0, missing: false, out: firstLine(r.stdout || r.stderr) };
  } catch (e) {
    return { ok: false, missing: /not installed|ENOENT/i.test((e as Error).message), out: (e as Error).message };
  }
}

export async function kindDoctor(deps: DoctorDeps = defaultDoctorDeps, opts: { checkRegistries?: boolean } = {}): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const docker = dockerBin();
  const cli = await tool(deps, docker, ['version', '--format', '{{.Client.Version}}']);
  // `docker version` exits non-zero without an engine but still names the client: present unless it did not start
  const cliPresent = !cli.missing;
  checks.push({
    check: 'docker CLI',
    ok: cliPresent,
    detail: cliPresent ? `docker ${cli.out || '(client)'}` : 'docker is not on PATH',
    fix: FIX.dockerCli,
  });
  const engine = await tool(deps, docker, ['info', '--format', '{{.ServerVersion}}']);
  checks.push({
    check: 'docker engine reachable',
    ok: engine.ok && engine.out !== '',
    detail: engine.ok ? `engine ${engine.out}` : `docker info failed: ${engine.out || 'no answer'}`,
    fix: !engine.ok && /permission denied/i.test(engine.out) ? FIX.dockerGroup : FIX.dockerEngine,
  });
  const kind = await tool(deps, kindBin(), ['version']);
  checks.push({ check: 'kind', ok: kind.ok, detail: kind.ok ? kind.out : 'kind is not installed', fix: FIX.kind });
  const helm = await tool(deps, 'helm', ['version', '--short']);
  const cilium = await tool(deps, 'cilium', ['version', '--client']);
  const installer = chooseInstaller({ helm: helm.ok, cilium: cilium.ok });
  checks.push({
    check: 'helm or cilium CLI',
    ok: installer !== undefined,
    detail: installer
      ? `Cilium will be installed with ${installer} (${installer === 'helm' ? helm.out : cilium.out})`
      : 'neither helm nor the cilium CLI is installed',
    fix: FIX.helmOrCilium,
  });
  const clang = await tool(deps, 'clang', ['--version']);
  checks.push({
    check: 'clang (builds the ENA simulator)',
    ok: clang.ok,
    detail: clang.ok ? clang.out : 'clang is not installed',
    fix: FIX.clang,
  });
  const read = deps.readFile ?? readText;
  const header = (await read(BPF_HEADER)) !== undefined;
  checks.push({
    check: 'BPF headers (libbpf-dev)',
    ok: header,
    detail: header ? `${BPF_HEADER} found` : `${BPF_HEADER} missing`,
    fix: FIX.clang,
  });
  const state = await (deps.writableDir ?? writableDir)(stateRoot);
  checks.push({
    check: 'state directory',
    ok: state === true,
    detail: state === true ? `${stateRoot} (writable)` : state,
    fix: FIX.stateDir,
  });
  const limits = await Promise.all(
    Object.entries(INOTIFY_MIN).map(async ([k, min]) => {
      const v = Number((await read(`/proc/sys/fs/inotify/${k}`))?.trim());
      return { k, v, min, ok: Number.isFinite(v) && v >= min };
    }),
  );
  checks.push({
    check: 'host inotify limits (optional)',
    ok: limits.every((l) => l.ok),
    optional: true,
    detail: limits.map((l) => `fs.inotify.${l.k}=${Number.isFinite(l.v) ? l.v : '?'}${l.ok ? '' : ` (< ${l.min})`}`).join(', '),
    fix: FIX.inotify,
  });
  const kubectl = await tool(deps, 'kubectl', ['version', '--client']);
  checks.push({
    check: 'kubectl (optional)',
    ok: kubectl.ok,
    optional: true,
    detail: kubectl.ok ? kubectl.out : 'kubectl is not installed',
    fix: FIX.kubectl,
  });
  if (opts.checkRegistries ?? true) {
    const answers = await Promise.all(REGISTRIES.map(async (r) => ({ r, s: await deps.httpStatus(r.url, 5000) })));
    const bad = answers.filter((a) => typeof a.s !== 'number');
    checks.push({
      check: 'registry access (image pulls)',
      ok: bad.length === 0,
      detail:
        bad.length === 0
          ? `reachable: ${answers.map((a) => a.r.name.split(' ')[0]).join(', ')}`
          : `not reachable: ${bad.map((a) => `${a.r.name} (${a.s})`).join('; ')}`,
      fix: FIX.registry,
    });
  }
  return checks;
}

/** The failed required checks, as one sentence for an 'environment' error. */
export function doctorProblems(checks: readonly DoctorCheck[]): string[] {
  return checks.filter((c) => !c.ok && !c.optional).map((c) => `${c.check}: ${c.detail}. Fix: ${c.fix}`);
}
