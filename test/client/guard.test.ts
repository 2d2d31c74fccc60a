// The lab's client guard (harness/run/client-guard.ts) as a process: it runs the command as nobody with the
// contract's environment, rewrites the targets file on POST /backends after the propagation delay, and ends the
// client on each of its bounds: the lease gone, the max duration, its own death by SIGKILL (pdeathsig).
// No namespace and no network: the guard runs in this process' namespace here.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { distDir } from '../../harness/paths.js';
import { pidAlive } from '../../harness/stop.js';
import { fetchMetrics, postControl } from '../../workloads/common/admin-client.js';
import { sleep, waitFor } from '../../harness/wait.js';

// the client: prints what it got once, then lives until killed
const CLIENT = `const fs=require('fs');console.log(JSON.stringify({pid:process.pid,uid:process.getuid(),gid:process.getgid(),
groups:process.getgroups(),env:Object.keys(process.env).filter(k=>k.startsWith('NOTDNS_')).sort(),
instance:process.env.NOTDNS_INSTANCE,targets:fs.readFileSync(process.env.NOTDNS_TARGETS,'utf8'),cwd:process.cwd()}));setInterval(()=>{},1000)`;

interface Started {
  guard: ChildProcess;
  client: { pid: number; uid: number; gid: number; groups: number[]; env: string[]; instance: string; targets: string; cwd: string };
  admin: string;
  exited: Promise<number | null>;
}

async function startGuard(dir: string, extra: string[] = []): Promise<Started> {
  const admin = `unix:${join(dir, 'guard.sock')}`;
  const guard = spawn(
    process.execPath,
    [
      join(distDir, 'harness', 'run', 'client-guard.js'),
      '--admin',
      admin,
      '--instance',
      '4',
      '--targets-dir',
      dir,
      '--backends',
      '10.1.1.10:50051,10.1.2.10:50051',
      '--propagation-seconds',
      '0.3',
      '--env',
      'NOTDNS_TARGET_PORT=50051',
      ...extra,
      '--',
      'node',
      '-e',
      CLIENT,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((r) => guard.once('exit', (code) => r(code)));
  const first = await new Promise<string>((resolve, reject) => {
    let out = '';
    guard.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    guard.once('exit', (code) => reject(new Error(`guard exited with ${code}`)));
  });
  return { guard, client: JSON.parse(first), admin, exited };
}

describe('client guard as a process @root', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'notdns-guard-'));
    await chmod(dir, 0o755); // the client (nobody) reads its targets file here
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the command as nobody with the contract; POST /backends rewrites the targets after the delay; no metrics → 404; lease gone → client and guard end', async () => {
    const lease = join(dir, 'lease');
    await writeFile(lease, 'x');
    const s = await startGuard(dir, ['--max-seconds', '30', '--lease-file', lease, '--lease-seconds', '5']);
    try {
      assert.equal(s.client.uid, 65534);
      assert.equal(s.client.gid, 65534);
      assert.deepEqual(
        s.client.groups.filter((g) => g !== 65534),
        [],
        'no supplementary groups',
      );
      assert.deepEqual(s.client.env, ['NOTDNS_INSTANCE', 'NOTDNS_TARGETS', 'NOTDNS_TARGET_PORT']);
      assert.equal(s.client.instance, '4');
      assert.equal(s.client.targets, '10.1.1.10:50051\n10.1.2.10:50051\n');
      assert.ok(pidAlive(s.client.pid));
      await postControl(s.admin, '/backends', { backends: ['10.1.1.11:50051'] });
      const file = join(dir, 'client-4.targets');
      assert.equal(await readFile(file, 'utf8'), '10.1.1.10:50051\n10.1.2.10:50051\n', 'not before the propagation delay');
      await waitFor('the new targets', async () => (await readFile(file, 'utf8')) === '10.1.1.11:50051\n', { timeoutMs: 3000 });
      await assert.rejects(fetchMetrics(s.admin), /HTTP 404: .*custom client exposes no metrics/);
      await rm(lease);
      assert.equal(await s.exited, 0);
      await waitFor('the client to end', () => !pidAlive(s.client.pid), { timeoutMs: 3000 });
    } finally {
      s.guard.kill('SIGKILL');
    }
  });

  it('the max duration ends the client; SIGKILL of the guard kills the client (pdeathsig)', async () => {
    const a = await startGuard(dir, ['--max-seconds', '1']);
    assert.equal(await a.exited, 0);
    await waitFor('the client to end at the max duration', () => !pidAlive(a.client.pid), { timeoutMs: 3000 });
    const b = await startGuard(dir, ['--max-seconds', '30']);
    b.guard.kill('SIGKILL');
    await b.exited;
    await waitFor('the client to die with its guard', () => !pidAlive(b.client.pid), { timeoutMs: 3000 });
    await sleep(100);
  });

  it('POST /stop-load kills the client and keeps the guard (a stop is not a dead workload)', async () => {
    const s = await startGuard(dir, ['--max-seconds', '30']);
    try {
      await postControl(s.admin, '/stop-load', {});
      assert.ok(!pidAlive(s.client.pid));
      assert.equal(s.guard.exitCode, null);
      await assert.rejects(postControl(s.admin, '/backends', { backends: [] }), /HTTP 409/);
    } finally {
      s.guard.kill('SIGTERM');
      assert.equal(await s.exited, 0);
    }
  });
});
