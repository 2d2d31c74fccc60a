// The Alerting Engine's DNS discovery against a real nsd in a namespace: dns-per-ip (the application resolves
// every interval) and dns-round-robin (grpc-js resolves dns://server/name itself) both follow a record change, and
// report what they learned (ae_resolved_backends, ae_backend_set_changes_total, ae_resolutions_total).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResultPromise } from 'execa';
import { spawnLong, stopProcess } from '../../harness/exec.js';
import { digRecords, nsdConf, ZONE, zoneFile, ZoneRecords } from '../../harness/providers/lab/dns.js';
import { sleep, waitFor } from '../../harness/wait.js';
import { postControl, type AdminRequestError } from '../../workloads/common/admin-client.js';
import { Lab, waitMetric, WORKLOADS } from './lab.js';

const NAME = 'metrics.default.svc.cluster.local';
const NSD = '10.1.0.53';

describe('workloads: alerting-engine DNS discovery @root', function () {
  this.timeout(60_000);
  let lab: Lab;
  let nsd: ResultPromise | undefined;
  after(async () => {
    if (nsd) await stopProcess(nsd, 1000);
    await lab?.dispose();
  });

  it('dns-per-ip and dns-round-robin move their calls to the new records and say when they learned them', async () => {
    lab = await new Lab().create(['10.1.0.10', '10.1.0.11', NSD]);
    await writeFile(join(lab.dir, `${ZONE}.zone`), zoneFile(NSD));
    await writeFile(join(lab.dir, 'nsd.conf'), nsdConf(lab.dir, NSD));
    nsd = spawnLong('nsd', ['-d', '-c', join(lab.dir, 'nsd.conf')], { ns: lab.ns, logFile: join(lab.dir, 'nsd.out') });
    await waitFor('nsd', async () => (await digRecords(lab.ns, NSD, `ns.${ZONE}`)).ips.length === 1, {
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    const zone = new ZoneRecords(lab.dir, lab.ns, NSD, nsd);
    await zone.set({ name: NAME, ttlSeconds: 1, ips: ['10.1.0.10'] });

    const a = await lab.start(WORKLOADS.metricsService, ['--host', '10.1.0.10', '--id', 'A'], { name: 'ms-a' });
    const b = await lab.start(WORKLOADS.metricsService, ['--host', '10.1.0.11', '--id', 'B'], { name: 'ms-b' });
    const common = ['--channels-per-backend', '3', '--call-interval-ms', '100', '--allow-cidr', '10.1.0.0/24'];
    const perIp = await lab.start(
      WORKLOADS.alertingEngine,
      ['--discovery', 'dns-per-ip', '--dns-name', `${NAME}:50051`, '--dns-server', NSD, '--resolve-interval-ms', '300', ...common],
      { name: 'ae-ip' },
    );
    const rr = await lab.start(
      WORKLOADS.alertingEngine,
      [
        '--discovery',
        'dns-round-robin',
        '--target',
        `dns://${NSD}:53/${NAME}:50051`,
        '--dns-min-time-between-resolutions-ms',
        '200',
        ...common,
      ],
      { name: 'ae-rr' },
    );
    for (const ae of [perIp, rr]) {
      await waitMetric(ae, 'the first answer', 'ae_resolved_backends', (v) => v === 1);
      await waitMetric(ae, 'OK calls', 'ae_calls_total', (v) => v >= 5, { labels: { code: 'OK' } });
    }
    assert.equal(await b.sum('ms_rpcs_total'), 0, 'B is not in the records yet');
    assert.equal(await rr.sum('ae_resolutions_total', { result: 'ok' }), 3, 'each of the 3 channels resolved once');
    assert.equal(await perIp.sum('ae_channels'), 3, 'dns-per-ip: 3 pick_first channels for the one IP');
    await assert.rejects(
      postControl(perIp.admin, '/backends', { backends: ['10.1.0.11:50051'] }),
      (e: AdminRequestError) => e.status === 409,
    );

    // the rollout: A's pod stops (its connections close, the records change to B)
    const before = { ip: await perIp.sum('ae_backend_set_changes_total'), rr: await rr.sum('ae_backend_set_changes_total') };
    const { servedMs } = await zone.set({ name: NAME, ttlSeconds: 1, ips: ['10.1.0.11'] });
    assert.ok(servedMs < 2000, `served after ${servedMs} ms`);
    await stopProcess(a.proc, 2000);
    // dns-per-ip learns within its interval; dns-round-robin when grpc-js re-resolves after the lost connections
    await waitMetric(b, 'calls on B', 'ms_rpcs_total', (v) => v >= 20, { timeoutMs: 8000 });
    for (const [ae, was] of [
      [perIp, before.ip],
      [rr, before.rr],
    ] as const) {
      await waitMetric(ae, 'the new set learned', 'ae_backend_set_changes_total', (v) => v > was, { timeoutMs: 8000 });
      await waitMetric(ae, 'only B known', 'ae_resolved_backends', (v) => v === 1);
      const ok = await ae.sum('ae_calls_total', { code: 'OK' });
      await sleep(600);
      assert.ok((await ae.sum('ae_calls_total', { code: 'OK' })) > ok, 'calls succeed again, on B');
    }
    assert.ok((await rr.sum('ae_resolutions_total', { result: 'ok' })) > 3, 'grpc-js re-resolved');
    assert.ok(rr.log().includes('"event":"dns-resolved-change","ips":["10.1.0.11"]'), 'the change is logged with its time');
    assert.ok(perIp.log().includes('"event":"dns-resolved-change","ips":["10.1.0.11"]'));
  });
});
