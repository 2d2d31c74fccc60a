// Fake `docker`, `kind`, `helm`, `clang` (and optionally `cilium`) on PATH that record their argv as JSON lines and
// answer the few things the kind provider reads back (a kubeconfig, a node IP, a cluster list, whether bpftool and
// dig are in a node: `nodeTools` 'present', 'missing' (until apt-get install or dpkg -i ran in that node), or
// 'broken' (installing does not help, e.g. a wrong set of .deb files), and apt-get failing with `aptFails`).
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CILIUM_METRICS, COREDNS_METRICS, CRICTL_INSPECTP, POD_SNMP } from './fixtures/agent-output.js';

export interface FakeTools {
  dir: string;
  log: string;
  /** Every recorded call: [tool, ...argv]. */
  calls(): Promise<string[][]>;
  restore(): void;
}

const recorder = (tool: string, body: string) => `#!/usr/bin/env node
const fs = require('fs');
const argv = process.argv.slice(2);
let stdin = '';
try { if (!process.stdin.isTTY) stdin = fs.readFileSync(0, 'utf8'); } catch {}
fs.appendFileSync(process.env.NOTDNS_FAKE_LOG, JSON.stringify([${JSON.stringify(tool)}, ...argv]) + '\\n');
${body}
`;

export async function installFakeTools(
  opts: {
    cilium?: boolean;
    helm?: boolean;
    clusters?: string[];
    apiServer?: string;
    nodeTools?: 'present' | 'missing' | 'broken';
    aptFails?: boolean;
  } = {},
): Promise<FakeTools> {
  const dir = await mkdtemp(join(tmpdir(), 'nd-fake-tools-'));
  const log = join(dir, 'calls.jsonl');
  await writeFile(log, '');
  const api = opts.apiServer ?? 'https://127.0.0.1:9';
  const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: kind-CLUSTER
  cluster:
    server: ${api}
    insecure-skip-tls-verify: true
contexts:
- name: kind-CLUSTER
  context: { cluster: kind-CLUSTER, user: kind-CLUSTER }
current-context: kind-CLUSTER
users:
- name: kind-CLUSTER
  user: { token: fake }
`;
  const tools: Record<string, string> = {
    kind: recorder(
      'kind',
      `
const i = (f) => argv.indexOf(f);
if (argv[0] === 'version') { console.log('kind v0.30.0 go1.24 linux/amd64'); process.exit(0); }
if (argv[0] === 'create') {
  const name = argv[i('--name') + 1];
  fs.writeFileSync(argv[i('--kubeconfig') + 1], ${JSON.stringify(kubeconfig)}.replaceAll('CLUSTER', name));
  console.error('Creating cluster "' + name + '" ...');
  process.exit(0);
}
if (argv[0] === 'get' && argv[1] === 'clusters') { console.log(${JSON.stringify((opts.clusters ?? []).join('\n'))}); process.exit(0); }
process.exit(0);`,
    ),
    docker: recorder(
      'docker',
      `
if (argv[0] === 'version') { console.log('28.2.2'); process.exit(0); }
if (argv[0] === 'info') { console.log('20.10.24'); process.exit(0); }
if (argv[0] === 'inspect') {
  const fmt = argv[argv.indexOf('--format') + 1];
  const name = argv[argv.length - 1];
  const n = Number((/worker(\\d*)$/.exec(name) || [0, '1'])[1] || 1);
  console.log(fmt.includes('Pid') ? '0' : '172.18.0.' + (10 + n) + ' ');
  process.exit(0);
}
const path = require('path');
if (argv[0] === 'exec' && argv.includes('sh') && /command -v bpftool/.test(argv[argv.length - 1])) {
  const node = argv[argv.indexOf('sh') - 1];
  const mode = ${JSON.stringify(opts.nodeTools ?? 'present')};
  process.exit(mode === 'present' || (mode === 'missing' && fs.existsSync(path.join(${JSON.stringify(dir)}, 'tools-' + node))) ? 0 : 1);
}
if (argv[0] === 'exec' && (argv.includes('apt-get') || argv.includes('dpkg'))) {
  const tool = argv.includes('apt-get') ? 'apt-get' : 'dpkg';
  const node = argv[argv.indexOf(tool) - 1];
  if (tool === 'apt-get' && ${JSON.stringify(!!opts.aptFails)}) { console.error('E: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease'); process.exit(100); }
  if (argv.includes('install') || tool === 'dpkg') fs.writeFileSync(path.join(${JSON.stringify(dir)}, 'tools-' + node), '');
  process.exit(0);
}
if (argv[0] === 'exec' && argv.includes('crictl')) {
  if (argv.includes('pods')) { console.log('sb-' + argv[argv.indexOf('--name') + 1]); process.exit(0); }
  if (argv.includes('inspectp')) { console.log(${JSON.stringify(CRICTL_INSPECTP)}); process.exit(0); }
  process.exit(1);
}
if (argv[0] === 'exec' && argv.includes('bash') && argv.includes('estab')) { console.log('{"ok":3,"failed":0,"connected":true}'); process.exit(0); }
if (argv[0] === 'exec' && argv.includes('nsenter')) { process.stdout.write(${JSON.stringify(POD_SNMP)}); process.exit(0); }
if (argv[0] === 'exec' && argv.includes('curl') && argv[argv.length - 1].endsWith(':9962/metrics')) { process.stdout.write(${JSON.stringify(CILIUM_METRICS)}); process.exit(0); }
if (argv[0] === 'exec' && argv.includes('curl') && argv[argv.length - 1].endsWith(':9253/metrics')) { process.stdout.write(${JSON.stringify(COREDNS_METRICS)}); process.exit(0); }
if (argv[0] === 'exec' && argv.includes('curl')) {
  process.stdout.write(JSON.stringify({ echo: stdin || null, url: argv[argv.length - 1] }) + '\\n200');
  process.exit(0);
}
process.exit(0);`,
    ),
  };
  if (opts.helm ?? true) tools.helm = recorder('helm', `if (argv[0] === 'version') console.log('v3.18.4+g'); process.exit(0);`);
  tools.clang = recorder('clang', `console.log('Debian clang version 14.0.6'); process.exit(0);`);
  if (opts.cilium) tools.cilium = recorder('cilium', `if (argv[0] === 'version') console.log('cilium-cli: v0.18.7'); process.exit(0);`);
  for (const [name, body] of Object.entries(tools)) {
    await writeFile(join(dir, name), body);
    await chmod(join(dir, name), 0o755);
  }
  const saved = { PATH: process.env.PATH, LOG: process.env.NOTDNS_FAKE_LOG };
  // only the fake dir and the directory of node itself: no real docker/kind/helm/cilium can be picked up
  process.env.PATH = `${dir}:${process.execPath.replace(/\/node$/, '')}:/usr/sbin:/sbin`;
  process.env.NOTDNS_FAKE_LOG = log;
  return {
    dir,
    log,
    async calls() {
      return (await readFile(log, 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as string[]);
    },
    restore() {
      process.env.PATH = saved.PATH;
      if (saved.LOG === undefined) delete process.env.NOTDNS_FAKE_LOG;
      else process.env.NOTDNS_FAKE_LOG = saved.LOG;
    },
  };
}
