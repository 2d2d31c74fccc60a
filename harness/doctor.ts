// `notdns doctor [--provider lab|kind|kubeconfig]`: is this machine ready for a provider? For the lab: root, kernel
// features (by trying them in a throw-away namespace), and the Debian packages, with the exact command that
// installs what is missing. For kind: docker, kind, helm or the cilium CLI, registries (providers/kind/doctor.ts).
// For kubeconfig: the kubeconfig, its context, the API server and the workload image. Each checks only its own.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { run } from './exec.js';
import { isNotdnsError } from './errors.js';
import { newRunId, nsName } from './names.js';
import type { ProviderName } from './providers/types.js';
import type { DoctorDeps } from './providers/kind/doctor.js';

export interface Check {
  check: string;
  ok: boolean;
  detail: string;
  fix?: string;
  optional?: boolean;
}

/** command → Debian package that provides it (the lab's needs). */
export const LAB_PACKAGES: Record<string, string> = {
  ip: 'iproute2',
  tc: 'iproute2',
  nstat: 'iproute2',
  nft: 'nftables',
  conntrack: 'conntrack',
  clang: 'clang',
  llc: 'llvm',
  bpftool: 'bpftool',
  unbound: 'unbound',
  nsd: 'nsd',
  dig: 'dnsutils',
  socat: 'socat',
};
export const LAB_FILES: Record<string, string> = { '/usr/include/bpf/bpf_helpers.h': 'libbpf-dev' };
/** Only for `npm run bench` (the hping3 reference) */
export const BENCH_PACKAGES: Record<string, string> = { hping3: 'hping3' };

async function has(cmd: string): Promise<boolean> {
  return (await run('sh', ['-c', `command -v ${cmd}`], { reject: false })).exitCode === 0;
}

export function installCommand(pkgs: Iterable<string>): string {
  const list = [...new Set(pkgs)].sort();
  return list.length ? `apt-get update && apt-get install -y --no-install-recommends ${list.join(' ')}` : '';
}

export async function labChecks(): Promise<Check[]> {
  const checks: Check[] = [];
  const root = process.getuid?.() === 0;
  checks.push({
    check: 'root',
    ok: root,
    detail: root ? 'running as root' : `running as uid ${process.getuid?.()}`,
    fix: 'The lab creates network namespaces: run notdns as root (sudo).',
  });
  const missing: string[] = [];
  for (const [cmd, pkg] of Object.entries(LAB_PACKAGES)) {
    const ok = await has(cmd);
    if (!ok) missing.push(pkg);
    checks.push({
      check: `command ${cmd}`,
      ok,
      detail: ok ? 'found' : `missing (Debian package ${pkg})`,
      fix: `apt-get install -y ${pkg}`,
    });
  }
  for (const [file, pkg] of Object.entries(LAB_FILES)) {
    const ok = existsSync(file);
    if (!ok) missing.push(pkg);
    checks.push({ check: `file ${file}`, ok, detail: ok ? 'found' : `missing (Debian package ${pkg})`, fix: `apt-get install -y ${pkg}` });
  }
  for (const [cmd, pkg] of Object.entries(BENCH_PACKAGES)) {
    const ok = await has(cmd);
    checks.push({
      check: `command ${cmd} (bench only)`,
      ok,
      optional: true,
      detail: ok ? 'found' : `missing (Debian package ${pkg})`,
      fix: `apt-get install -y ${pkg}`,
    });
  }
  const btf = existsSync('/sys/kernel/btf/vmlinux');
  checks.push({
    check: 'kernel BTF',
    ok: btf,
    optional: true,
    detail: btf ? '/sys/kernel/btf/vmlinux present' : 'no /sys/kernel/btf/vmlinux',
    fix: 'Not required by the ENA program; a kernel with CONFIG_DEBUG_INFO_BTF helps bpftool.',
  });
  if (root && (await has('ip')) && (await has('tc'))) checks.push(...(await kernelChecks(await has('nft'))));
  if (missing.length) checks.push({ check: 'install command', ok: false, detail: installCommand(missing), fix: installCommand(missing) });
  return checks;
}

/** Try the kernel features the lab needs in a throw-away namespace (named like every run: swept by down --all). */
async function kernelChecks(nft: boolean): Promise<Check[]> {
  const ns = nsName(newRunId(), 'doctor');
  const out: Check[] = [];
  const add = await run('ip', ['netns', 'add', ns], { reject: false });
  out.push({
    check: 'network namespaces',
    ok: add.exitCode === 0,
    detail: add.exitCode === 0 ? 'ip netns add works' : add.stderr,
    fix: 'Needs a kernel with CONFIG_NET_NS and root.',
  });
  if (add.exitCode !== 0) return out;
  try {
    const veth = await run('ip', ['-n', ns, 'link', 'add', 'name', 'ndv0', 'type', 'veth', 'peer', 'name', 'ndv1'], { reject: false });
    out.push({ check: 'veth', ok: veth.exitCode === 0, detail: veth.exitCode === 0 ? 'ok' : veth.stderr, fix: 'Needs CONFIG_VETH.' });
    const br = await run('ip', ['-n', ns, 'link', 'add', 'br0', 'type', 'bridge'], { reject: false });
    out.push({ check: 'bridge', ok: br.exitCode === 0, detail: br.exitCode === 0 ? 'ok' : br.stderr, fix: 'Needs CONFIG_BRIDGE.' });
    const q = await run('tc', ['-n', ns, 'qdisc', 'add', 'dev', 'ndv0', 'clsact'], { reject: false });
    out.push({
      check: 'tc clsact',
      ok: q.exitCode === 0,
      detail: q.exitCode === 0 ? 'ok' : q.stderr,
      fix: 'Needs CONFIG_NET_SCH_INGRESS (clsact) for the ENA simulator.',
    });
    if (nft) {
      const t = await run('nft', ['-f', '-'], {
        ns,
        input: 'table inet t {\n  chain c { type filter hook prerouting priority 0; ct state new counter; }\n}\n',
        reject: false,
      });
      out.push({
        check: 'nftables + conntrack',
        ok: t.exitCode === 0,
        detail: t.exitCode === 0 ? 'ok' : t.stderr,
        fix: 'Needs nf_tables and nf_conntrack.',
      });
    }
  } finally {
    await run('ip', ['netns', 'del', ns], { reject: false });
  }
  return out;
}

export function renderChecks(checks: Check[]): string {
  return checks
    .map(
      (c) =>
        `${c.ok ? 'ok  ' : c.optional ? 'warn' : 'FAIL'}  ${c.check.padEnd(34)} ${c.detail}${!c.ok && c.fix && c.check !== 'install command' ? `\n      fix: ${c.fix}` : ''}`,
    )
    .join('\n');
}

/** What `notdns doctor --provider X` says when every required check passed. */
export const DOCTOR_OK: Record<ProviderName, string> = {
  lab: 'this machine can run the lab',
  kind: 'this machine can run --provider kind',
  kubeconfig: 'this machine can reach the cluster for --provider kubeconfig (it still needs --i-know-this-is-not-a-test-cluster)',
};

/** The checks of one provider, and only those: kind does not need root or the lab's packages. */
export async function doctorChecks(provider: ProviderName, opts: DoctorOptions = {}): Promise<Check[]> {
  return DOCTORS[provider](opts);
}

interface DoctorOptions {
  context?: string;
  kindDeps?: DoctorDeps;
}

const DOCTORS: Record<ProviderName, (o: DoctorOptions) => Promise<Check[]>> = {
  lab: () => labChecks(),
  kind: async (o) => (await import('./providers/kind/doctor.js')).kindDoctor(o.kindDeps),
  kubeconfig: (o) => kubeconfigChecks({ context: o.context }),
};

/**
 * --provider kubeconfig: a kubeconfig to read, a context notdns agrees to touch, an API server that answers
 * with enough schedulable nodes, and NOTDNS_WORKLOAD_IMAGE. Reads only; creates nothing in the cluster.
 */
export async function kubeconfigChecks(opts: { context?: string; timeoutMs?: number } = {}): Promise<Check[]> {
  const checks: Check[] = [];
  const files = process.env.KUBECONFIG ? process.env.KUBECONFIG.split(delimiter).filter(Boolean) : [join(homedir(), '.kube', 'config')];
  const found = files.filter((f) => existsSync(f));
  checks.push({
    check: 'kubeconfig',
    ok: found.length > 0,
    detail: found.length ? found.join(', ') : `${files.join(', ')} ${files.length > 1 ? 'do' : 'does'} not exist`,
    fix: 'Point KUBECONFIG at the kubeconfig of the test cluster (e.g. `aws eks update-kubeconfig --name <cluster>` writes ~/.kube/config).',
  });
  if (!found.length) return checks;
  const { KubeconfigProvider } = await import('./providers/kubeconfig/index.js');
  // the flag guards runs; doctor only reads, so it connects without it
  let client: ReturnType<InstanceType<typeof KubeconfigProvider>['connect']>;
  try {
    client = new KubeconfigProvider({ iKnowThisIsNotATestCluster: true, context: opts.context }).connect();
    checks.push({
      check: 'context',
      ok: true,
      detail: `${client.context}${opts.context ? '' : ' (the current context; --context picks another)'}`,
    });
  } catch (e) {
    checks.push({
      check: 'context',
      ok: false,
      detail: (e as Error).message,
      fix: isNotdnsError(e) && e.hint ? e.hint : 'Pass --context NAME.',
    });
    return checks;
  }
  const timeoutMs = opts.timeoutMs ?? 10_000;
  try {
    let timer: NodeJS.Timeout | undefined;
    const nodes = await Promise.race([
      client.core.listNode(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    const ready = nodes.items.filter(
      (n) =>
        n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') &&
        !n.spec?.unschedulable &&
        !n.spec?.taints?.some((t) => t.effect === 'NoSchedule'),
    );
    checks.push({
      check: 'API server',
      ok: ready.length >= 2,
      detail: `${client.kc.getCurrentCluster()?.server ?? '?'}: ${nodes.items.length} nodes, ${ready.length} schedulable and Ready`,
      fix: 'The experiments need at least 2 schedulable Ready nodes (rollout-syn-flood: 3); add nodes or pick another cluster with --context.',
    });
  } catch (e) {
    const msg = (e as { body?: unknown }).body ? String((e as { body?: unknown }).body).slice(0, 200) : (e as Error).message;
    checks.push({
      check: 'API server',
      ok: false,
      detail: `${client.kc.getCurrentCluster()?.server ?? '?'}: ${msg}`,
      fix: 'Check that the cluster is up and that its credentials in the kubeconfig are valid (e.g. `kubectl get nodes` with the same context).',
    });
  }
  const image = process.env.NOTDNS_WORKLOAD_IMAGE;
  checks.push({
    check: 'workload image',
    ok: !!image,
    detail: image ? `NOTDNS_WORKLOAD_IMAGE=${image}` : 'NOTDNS_WORKLOAD_IMAGE is not set',
    fix: 'Build workloads/Dockerfile, push it to a registry the cluster pulls from and set NOTDNS_WORKLOAD_IMAGE=<registry>/notdns/workloads:<tag>.',
  });
  return checks;
}
