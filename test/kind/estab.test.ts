// The bash estab agent (harness/providers/kind/estab.ts) run for real by this machine's bash against an echo
// server on loopback: a connection that answers, one that stops answering (the flood's case: packets of the
// established flow dropped) and comes back, and one that is closed (never reopened).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ESTAB_AGENT_SH,
  echoServerArgv,
  echoStopArgv,
  estabAgentArgv,
  estabStopArgv,
  parseEstabLine,
  type EstabLine,
} from '../../harness/providers/kind/estab.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('kind: the bash estab agent', () => {
  it('argv: bash -c in the node, or through nsenter in a pod netns; stop kills the pid the agent wrote', () => {
    const a = estabAgentArgv({ host: '10.244.2.9', port: 7, maxSeconds: 90.5, pidfile: '/tmp/notdns/estab.pid' });
    assert.deepEqual(a, ['bash', '-c', ESTAB_AGENT_SH, 'estab', '10.244.2.9', '7', '91', '/tmp/notdns/estab.pid']);
    const p = estabAgentArgv({ host: 'h', port: 7, maxSeconds: 1, pidfile: '/p', netns: '/var/run/netns/cni-1' });
    assert.deepEqual(p.slice(0, 3), ['nsenter', '--net=/var/run/netns/cni-1', 'bash']);
    assert.deepEqual(estabStopArgv('/p').slice(-1), ['/p']);
    assert.deepEqual(parseEstabLine('{"ok":3,"failed":0,"connected":true}'), { ok: 3, failed: 0, connected: true });
    assert.equal(parseEstabLine('bash: connect: Connection refused'), undefined);
  });

  it('a connection that cannot be opened: not connected, every tick a failure, bounded by MAX_SECONDS', async function () {
    this.timeout(10_000);
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r())); // nobody listens there now: refused
    const [cmd, ...args] = estabAgentArgv({ host: '127.0.0.1', port, maxSeconds: 2, pidfile: '' });
    const r = spawnSync(cmd!, args, { encoding: 'utf8', timeout: 8000 });
    assert.equal(r.status, 0, r.stderr);
    const out = r.stdout.trim().split('\n').map(parseEstabLine);
    const end = out[out.length - 1]!;
    assert.equal(end.connected, false);
    assert.equal(end.ok, 0);
    assert.ok(end.failed >= 3, JSON.stringify(end));
    assert.match(r.stderr, /Connection refused/);
  });

  it('counts echoed pings as ok, unanswered ones as failed on the same connection, and a closed one as failed for good', async function () {
    this.timeout(30_000);
    let mode: 'echo' | 'silent' = 'echo';
    const socks: net.Socket[] = [];
    const server = net.createServer((s) => {
      socks.push(s);
      s.on('data', (d) => {
        if (mode === 'echo') s.write(d);
      });
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const dir = mkdtempSync(join(tmpdir(), 'nd-estab-'));
    const pidfile = join(dir, 'pid');
    const [cmd, ...args] = estabAgentArgv({ host: '127.0.0.1', port, maxSeconds: 25, pidfile });
    const agent = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: EstabLine[] = [];
    let buf = '';
    agent.stdout.on('data', (d: Buffer) => {
      const ls = (buf + d.toString()).split('\n');
      buf = ls.pop() ?? '';
      for (const l of ls) {
        const x = parseEstabLine(l);
        if (x) lines.push(x);
      }
    });
    const exited = new Promise<number | null>((r) => agent.on('exit', (c) => r(c)));
    const last = () => lines[lines.length - 1]!;
    try {
      await sleep(3000);
      const a = last();
      assert.ok(a.ok >= 5 && a.failed === 0 && a.connected, `answering: ${JSON.stringify(a)}`);
      mode = 'silent';
      await sleep(3500);
      const b = last();
      assert.ok(b.failed >= 1 && b.connected, `not answering, still connected: ${JSON.stringify(b)}`);
      mode = 'echo';
      await sleep(2500);
      const c = last();
      assert.ok(c.ok > b.ok, `answering again on the same connection: ${JSON.stringify(c)}`);
      assert.equal(socks.length, 1, 'one connection, never reopened');
      for (const s of socks) s.destroy();
      await sleep(2500);
      const d = last();
      assert.equal(d.connected, false, JSON.stringify(d));
      assert.ok(d.failed > c.failed, `closed: failures from then on: ${JSON.stringify(d)}`);
      assert.equal(socks.length, 1, 'a closed connection is not reopened');
      assert.equal(Number(readFileSync(pidfile, 'utf8').trim()), agent.pid);
      const [sc, ...sa] = estabStopArgv(pidfile);
      spawn(sc!, sa, { stdio: 'ignore' });
      assert.equal(await Promise.race([exited, sleep(3000).then(() => 'still running')]), 0);
    } finally {
      agent.kill('SIGKILL');
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the perl echo (the agents' peer on kind): one child per connection, two agents answered, both closed when it stops", async function () {
    this.timeout(20_000);
    const dir = mkdtempSync(join(tmpdir(), 'nd-echo-'));
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const echoPid = join(dir, 'echo.pid');
    const [ec, ...ea] = echoServerArgv(echoPid, port, 30);
    spawn(ec!, ea, { stdio: 'ignore', detached: false });
    await sleep(700);
    const agents = [1, 2].map((i) => {
      const [cmd, ...args] = estabAgentArgv({ host: '127.0.0.1', port, maxSeconds: 15, pidfile: join(dir, `a${i}.pid`) });
      const p = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'ignore'] });
      const lines: EstabLine[] = [];
      p.stdout.on('data', (d: Buffer) => {
        for (const l of d.toString().split('\n')) {
          const x = parseEstabLine(l);
          if (x) lines.push(x);
        }
      });
      return { p, lines };
    });
    try {
      await sleep(2500);
      for (const a of agents) {
        const x = a.lines[a.lines.length - 1]!;
        assert.ok(x.connected && x.ok >= 3 && x.failed === 0, JSON.stringify(x));
      }
      const [sc, ...sa] = echoStopArgv(echoPid);
      spawnSync(sc!, sa);
      await sleep(2000);
      for (const a of agents) assert.equal(a.lines[a.lines.length - 1]!.connected, false);
    } finally {
      for (const a of agents) a.p.kill('SIGKILL');
      const [sc, ...sa] = echoStopArgv(echoPid);
      spawnSync(sc!, sa);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
