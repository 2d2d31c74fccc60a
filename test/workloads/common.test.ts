// Unit tests (no root): address/CIDR parsing, the timing wheel, the admin server and client, CLI usage errors.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Counter, Registry } from 'prom-client';
import { run } from '../../harness/exec.js';
import { AdminServer, HttpError } from '../../workloads/common/admin.js';
import { parseAdminAddress } from '../../workloads/common/admin-address.js';
import { adminRequest, fetchMetrics, postControl, type AdminRequestError } from '../../workloads/common/admin-client.js';
import { metricSum } from '../../workloads/common/metrics-types.js';
import { inCidrs, parseBackend, parseBackendList, parseCidr } from '../../workloads/common/net-addr.js';
import { loadProtos } from '../../workloads/common/proto.js';
import { classifyDnsError } from '../../workloads/metrics-service/dns-prober.js';
import { Wheel } from '../../workloads/alerting-engine/wheel.js';
import { WORKLOADS } from './lab.js';

describe('workloads: common', () => {
  it('parses admin addresses', () => {
    assert.deepEqual(parseAdminAddress('unix:/run/x.sock'), { kind: 'unix', path: '/run/x.sock' });
    assert.deepEqual(parseAdminAddress('tcp:9100'), { kind: 'tcp', port: 9100 });
    assert.deepEqual(parseAdminAddress('tcp:127.0.0.1:9100'), { kind: 'tcp', host: '127.0.0.1', port: 9100 });
    for (const bad of ['unix:rel.sock', 'tcp:0', 'tcp:x:1', 'http://x', '9100']) assert.throws(() => parseAdminAddress(bad), /expected/);
  });

  it('parses backends and CIDRs and matches the allow-list', () => {
    assert.deepEqual(parseBackend('10.1.0.10:50051'), { host: '10.1.0.10', port: 50051, key: '10.1.0.10:50051' });
    assert.deepEqual(
      parseBackendList('10.1.0.1:1, 10.1.0.2:2,10.1.0.1:1').map((b) => b.key),
      ['10.1.0.1:1', '10.1.0.2:2'],
    );
    for (const bad of ['10.1.0.10', 'host:1', '10.1.0.300:1', '10.1.0.1:70000']) assert.throws(() => parseBackend(bad), /IPv4:PORT/);
    const c = [parseCidr('10.1.0.0/16'), parseCidr('192.168.5.5')];
    assert.ok(inCidrs('10.1.255.1', c) && inCidrs('192.168.5.5', c));
    assert.ok(!inCidrs('10.2.0.1', c) && !inCidrs('192.168.5.6', c) && !inCidrs('localhost', c));
    assert.ok(inCidrs('8.8.8.8', [parseCidr('0.0.0.0/0')]));
    assert.throws(() => parseCidr('10.1.0.0/33'), /CIDR/);
  });

  it('loads the protos from the source tree when running from dist/', () => {
    const p = loadProtos();
    assert.equal(p.query.path, '/notdns.v1.Metrics/Query');
    assert.equal(p.healthCheck.path, '/grpc.health.v1.Health/Check');
    const buf = p.query.requestSerialize({ query: 'q', delay_ms: 5, client_id: 'c' });
    assert.deepEqual(p.query.requestDeserialize(buf), { query: 'q', delay_ms: 5, client_id: 'c' });
  });

  it('classifies resolver errors', () => {
    assert.deepEqual(['ETIMEOUT', 'ESERVFAIL', 'EREFUSED', 'ECONNREFUSED', 'ENOTFOUND', 'ENODATA'].map(classifyDnsError), [
      'timeout',
      'servfail',
      'refused',
      'refused',
      'nxdomain',
      'other',
    ]);
  });

  it('timing wheel fires each item once per period, at most once after a stall', () => {
    const w = new Wheel<number>(100, 10, 0);
    for (let i = 0; i < 50; i++) w.add(i);
    const fired: number[] = [];
    for (let t = 10; t <= 100; t += 10) w.advance(t, (i) => fired.push(i));
    assert.deepEqual(
      [...fired].sort((a, b) => a - b),
      [...Array(50).keys()],
    );
    fired.length = 0;
    w.advance(10_000, (i) => fired.push(i)); // a 10 s stall: still once each
    assert.equal(fired.length, 50);
    w.remove(7);
    fired.length = 0;
    w.advance(10_100, (i) => fired.push(i));
    assert.equal(fired.length, 49);
    assert.ok(!fired.includes(7));
  });

  describe('admin server and client', () => {
    let dir: string;
    let admin: AdminServer;
    let addr: string;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'nd-wl-unit-'));
      const path = join(dir, 'a.sock');
      // a stale socket file from a previous run must not stop the server
      await run('node', ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`]);
      assert.ok(existsSync(path), 'stale socket left by an exited process');
      const reg = new Registry();
      new Counter({ name: 'x_total', help: 'x', labelNames: ['k'], registers: [reg] }).inc({ k: 'a' }, 3);
      admin = new AdminServer(`unix:${path}`, reg);
      admin.route('POST', '/echo', (b) => {
        if (!b) throw new HttpError(400, 'empty');
        return { status: 202, body: { got: b } };
      });
      addr = await admin.listen();
    });
    after(async () => {
      await admin.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('serves metrics as text and JSON and /healthz', async () => {
      const text = await adminRequest(addr, 'GET', '/metrics');
      assert.match(text.body, /x_total\{k="a"\} 3/);
      assert.equal(metricSum(await fetchMetrics(addr), 'x_total', { k: 'a' }), 3);
      assert.deepEqual(await adminRequest(addr, 'GET', '/healthz'), { status: 200, body: 'ok\n' });
      admin.setServing(() => false);
      assert.equal((await adminRequest(addr, 'GET', '/healthz')).status, 503);
      admin.setServing(() => true);
    });

    it('routes POSTs with JSON bodies and reports errors with their status', async () => {
      assert.deepEqual(await postControl(addr, '/echo', { a: 1 }), { got: { a: 1 } });
      await assert.rejects(postControl(addr, '/echo', undefined), (e: AdminRequestError) => e.status === 400 && /empty/.test(e.message));
      await assert.rejects(postControl(addr, '/nope', {}), (e: AdminRequestError) => e.status === 404);
    });

    it('removes its socket on close and refuses to remove a non-socket', async () => {
      const p = join(dir, 'plain');
      writeFileSync(p, 'x');
      await assert.rejects(new AdminServer(`unix:${p}`, new Registry()).listen(), /not a socket/);
      assert.ok(existsSync(p));
      const other = new AdminServer(`unix:${join(dir, 'b.sock')}`, new Registry());
      await other.listen();
      assert.ok(existsSync(join(dir, 'b.sock')));
      await other.close();
      assert.ok(!existsSync(join(dir, 'b.sock')));
    });
  });

  describe('command lines', () => {
    const usage = async (script: string, args: string[]) => {
      const r = await run('node', [script, ...args], { reject: false, timeoutMs: 10_000 });
      return { code: r.exitCode, err: r.stderr.trim() };
    };
    it('exit 2 with one line naming the flag', async () => {
      const cases: [string, string[], RegExp][] = [
        [WORKLOADS.metricsService, ['--port', 'x'], /--port <n>.*expected an integer in 1\.\.65535/],
        [WORKLOADS.metricsService, ['--dns-lookups-per-second', '10'], /--dns-lookups-per-second: needs --dns-server/],
        [WORKLOADS.alertingEngine, ['--backends', '10.1.0.1:1'], /--allow-cidr: required/],
        [
          WORKLOADS.alertingEngine,
          ['--backends', '10.9.0.1:1', '--allow-cidr', '10.1.0.0/16'],
          /--backends: 10\.9\.0\.1:1 outside --allow-cidr/,
        ],
        [WORKLOADS.alertingEngine, ['--backends', '10.1.0.1', '--allow-cidr', '10.1.0.0/16'], /--backends <list>.*expected IPv4:PORT/],
        [
          WORKLOADS.alertingEngine,
          ['--discovery', 'x', '--allow-any-target'],
          /--discovery <mode>.*per-backend, round-robin, dns-per-ip or dns-round-robin/,
        ],
        [
          WORKLOADS.alertingEngine,
          ['--backends', '10.1.0.1:1,10.1.0.2:1', '--channels-per-backend', '3', '--max-channels', '5', '--allow-any-target'],
          /need 6 channels, above --max-channels 5/,
        ],
        [WORKLOADS.alertingEngine, ['--target', 'dns:///x:1', '--allow-any-target'], /--target: needs --discovery round-robin/],
      ];
      for (const [script, args, re] of cases) {
        const { code, err } = await usage(script, args);
        assert.equal(code, 2, `${args.join(' ')}: exit ${code}: ${err}`);
        assert.equal(err.split('\n').length, 1, `one line: ${err}`);
        assert.match(err, re);
      }
    });
    it('--help exits 0 and explains the flags', async () => {
      const r = await run('node', [WORKLOADS.alertingEngine, '--help'], { timeoutMs: 10_000 });
      for (const f of ['--connect-timeout-ms', '--max-backoff-ms', '--dns-propagation-seconds', '--allow-cidr'])
        assert.ok(r.stdout.includes(f), f);
    });
  });
});
