// The ENA simulator's rate allowances (pps, bw in/out, link-local) against a known packet count, in namespaces of our
// own (lab.ts: C -- N "node" -- U). A paced UDP sender (udp-sender.ts) runs for a fixed time at a rate above and
// below each allowance; the exceeded counter must be within 5 % of what a token bucket that starts full admits:
//   passed = allowance x burst + allowance x T (T = first to last send),  exceeded = sent - passed,
// and 0 below the allowance. Enforcing drops exactly the exceeded packets (U's interface counts the rest); counting
// only drops nothing. Needs root, clang, bpftool; ~25 s.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../harness/exec.js';
import { stateRoot } from '../../harness/paths.js';
import { sleep } from '../../harness/wait.js';
import {
  AWS_LINKLOCAL_PPS,
  attachEna,
  configureEna,
  detachEna,
  enaBpffsDir,
  enaPinDir,
  ensureBpffs,
  readEnaStats,
  releaseBpffs,
  sweepEna,
  toEthtoolStyle,
  type EnaHandle,
  type EnaRates,
  type EnaStats,
} from '../../harness/ena/index.js';
import { repoRoot } from '../../harness/paths.js';
import { EnaLab, IP } from './lab.js';

const SENDER = join(repoRoot, 'dist', 'test', 'ena', 'udp-sender.js');
const LINKLOCAL = '169.254.169.253';
/** Ethernet + IPv4 + UDP headers: skb->len of a datagram is this plus its payload. */
const FRAME_OVERHEAD = 14 + 20 + 8;
const OFF: Partial<EnaRates> = { pps: 0, bwInBytesPerSec: 0, bwOutBytesPerSec: 0, linklocalPps: 0, countOnly: false };

interface Sent {
  sent: number;
  errors: number;
  seconds: number;
}

async function send(ns: string, dst: string, rate: number, seconds: number, size = 16): Promise<Sent> {
  const count = Math.round(rate * seconds);
  const r = await run('node', [SENDER, dst, '9', String(rate), String(count), String(size)], { ns, timeoutMs: (seconds + 20) * 1000 });
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { sent: number; errors: number; firstNs: string; lastNs: string };
  return { sent: j.sent, errors: j.errors, seconds: Number(BigInt(j.lastNs) - BigInt(j.firstNs)) / 1e9 };
}

async function rxPackets(ns: string, dev: string): Promise<number> {
  const r = await run('ip', ['-n', ns, '-j', '-s', 'link', 'show', dev]);
  return (JSON.parse(r.stdout) as { stats64: { rx: { packets: number } } }[])[0]!.stats64.rx.packets;
}

/** Exceeded packets a full-at-start token bucket (allowance units/s, burst 1 s) gives for `s` at `unitsPerPacket`. */
function expectedExceeded(s: Sent, allowance: number, unitsPerPacket = 1): number {
  const admitted = Math.floor((allowance * (1 + s.seconds)) / unitsPerPacket);
  return Math.max(0, s.sent - admitted);
}

function within5(got: number, want: number, what: string): void {
  assert.ok(want > 50, `${what}: the scenario must expect a clear excess (expected ${want})`);
  assert.ok(Math.abs(got - want) <= 0.05 * want, `${what}: exceeded ${got}, expected ${want} ± 5 %`);
}

describe('ENA rate allowances (pps, bw in/out, link-local) against known packet counts @root', function () {
  this.timeout(120_000);
  const lab = new EnaLab();
  const stateDir = join(stateRoot, `test-ena-rates-${lab.id}`);
  const bpffs = enaBpffsDir(stateDir);
  let h: EnaHandle | undefined;
  /** Counter deltas over one scenario (the handle stays attached: one build, one load). */
  const delta = async (f: () => Promise<void>): Promise<EnaStats> => {
    const a = await readEnaStats(h!);
    await f();
    await sleep(50);
    const b = await readEnaStats(h!);
    const out = { ...b };
    for (const k of ['ppsExceeded', 'bwInExceeded', 'bwOutExceeded', 'linklocalExceeded', 'linklocalPackets', 'packets'] as const)
      out[k] = b[k] - a[k];
    return out;
  };
  /** Change the rates, then wait until every bucket has refilled (burst 1 s): each scenario starts full. */
  const rates = async (r: Partial<EnaRates>) => {
    await configureEna(h!, { rates: { ...OFF, ...r } });
    await sleep(1100);
  };

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    for (const t of ['clang', 'bpftool', 'tc']) {
      if ((await run('sh', ['-c', `command -v ${t}`], { reject: false })).exitCode !== 0) {
        console.warn(`      skipped: ${t} is not installed`);
        this.skip();
      }
    }
    await lab.up();
    // the link-local "resolver" is behind U: N routes 169.254.169.253 to it (U drops it silently: no forwarding)
    await run('ip', ['-n', lab.n, 'route', 'add', `${LINKLOCAL}/32`, 'via', IP.u, 'dev', 'ens6']);
    await ensureBpffs(bpffs);
    h = await attachEna(lab.node, { allowance: 0, pinDir: enaPinDir(bpffs, lab.node.name), stateDir, readOnHost: true });
  });

  after(async () => {
    if (h) await detachEna(h).catch(() => undefined);
    await lab.down();
    await sweepEna(stateDir).catch(() => undefined);
    await releaseBpffs(bpffs).catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true });
  });

  it('off by default: nothing exceeded, link-local packets still counted', async () => {
    assert.deepEqual(h!.config.rates, {
      pps: 0,
      bwInBytesPerSec: 0,
      bwOutBytesPerSec: 0,
      linklocalPps: 0,
      burstMs: 1000,
      countOnly: false,
    });
    let s: Sent | undefined;
    const d = await delta(async () => {
      s = await send(lab.n, LINKLOCAL, 2000, 1);
    });
    assert.equal(d.linklocalPackets, s!.sent);
    assert.deepEqual([d.ppsExceeded, d.bwInExceeded, d.bwOutExceeded, d.linklocalExceeded], [0, 0, 0, 0]);
  });

  it(`link-local: ${AWS_LINKLOCAL_PPS} pps allowance, above it dropped within 5 % of the bucket's count, below it 0`, async () => {
    await rates({ linklocalPps: AWS_LINKLOCAL_PPS });
    const rx0 = await rxPackets(lab.u, 'eth0');
    let above: Sent | undefined;
    const d = await delta(async () => {
      above = await send(lab.n, LINKLOCAL, 2000, 3);
    });
    const rx1 = await rxPackets(lab.u, 'eth0');
    const want = expectedExceeded(above!, AWS_LINKLOCAL_PPS);
    console.log(
      `      link-local above: sent ${above!.sent} in ${above!.seconds.toFixed(3)} s, exceeded ${d.linklocalExceeded}, expected ${want}`,
    );
    within5(d.linklocalExceeded, want, 'linklocal_allowance_exceeded');
    assert.equal(d.linklocalPackets, above!.sent);
    assert.equal(rx1 - rx0, above!.sent - d.linklocalExceeded, 'enforcing: U receives exactly the packets not exceeded');
    assert.equal(toEthtoolStyle(await readEnaStats(h!)).linklocal_allowance_exceeded >= d.linklocalExceeded, true);
    // other destinations are not link-local
    await sleep(1100);
    const other = await delta(async () => {
      await send(lab.n, IP.behindU, 2000, 1);
    });
    assert.equal(other.linklocalExceeded, 0);
    assert.equal(other.linklocalPackets, 0);
    await sleep(1100);
    const below = await delta(async () => {
      await send(lab.n, LINKLOCAL, 800, 3);
    });
    assert.equal(below.linklocalExceeded, 0, 'below the allowance: nothing exceeded');
    assert.equal(below.linklocalPackets, 2400);
  });

  it('counting only: the same count, nothing dropped', async () => {
    await rates({ linklocalPps: 500, countOnly: true });
    const rx0 = await rxPackets(lab.u, 'eth0');
    let s: Sent | undefined;
    const d = await delta(async () => {
      s = await send(lab.n, LINKLOCAL, 1000, 3);
    });
    const rx1 = await rxPackets(lab.u, 'eth0');
    const want = expectedExceeded(s!, 500);
    console.log(`      link-local count-only: sent ${s!.sent}, exceeded ${d.linklocalExceeded}, expected ${want}`);
    within5(d.linklocalExceeded, want, 'linklocal_allowance_exceeded (count only)');
    assert.equal(rx1 - rx0, s!.sent, 'counting only: every packet arrives');
  });

  it('pps: every packet counts; above within 5 %, below 0', async () => {
    await rates({ pps: 500 });
    let above: Sent | undefined;
    const d = await delta(async () => {
      above = await send(lab.n, IP.behindU, 1000, 3);
    });
    const want = expectedExceeded(above!, 500);
    console.log(`      pps above: sent ${above!.sent}, exceeded ${d.ppsExceeded}, expected ${want}`);
    within5(d.ppsExceeded, want, 'pps_allowance_exceeded');
    await sleep(1100);
    const below = await delta(async () => {
      await send(lab.n, IP.behindU, 300, 3);
    });
    assert.equal(below.ppsExceeded, 0);
  });

  it('bw out (egress bytes) and bw in (ingress bytes): above within 5 %, below 0', async () => {
    const size = 958,
      frame = size + FRAME_OVERHEAD; // 1000 bytes on the wire
    await rates({ bwOutBytesPerSec: 200_000 });
    let out: Sent | undefined;
    const dOut = await delta(async () => {
      out = await send(lab.n, IP.behindU, 400, 3, size);
    });
    const wantOut = expectedExceeded(out!, 200_000, frame);
    console.log(`      bw out above: sent ${out!.sent}, exceeded ${dOut.bwOutExceeded}, expected ${wantOut}`);
    within5(dOut.bwOutExceeded, wantOut, 'bw_out_allowance_exceeded');
    assert.equal(dOut.bwInExceeded, 0);
    await sleep(1100);
    const outBelow = await delta(async () => {
      await send(lab.n, IP.behindU, 150, 3, size);
    });
    assert.equal(outBelow.bwOutExceeded, 0);

    await rates({ bwInBytesPerSec: 200_000 });
    let inn: Sent | undefined;
    // U -> N: received on N's ens6 (N has no listener on port 9; its ICMP replies are egress, not bw in)
    const dIn = await delta(async () => {
      inn = await send(lab.u, IP.nEns6, 400, 3, size);
    });
    const wantIn = expectedExceeded(inn!, 200_000, frame);
    console.log(`      bw in above: sent ${inn!.sent}, exceeded ${dIn.bwInExceeded}, expected ${wantIn}`);
    within5(dIn.bwInExceeded, wantIn, 'bw_in_allowance_exceeded');
    assert.equal(dIn.bwOutExceeded, 0);
    await sleep(1100);
    const inBelow = await delta(async () => {
      await send(lab.u, IP.nEns6, 150, 3, size);
    });
    assert.equal(inBelow.bwInExceeded, 0);
  });
});
