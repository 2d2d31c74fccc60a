// `notdns doctor`: is this machine ready for the lab? Checks root, kernel features (by trying them in a
// throw-away namespace), and the Debian packages; prints the exact command that installs what is missing.
import { existsSync } from 'node:fs';
import { run } from './exec.js';
import { newRunId, nsName } from './names.js';

export interface Check { check: string; ok: boolean; detail: string; fix?: string; optional?: boolean }

/** command → Debian package that provides it (the lab's needs). */
export const LAB_PACKAGES: Record<string, string> = {
  ip: 'iproute2', tc: 'iproute2', nstat: 'iproute2', nft: 'nftables', conntrack: 'conntrack', clang: 'clang', llc: 'llvm',
  bpftool: 'bpftool', unbound: 'unbound', nsd: 'nsd', dig: 'dnsutils', socat: 'socat',
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
  checks.push({ check: 'root', ok: root, detail: root ? 'running as root' : `running as uid ${process.getuid?.()}`, fix: 'The lab creates network namespaces: run notdns as root (sudo).' });
  const missing: string[] = [];
  for (const [cmd, pkg] of Object.entries(LAB_PACKAGES)) {
    const ok = await has(cmd);
    if (!ok) missing.push(pkg);
    checks.push({ check: `command ${cmd}`, ok, detail: ok ? 'found' : `missing (Debian package ${pkg})`, fix: `apt-get install -y ${pkg}` });
  }
  for (const [file, pkg] of Object.entries(LAB_FILES)) {
    const ok = existsSync(file);
    if (!ok) missing.push(pkg);
    checks.push({ check: `file ${file}`, ok, detail: ok ? 'found' : `missing (Debian package ${pkg})`, fix: `apt-get install -y ${pkg}` });
  }
  for (const [cmd, pkg] of Object.entries(BENCH_PACKAGES)) {
    const ok = await has(cmd);
    checks.push({ check: `command ${cmd} (bench only)`, ok, optional: true, detail: ok ? 'found' : `missing (Debian package ${pkg})`, fix: `apt-get install -y ${pkg}` });
  }
  const btf = existsSync('/sys/kernel/btf/vmlinux');
  checks.push({ check: 'kernel BTF', ok: btf, optional: true, detail: btf ? '/sys/kernel/btf/vmlinux present' : 'no /sys/kernel/btf/vmlinux', fix: 'Not required by the ENA program; a kernel with CONFIG_DEBUG_INFO_BTF helps bpftool.' });
  if (root && (await has('ip')) && (await has('tc'))) checks.push(...await kernelChecks(await has('nft')));
  if (missing.length) checks.push({ check: 'install command', ok: false, detail: installCommand(missing), fix: installCommand(missing) });
  return checks;
}

/** Try the kernel features the lab needs in a throw-away namespace (named like every run: swept by down --all). */
async function kernelChecks(nft: boolean): Promise<Check[]> {
  const ns = nsName(newRunId(), 'doctor');
  const out: Check[] = [];
  const add = await run('ip', ['netns', 'add', ns], { reject: false });
  out.push({ check: 'network namespaces', ok: add.exitCode === 0, detail: add.exitCode === 0 ? 'ip netns add works' : add.stderr, fix: 'Needs a kernel with CONFIG_NET_NS and root.' });
  if (add.exitCode !== 0) return out;
  try {
    const veth = await run('ip', ['-n', ns, 'link', 'add', 'name', 'ndv0', 'type', 'veth', 'peer', 'name', 'ndv1'], { reject: false });
    out.push({ check: 'veth', ok: veth.exitCode === 0, detail: veth.exitCode === 0 ? 'ok' : veth.stderr, fix: 'Needs CONFIG_VETH.' });
    const br = await run('ip', ['-n', ns, 'link', 'add', 'br0', 'type', 'bridge'], { reject: false });
    out.push({ check: 'bridge', ok: br.exitCode === 0, detail: br.exitCode === 0 ? 'ok' : br.stderr, fix: 'Needs CONFIG_BRIDGE.' });
    const q = await run('tc', ['-n', ns, 'qdisc', 'add', 'dev', 'ndv0', 'clsact'], { reject: false });
    out.push({ check: 'tc clsact', ok: q.exitCode === 0, detail: q.exitCode === 0 ? 'ok' : q.stderr, fix: 'Needs CONFIG_NET_SCH_INGRESS (clsact) for the ENA simulator.' });
    if (nft) {
      const t = await run('nft', ['-f', '-'], { ns, input: 'table inet t {\n  chain c { type filter hook prerouting priority 0; ct state new counter; }\n}\n', reject: false });
      out.push({ check: 'nftables + conntrack', ok: t.exitCode === 0, detail: t.exitCode === 0 ? 'ok' : t.stderr, fix: 'Needs nf_tables and nf_conntrack.' });
    }
  } finally {
    await run('ip', ['netns', 'del', ns], { reject: false });
  }
  return out;
}

export function renderChecks(checks: Check[]): string {
  return checks.map((c) => `${c.ok ? 'ok  ' : c.optional ? 'warn' : 'FAIL'}  ${c.check.padEnd(34)} ${c.detail}${!c.ok && c.fix && c.check !== 'install command' ? `\n      fix: ${c.fix}` : ''}`).join('\n');
}
