import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { corednsNldSample, nldProbes, parseUnboundStats, parseVmRss, unboundControl, unboundNldSample } from '../../harness/probes/nld.js';
import { nodeLocalDnsProbes } from '../../harness/providers/kind/node-metrics.js';
import { unboundConf, LAB_NODE_LOCAL_DNS_LIMITS } from '../../harness/providers/lab/dns.js';

// unbound 1.17.1 `unbound-control stats_noreset` with extended-statistics: yes (abridged: the histogram and most
// query types cut), as it printed for a node whose upstream was black-holed
const UNBOUND_STATS = `thread0.num.queries=412
thread0.requestlist.exceeded=37
total.num.queries=412
total.num.queries_ip_ratelimited=0
total.num.cachehits=3
total.num.cachemiss=409
total.num.recursivereplies=290
total.requestlist.avg=11.3
total.requestlist.max=20
total.requestlist.overwritten=4
total.requestlist.exceeded=37
total.requestlist.current.all=20
total.requestlist.current.user=20
total.recursion.time.avg=1.204000
total.recursion.time.median=0.8
total.tcpusage=0
time.now=1796041423.698187
time.up=61.011202
mem.cache.rrset=66072
mem.cache.message=66072
mem.mod.iterator=16604
histogram.000000.000000.to.000000.000001=0
num.query.tcpout=409
num.query.type.A=412
num.answer.rcode.NOERROR=90
num.answer.rcode.SERVFAIL=200
num.answer.rcode.REFUSED=0
`;

// node-cache 1.26.4 (CoreDNS 1.11.3) /metrics, abridged: two zones' servers, forward rejecting at max_concurrent
const COREDNS_1_11 = `# HELP coredns_dns_requests_total Counter of DNS requests made per zone, protocol and family.
# TYPE coredns_dns_requests_total counter
coredns_dns_requests_total{family="1",proto="udp",server="dns://169.254.20.10:53",type="A",view="",zone="cluster.local."} 3801
coredns_dns_requests_total{family="1",proto="udp",server="dns://169.254.20.10:53",type="AAAA",view="",zone="cluster.local."} 120
coredns_dns_requests_total{family="1",proto="udp",server="dns://169.254.20.10:53",type="A",view="",zone="."} 79
# HELP coredns_forward_max_concurrent_rejects_total Counter of the number of queries rejected because the concurrent queries were at maximum.
# TYPE coredns_forward_max_concurrent_rejects_total counter
coredns_forward_max_concurrent_rejects_total 1500
# HELP coredns_proxy_healthcheck_failures_total Count of failed health checks per upstream.
# TYPE coredns_proxy_healthcheck_failures_total counter
coredns_proxy_healthcheck_failures_total{proxy_name="forward",to="10.96.0.10:53"} 42
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 6.7108864e+07
`;

describe('node-local DNS symptoms: parsers (nld.*)', () => {
  it("unbound's stats_noreset: name=value lines, non-numbers skipped", () => {
    const s = parseUnboundStats('total.num.queries=5\nerror no such command\nx=\ntotal.recursion.time.avg=0.250000\n');
    assert.deepEqual(
      [...s],
      [
        ['total.num.queries', 5],
        ['total.recursion.time.avg', 0.25],
      ],
    );
  });

  it('unbound: queries, rejects = exceeded + overwritten, in flight, SERVFAILs as upstream failures', () => {
    assert.deepEqual(unboundNldSample(UNBOUND_STATS), { queries: 412, rejects: 37 + 4, inFlight: 20, upstreamFailures: 200 });
  });

  it('unbound without extended-statistics: no upstream failures field (no series), not a zero', () => {
    const plain = UNBOUND_STATS.split('\n')
      .filter((l) => !l.startsWith('num.answer'))
      .join('\n');
    assert.equal(unboundNldSample(plain).upstreamFailures, undefined);
  });

  it("a reply that is not unbound's statistics is a failed read", () => {
    assert.throws(() => unboundNldSample('error unknown command\n'), /not unbound's statistics/);
    assert.throws(() => unboundNldSample(''), /not unbound's statistics/);
  });

  it('VmRSS of /proc/<pid>/status in bytes', () => {
    assert.equal(parseVmRss('Name:\tunbound\nVmPeak:\t  30000 kB\nVmRSS:\t   16780 kB\nThreads:\t1\n'), 16780 * 1024);
    assert.throws(() => parseVmRss('Name:\tunbound\nState:\tZ (zombie)\n'), /no VmRSS/);
  });

  it("CoreDNS 1.11: requests over zones, forward's rejects, health-check failures, RSS; no in-flight", () => {
    assert.deepEqual(corednsNldSample(COREDNS_1_11), {
      queries: 3801 + 120 + 79,
      rejects: 1500,
      upstreamFailures: 42,
      memoryBytes: 67108864,
    });
    assert.deepEqual(nodeLocalDnsProbes(COREDNS_1_11), {
      'nld.queries': 4000,
      'nld.rejects': 1500,
      'nld.upstreamFailures': 42,
      'nld.memoryBytes': 67108864,
    });
  });

  it('CoreDNS before 1.11 (coredns_forward_healthcheck_failures_total) reads the same; a page without coredns_* throws', () => {
    const old = COREDNS_1_11.replaceAll(
      'coredns_proxy_healthcheck_failures_total{proxy_name="forward",',
      'coredns_forward_healthcheck_failures_total{',
    );
    assert.equal(corednsNldSample(old).upstreamFailures, 42);
    assert.throws(() => corednsNldSample('process_resident_memory_bytes 5\n'), /no coredns_\* metric/);
  });

  it('probe ids: absent fields stay absent', () => {
    assert.deepEqual(nldProbes({ queries: 1, inFlight: 0 }), { 'nld.queries': 1, 'nld.inFlight': 0 });
  });

  it('the unbound config carries the limits, extended statistics and the control socket', () => {
    const c = unboundConf('/s/dns', 'node1', '169.254.20.10', '10.0.0.53', '/s/logs', { maxConcurrent: 80, memoryMb: 64 });
    assert.match(c, /num-queries-per-thread: 80\n/);
    assert.match(c, /rrset-cache-size: 32m\n/);
    assert.match(c, /msg-cache-size: 16m\n/);
    assert.match(c, /extended-statistics: yes\n/);
    assert.match(
      c,
      /remote-control:\n {4}control-enable: yes\n {4}control-interface: \/s\/dns\/ctl-node1\.sock\n {4}control-use-cert: no\n/,
    );
    assert.match(
      unboundConf('/s', 'n', '1.1.1.1', '2.2.2.2'),
      new RegExp(`num-queries-per-thread: ${LAB_NODE_LOCAL_DNS_LIMITS.maxConcurrent}\n`),
    );
  });

  it('unboundControl speaks "UBCT1 <command>" on the unix socket and reads to the close', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nld-'));
    const path = join(dir, 'ctl.sock');
    const got: string[] = [];
    const srv = createServer((s) => {
      s.setEncoding('utf8');
      s.once('data', (d: string) => {
        got.push(d);
        s.end('total.num.queries=3\n');
      });
    });
    await new Promise<void>((r) => srv.listen(path, r));
    try {
      assert.equal(await unboundControl(path, 'stats_noreset'), 'total.num.queries=3\n');
      assert.deepEqual(got, ['UBCT1 stats_noreset\n']);
      await assert.rejects(unboundControl(join(dir, 'absent.sock'), 'stats_noreset'), /ENOENT/);
    } finally {
      srv.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
