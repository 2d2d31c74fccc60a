// A reader that fails: one failed read is a gap in the series (never a zero, never a false counter reset); the same
// reader failing sample after sample on a node is a broken harness, reported once, naming the probe and the node.
import assert from 'node:assert/strict';
import { Recorder, type EnaSample } from '../../harness/probes/recorder.js';
import type { Cluster, ClusterNode } from '../../harness/providers/types.js';
import type { NotdnsError } from '../../harness/errors.js';

function cluster(readNetstat: () => Promise<string>): { c: Cluster; nodes: ClusterNode[] } {
  const node = (name: string): ClusterNode => ({
    name,
    ip: '10.0.0.11',
    uplinks: ['ens5'],
    putFile: async () => '',
    exec: async () => {
      throw new Error('no commands here');
    },
    readProcNet: async (f) => (f === 'netstat' ? readNetstat() : 'entries\n00000001 0\n'),
  });
  const nodes = [node('node1'), node('node2')];
  return { c: { provider: 'lab', runId: 't', nodes, dns: { upstream: '', nodeLocal: '' }, pods: () => [] } as unknown as Cluster, nodes };
}

const enaOf = (syns: number): EnaSample => ({
  allowanceExceeded: 0,
  allowanceAvailable: 10,
  trackedFlows: 0,
  newFlows: 0,
  flowsByFlag: { syn: 0, fin: 0, rst: 0, none: 0 },
  synsByDst: { '10.1.1.9': syns },
});

/** Drive n samples by hand (start() samples once, stop() once more; the interval is too long to fire). */
async function sampleTimes(rec: Recorder, n: number): Promise<void> {
  rec.start();
  for (let i = 0; i < n - 2; i++) await (rec as unknown as { sample(): Promise<void> }).sample();
  await rec.stop();
}

describe('probes: failed reads', () => {
  it('an isolated failed read is a gap: no point for that sample, the run goes on', async () => {
    let i = 0;
    const { c } = cluster(async () => {
      if (++i === 3) throw new Error('transient');
      return 'TcpExt: IPReversePathFilter\nTcpExt: 7\n';
    });
    let broken: NotdnsError | undefined;
    const rec = new Recorder(c, {
      intervalMs: 60_000,
      onBroken: (e) => {
        broken = e;
      },
    });
    await sampleTimes(rec, 4);
    assert.equal(broken, undefined);
    const pts = rec
      .allSeries()
      .filter((s) => s.probe === 'martian.drops')
      .map((s) => s.points.length);
    assert.equal(
      pts.reduce((a, b) => a + b, 0),
      4 * 2 - 1,
      'one point missing, none made up',
    );
  });

  it("the same reader failing 5 samples in a row on a node: onBroken once, naming the probe, the node and the reader's error", async () => {
    const { c } = cluster(async () => {
      throw new Error('cat: /proc/net/netstat: No such file or directory');
    });
    const errs: NotdnsError[] = [];
    const rec = new Recorder(c, {
      intervalMs: 60_000,
      onBroken: (e) => {
        errs.push(e);
      },
    });
    await sampleTimes(rec, 7);
    assert.equal(errs.length, 1);
    assert.equal(errs[0]!.kind, 'harness');
    assert.match(
      errs[0]!.message,
      /^the martian\.drops probe could not be read on node node1 for 5 samples in a row \(\/proc\/net\/netstat\): cat: \/proc\/net\/netstat: No such file/,
    );
  });

  it('a node whose ENA read failed leaves a gap in SYNs to old pod IPs instead of a false counter reset', async () => {
    const { c, nodes } = cluster(async () => 'TcpExt: IPReversePathFilter\nTcpExt: 0\n');
    let n = 0;
    const rec = new Recorder(c, {
      intervalMs: 60_000,
      ena: async (node) => {
        if (node === nodes[1] && ++n === 3) throw new Error('bpftool: timeout');
        return enaOf(node === nodes[0] ? 100 : 50);
      },
    });
    rec.markOld('10.1.1.9');
    await sampleTimes(rec, 5);
    const old = rec.allSeries().find((s) => s.probe === 'syn.toOldPodIps')!;
    assert.equal(old.points.length, 4, 'the sample with a failed node read is left out');
    assert.ok(
      old.points.every(([, v]) => v === old.points[0]![1]),
      `no drop and no jump: ${JSON.stringify(old.points)}`,
    );
  });

  it("a provider's extra node probes (Cluster.extraNodeProbes) are recorded per node; failing 5 samples in a row is a broken harness", async () => {
    const { c } = cluster(async () => 'TcpExt: IPReversePathFilter\nTcpExt: 0\n');
    let drops = 0;
    let failing = false;
    c.extraNodeProbes = async (node) => {
      if (failing && node.name === 'node2') throw new Error('curl: (7) Failed to connect to 127.0.0.1 port 9962');
      drops += 10;
      return { 'cilium.staleIpDrops': drops, 'nld.upstreamFailures': 1 };
    };
    const errs: NotdnsError[] = [];
    const rec = new Recorder(c, { intervalMs: 60_000, onBroken: (e) => errs.push(e) });
    await sampleTimes(rec, 3);
    const s = rec.allSeries().find((x) => x.probe === 'cilium.staleIpDrops' && x.target === 'node1')!;
    assert.equal(s.unit, 'packets');
    assert.equal(s.kind, 'counter');
    assert.equal(s.points.length, 3);
    assert.equal(rec.allSeries().filter((x) => x.probe === 'nld.upstreamFailures').length, 2);
    failing = true;
    await sampleTimes(rec, 6);
    assert.equal(errs.length, 1);
    assert.match(
      errs[0]!.message,
      /^the cilium\.staleIpDrops, cilium\.ctEntries, nld\.\* probe could not be read on node node2 for 5 samples/,
    );
    assert.match(errs[0]!.message, /Failed to connect to 127\.0\.0\.1 port 9962/);
  });
});
