// DNS discovery on the lab (root): how long nsd takes to serve a record change, and the done-when of DNS discovery:
// the flooded period ends when the clients' resolvers see the new records, and a longer TTL floods the old IPs
// longer. Run one at a time under the lab lock: `flock /work/notes/lab.lock npx mocha dist/test/lab/dns-discovery.lab.test.js`.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../harness/paths.js';
import { spawnLong, stopProcess, run } from '../../harness/exec.js';
import { digRecords, nsdConf, ZONE, zoneFile, ZoneRecords } from '../../harness/providers/lab/dns.js';
import { parseDnsChanges, type DnsChange } from '../../harness/run/dns-discovery.js';
import { ResultsSchema, type Results } from '../../harness/results.js';
import { waitFor } from '../../harness/wait.js';

const cli = join(repoRoot, 'bin', 'notdns');
const NAME = 'metrics.default.svc.cluster.local';

type Variant = Results['variants'][number];

/** Time of the last sample at which the SYNs to old pod IPs still grew: the end of the flood (sampled ~1 s). */
function lastSynToOld(v: Variant): number {
  const s = v.series.find((x) => x.probe === 'syn.toOldPodIps')!;
  let last = -1;
  for (let i = 1; i < s.points.length; i++) if (s.points[i]![1] > s.points[i - 1]![1]) last = s.points[i]![0];
  return last;
}

/** First sample at or after `from` from which every client pod knows `n` backends and its set changes no more:
 *  when the last client learned the final set (a count alone cannot tell {a,b} from {c,d}). */
function learnedAt(v: Variant, from: number, n: number): number {
  // each client pod's own series: the sample from which on it knows n backends AND its set changes are done (the old
  // set has n backends too); pods are sampled at their own timestamps: no common timestamp is needed; the last decides
  const known = v.series.filter((x) => x.probe === 'ae.backendsKnown');
  const changes = v.series.filter((x) => x.probe === 'ae.backendSetChanges');
  assert.ok(known.length >= 1 && changes.length === known.length, 'ae.backendsKnown / ae.backendSetChanges recorded for the client pods');
  let at = from;
  for (const k of known) {
    const c = changes.find((x) => x.target === k.target)!.points;
    const final = c.at(-1)![1];
    const changesAt = (t: number) => [...c].reverse().find((p) => p[0] <= t)?.[1];
    const pts = k.points.filter((p) => p[0] >= from && p[1] !== null);
    let firstGood = pts.length;
    while (firstGood > 0 && pts[firstGood - 1]![1] === n && changesAt(pts[firstGood - 1]![0]) === final) firstGood--;
    assert.ok(firstGood < pts.length, `${k.target}: knows ${pts.at(-1)?.[1]} backends at the end, not the final ${n} (after t=${from})`);
    at = Math.max(at, pts[firstGood]![0]);
  }
  return at;
}

interface Measured {
  final: DnsChange;
  /** Seconds the client node's cache still held an old set when the final records were served (0: already new). */
  cachedLeft: number;
  lastSyn: number;
  learned: number;
  /** The flooded period after the records changed: last SYN to an old IP − final record change. */
  stale: number;
}

function measure(v: Variant): Measured {
  const changes = parseDnsChanges(v.markers);
  assert.ok(changes.length >= 2, `${v.name}: record changes marked on the time axis`);
  for (const c of changes) assert.ok(c.servedMs < 3000, `${v.name}: nsd served a change after ${c.servedMs} ms`);
  const final = changes.at(-1)!;
  const cache = final.caches[0];
  assert.ok(cache, `${v.name}: the client node's cache was read at the change`);
  const cachedLeft = cache.stale ? (cache.ttl ?? 0) : 0;
  const lastSyn = lastSynToOld(v);
  const learned = learnedAt(v, final.t, final.ips.length);
  return { final, cachedLeft, lastSyn, learned, stale: lastSyn - final.t };
}

describe('dns discovery on the lab @root', function () {
  this.timeout(600_000);

  it('nsd serves a rewritten zone after a SIGHUP within a second (record change → served, ms)', async () => {
    const ns = `nd-test-dns-${process.pid}`;
    const dir = await mkdtemp(join(tmpdir(), 'nd-dns-'));
    const ip = '10.99.0.53';
    await run('ip', ['netns', 'add', ns]);
    try {
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await run('ip', ['-n', ns, 'addr', 'add', `${ip}/32`, 'dev', 'lo']);
      const { writeFile } = await import('node:fs/promises');
      await writeFile(join(dir, `${ZONE}.zone`), zoneFile(ip));
      await writeFile(join(dir, 'nsd.conf'), nsdConf(dir, ip));
      const nsd = spawnLong('nsd', ['-d', '-c', join(dir, 'nsd.conf')], { ns, logFile: join(dir, 'nsd.out') });
      try {
        await waitFor('nsd', async () => (await digRecords(ns, ip, `ns.${ZONE}`)).ips.length === 1, { timeoutMs: 10_000, intervalMs: 100 });
        // before any record: the wildcard answers for the name
        assert.deepEqual((await digRecords(ns, ip, NAME)).ips, ['10.96.0.10']);
        const zone = new ZoneRecords(dir, ns, ip, nsd);
        const served: number[] = [];
        for (let i = 0; i < 8; i++) {
          const ips = [`10.1.1.${10 + i}`, `10.1.2.${10 + i}`];
          served.push((await zone.set({ name: NAME, ttlSeconds: 30, ips })).servedMs);
          const a = await digRecords(ns, ip, NAME);
          assert.deepEqual(a.ips, ips);
          assert.equal(a.ttl, 30, 'the configured TTL is served');
        }
        await zone.set({ name: NAME, ttlSeconds: 5, ips: [] });
        assert.deepEqual((await digRecords(ns, ip, NAME)).ips, [], 'no pod: no address (not the wildcard)');
        served.sort((a, b) => a - b);
        process.stdout.write(`      record change → served by nsd: median ${served[4]} ms, max ${served.at(-1)} ms (8 changes)\n`);
        assert.ok(served.at(-1)! < 1000, `every change served within 1 s (${served.join(', ')} ms)`);
      } finally {
        await stopProcess(nsd, 1000);
      }
    } finally {
      await run('ip', ['netns', 'del', ns], { reject: false });
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('dns-round-robin: the flood of the old IPs ends when the resolvers see the new records; a longer TTL floods longer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nd-dns-ttl-'));
    try {
      const p = await execa(cli, ['run', join(repoRoot, 'test', 'lab', 'fixtures', 'dns-ttl.json'), '--fast', '--out', dir], {
        reject: false,
        all: true,
        env: { CI: 'true' },
      });
      assert.equal(p.exitCode, 0, p.all?.slice(-3000));
      const r = ResultsSchema.parse(JSON.parse(await readFile(join(dir, 'results.json'), 'utf8')));
      const m: Record<string, Measured> = {};
      for (const v of r.variants) {
        const x = measure(v);
        m[v.name] = x;
        const ttl = x.final.ttlSeconds;
        process.stdout.write(
          `      ${v.name}: TTL ${ttl} s; final records at t=${x.final.t} (nsd ${x.final.servedMs} ms), node cache held the old set ${x.cachedLeft} s more; clients knew the new set at t=${x.learned}; last SYN to an old IP t=${x.lastSyn} → flooded ${round(x.stale)} s after the change\n`,
        );
        // unbound honours the TTL: no client learns before its node's cached copy expires (dig shows whole seconds,
        // the series are sampled about once a second: 1.5 s of slack)
        assert.ok(x.learned >= x.final.t + x.cachedLeft - 1.5, `${v.name}: learned at ${x.learned}, before the cache expired`);
        // and the flood ends with the learning: connects to a removed address stop (300 ms connect timeout)
        assert.ok(x.lastSyn <= x.learned + 2.5, `${v.name}: SYNs to old IPs at ${x.lastSyn}, after the clients learned (${x.learned})`);
        // ... no later than the cache expiry + grpc-js's own cadence: min 1 s between resolutions, up to ~3 s until
        // each of the 200 channels' resolvers asked again (measured), ~2 s of sampling
        assert.ok(x.stale <= x.cachedLeft + 6, `${v.name}: flooded ${round(x.stale)} s after the change, cache held ${x.cachedLeft} s`);
        assert.ok(x.stale >= x.cachedLeft - 1.5, `${v.name}: the flood outlasts the cached copy`);
      }
      const short = m['ttl-short']!,
        long = m['ttl-long']!;
      assert.ok(long.final.ttlSeconds > short.final.ttlSeconds);
      // the longer TTL: the caches held the old set ~20 s longer (the fixture's timeline: the cache was filled when
      // the clients started, 45 s TTL, records changed ~23 s later), and the flood lasted that much longer
      assert.ok(long.cachedLeft - short.cachedLeft >= 10, `cache held ${long.cachedLeft} s vs ${short.cachedLeft} s`);
      assert.ok(
        long.stale - short.stale >= long.cachedLeft - short.cachedLeft - 6,
        `flooded ${round(long.stale)} s vs ${round(short.stale)} s after the change (cache ${long.cachedLeft} vs ${short.cachedLeft} s)`,
      );
      assert.ok(long.stale - short.stale >= 10, 'the longer TTL floods the old IPs measurably longer');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const round = (x: number) => Math.round(x * 100) / 100;
