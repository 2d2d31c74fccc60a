// DNS discovery without a lab: the zone writer, dig's answer, the config (schema, --fast, the engine's arguments),
// the record-change markers, and the engine's bookkeeping of what it resolved.
import assert from 'node:assert/strict';
import { parseDigRecords, relativeName, zoneFile } from '../../harness/providers/lab/dns.js';
import { dnsChangeLabel, parseDnsChanges } from '../../harness/run/dns-discovery.js';
import { alertingEngineArgs, isDnsDiscovery, serviceDns } from '../../harness/run/workloads.js';
import { expandVariant, loadExperiment, validateExperiment } from '../../harness/spec/load.js';
import { observedTarget, parseDnsName, ResolvedSets } from '../../workloads/alerting-engine/dns-discovery.js';

const spec = (variants: Record<string, unknown>) => ({
  name: 'dns-tiny',
  description: 'dns discovery',
  steps: [{ steady: 2 }, { rollout: { batch: 1 } }, { observe: 2 }],
  variants,
});

describe('dns discovery: zone writer', () => {
  it('writes the service name with one A record per IP and its own TTL, after the wildcard, with the serial', () => {
    const z = zoneFile('10.0.0.53', [{ name: 'metrics.default.svc.cluster.local', ttlSeconds: 17, ips: ['10.1.1.10', '10.1.2.10'] }], 7);
    const lines = z.split('\n');
    assert.ok(lines.includes('@ IN SOA ns.cluster.local. hostmaster.cluster.local. 7 3600 600 86400 5'));
    assert.ok(lines.includes('metrics.default.svc 17 IN A 10.1.1.10'));
    assert.ok(lines.includes('metrics.default.svc 17 IN A 10.1.2.10'));
    assert.ok(lines.includes('*.default.svc IN A 10.96.0.10'), 'the Metrics Service lookups still resolve');
    assert.equal(zoneFile('10.0.0.53'), zoneFile('10.0.0.53', [], 1), 'no service: the zone as before');
  });

  it('an empty set keeps the name (a TXT record): the wildcard must not answer for it', () => {
    const z = zoneFile('10.0.0.53', [{ name: 'metrics.default.svc.cluster.local.', ttlSeconds: 5, ips: [] }]);
    assert.match(z, /^metrics\.default\.svc 5 IN TXT "no ready pods"$/m);
    assert.doesNotMatch(z, /^metrics\.default\.svc \d+ IN A/m);
  });

  it('refuses names outside the zone, bad labels, bad TTLs and non-IPv4 records', () => {
    assert.equal(relativeName('Metrics.Default.svc.cluster.local.'), 'metrics.default.svc');
    assert.throws(() => relativeName('metrics.example.com'), /not in the lab's zone cluster\.local/);
    assert.throws(() => relativeName('-x.cluster.local'), /labels/);
    assert.throws(() => zoneFile('10.0.0.53', [{ name: 'a.cluster.local', ttlSeconds: 1.5, ips: [] }]), /whole number/);
    assert.throws(() => zoneFile('10.0.0.53', [{ name: 'a.cluster.local', ttlSeconds: 5, ips: ['10.1.1'] }]), /not an IPv4/);
  });

  it("reads dig's answer section only (nsd adds its own address in the additional section)", () => {
    const out = `;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 1
;; ANSWER SECTION:
metrics.default.svc.cluster.local. 9 IN\tA\t10.1.2.10
metrics.default.svc.cluster.local. 8 IN\tA\t10.1.1.10

;; AUTHORITY SECTION:
cluster.local.\t\t5\tIN\tNS\tns.cluster.local.

;; ADDITIONAL SECTION:
ns.cluster.local.\t5\tIN\tA\t10.0.0.53
`;
    assert.deepEqual(parseDigRecords(out), { ips: ['10.1.1.10', '10.1.2.10'], ttl: 8 });
    assert.deepEqual(parseDigRecords(';; connection timed out; no servers could be reached\n'), { ips: [], ttl: null });
  });
});

describe('dns discovery: config', () => {
  it('discovery takes dns-per-ip and dns-round-robin; the name and TTL have defaults and are checked', () => {
    const e = validateExperiment(
      spec({
        a: { workloads: { alertingEngine: { discovery: 'dns-per-ip', resolveIntervalMs: 500 } } },
        b: {
          workloads: {
            metricsService: { dns: { ttlSeconds: 7 } },
            alertingEngine: { discovery: 'dns-round-robin', dnsMinTimeBetweenResolutionsMs: 1000 },
          },
        },
        c: {},
      }),
      'x.json',
    );
    const a = expandVariant(e, 'a'),
      b = expandVariant(e, 'b'),
      c = expandVariant(e, 'c');
    assert.deepEqual(serviceDns(a), { name: 'metrics.default.svc.cluster.local', ttlSeconds: 30 });
    assert.deepEqual(serviceDns(b), { name: 'metrics.default.svc.cluster.local', ttlSeconds: 7 });
    assert.equal(isDnsDiscovery(a) && isDnsDiscovery(b), true);
    assert.equal(isDnsDiscovery(c), false);
    assert.equal(c.workloads.metricsService.dns, undefined, 'existing variants: config unchanged');
    assert.equal('resolveIntervalMs' in c.workloads.alertingEngine, false);
    // --fast scales the TTL like every duration of the chain (whole seconds)
    assert.equal(expandVariant(e, 'b', { fast: true }).workloads.metricsService.dns?.ttlSeconds, 4);
    assert.throws(
      () => validateExperiment(spec({ a: { workloads: { metricsService: { dns: { name: 'metrics.example.com' } } } } }), 'x.json'),
      /cluster\.local/,
    );
    assert.throws(() => validateExperiment(spec({ a: { workloads: { alertingEngine: { discovery: 'dns' } } } }), 'x.json'), /discovery/);
    assert.throws(
      () => validateExperiment(spec({ a: { workloads: { metricsService: { dns: { ttlSeconds: -1 } } } } }), 'x.json'),
      /ttlSeconds/,
    );
  });

  it("the engine's arguments: the name through node-local DNS instead of --backends; POST /backends modes unchanged", () => {
    const e = validateExperiment(
      spec({
        ip: { workloads: { alertingEngine: { discovery: 'dns-per-ip', resolveIntervalMs: 500 } } },
        rr: { workloads: { alertingEngine: { discovery: 'dns-round-robin', dnsMinTimeBetweenResolutionsMs: 1000 } } },
        old: {},
      }),
      'x.json',
    );
    const args = (v: string) => alertingEngineArgs(expandVariant(e, v), ['10.1.1.10'], 60, '10.1.0.0/16', undefined, '169.254.20.10');
    const ip = args('ip'),
      rr = args('rr'),
      old = args('old');
    assert.deepEqual(ip.slice(0, 6), [
      '--dns-name',
      'metrics.default.svc.cluster.local:50051',
      '--dns-server',
      '169.254.20.10',
      '--resolve-interval-ms',
      '500',
    ]);
    assert.deepEqual(rr.slice(0, 4), [
      '--target',
      'dns://169.254.20.10:53/metrics.default.svc.cluster.local:50051',
      '--dns-min-time-between-resolutions-ms',
      '1000',
    ]);
    assert.ok(!ip.includes('--backends') && !rr.includes('--backends'));
    assert.deepEqual(old.slice(0, 2), ['--backends', '10.1.1.10:50051']);
    assert.throws(() => alertingEngineArgs(expandVariant(e, 'ip'), [], 60, '10.1.0.0/16'), /node-local DNS/);
  });

  it('the flagship keeps its variants and adds dns-round-robin', async () => {
    const { experiment } = await loadExperiment('rollout-syn-flood');
    assert.deepEqual(Object.keys(experiment.variants).slice(0, 3), ['baseline', 'fix', 'cilium-unreachable']);
    assert.ok('dns-round-robin' in experiment.variants);
    for (const v of ['baseline', 'fix', 'cilium-unreachable']) assert.equal(isDnsDiscovery(expandVariant(experiment, v)), false);
    assert.equal(expandVariant(experiment, 'dns-round-robin').workloads.alertingEngine.discovery, 'dns-round-robin');
  });
});

describe('dns discovery: markers and what the engine learned', () => {
  it('a record change marker reads back: time, set, TTL, served time, each client cache', () => {
    const label = dnsChangeLabel({
      name: 'metrics.default.svc.cluster.local',
      ips: ['10.1.2.11', '10.1.1.11'],
      ttlSeconds: 30,
      servedMs: 41,
      caches: [
        { node: 'node3', ips: ['10.1.1.10', '10.1.1.11'], ttl: 12 },
        { node: 'node4', ips: ['10.1.1.11', '10.1.2.11'], ttl: 30 },
      ],
    });
    const [c] = parseDnsChanges([
      { t: 3, kind: 'step', label: 'steady' },
      { t: 12.5, kind: 'note', label },
    ]);
    assert.deepEqual(c, {
      t: 12.5,
      ips: ['10.1.1.11', '10.1.2.11'],
      ttlSeconds: 30,
      servedMs: 41,
      caches: [
        { node: 'node3', stale: true, ttl: 12 },
        { node: 'node4', stale: false, ttl: 30 },
      ],
    });
  });

  it('ResolvedSets: the union of every source, a change reported once, a destroyed source forgotten', () => {
    const changes: string[][] = [];
    let ok = 0,
      failed = 0;
    const s = new ResolvedSets(
      (x) => (x ? ok++ : failed++),
      (ips) => changes.push(ips),
    );
    s.resolved(['10.1.1.10', '10.1.2.10'], 'c0');
    s.resolved(['10.1.2.10', '10.1.1.10'], 'c1');
    assert.deepEqual(changes, [['10.1.1.10', '10.1.2.10']], 'same set from another channel: no change');
    s.resolved(['10.1.1.11', '10.1.2.10'], 'c0');
    assert.deepEqual(s.known(), ['10.1.1.10', '10.1.1.11', '10.1.2.10'], 'c1 still knows the old IP');
    s.forget('c1');
    assert.deepEqual(s.known(), ['10.1.1.11', '10.1.2.10']);
    s.failed();
    assert.equal(ok, 3);
    assert.equal(failed, 1);
  });

  it('--dns-name and the observed target', () => {
    assert.deepEqual(parseDnsName('metrics.default.svc.cluster.local:50051'), { name: 'metrics.default.svc.cluster.local', port: 50051 });
    assert.throws(() => parseDnsName('metrics.default.svc.cluster.local'), /NAME:PORT/);
    assert.throws(() => parseDnsName('10.1.1.10:99999'), /NAME:PORT/);
    assert.equal(observedTarget('dns://169.254.20.10:53/m.cluster.local:50051'), 'notdns-dns://169.254.20.10:53/m.cluster.local:50051');
    assert.equal(observedTarget('dns:///m:1'), 'notdns-dns:///m:1');
    assert.equal(observedTarget('ipv4:10.1.1.10:1'), 'ipv4:10.1.1.10:1');
  });
});
