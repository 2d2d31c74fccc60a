// Metrics Service in a network namespace: graceful stop as seen by a client and by a fresh connect, DNS error kinds.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { sleep, waitFor } from '../../harness/wait.js';
import { metricQuantile, metricSum } from '../../workloads/common/metrics-types.js';
import { Lab, waitMetric, WORKLOADS, type Workload } from './lab.js';

describe('workloads: metrics-service @root', function () {
  this.timeout(30_000);
  let lab: Lab;

  before(async () => {
    lab = await new Lab().create(['10.1.0.10']);
  });
  after(async () => {
    await lab?.dispose();
  });

  it('graceful stop: in-flight calls finish, GOAWAY, new connects refused, exit after the grace period', async () => {
    const graceS = 4;
    const ms = await lab.start(WORKLOADS.metricsService, ['--id', 'A', '--graceful-stop-seconds', String(graceS)], { name: 'ms' });
    const ae = await lab.start(
      WORKLOADS.alertingEngine,
      [
        '--backends',
        '10.1.0.10:50051',
        '--channels-per-backend',
        '2',
        '--allow-cidr',
        '10.1.0.0/16',
        '--call-interval-ms',
        '2500',
        '--call-delay-ms',
        '1500',
        '--call-deadline-ms',
        '5000',
        '--initial-backoff-ms',
        '200',
        '--max-backoff-ms',
        '300',
      ],
      { name: 'ae' },
    );
    await waitMetric(ae, 'both channels READY', 'ae_channels', (v) => v === 2, { labels: { state: 'READY' } });
    await waitMetric(ms, 'a call in flight on the server', 'ms_inflight_rpcs', (v) => v >= 1);
    const okBefore = await ae.sum('ae_calls_total', { code: 'OK' });
    const t0 = Date.now();
    const exited = ms.proc.then(
      (r) => ({ code: r.exitCode, at: Date.now() }),
      () => ({ code: -1, at: Date.now() }),
    );
    ms.proc.kill('SIGTERM');

    // GOAWAY: the client's channels leave READY, and the next call must reconnect and gets refused (RST).
    await waitMetric(ae, 'channels to leave READY', 'ae_channels', (v) => v === 0, { labels: { state: 'READY' }, timeoutMs: 2000 });
    await waitMetric(ae, 'a refused reconnect', 'ae_connect_errors_total', (v) => v > 0, { labels: { kind: 'refused' }, timeoutMs: 3000 });
    // The call in flight at SIGTERM completes OK during the grace period.
    await waitMetric(ae, 'the in-flight call to complete OK', 'ae_calls_total', (v) => v > okBefore, {
      labels: { code: 'OK' },
      timeoutMs: 2500,
    });
    assert.equal(await ms.sum('ms_serving'), 0);
    // A fresh TCP connect is refused while the process is alive (listener closed).
    assert.equal(await lab.tryConnect('10.1.0.10', 50051), 'ECONNREFUSED');
    assert.ok(ms.alive(), 'metrics-service is still in its grace period');
    assert.ok(Date.now() - t0 < graceS * 1000, 'checks ran inside the grace period');

    const { code, at } = await exited;
    const elapsed = at - t0;
    console.log(
      `      graceful stop: exit ${code} after ${elapsed} ms (grace ${graceS * 1000} ms); client calls OK ${okBefore} -> ${await ae.sum('ae_calls_total', { code: 'OK' })}`,
    );
    assert.equal(code, 0);
    assert.ok(elapsed >= graceS * 1000 - 100 && elapsed < graceS * 1000 + 2000, `exit after ${elapsed} ms`);
    const events = readFileSync(ms.logFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l).event as string);
    for (const e of ['listening', 'stopping', 'tryShutdown', 'tryShutdown-done', 'forceShutdown', 'exit'])
      assert.ok(events.includes(e), `event ${e} in ${events}`);
  });

  it('counts DNS errors by kind (servfail, refused, nxdomain, timeout) and successes', async () => {
    const servers = {
      answer: '127.0.0.2',
      servfail: '127.0.0.3',
      refused: '127.0.0.4',
      nxdomain: '127.0.0.5',
      timeout: '127.0.0.6',
      icmp: '127.0.0.7',
    };
    const responder = lab.start(
      WORKLOADS.dnsResponder,
      [
        `${servers.answer}=answer`,
        `${servers.servfail}=servfail`,
        `${servers.refused}=refused`,
        `${servers.nxdomain}=nxdomain`,
        `${servers.timeout}=silent`,
      ],
      { admin: false, name: 'dns' },
    );
    const r = await responder;
    await waitFor('dns responder ready', () => r.log().includes('ready'), { timeoutMs: 5000, intervalMs: 50 });
    const cases = Object.entries(servers);
    const started: Record<string, Workload> = {};
    await Promise.all(
      cases.map(async ([kind, ip], i) => {
        started[kind] = await lab.start(
          WORKLOADS.metricsService,
          [
            '--host',
            '127.0.0.1',
            '--port',
            String(50061 + i),
            '--dns-server',
            ip,
            '--dns-lookups-per-second',
            '20',
            '--dns-timeout-ms',
            '300',
          ],
          { name: `ms-dns-${kind}` },
        );
      }),
    );
    await sleep(1500);
    const expected: Record<string, string | undefined> = {
      answer: undefined,
      servfail: 'servfail',
      refused: 'refused',
      nxdomain: 'nxdomain',
      timeout: 'timeout',
      icmp: 'refused',
    };
    const report: string[] = [];
    for (const [kind] of cases) {
      const m = await started[kind].metrics();
      const lookups = metricSum(m, 'ms_dns_lookups_total');
      const errors = metricSum(m, 'ms_dns_errors_total');
      const want = expected[kind];
      const ofKind = want ? metricSum(m, 'ms_dns_errors_total', { kind: want }) : 0;
      report.push(
        `${kind}: lookups ${lookups} errors ${errors}${want ? ` ${want} ${ofKind}` : ''} p50 ${metricQuantile(m, 'ms_dns_latency_seconds', 0.5).toFixed(4)}s`,
      );
      assert.ok(lookups >= 15, `${kind}: ${lookups} lookups`);
      if (!want) {
        assert.equal(errors, 0, `${kind}: no errors`);
        assert.ok(metricQuantile(m, 'ms_dns_latency_seconds', 0.5) < 0.1);
      } else {
        assert.equal(errors, ofKind, `${kind}: every error is of kind ${want}`);
        // lookups still pending (up to rate x (timeout + c-ares slack) = 16) are not errors yet
        assert.ok(ofKind >= lookups - 16, `${kind}: ${ofKind} ${want} errors of ${lookups} lookups`);
      }
    }
    console.log(`      dns: ${report.join('; ')}`);
  });

  it('both workloads stop by themselves after --max-duration-seconds (exit 0)', async () => {
    const t0 = Date.now();
    const [ms, ae] = await Promise.all([
      lab.start(
        WORKLOADS.metricsService,
        ['--host', '127.0.0.1', '--port', '50070', '--max-duration-seconds', '2', '--graceful-stop-seconds', '0'],
        { name: 'ms-bounded' },
      ),
      lab.start(WORKLOADS.alertingEngine, ['--backends', '127.0.0.1:50070', '--allow-cidr', '127.0.0.0/8', '--max-duration-seconds', '2'], {
        name: 'ae-bounded',
      }),
    ]);
    const [rm, ra] = await Promise.all([ms.proc, ae.proc]);
    assert.equal(rm.exitCode, 0);
    assert.equal(ra.exitCode, 0);
    assert.ok(Date.now() - t0 < 5000);
    assert.match(ae.log(), /"event":"stopping","reason":"max-duration"/);
  });
});
