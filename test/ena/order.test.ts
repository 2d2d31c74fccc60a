// The ENA simulator on a hook it shares with a CNI (Cilium's cil_from_netdev / cil_to_netdev), in namespaces of our
// own (lab.ts): the simulator at pref 1 passes what it does not drop on (TC_ACT_UNSPEC), so a "Cilium-like" program
// after it (cilium-like.ts: counts, returns TC_ACT_OK) sees every packet, and none the allowance dropped; the wrong
// order (the Cilium-like program first) hides every packet from the simulator; and the same with tcx links.
// Traffic: bounded hping3 SYN bursts from the client namespace to a closed port of the node (answered by RSTs),
// so the node's ens5 sees N packets in and N out. Needs root, clang, bpftool, hping3, tc (python3 for tcx).
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../harness/exec.js';
import { stateRoot } from '../../harness/paths.js';
import {
  attachEna,
  detachEna,
  enaBpffsDir,
  enaPinDir,
  ENA_TC_HANDLE,
  ENA_TC_PREF,
  ensureBpffs,
  readEnaStats,
  releaseBpffs,
  sweepEna,
  tcxLinksOnNode,
  type AttachOptions,
  type EnaHandle,
  type EnaStats,
} from '../../harness/ena/index.js';
import { EnaLab, IP, hpingSyn } from './lab.js';
import { attachTcx, classicLines, likeDelta, loadCiliumLike, readCiliumLike, tcxUnavailable } from './cilium-like.js';

const N = 200;
const CLOSED_PORT = 9;

const haveTools = async () => {
  for (const t of ['clang', 'bpftool', 'hping3', 'tc']) {
    if ((await run('sh', ['-c', `command -v ${t}`], { reject: false })).exitCode !== 0) return t;
  }
  return undefined;
};

interface FilterRow {
  pref?: number;
  kind?: string;
  options?: { handle?: string; bpf_name?: string };
}

describe('ENA simulator ordering with a Cilium-like program on the same hook @root', function () {
  this.timeout(90_000);
  const lab = new EnaLab();
  const stateDir = join(stateRoot, `test-ena-order-${lab.id}`);
  const bpffs = enaBpffsDir(stateDir);
  const likePin = join(bpffs, 'cilium-like');
  const handles: EnaHandle[] = [];
  const attach = async (o: Omit<AttachOptions, 'pinDir'>) => {
    const h = await attachEna(lab.node, { pinDir: enaPinDir(bpffs, 'node'), ...o });
    handles.push(h);
    return h;
  };
  const tc = (...lines: string[]) => run('tc', ['-n', lab.n, '-batch', '-'], { input: lines.join('\n') + '\n' });
  const filters = async (dev: string, dir: string) =>
    JSON.parse((await run('tc', ['-n', lab.n, '-j', 'filter', 'show', 'dev', dev, dir])).stdout || '[]') as FilterRow[];
  // long idle timeouts: every flow of a burst stays tracked for the whole test (no GC in between)
  const timeouts = { unrepliedSeconds: 600, closedSeconds: 600 };
  let sport = 20_000;
  /** N SYNs C -> N:9 (closed: each answered by a RST), each a new flow (source ports never reused in the test);
   *  returns the deltas the simulator and the Cilium-like program saw. */
  const burst = async (h: EnaHandle) => {
    const [e0, l0] = await Promise.all([readEnaStats(h), readCiliumLike(likePin)]);
    const r = await hpingSyn(lab.c, IP.nEns5, { count: N, intervalUs: 1000, port: CLOSED_PORT, baseSport: sport });
    sport += N;
    const [e1, l1] = await Promise.all([readEnaStats(h), readCiliumLike(likePin)]);
    assert.equal(r.sent, N);
    return { replies: r.received, ena: enaDelta(e0, e1), like: likeDelta(l0, l1) };
  };

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    const missing = await haveTools();
    if (missing) {
      console.warn(`      skipped: ${missing} is not installed`);
      this.skip();
    }
    await lab.up();
    await ensureBpffs(bpffs);
    await loadCiliumLike(join(stateDir, 'build'), likePin);
  });

  afterEach(async () => {
    while (handles.length) await detachEna(handles.pop()!).catch(() => undefined);
    // the Cilium-like filters and tcx links of the test (the clsact qdisc goes with them)
    for (const dev of ['ens5', 'ens6']) await run('tc', ['-n', lab.n, 'qdisc', 'del', 'dev', dev, 'clsact'], { reject: false });
    await run('sh', ['-c', 'rm -f "$1"/tcx-*', 'sh', bpffs], { reject: false });
  });

  after(async () => {
    await lab.down();
    await sweepEna(stateDir).catch(() => undefined);
    await releaseBpffs(bpffs).catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true });
  });

  it('ENA at pref 1 first: a Cilium-like filter at pref 2 sees every packet in both directions, and none the allowance dropped', async () => {
    await run('tc', ['-n', lab.n, 'qdisc', 'add', 'dev', 'ens5', 'clsact']);
    await tc(...classicLines(likePin, 'ens5', 2, 1));
    const h = await attach({ allowance: N + 50, timeouts });
    assert.equal(h.tc.pref, ENA_TC_PREF);
    assert.equal(ENA_TC_PREF, 1);
    for (const dir of ['ingress', 'egress']) {
      const f = (await filters('ens5', dir)).filter((x) => x.options?.bpf_name);
      assert.deepEqual(
        f.map((x) => [x.pref, Number(x.options!.handle), x.options!.bpf_name!.replace(/:.*/, '')]),
        [
          [1, ENA_TC_HANDLE, `ena_${dir}`],
          [2, 1, `like_${dir}`],
        ],
        `${dir}: the simulator is listed (and runs) first`,
      );
    }

    // 1. room for every flow: both programs see all N SYNs in and all N RSTs out; nothing dropped
    const a = await burst(h);
    assert.equal(a.replies, N, 'every SYN answered: both filters let it through');
    assert.deepEqual([a.ena.packetsIn, a.ena.packetsOut, a.ena.exceeded], [N, N, 0]);
    assert.deepEqual(
      [a.like.tcpUdpIn, a.like.tcpUdpOut],
      [N, N],
      'the Cilium-like filter after the simulator saw every packet, both directions',
    );
    assert.deepEqual([a.like.in, a.like.out], [N, N], 'and no other packet crossed the hook');

    // 2. 50 entries left: 50 new flows pass, N - 50 SYNs are dropped by the simulator and never reach the next filter
    const b = await burst(h);
    assert.equal(b.ena.packetsIn, N, 'the simulator saw every SYN');
    assert.equal(b.ena.exceededIn, N - 50);
    assert.equal(b.replies, 50);
    assert.equal(b.like.in, N - b.ena.exceededIn, 'the next filter saw exactly the SYNs that were not dropped');
    assert.equal(b.like.out, 50, '... and their RSTs');
    assert.equal(b.ena.packetsOut, 50);
  });

  it('the wrong order: a Cilium-like filter at pref 1 returning TC_ACT_OK hides every packet from the simulator at pref 2', async () => {
    await run('tc', ['-n', lab.n, 'qdisc', 'add', 'dev', 'ens5', 'clsact']);
    await tc(...classicLines(likePin, 'ens5', 1, 1));
    const h = await attach({ allowance: 8, timeouts, tc: { pref: 2, handle: ENA_TC_HANDLE } });
    const a = await burst(h);
    assert.deepEqual([a.like.tcpUdpIn, a.like.tcpUdpOut], [N, N]);
    assert.deepEqual([a.ena.packetsIn, a.ena.packetsOut], [0, 0], 'TC_ACT_OK ended classification: the simulator never ran');
    assert.equal(a.replies, N, 'so its allowance of 8 flows dropped nothing');
    assert.equal(a.ena.exceeded, 0);
  });

  it('sharing pref 1 is not an order: cls_bpf runs the filter added last first', async () => {
    // Cilium's legacy filter defaults to pref 1 handle 1. Added after the simulator, it runs before it.
    const h = await attach({ allowance: N + 50, timeouts });
    await tc(...classicLines(likePin, 'ens5', ENA_TC_PREF, 1));
    const names = (await filters('ens5', 'ingress'))
      .filter((x) => x.options?.bpf_name)
      .map((x) => `${x.pref}:${x.options!.bpf_name!.replace(/:.*/, '')}`);
    assert.deepEqual(names, ['1:like_ingress', '1:ena_ingress']);
    const a = await burst(h);
    assert.deepEqual([a.like.tcpUdpIn, a.ena.packetsIn], [N, 0], 'the filter added last ran first and ended classification');
  });

  it('tcx: a tcx program returning TCX_PASS hides every packet from a classic filter; ENA as a tcx link at the head returning TCX_NEXT passes everything on', async function () {
    const why = await tcxUnavailable();
    if (why) {
      console.warn(`      skipped: ${why}`);
      this.skip();
    }
    // Cilium with bpf.enableTCX=true: its programs are tcx links at the tail of the hook
    for (const dir of ['ingress', 'egress'] as const) {
      await attachTcx(lab.n, `${likePin}/progs/like_${dir}`, 'ens5', dir, 'tail', `${bpffs}/tcx-like-${dir}`);
    }
    // 1. the simulator as a classic filter (what attachEna does): never runs, tcx's TCX_PASS skips classic tc
    let h = await attach({ allowance: N + 50, timeouts, uplinks: ['ens5'] });
    const a = await burst(h);
    assert.deepEqual([a.like.tcpUdpIn, a.like.tcpUdpOut], [N, N]);
    assert.deepEqual([a.ena.packetsIn, a.ena.packetsOut], [0, 0], 'classic filters do not run after a tcx program that returned TCX_PASS');
    await detachEna(handles.pop()!);

    // 2. the simulator as tcx links at the head. Its maps and pins come from attachEna on ens6 (no traffic there),
    //    the same pinned programs are linked to ens5 with bpf(BPF_LINK_CREATE, BPF_TCX_*, BPF_F_BEFORE).
    h = await attach({ allowance: N + 50, timeouts, uplinks: ['ens6'] });
    for (const dir of ['ingress', 'egress'] as const) {
      await attachTcx(lab.n, `${h.pinDir}/progs/ena_${dir}`, 'ens5', dir, 'head', `${bpffs}/tcx-ena-${dir}`);
    }
    const b = await burst(h);
    assert.equal(b.replies, N);
    assert.deepEqual([b.ena.packetsIn, b.ena.packetsOut], [N, N], 'the simulator at the head saw every packet');
    assert.deepEqual([b.like.tcpUdpIn, b.like.tcpUdpOut], [N, N], 'TCX_NEXT (= TC_ACT_UNSPEC) ran the next tcx program for every packet');
    const c = await burst(h);
    assert.equal(c.ena.exceededIn, N - 50);
    assert.equal(c.like.in, 50, 'TCX_DROP: the next tcx program never saw the dropped SYNs');
    assert.equal(c.like.out, 50);
    assert.equal(c.replies, 50);
    // what this machine's bpftool makes of such links (7.1 predates tcx: a bare type number, no device), and that the
    // guard of --ena-simulator on real nodes (tcxLinksOnNode) finds them
    const ids = await Promise.all(
      ['like-ingress', 'like-egress', 'ena-ingress', 'ena-egress'].map(
        async (x) =>
          (
            JSON.parse((await run('bpftool', ['-j', 'link', 'show', 'pinned', `${bpffs}/tcx-${x}`])).stdout) as {
              id: number;
              type: unknown;
            }
          ).id,
      ),
    );
    const found = await tcxLinksOnNode(lab.node);
    assert.deepEqual(
      ids.filter((id) => found.some((l) => l.id === id)),
      ids,
      'tcxLinksOnNode lists the four tcx links',
    );
    const version = (await run('bpftool', ['version'])).stdout.split('\n')[0];
    const raw = JSON.parse((await run('bpftool', ['-j', 'link', 'show', 'pinned', `${bpffs}/tcx-ena-ingress`])).stdout) as Record<
      string,
      unknown
    >;
    console.log(`      ${version} shows a tcx link as ${JSON.stringify(raw)}`);
  });
});

function enaDelta(a: EnaStats, b: EnaStats) {
  return {
    packetsIn: b.packetsIn - a.packetsIn,
    packetsOut: b.packetsOut - a.packetsOut,
    exceeded: b.allowanceExceeded - a.allowanceExceeded,
    exceededIn: b.exceededIn - a.exceededIn,
  };
}
