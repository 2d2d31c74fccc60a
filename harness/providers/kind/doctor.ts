// `notdns doctor` for --provider kind: is this machine able to create a kind cluster with Cilium?
// Each check says what it found and how to fix it. The CLI prints them (harness/cli.ts calls kindDoctor()).
import { run as realRun, type RunOptions, type RunResult } from '../../exec.js';
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

export const defaultDoctorDeps: DoctorDeps = { run: realRun, httpStatus };

/** Registries the kind provider pulls from (kindest/node, Cilium, node-cache, k6). Each answers /v2/ with 200 or 401. */
export const REGISTRIES = [
  { name: 'Docker Hub (kindest/node, grafana/k6)', url: 'https://registry-1.docker.io/v2/' },
  { name: 'quay.io (Cilium images)', url: 'https://quay.io/v2/' },
  { name: 'registry.k8s.io (k8s-dns-node-cache)', url: 'https://registry.k8s.io/v2/' },
] as const;

export const FIX = {
  dockerCli: 'Install Docker: Debian/Ubuntu `apt-get install docker.io` (or Docker CE); see https://docs.docker.com/engine/install/.',
  dockerEngine: 'Start the engine: `sudo systemctl start docker`; on a VM without systemd `scripts/docker/start-dockerd.sh` starts dockerd (with the runc wrapper our VMs need for privileged containers). Rootless: export DOCKER_HOST.',
  kind: 'Install kind >= 0.27: `go install sigs.k8s.io/kind@v0.30.0`, or the release binary from https://kind.sigs.k8s.io/docs/user/quick-start/#installation (CI: helm/kind-action).',
  helmOrCilium: 'Install helm (https://helm.sh/docs/intro/install/, CI: azure/setup-helm) or the cilium CLI (https://github.com/cilium/cilium-cli/releases, CI: cilium/cilium-cli action). Either installs Cilium with manifests/cilium/values.yaml.',
  kubectl: 'Optional (notdns talks to the API server itself): `apt-get install kubectl` or https://kubernetes.io/docs/tasks/tools/ — handy to look at a cluster kept with NOTDNS_KEEP_CLUSTER=1.',
  registry: 'kind needs image pulls: kindest/node (Docker Hub), Cilium (quay.io), node-cache (registry.k8s.io). Allow HTTPS to them or preload the images (`docker pull` elsewhere, `docker save`/`docker load`, then NOTDNS_KIND_PRELOAD=img1,img2 makes notdns `kind load` them).',
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
  checks.push({ check: 'docker CLI', ok: cliPresent, detail: cliPresent ? `docker ${cli.out || '(client)'}` : 'docker is not on PATH', fix: FIX.dockerCli });
  const engine = await tool(deps, docker, ['info', '--format', '{{.ServerVersion}}']);
  checks.push({
    check: 'docker engine reachable', ok: engine.ok && engine.out !== '',
    detail: engine.ok ? `engine ${engine.out}` : `docker info failed: ${engine.out || 'no answer'}`, fix: FIX.dockerEngine,
  });
  const kind = await tool(deps, kindBin(), ['version']);
  checks.push({ check: 'kind', ok: kind.ok, detail: kind.ok ? kind.out : 'kind is not installed', fix: FIX.kind });
  const helm = await tool(deps, 'helm', ['version', '--short']);
  const cilium = await tool(deps, 'cilium', ['version', '--client']);
  const installer = chooseInstaller({ helm: helm.ok, cilium: cilium.ok });
  checks.push({
    check: 'helm or cilium CLI', ok: installer !== undefined,
    detail: installer ? `Cilium will be installed with ${installer} (${installer === 'helm' ? helm.out : cilium.out})` : 'neither helm nor the cilium CLI is installed',
    fix: FIX.helmOrCilium,
  });
  const kubectl = await tool(deps, 'kubectl', ['version', '--client']);
  checks.push({ check: 'kubectl (optional)', ok: kubectl.ok, optional: true, detail: kubectl.ok ? kubectl.out : 'kubectl is not installed', fix: FIX.kubectl });
  if (opts.checkRegistries ?? true) {
    const answers = await Promise.all(REGISTRIES.map(async (r) => ({ r, s: await deps.httpStatus(r.url, 5000) })));
    const bad = answers.filter((a) => typeof a.s !== 'number');
    checks.push({
      check: 'registry access (image pulls)', ok: bad.length === 0,
      detail: bad.length === 0 ? `reachable: ${answers.map((a) => a.r.name.split(' ')[0]).join(', ')}`
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
