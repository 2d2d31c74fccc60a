// Alerting Engine in network namespaces: reconnect rates by backoff setting, the per-attempt connect timeout against
// a black hole, backend changes with a DNS propagation delay and the --allow-cidr safety net.
import assert from 'node:assert/strict';
import { sleep } from '../../harness/wait.js';
import { type AdminRequestError, postControl } from '../../workloads/common/admin-client.js';
import { metricSum } from '../../workloads/common/metrics-types.js';
import { Lab, waitMetric, WORKLOADS } from './lab.js';

const ALLOW = ['--allow-cidr', '10.1.0.0/16'];
const FAST = ['--initial-backoff-ms', '200', '--max-backoff-ms', '300'];

describe('workloads: alerting-engine @root', function () {
  this.timeout(40_000);
  const labs: Lab[] = [];
  const newLab = async (addrs: string[]) => {
    const l = new Lab();
    labs.push(l);
    return l.create(addrs);
  };
  after(async () => {
    await Promise.all(labs.map((l) => l.dispose()));
  });

  it('max backoff 300 ms makes several times more connect attempts than the defaults once the server is gone', async () => {
    const channels = 50;
    const windowMs = 5000;
    const measure = async (backoff: string[]) => {
      const lab = await newLab(['10.1.0.10']);
      const ms = await lab.start(WORKLOADS.metricsService, ['--graceful-stop-seconds', '0'], { name: 'ms' });
      const ae = await lab.start(
        WORKLOADS.alertingEngine,
        ['--backends', '10.1.0.10:50051', '--channels-per-backend', String(channels), ...ALLOW, ...backoff],
        { name: 'ae' },
      );
      await waitMetric(ae, 'all channels READY', 'ae_channels', (v) => v === channels, { labels: { state: 'READY' } });
      ms.proc.kill('SIGTERM'); // graceful stop with 0 s grace: GOAWAY, listener closed, exit; every reconnect gets RST
      await ms.proc;
      const a = await lab.tcp();
      await sleep(windowMs);
      const b = await lab.tcp();
      const refused = await ae.sum('ae_connect_errors_total', { kind: 'refused' });
      return { opens: b.activeOpens - a.activeOpens, refused };
    };
    const [fast, dflt] = await Promise.all([measure(FAST), measure([])]);
    const rate = (n: number) => (n / (windowMs / 1000)).toFixed(1);
    console.log(
      `      ${channels} channels, ${windowMs} ms after the server left: max-backoff 300 ms ${fast.opens} connects (${rate(fast.opens)}/s), grpc-js defaults ${dflt.opens} (${rate(dflt.opens)}/s), ratio ${(fast.opens / Math.max(1, dflt.opens)).toFixed(1)}`,
    );
    assert.ok(fast.refused > 0 && dflt.refused > 0, 'reconnects were refused (RST)');
    assert.ok(dflt.opens >= channels, `defaults still reconnect: ${dflt.opens}`);
    assert.ok(fast.opens >= 3 * dflt.opens, `fast ${fast.opens} vs default ${dflt.opens}`);
  });

  it('--connect-timeout-ms turns a black-holed SYN into many new flows per channel; 0 leaves one', async () => {
    const channels = 10;
    const windowMs = 4000;
    const measure = async (timeoutMs: number) => {
      const lab = await newLab(['10.1.0.99']);
      await lab.blackhole('10.1.0.99', 50051);
      const a = await lab.tcp();
      const ae = await lab.start(
        WORKLOADS.alertingEngine,
        [
          '--backends',
          '10.1.0.99:50051',
          '--channels-per-backend',
          String(channels),
          ...ALLOW,
          ...FAST,
          '--connect-timeout-ms',
          String(timeoutMs),
        ],
        { name: 'ae' },
      );
      await sleep(windowMs);
      const b = await lab.tcp();
      const m = await ae.metrics(); // one snapshot: the counters below are compared with each other
      return {
        opens: b.activeOpens - a.activeOpens,
        retrans: b.retransSegs - a.retransSegs,
        attempts: metricSum(m, 'ae_connect_attempts_total'),
        timeouts: metricSum(m, 'ae_connect_timeouts_total'),
        timeoutErrors: metricSum(m, 'ae_connect_errors_total', { kind: 'connect_timeout' }),
      };
    };
    const [withT, without] = await Promise.all([measure(300), measure(0)]);
    console.log(
      `      black hole, ${channels} channels, ${windowMs} ms: connect-timeout 300 ms: ${withT.opens} new flows (${(withT.opens / channels).toFixed(1)}/channel), ${withT.retrans} retransmits, ${withT.timeouts} timeouts; none: ${without.opens} flows, ${without.retrans} SYN retransmits`,
    );
    assert.ok(without.opens <= channels + 2, `without a timeout each channel keeps its first SYN: ${without.opens}`);
    assert.ok(without.retrans >= channels, 'the kernel retransmits those SYNs instead');
    assert.ok(withT.opens >= 5 * channels, `with a timeout: ${withT.opens} new flows`);
    // read a moment after the kernel counter: at most one more round of attempts (one per channel)
    assert.ok(
      withT.attempts >= withT.opens && withT.attempts <= withT.opens + channels,
      `ae_connect_attempts_total ${withT.attempts} counts every connect() (${withT.opens})`,
    );
    assert.ok(withT.timeouts >= withT.opens - 2 * channels);
    assert.equal(withT.timeoutErrors, withT.timeouts, 'each aborted attempt is a connect error of kind connect_timeout');
    assert.equal(without.timeouts, 0);
  });

  it('POST /backends is applied after --dns-propagation-seconds; backends outside --allow-cidr are refused', async () => {
    const lab = await newLab(['10.1.0.10', '10.1.0.11']);
    const a = await lab.start(WORKLOADS.metricsService, ['--host', '10.1.0.10', '--id', 'A'], { name: 'ms-a' });
    const b = await lab.start(WORKLOADS.metricsService, ['--host', '10.1.0.11', '--id', 'B'], { name: 'ms-b' });
    const ae = await lab.start(
      WORKLOADS.alertingEngine,
      [
        '--backends',
        '10.1.0.10:50051',
        '--channels-per-backend',
        '2',
        ...ALLOW,
        '--call-interval-ms',
        '100',
        '--dns-propagation-seconds',
        '2',
      ],
      { name: 'ae' },
    );
    await waitMetric(a, 'calls on A', 'ms_rpcs_total', (v) => v > 0);

    await assert.rejects(
      postControl(ae.admin, '/backends', { backends: ['10.1.0.10:50051', '192.168.7.1:50051'] }),
      (e: AdminRequestError) => e.status === 400 && /192\.168\.7\.1:50051 outside --allow-cidr/.test(e.message),
    );
    await assert.rejects(postControl(ae.admin, '/backends', { backends: ['10.1.0.10'] }), (e: AdminRequestError) => e.status === 400);
    await assert.rejects(postControl(ae.admin, '/backends', { backend: [] }), (e: AdminRequestError) => e.status === 400);

    const t0 = Date.now();
    const r = (await postControl(ae.admin, '/backends', { backends: ['10.1.0.10:50051', '10.1.0.11:50051'] })) as { applied: boolean };
    assert.equal(r.applied, false);
    assert.equal(await ae.sum('ae_pending_backend_updates'), 1);
    await sleep(1500);
    assert.equal(await b.sum('ms_rpcs_total'), 0, 'B gets nothing before the propagation delay');
    await waitMetric(b, 'calls on B', 'ms_rpcs_total', (v) => v > 0, { timeoutMs: 3000 });
    const delay = Date.now() - t0;
    console.log(`      new backend got its first call ${delay} ms after POST /backends (propagation 2000 ms)`);
    assert.ok(delay >= 2000, `B called after ${delay} ms`);
    assert.equal(await ae.sum('ae_pending_backend_updates'), 0);
    assert.equal(await ae.sum('ae_backends'), 2);

    // Removing A closes its channels: A gets no more calls.
    await postControl(ae.admin, '/backends', { backends: ['10.1.0.11:50051'] });
    await waitMetric(ae, 'the removal to apply', 'ae_backend_updates_applied_total', (v) => v === 2, { timeoutMs: 3500 });
    const aCalls = await a.sum('ms_rpcs_total');
    await sleep(500);
    assert.equal(await a.sum('ms_rpcs_total'), aCalls, 'A gets no calls after its removal');
    const m = await ae.metrics();
    const total = m.find((f) => f.name === 'ae_channels')!.values.reduce((s, v) => s + v.value, 0);
    assert.equal(total, 2, 'two channels left (B)');
  });

  it('round-robin: one channel spreads calls over the backends; --target dns:/// connects only inside --allow-cidr', async () => {
    const lab = await newLab(['10.1.0.10', '10.1.0.11']);
    const [a, b, local] = await Promise.all([
      lab.start(WORKLOADS.metricsService, ['--host', '10.1.0.10', '--id', 'A'], { name: 'ms-a' }),
      lab.start(WORKLOADS.metricsService, ['--host', '10.1.0.11', '--id', 'B'], { name: 'ms-b' }),
      lab.start(WORKLOADS.metricsService, ['--host', '127.0.0.1', '--id', 'L'], { name: 'ms-l' }),
    ]);
    const rr = ['--discovery', 'round-robin', '--channels-per-backend', '5', '--call-interval-ms', '200'];
    const [ae, viaDns, refused] = await Promise.all([
      lab.start(WORKLOADS.alertingEngine, [...rr, '--backends', '10.1.0.10:50051,10.1.0.11:50051', ...ALLOW], { name: 'ae-rr' }),
      lab.start(WORKLOADS.alertingEngine, [...rr, '--target', 'dns:///localhost:50051', '--allow-cidr', '127.0.0.0/8'], { name: 'ae-dns' }),
      lab.start(WORKLOADS.alertingEngine, [...rr, '--target', 'dns:///localhost:50051', ...ALLOW], { name: 'ae-dns-refused' }),
    ]);
    await waitMetric(a, 'calls on A', 'ms_rpcs_total', (v) => v >= 5);
    await waitMetric(b, 'calls on B', 'ms_rpcs_total', (v) => v >= 5);
    await waitMetric(viaDns, 'OK calls via dns:///localhost', 'ae_calls_total', (v) => v >= 5, { labels: { code: 'OK' } });
    await waitMetric(refused, 'connects refused by --allow-cidr', 'ae_connect_errors_total', (v) => v >= 1, {
      labels: { kind: 'not_allowed' },
    });
    const m = await ae.metrics();
    assert.equal(
      m.find((f) => f.name === 'ae_channels')!.values.reduce((s, v) => s + v.value, 0),
      1,
      'one channel',
    );
    assert.equal(await refused.sum('ae_calls_total', { code: 'OK' }), 0);
    assert.ok((await local.sum('ms_rpcs_total')) >= 5);
    // A new set rebuilds the one channel: only B gets calls afterwards.
    await postControl(ae.admin, '/backends', { backends: ['10.1.0.11:50051'] });
    await sleep(300);
    const aCalls = await a.sum('ms_rpcs_total');
    const bCalls = await b.sum('ms_rpcs_total');
    await sleep(600);
    assert.equal(await a.sum('ms_rpcs_total'), aCalls, 'A left the set');
    assert.ok((await b.sum('ms_rpcs_total')) > bCalls, 'B still called');
  });
});
