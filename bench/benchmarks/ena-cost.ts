// 6. The ENA simulator's cost per packet, isolated: BPF_PROG_TEST_RUN (`bpftool prog run ... repeat N`) of its egress
//    program on one packet, N times in the kernel, no lab and no other traffic. The same packet every time, so after
//    the first run it is a tracked flow: the conntrack path every established packet takes. Configurations:
//      - rate allowances off (the default): one extra config lookup per packet over the conntrack path;
//      - link-local on, a packet to 169.254.169.253 (token bucket under a spin lock);
//      - every rate allowance on (pps, bw out, link-local), the same packet;
//    and a packet to an ordinary address with everything on (pps + bw buckets, no link-local one).
//    The probe-overhead benchmark measures the program under a real flood (run_time_ns / run_cnt); this one is the
//    program alone, so the two differ by the flood's cache misses and the map inserts of new flows.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../harness/exec.js';
import { _internal, compileEna, ensureBpffs, releaseBpffs } from '../../harness/ena/index.js';
import { stateRoot } from '../../harness/paths.js';
import { median, round } from '../lib/stats.js';
import type { BenchOutput, Benchmark, Row } from '../lib/types.js';

const REPEAT = 1_000_000;
const REPS = 5;

function csum(b: Buffer): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += b.readUInt16BE(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

/** Ethernet + IPv4 + UDP (32 bytes of payload) from 10.0.0.1:40000 to dst:53. */
function udpPacket(dst: readonly number[]): Buffer {
  const eth = Buffer.from('020000000002020000000001' + '0800', 'hex');
  const udp = Buffer.alloc(8 + 32, 0x61);
  udp.writeUInt16BE(40000, 0);
  udp.writeUInt16BE(53, 2);
  udp.writeUInt16BE(udp.length, 4);
  udp.writeUInt16BE(0, 6);
  const ip = Buffer.alloc(20);
  ip.writeUInt8(0x45, 0);
  ip.writeUInt16BE(20 + udp.length, 2);
  ip.writeUInt8(64, 8);
  ip.writeUInt8(17, 9);
  Buffer.from([10, 0, 0, 1]).copy(ip, 12);
  Buffer.from(dst).copy(ip, 16);
  ip.writeUInt16BE(csum(ip), 10);
  return Buffer.concat([eth, ip, udp]);
}

async function nsPerRun(prog: string, pkt: string): Promise<number> {
  const r = await run('bpftool', ['prog', 'run', 'pinned', prog, 'data_in', pkt, 'repeat', String(REPEAT)], { timeoutMs: 60_000 });
  const m = /duration \(average\): (\d+)ns/.exec(r.stdout + r.stderr);
  if (!m) throw new Error(`bpftool prog run printed no duration: ${r.stdout} ${r.stderr}`);
  return Number(m[1]);
}

export const enaCost: Benchmark = {
  name: 'ena-cost',
  title: 'ENA simulator: program cost per packet, rate allowances off and on (BPF_PROG_TEST_RUN)',
  budgetSeconds: 30,
  async run(ctx): Promise<BenchOutput> {
    if (process.getuid?.() !== 0) throw new Error('needs root (BPF_PROG_TEST_RUN)');
    const dir = await mkdtemp(join(stateRoot, 'bench-ena-cost-'));
    const bpffs = await ensureBpffs(join(dir, 'bpffs'));
    try {
      const obj = await compileEna({ allowance: 4000 });
      await run('bpftool', ['-n', 'prog', 'loadall', obj, `${bpffs}/progs`, 'pinmaps', `${bpffs}/maps`, 'type', 'classifier']);
      const udp = join(dir, 'udp.bin'),
        ll = join(dir, 'linklocal.bin');
      await writeFile(udp, udpPacket([10, 0, 0, 2]));
      await writeFile(ll, udpPacket([169, 254, 169, 253]));
      const { CFG, hexLE, rateFlags } = _internal;
      const setCfg = async (slots: [number, bigint][]) =>
        run('bpftool', ['batch', 'file', '-'], {
          input:
            slots
              .map(([k, v]) => `map update pinned ${bpffs}/maps/ena_cfg key hex ${hexLE(BigInt(k), 4)} value hex ${hexLE(v, 8)} any`)
              .join('\n') + '\n',
          reject: false,
        });
      const off = { pps: 0, bwInBytesPerSec: 0, bwOutBytesPerSec: 0, linklocalPps: 0, burstMs: 1000, countOnly: false };
      // rates far above what test-run offers would still empty the buckets (1M packets in ~0.1 s): high enough that
      // every packet passes, so the measured path is "fits, take tokens", the common one
      const on = { ...off, pps: 1e9, bwOutBytesPerSec: 1e9, linklocalPps: 1e9 };
      const configure = async (r: typeof off) =>
        setCfg([
          [CFG.PPS, BigInt(r.pps)],
          [CFG.BW_OUT, BigInt(r.bwOutBytesPerSec)],
          [CFG.LL_PPS, BigInt(r.linklocalPps)],
          [CFG.RATE_FLAGS, rateFlags(r)],
        ]);
      const prog = `${bpffs}/progs/ena_egress`;
      const cases: { metric: string; rates: typeof off; pkt: string }[] = [
        { metric: 'tracked UDP packet, rate allowances off', rates: off, pkt: udp },
        { metric: 'packet to 169.254.169.253, rate allowances off', rates: off, pkt: ll },
        { metric: 'packet to 169.254.169.253, link-local allowance on', rates: { ...off, linklocalPps: 1e9 }, pkt: ll },
        { metric: 'tracked UDP packet, pps + bw out on', rates: on, pkt: udp },
        { metric: 'packet to 169.254.169.253, pps + bw out + link-local on', rates: on, pkt: ll },
      ];
      const rows: Row[] = [];
      const raw: Record<string, number[]> = {};
      for (const c of cases) {
        await configure(c.rates);
        await nsPerRun(prog, c.pkt); // warm: the flow is tracked from here on
        const samples: number[] = [];
        for (let i = 0; i < REPS; i++) samples.push(await nsPerRun(prog, c.pkt));
        raw[c.metric] = samples;
        ctx.log(`  ${c.metric}: ${samples.join(', ')} ns`);
        rows.push({ metric: c.metric, value: round(median(samples), 0), unit: 'ns', samples, note: `${REPEAT} runs per sample` });
      }
      const base = rows[0]!.value;
      for (const r of rows.slice(1)) r.note = `${r.note}; ${r.value - base >= 0 ? '+' : ''}${round(r.value - base, 0)} ns vs the first row`;
      return {
        rows,
        raw,
        notes: [
          'BPF_PROG_TEST_RUN of ena_egress on one packet (tracked flow after the first run); no lab, no traffic. Under a real flood (probe-overhead) a run costs more: cache misses and new-flow inserts.',
        ],
      };
    } finally {
      await run('sh', ['-c', `rm -rf "${bpffs}/progs" "${bpffs}/maps"`], { reject: false });
      await releaseBpffs(bpffs).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  },
};
