// The Metrics Service's search-list mode (glibc's order, A + AAAA per candidate) against a tiny DNS server on loopback
// that answers like the lab's link-local resolver: A for *.example.com, NODATA for AAAA, NXDOMAIN for everything else.
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { dnsResolverArgs, POD_SEARCH } from '../../harness/run/workloads.js';
import { linklocalNsdConf, linklocalUnboundConf, linklocalZoneFile } from '../../harness/providers/lab/dns.js';
import { sleep } from '../../harness/wait.js';
import { metricSum, type WorkloadMetrics } from '../../workloads/common/metrics-types.js';
import { DnsProber, searchCandidates } from '../../workloads/metrics-service/dns-prober.js';
import { createMetrics } from '../../workloads/metrics-service/metrics.js';

/** Answers one UDP query; `drop` names are never answered. Records every question as "NAME TYPE". */
async function fakeResolver(drop: (name: string) => boolean = () => false): Promise<{ sock: Socket; port: number; asked: string[] }> {
  const asked: string[] = [];
  const sock = createSocket('udp4');
  sock.on('message', (q, rinfo) => {
    let i = 12;
    const labels: string[] = [];
    while (q[i]! > 0) {
      labels.push(q.subarray(i + 1, i + 1 + q[i]!).toString());
      i += q[i]! + 1;
    }
    const qtype = q.readUInt16BE(i + 1);
    const question = q.subarray(12, i + 5);
    const name = `${labels.join('.')}.`.toLowerCase();
    asked.push(`${name} ${qtype === 1 ? 'A' : qtype === 28 ? 'AAAA' : qtype}`);
    if (drop(name)) return;
    const known = name.endsWith('.example.com.') && name.split('.').length === 4; // api-N.example.com.
    const answer = known && qtype === 1;
    const h = Buffer.alloc(12);
    q.copy(h, 0, 0, 2);
    h.writeUInt16BE(0x8180 | (known ? 0 : 3), 2); // response, RD+RA, NOERROR or NXDOMAIN
    h.writeUInt16BE(1, 4);
    h.writeUInt16BE(answer ? 1 : 0, 6);
    const rr = answer ? Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 203, 0, 113, 10]) : Buffer.alloc(0);
    sock.send(Buffer.concat([h, question, rr]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return { sock, port: sock.address().port, asked };
}

const noLog = () => undefined;

describe('Metrics Service DNS prober: search-list mode (glibc order)', () => {
  it('expands names like glibc: search first below ndots, absolute first at or above it, a trailing dot alone', () => {
    const d = ['burst.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'ec2.internal'];
    assert.deepEqual(searchCandidates('api.example.com', d, 5), [
      'api.example.com.burst.svc.cluster.local.',
      'api.example.com.svc.cluster.local.',
      'api.example.com.cluster.local.',
      'api.example.com.ec2.internal.',
      'api.example.com.',
    ]);
    assert.deepEqual(searchCandidates('api.example.com', d, 1), [
      'api.example.com.',
      ...searchCandidates('api.example.com', d, 5).slice(0, 4),
    ]);
    assert.deepEqual(searchCandidates('api.example.com.', d, 5), ['api.example.com.']);
  });

  it('harness arguments: ndots5 and fqdn modes, plain leaves the old behaviour', () => {
    assert.deepEqual(dnsResolverArgs('plain', 0), []);
    assert.deepEqual(dnsResolverArgs('ndots5', 200), [
      '--dns-name-template',
      'api-{n}.example.com',
      '--dns-search',
      POD_SEARCH.join(','),
      '--dns-ndots',
      '5',
      '--dns-name-pool',
      '200',
    ]);
    assert.equal(dnsResolverArgs('fqdn', 0)[1], 'api-{n}.example.com.');
  });

  it('ndots:5 sends 10 queries per external lookup (5 candidates × A+AAAA), a trailing dot 2; a pool repeats names', async () => {
    for (const [template, perLookup] of [
      ['api-{n}.example.com', 10],
      ['api-{n}.example.com.', 2],
    ] as const) {
      for (const namePool of [0, 3]) {
        const srv = await fakeResolver();
        const m = createMetrics();
        const p = new DnsProber(
          {
            server: `127.0.0.1:${srv.port}`,
            ratePerSecond: 50,
            timeoutMs: 1000,
            template,
            maxInFlight: 100,
            namePool,
            search: { domains: [...POD_SEARCH], ndots: 5, aaaa: true },
          },
          m,
          noLog,
        );
        p.start();
        await sleep(300);
        p.stop(); // a lookup still in flight is cancelled: count only the ones whose absolute name was answered
        await sleep(100);
        srv.sock.close();
        const j = (await m.registry.getMetricsAsJSON()) as unknown as WorkloadMetrics;
        const byName = new Map<string, number>();
        for (const q of srv.asked) {
          const base = /^(api-\d+)\./.exec(q)![1]!;
          byName.set(base, (byName.get(base) ?? 0) + 1);
        }
        const complete = srv.asked.filter((q) => /^api-\d+\.example\.com\. A$/.test(q));
        assert.ok(complete.length >= 5, `complete lookups ${complete.length}`);
        assert.equal(metricSum(j, 'ms_dns_errors_total'), 0);
        if (namePool === 0) {
          for (const c of complete) assert.equal(byName.get(c.split('.')[0]!), perLookup, `${template}: queries for ${c}`);
          if (perLookup === 10) assert.equal(srv.asked[0], 'api-1.example.com.burst.svc.cluster.local. A');
        } else {
          assert.deepEqual([...byName.keys()].sort(), ['api-0', 'api-1', 'api-2'], 'the pool cycles through 3 names');
        }
        assert.ok(metricSum(j, 'ms_dns_queries_total') >= complete.length * perLookup);
      }
    }
  });

  it('a dropped query ends the lookup as a timeout (glibc stops the search); all NXDOMAIN is nxdomain', async () => {
    const srv = await fakeResolver((n) => n.endsWith('.ec2.internal.'));
    const m = createMetrics();
    const p = new DnsProber(
      {
        server: `127.0.0.1:${srv.port}`,
        ratePerSecond: 20,
        timeoutMs: 200,
        template: 'api-{n}.example.com',
        maxInFlight: 100,
        search: { domains: [...POD_SEARCH], ndots: 5, aaaa: true },
      },
      m,
      noLog,
    );
    p.start();
    await sleep(800); // the first lookups' 4th candidate (after 3 quick NXDOMAINs) times out after 200 ms
    p.stop();
    await sleep(100);
    srv.sock.close();
    const j = (await m.registry.getMetricsAsJSON()) as unknown as WorkloadMetrics;
    const lookups = metricSum(j, 'ms_dns_lookups_total');
    assert.ok(lookups >= 3);
    // every finished lookup timed out on its 4th candidate: 8 queries, never the absolute name
    assert.ok(metricSum(j, 'ms_dns_errors_total', { kind: 'timeout' }) >= 1);
    assert.ok(!srv.asked.some((q) => /^api-\d+\.example\.com\. /.test(q)), 'the absolute name is never asked after a timeout');

    const nx = await fakeResolver();
    const m2 = createMetrics();
    const p2 = new DnsProber(
      {
        server: `127.0.0.1:${nx.port}`,
        ratePerSecond: 20,
        timeoutMs: 500,
        template: 'nope-{n}.invalid',
        maxInFlight: 10,
        search: { domains: ['a.test'], ndots: 5, aaaa: false },
      },
      m2,
      noLog,
    );
    p2.start();
    await sleep(200);
    p2.stop();
    await sleep(100);
    nx.sock.close();
    const j2 = (await m2.registry.getMetricsAsJSON()) as unknown as WorkloadMetrics;
    assert.ok(metricSum(j2, 'ms_dns_errors_total', { kind: 'nxdomain' }) >= 2);
    assert.equal(metricSum(j2, 'ms_dns_queries_total'), 2 * metricSum(j2, 'ms_dns_lookups_total'), 'A only: 2 candidates, 1 query each');
  });

  it('lab link-local mode: nsd answers on 169.254.169.253 without rate limiting; the short cache keeps nothing, serve-stale keeps', () => {
    const nsd = linklocalNsdConf('/d', '10.0.0.53');
    assert.match(nsd, /ip-address: 169\.254\.169\.253/);
    assert.match(nsd, /rrl-ratelimit: 0/);
    for (const z of ['cluster.local', 'ec2.internal', 'example.com']) assert.match(nsd, new RegExp(`name: "${z}"`));
    assert.match(linklocalZoneFile('example.com', '10.0.0.53'), /^\* IN A 203\.0\.113\.10$/m);
    const short = linklocalUnboundConf('/d', 'node1', '169.254.20.10', 'short');
    assert.match(short, /cache-max-ttl: 0/);
    assert.match(short, /forward-addr: 169\.254\.169\.253/);
    assert.doesNotMatch(short, /tcp-upstream: yes/);
    assert.match(linklocalUnboundConf('/d', 'node1', '169.254.20.10', 'serve-stale'), /serve-expired: yes/);
  });
});
