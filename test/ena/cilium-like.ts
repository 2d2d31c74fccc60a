// A "Cilium-like" tc program for the order tests (order.test.ts): like Cilium's cil_from_netdev / cil_to_netdev it
// is a direct-action classifier that returns TC_ACT_OK (= TCX_PASS) for every packet, so nothing after it on the
// hook runs. It counts what it sees in an array map: [0] ingress packets, [1] egress packets, [2] / [3] the IPv4
// TCP/UDP ones among them (what the ENA simulator counts as `packets`). Built with clang into a temporary
// directory, loaded and pinned with bpftool, attached with tc (classic) or as a tcx link (attachTcx below).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../harness/exec.js';
import { bytesLE } from '../../harness/ena/parse.js';

const SOURCE = `// test only: counts every packet, returns TC_ACT_OK (TCX_PASS) like Cilium's host programs
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} like_counts SEC(".maps");

static __always_inline void add(__u32 k)
{
	__u64 *c = bpf_map_lookup_elem(&like_counts, &k);
	if (c)
		__sync_fetch_and_add(c, 1);
}

static __always_inline int count(struct __sk_buff *skb, __u32 dir)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	add(dir);
	if ((void *)(ip + 1) <= end && eth->h_proto == bpf_htons(ETH_P_IP) &&
	    (ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP))
		add(dir + 2);
	return TC_ACT_OK;
}

SEC("tc")
int like_ingress(struct __sk_buff *skb) { return count(skb, 0); }

SEC("tc")
int like_egress(struct __sk_buff *skb) { return count(skb, 1); }

char LICENSE[] SEC("license") = "GPL";
`;

export type Dir = 'ingress' | 'egress';
export const LIKE_PROGS: Record<Dir, string> = { ingress: 'like_ingress', egress: 'like_egress' };

export interface LikeCounts {
  in: number;
  out: number;
  tcpUdpIn: number;
  tcpUdpOut: number;
}

/** Build the program into `workDir` and pin it (progs + maps) under `pinDir`, which must be on a bpffs. */
export async function loadCiliumLike(workDir: string, pinDir: string): Promise<void> {
  await mkdir(workDir, { recursive: true });
  const src = join(workDir, 'cilium-like.bpf.c'),
    obj = join(workDir, 'cilium-like.bpf.o');
  await writeFile(src, SOURCE);
  await mkdir(pinDir, { recursive: true });
  const multiarch = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  await run('clang', ['-O2', '-g', '-target', 'bpf', '-Wall', `-I/usr/include/${multiarch}`, '-c', src, '-o', obj]);
  await run('bpftool', ['-n', 'prog', 'loadall', obj, `${pinDir}/progs`, 'pinmaps', `${pinDir}/maps`, 'type', 'classifier']);
}

/** Read the counters (raw little-endian bytes, as the ENA reader does). */
export async function readCiliumLike(pinDir: string): Promise<LikeCounts> {
  const r = await run('bpftool', ['-j', 'map', 'dump', 'pinned', `${pinDir}/maps/like_counts`]);
  const v = (JSON.parse(r.stdout) as { value: string[] }[]).map((e) => Number(bytesLE(e.value)));
  return { in: v[0]!, out: v[1]!, tcpUdpIn: v[2]!, tcpUdpOut: v[3]! };
}

/** The difference b - a of two reads. */
export function likeDelta(a: LikeCounts, b: LikeCounts): LikeCounts {
  return { in: b.in - a.in, out: b.out - a.out, tcpUdpIn: b.tcpUdpIn - a.tcpUdpIn, tcpUdpOut: b.tcpUdpOut - a.tcpUdpOut };
}

/** tc batch lines that attach the pinned program as a classic cls_bpf filter on both hooks of `dev`. */
export function classicLines(pinDir: string, dev: string, pref: number, handle: number): string[] {
  return (['ingress', 'egress'] as const).map(
    (d) =>
      `filter add dev ${dev} ${d} protocol all pref ${pref} handle 0x${handle.toString(16)} bpf da object-pinned ${pinDir}/progs/${LIKE_PROGS[d]}`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// tcx without a tcx-aware bpftool/iproute2: bpf(BPF_LINK_CREATE) from python3 with ctypes, the link pinned on the
// bpffs so it outlives the process (removing the pin detaches it). Constants read from this kernel's BTF
// (`bpftool btf dump file /sys/kernel/btf/vmlinux format c`): BPF_OBJ_PIN 6, BPF_OBJ_GET 7, BPF_LINK_CREATE 28,
// BPF_TCX_INGRESS 46, BPF_TCX_EGRESS 47; link_create is {prog_fd u32, target_ifindex u32, attach_type u32, flags u32,
// tcx {relative_fd u32, pad, expected_revision u64}}. BPF_F_BEFORE (1<<3) / BPF_F_AFTER (1<<4) without a relative
// program or link: the head / the tail of the hook's list (Cilium attaches at the tail).
const TCX_PY = `
import ctypes, os, platform, socket, struct, sys
SYS_BPF = {'x86_64': 321, 'aarch64': 280}[platform.machine()]
libc = ctypes.CDLL(None, use_errno=True)
def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    r = libc.syscall(ctypes.c_long(SYS_BPF), ctypes.c_long(cmd), buf, ctypes.c_long(128))
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, 'bpf(%d): %s' % (cmd, os.strerror(e)))
    return r
prog_pin, ifname, direction, where, link_pin = sys.argv[1:6]
p = ctypes.create_string_buffer(prog_pin.encode())
prog_fd = bpf(7, struct.pack('=QII', ctypes.addressof(p), 0, 0))
attach = {'ingress': 46, 'egress': 47}[direction]
flags = {'head': 1 << 3, 'tail': 1 << 4}[where]
link_fd = bpf(28, struct.pack('=IIIIIIQ', prog_fd, socket.if_nametoindex(ifname), attach, flags, 0, 0, 0))
l = ctypes.create_string_buffer(link_pin.encode())
bpf(6, struct.pack('=QII', ctypes.addressof(l), link_fd, 0))
print(link_fd)
`;

/** Is python3 there to create tcx links? (undefined: yes; otherwise why not) */
export async function tcxUnavailable(): Promise<string | undefined> {
  const r = await run('python3', ['-c', 'import ctypes, socket, struct, platform; print(platform.machine())'], { reject: false });
  if (r.exitCode !== 0) return 'python3 (with ctypes) is not available to call bpf(BPF_LINK_CREATE)';
  if (!['x86_64', 'aarch64'].includes(r.stdout.trim())) return `no bpf syscall number for ${r.stdout.trim()} in the test`;
  return undefined;
}

/** Attach a pinned tc program as a tcx link on `dev` in netns `ns`, at the head or the tail; the link is pinned at `linkPin`. */
export async function attachTcx(
  ns: string,
  progPin: string,
  dev: string,
  dir: Dir,
  where: 'head' | 'tail',
  linkPin: string,
): Promise<void> {
  await run('python3', ['-c', TCX_PY, progPin, dev, dir, where, linkPin], { ns });
}
