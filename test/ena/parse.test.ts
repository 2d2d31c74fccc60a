import assert from 'node:assert/strict';
import {
  batchAnswers,
  bytesLE,
  counter,
  flagName,
  ipv4FromBytes,
  parseBatch,
  parseFlows,
  parseIpCounts,
  portFromLE16,
  sumPerCpuArray,
  verifierExcerpt,
} from '../../harness/ena/parse.js';
import { _internal, ENA_DEFAULTS, enaPinDir, toEthtoolStyle, type EnaStats } from '../../harness/ena/index.js';

const hex = (n: bigint, bytes: number) =>
  Array.from({ length: bytes }, (_, i) => `0x${((n >> BigInt(8 * i)) & 0xffn).toString(16).padStart(2, '0')}`);

describe('ENA simulator: parsing bpftool output', () => {
  it('sums per-CPU u64 counters from raw bytes, including a slot that went below zero on one CPU', () => {
    const out = [
      {
        key: hex(0n, 4),
        values: [
          { cpu: 0, value: hex(5n, 8) },
          { cpu: 1, value: hex(7n, 8) },
        ],
      },
      // tracked flows: +10 on cpu0, -3 on cpu1 (2^64 - 3): JSON numbers could not carry this
      {
        key: hex(4n, 4),
        values: [
          { cpu: 0, value: hex(10n, 8) },
          { cpu: 1, value: hex((1n << 64n) - 3n, 8) },
        ],
      },
    ];
    const s = sumPerCpuArray(out);
    assert.equal(counter(s[0]), 12);
    assert.equal(counter(s[4], true), 7);
    assert.equal(counter(s[9]), 0);
  });

  it('reads SYN-per-destination maps keyed by network-order IPv4', () => {
    const out = [{ key: ['0x0a', '0x4d', '0x09', '0x09'], value: hex(500n, 8), formatted: { key: 151604490, value: 500 } }];
    assert.deepEqual(parseIpCounts(out), { '10.77.9.9': 500 });
    assert.equal(ipv4FromBytes(['0xc0', '0xa8', '0x00', '0x01']), '192.168.0.1');
    assert.equal(bytesLE(['0x01', '0x02']), 0x0201n);
  });

  it('parses a batch and its per-command errors', () => {
    const items = parseBatch(
      '[{"command":["map","dump","pinned","/x"],"output":[]},{"command":["map","dump","pinned","/y"],"output":{"error":"bpf obj get (/y): No such file or directory"}}]',
    );
    assert.equal(items.length, 2);
    assert.equal(items[0]!.error, undefined);
    assert.match(items[1]!.error ?? '', /No such file/);
    assert.throws(() => parseBatch('{}'));
  });

  it('takes a batch whose every command answered, despite bpftool 7.1\'s trailing "reading batch file failed" (containers); nothing else', () => {
    const ok = '{"command":["map","dump","pinned","/a"],"output":[]},{"command":["map","dump","pinned","/b"],"output":[]}';
    // as printed in a privileged Debian 12 container, exit 255
    const got = batchAnswers(parseBatch(`[${ok},{"error":"reading batch file failed: Bad file descriptor"}]`), 2);
    assert.ok('items' in got && got.items.length === 2);
    assert.ok('items' in batchAnswers(parseBatch(`[${ok}]`), 2));
    // a command's own error, a missing answer, or any other trailing error is a failed read
    const own = batchAnswers(
      parseBatch(
        '[{"command":["map","dump","pinned","/a"],"output":[]},{"command":["map","dump","pinned","/b"],"output":{"error":"bpf obj get (/b): No such file or directory"}}]',
      ),
      2,
    );
    assert.ok('error' in own && /No such file/.test(own.error ?? ''));
    const short = batchAnswers(
      parseBatch('[{"command":["map","dump","pinned","/a"],"output":[]},{"error":"reading batch file failed: Bad file descriptor"}]'),
      2,
    );
    assert.ok('error' in short && /reading batch file failed/.test(short.error ?? ''), 'only one of two answered');
    assert.ok('error' in batchAnswers(parseBatch(`[${ok},{"error":"something else"}]`), 2));
    assert.deepEqual(batchAnswers(undefined, 2), { error: undefined });
  });

  it('turns flow entries into readable flows with state, initiator and first flags', () => {
    // 10.77.2.2:43783 -> 10.77.2.1:7000, seen both ways, first packet a SYN on egress, sent by endpoint b
    const ip = (s: string) => s.split('.').reduce((acc, o, i) => acc + Number(o) * 256 ** i, 0);
    const port = (p: number) => portFromLE16(p); // swapping twice is the identity
    const out = [
      {
        key: [],
        formatted: {
          key: { ip_a: ip('10.77.2.1'), ip_b: ip('10.77.2.2'), port_a: port(7000), port_b: port(43783), proto: 6 },
          value: { first_ns: 1e9, last_ns: 3e9, packets: 9, seen: 3, closed: 0, first_flags: 0x02, origin: 0, turns: 4 },
        },
      },
    ];
    const [f] = parseFlows(out, 4_000_000_000n);
    assert.deepEqual(f, {
      proto: 'tcp',
      from: '10.77.2.2:43783',
      to: '10.77.2.1:7000',
      state: 'established',
      firstFlags: 'SYN',
      firstIngress: false,
      packets: 9,
      idleMs: 1000,
      ageMs: 3000,
    });
    assert.equal(flagName(0x12), 'SYN-ACK');
    assert.equal(flagName(0x14), 'RST');
    assert.equal(flagName(0x11), 'FIN');
    assert.equal(flagName(0x10), '');
  });

  it('extracts the first and last verifier lines from libbpf output', () => {
    const stderr = [
      "libbpf: prog 'broken': BPF program load failed: Permission denied",
      "libbpf: prog 'broken': -- BEGIN PROG LOAD LOG --",
      '0: R1=ctx() R10=fp0',
      '; return *(int *)(long)skb->data;',
      '0: (61) r1 = *(u32 *)(r1 +76)',
      '1: R1_w=pkt(r=0)',
      '1: (61) r0 = *(u32 *)(r1 +0)',
      'invalid access to packet, off=0 size=4, R1(id=0,off=0,r=0)',
      'R1 offset is outside of the packet',
      'processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0',
      '-- END PROG LOAD LOG --',
      "libbpf: prog 'broken': failed to load: -13",
    ].join('\n');
    const v = verifierExcerpt(stderr, 3, 3)!;
    assert.equal(v.program, 'broken');
    assert.equal(v.total, 8);
    assert.deepEqual(v.head, ['0: R1=ctx() R10=fp0', '; return *(int *)(long)skb->data;', '0: (61) r1 = *(u32 *)(r1 +76)']);
    assert.match(v.tail.join('\n'), /invalid access to packet/);
    assert.equal(verifierExcerpt('Error: something else'), undefined);
  });
});

describe('ENA simulator: options', () => {
  it('has the documented defaults and validates timeouts', () => {
    assert.deepEqual(ENA_DEFAULTS.timeouts, {
      unrepliedSeconds: 60,
      establishedSeconds: 432_000,
      closedSeconds: 5,
      udpSeconds: 30,
      udpStreamSeconds: 180,
    });
    const c = _internal.resolveConfig({ timeouts: { unrepliedSeconds: 2 } });
    assert.equal(c.timeouts.unrepliedSeconds, 2);
    assert.equal(c.timeouts.establishedSeconds, 432_000);
    assert.throws(() => _internal.resolveConfig({ timeouts: { closedSeconds: -1 } }), /closedSeconds/);
    assert.throws(() => _internal.resolveConfig({ gcIntervalMs: 1 }), /gcIntervalMs/);
    assert.equal(_internal.hexLE(5_000_000_000n, 8), '00 f2 05 2a 01 00 00 00');
    assert.equal(enaPinDir('/run/notdns/abc/bpffs', 'nd-abc-nodeB'), '/run/notdns/abc/bpffs/ena/nd-abc-nodeB');
    assert.throws(() => enaPinDir('/x', 'a b'));
  });

  it('names the ENA counters like ethtool -S', () => {
    const base = {
      allowance: 100,
      allowanceExceeded: 7,
      allowanceAvailable: 3,
      bwInExceeded: 1,
      bwOutExceeded: 2,
      ppsExceeded: 4,
      linklocalExceeded: 5,
    } as EnaStats;
    const rates = { bw_in_allowance_exceeded: 1, bw_out_allowance_exceeded: 2, pps_allowance_exceeded: 4, linklocal_allowance_exceeded: 5 };
    assert.deepEqual(toEthtoolStyle(base), { conntrack_allowance_exceeded: 7, conntrack_allowance_available: 3, ...rates });
    assert.deepEqual(toEthtoolStyle({ ...base, allowance: 0 }), { conntrack_allowance_exceeded: 7, ...rates });
  });

  it('rate allowances: defaults off, bounds checked, one flags word (0 when all are off)', () => {
    const c = _internal.resolveConfig({});
    assert.deepEqual(c.rates, ENA_DEFAULTS.rates);
    assert.equal(_internal.rateFlags(c.rates), 0n);
    assert.equal(_internal.rateFlags({ ...c.rates, linklocalPps: 1024 }), 8n);
    assert.equal(_internal.rateFlags({ ...c.rates, pps: 10, bwOutBytesPerSec: 5, countOnly: true }), 1n | 4n | 16n);
    assert.equal(_internal.rateFlags({ ...c.rates, countOnly: true }), 0n, 'count-only alone turns nothing on');
    assert.throws(() => _internal.resolveConfig({ rates: { pps: -1 } }), /rates\.pps/);
    assert.throws(() => _internal.resolveConfig({ rates: { bwInBytesPerSec: 2e9 } }), /rates\.bwInBytesPerSec/);
    assert.throws(() => _internal.resolveConfig({ rates: { burstMs: 0 } }), /rates\.burstMs/);
  });
});
