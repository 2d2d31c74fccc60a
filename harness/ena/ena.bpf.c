// SPDX-License-Identifier: GPL-2.0
//
// notdns: a simulated AWS ENA "connection tracking allowance" for ONE node (instance).
//
// Attached as tc direct-action classifiers on ingress (ena_ingress) and egress (ena_egress) of every
// uplink ("ENI") of the node. All uplinks of a node share one set of maps, so the allowance is per
// instance, as on EC2. Loaded and read by harness/ena/index.ts; see harness/ena/README.md.
//
// Verdicts (the hook may be shared with a CNI's own programs, e.g. Cilium's cil_from_netdev/cil_to_netdev):
//  - a packet the simulator lets through: ENA_PASS = TC_ACT_UNSPEC (-1). In cls_bpf direct-action mode
//    it means "no verdict": classification continues with the next filter of the hook (ascending pref);
//    with no further filter the packet goes on exactly as with TC_ACT_OK. On a tcx hook the same value is
//    TCX_NEXT (run the next tcx program, then the classic tc filters). So the simulator never hides a
//    packet from a program that runs after it: the harness attaches it FIRST (pref 1, index.ts ENA_TC_PREF).
//  - a packet the allowance drops: ENA_DROP = TC_ACT_SHOT (TCX_DROP): nothing after it sees the packet,
//    as nothing in the instance sees a packet the Nitro card dropped.
//
//  - ena_flows: the tracked flows. IPv4 TCP and UDP only (everything else passes untouched).
//    The key is the 5-tuple in canonical order (lower ip:port first), so both directions of a
//    connection are one entry, whatever uplink and direction they cross (also for traffic the node
//    forwards between two of its uplinks).
//    max_entries = ENA_ALLOWANCE (fixed at map creation, hence one object per allowance, -D at build).
//    A packet that would open a new flow while the table is full is dropped (ENA_DROP) and
//    counted as conntrack_allowance_exceeded. Packets of tracked flows always pass.
//    ENA_ALLOWANCE == 0: counting-only mode. The table has ENA_COUNT_CAPACITY entries, nothing is
//    ever dropped (a new flow that does not fit is counted as "untracked" and passes).
//  - Idle timeouts per state (ena_cfg, nanoseconds, writable at run time):
//      TCP unreplied  : only one side has sent (e.g. SYNs into a black hole)
//      TCP established: both sides have sent
//      closed         : a FIN or RST was seen (TCP)
//      UDP            : one direction, or a single request/response   (AWS "UdpTimeout", 30 s)
//      UDP stream     : more than one request/response transaction   (AWS "UdpStreamTimeout", 180 s)
//  - Expired flows are reclaimed two ways:
//      * a bpf_timer walks the table every gc interval (armed by the first packet), so the tracked
//        count, i.e. conntrack_allowance_available, goes back up on its own after a flood, as on ENA;
//      * lazily from the datapath when the table is full (at most once per gc interval, one CPU at
//        a time), so a slot that expired is reusable at once even with the timer disabled.
//  - Counters (ena_stats, per-CPU, summed by the reader): see enum ena_stat.
//  - The ENA's other allowances (off unless configured; ena_cfg slots CFG_PPS..CFG_RATE_FLAGS, written by the loader):
//      pps_allowance_exceeded      every packet, both directions        (packets per second)
//      bw_in_allowance_exceeded    every packet received, skb->len bytes (bytes per second, ingress)
//      bw_out_allowance_exceeded   every packet sent, skb->len bytes     (bytes per second, egress)
//      linklocal_allowance_exceeded IPv4 packets sent to 169.254.0.0/16 (packets per second; AWS: 1024 per ENI)
//    Each is a token bucket per node (ena_rate, shared by all uplinks and CPUs, under a bpf_spin_lock):
//    it refills at the configured rate, holds at most rate x burst (CFG_RATE_BURST, default 1 s) and starts
//    full. A packet that finds too few tokens is "exceeded": counted and, unless CFG_RATE_COUNT_ONLY, dropped
//    (ENA_DROP). An exceeded packet takes no tokens, so counting-only mode counts what enforcing would drop.
//    Checked in this order: pps, bw (in or out), link-local; a packet dropped by one is not charged to the next.
//    AWS shapes at microsecond scale (queues first, then drops): real bursts are dropped that a 1 s bucket
//    absorbs; this bucket only models the per-second average. Packets to link-local addresses are counted
//    (S_LL_PACKETS) whenever the program runs.
//  - Pure SYNs (SYN without ACK) per destination IPv4 address, seen on ingress (ena_syn_in) and on
//    egress (ena_syn_out): LRU hashes dst -> count. Counted before the allowance decision, so they
//    include SYNs the allowance drops. This is how the harness measures "SYN/s to old pod IPs".
//
// Maps are NOT pinned by name (no LIBBPF_PIN_BY_NAME): the loader pins them under a per-node,
// per-run directory with `bpftool prog loadall ... pinmaps DIR`, never in iproute2's shared
// $TC_BPF_MNT/tc/globals.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef ENA_ALLOWANCE
#define ENA_ALLOWANCE 0
#endif
#ifndef ENA_COUNT_CAPACITY
#define ENA_COUNT_CAPACITY 65536
#endif
#ifndef ENA_SYN_DST_ENTRIES
#define ENA_SYN_DST_ENTRIES 4096
#endif

/* See the header: pass on to the next filter/program, or drop. */
#define ENA_PASS TC_ACT_UNSPEC
#define ENA_DROP TC_ACT_SHOT

#if ENA_ALLOWANCE > 0
#define ENA_ENFORCE 1
#define ENA_FLOW_ENTRIES ENA_ALLOWANCE
#else
#define ENA_ENFORCE 0
#define ENA_FLOW_ENTRIES ENA_COUNT_CAPACITY
#endif

struct bpf_map;

#define E2BIG 7
#define EEXIST 17
#define CLOCK_MONOTONIC 1
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* Canonical flow key: endpoint a is the lower (ip, port), b the higher. 16 bytes, no holes. */
struct ena_flow_key {
	__u32 ip_a;
	__u32 ip_b;
	__u16 port_a;
	__u16 port_b;
	__u8 proto;
	__u8 pad[3];
};

struct ena_flow {
	__u64 first_ns;
	__u64 last_ns;
	__u64 packets;
	__u8 seen;        /* bit 0: a sent, bit 1: b sent */
	__u8 closed;      /* FIN or RST seen */
	__u8 first_flags; /* TCP flags of the first packet */
	__u8 origin;      /* bit 0: a sent the first packet; bit 1: the first packet was seen on ingress */
	__u8 last_sender; /* 1: a, 2: b */
	__u8 pad[3];
	__u32 turns;      /* changes of sending side (UDP stream detection) */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ENA_FLOW_ENTRIES);
	__type(key, struct ena_flow_key);
	__type(value, struct ena_flow);
} ena_flows SEC(".maps");

/* Keep in sync with STAT_NAMES in index.ts. */
enum ena_stat {
	S_EXCEEDED,      /* conntrack_allowance_exceeded */
	S_EXCEEDED_IN,
	S_EXCEEDED_OUT,
	S_NEW_FLOWS,     /* flows that got an entry */
	S_TRACKED,       /* +1 per insert, -1 per eviction: current entries (summed over CPUs, mod 2^64) */
	S_GC_RUNS,
	S_GC_EVICTED,
	S_PACKETS,       /* IPv4 TCP/UDP packets seen */
	S_PACKETS_IN,
	S_PACKETS_OUT,
	S_FLOW_SYN,      /* new TCP flows by flags of their first packet */
	S_FLOW_SYNACK,
	S_FLOW_FIN,
	S_FLOW_RST,
	S_FLOW_NONE,
	S_FLOW_UDP,      /* new UDP flows */
	S_SYN_IN,        /* pure SYNs, all destinations */
	S_SYN_OUT,
	S_UNTRACKED,     /* counting mode: new flow passed without an entry (table full) */
	S_GC_TIMER_RUNS, /* of S_GC_RUNS, the ones run by the timer */
	S_PPS_EXCEEDED,  /* pps_allowance_exceeded */
	S_BW_IN_EXCEEDED,  /* bw_in_allowance_exceeded */
	S_BW_OUT_EXCEEDED, /* bw_out_allowance_exceeded */
	S_LL_EXCEEDED,   /* linklocal_allowance_exceeded */
	S_LL_PACKETS,    /* IPv4 packets sent to 169.254.0.0/16 (exceeded ones included) */
	S_MAX
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, S_MAX);
	__type(key, __u32);
	__type(value, __u64);
} ena_stats SEC(".maps");

/* Keep in sync with CFG in index.ts. Timeouts and interval in ns; 0 = built-in default. */
enum ena_cfg_idx {
	CFG_TMO_UNREPLIED,
	CFG_TMO_ESTABLISHED,
	CFG_TMO_CLOSED,
	CFG_TMO_UDP,
	CFG_TMO_UDP_STREAM,
	CFG_GC_INTERVAL,
	CFG_FLAGS,       /* bit 0: timer GC disabled */
	CFG_PPS,         /* packets/s, all packets; 0 = off */
	CFG_BW_IN,       /* bytes/s received; 0 = off */
	CFG_BW_OUT,      /* bytes/s sent; 0 = off */
	CFG_LL_PPS,      /* packets/s sent to 169.254.0.0/16; 0 = off */
	CFG_RATE_BURST,  /* bucket depth in ns of the rate (0 = 1 s) */
	CFG_RATE_FLAGS,  /* which buckets are on (RATE_*), and RATE_COUNT_ONLY: one lookup when all are off */
	CFG_MAX
};
#define CFG_FLAG_NO_TIMER 1ULL
#define RATE_PPS 1ULL
#define RATE_BW_IN 2ULL
#define RATE_BW_OUT 4ULL
#define RATE_LL 8ULL
#define RATE_COUNT_ONLY 16ULL

/* Token buckets of the rate allowances; index = enum ena_bucket. Tokens are units x 1e9 (ns x units/s), so
 * refilling is elapsed_ns x rate and no division is needed (the loader caps rate x burst below 2^64). */
enum ena_bucket { B_PPS, B_BW_IN, B_BW_OUT, B_LL, B_MAX };
struct ena_rate {
	struct bpf_spin_lock lock;
	__u32 init;
	__u64 tokens;
	__u64 last_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, B_MAX);
	__type(key, __u32);
	__type(value, struct ena_rate);
} ena_rate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CFG_MAX);
	__type(key, __u32);
	__type(value, __u64);
} ena_cfg SEC(".maps");

struct ena_gc {
	struct bpf_timer timer;
	__u64 last_ns;   /* last GC run (timer or lazy) */
	__u32 armed;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ena_gc);
} ena_gc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ENA_SYN_DST_ENTRIES);
	__type(key, __u32);   /* destination IPv4, network order */
	__type(value, __u64);
} ena_syn_in SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ENA_SYN_DST_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} ena_syn_out SEC(".maps");

static __always_inline void stat_add(__u32 idx, __u64 n)
{
	__u64 *c = bpf_map_lookup_elem(&ena_stats, &idx);
	if (c)
		*c += n;  /* per-CPU slot; tc programs do not nest on one CPU */
}

static __always_inline __u64 cfg(__u32 idx, __u64 dflt)
{
	__u64 *v = bpf_map_lookup_elem(&ena_cfg, &idx);
	return (v && *v) ? *v : dflt;
}

/* Built-in defaults, used when a config slot is 0. The loader always writes every slot. */
#define NS 1000000000ULL
#define DFLT_UNREPLIED   (60ULL * NS)
#define DFLT_ESTABLISHED (432000ULL * NS)
#define DFLT_CLOSED      (5ULL * NS)
#define DFLT_UDP         (30ULL * NS)
#define DFLT_UDP_STREAM  (180ULL * NS)
#define DFLT_GC_INTERVAL (1ULL * NS)

struct gc_ctx {
	__u64 now;
	__u64 unreplied, established, closed, udp, udp_stream;
};

static __always_inline __u64 idle_timeout(const struct ena_flow *f, __u8 proto, const struct gc_ctx *c)
{
	if (f->closed)
		return c->closed;
	if (proto == IPPROTO_UDP)
		return f->turns >= 3 ? c->udp_stream : c->udp;
	return f->seen == 3 ? c->established : c->unreplied;
}

static long gc_one(struct bpf_map *map, struct ena_flow_key *k, struct ena_flow *f, struct gc_ctx *c)
{
	__u64 last = f->last_ns;
	if (last < c->now && c->now - last > idle_timeout(f, k->proto, c)) {
		if (bpf_map_delete_elem(map, k) == 0) {
			stat_add(S_GC_EVICTED, 1);
			stat_add(S_TRACKED, (__u64)-1);
		}
	}
	return 0;
}

static __always_inline void run_gc(__u64 now)
{
	struct gc_ctx c = {
		.now = now,
		.unreplied = cfg(CFG_TMO_UNREPLIED, DFLT_UNREPLIED),
		.established = cfg(CFG_TMO_ESTABLISHED, DFLT_ESTABLISHED),
		.closed = cfg(CFG_TMO_CLOSED, DFLT_CLOSED),
		.udp = cfg(CFG_TMO_UDP, DFLT_UDP),
		.udp_stream = cfg(CFG_TMO_UDP_STREAM, DFLT_UDP_STREAM),
	};
	bpf_for_each_map_elem(&ena_flows, gc_one, &c, 0);
	stat_add(S_GC_RUNS, 1);
}

static int gc_timer_fired(void *map, __u32 *key, struct ena_gc *g)
{
	__u64 now = bpf_ktime_get_ns();
	g->last_ns = now;
	run_gc(now);
	stat_add(S_GC_TIMER_RUNS, 1);
	if (cfg(CFG_FLAGS, 0) & CFG_FLAG_NO_TIMER)
		g->armed = 0;
	else
		bpf_timer_start(&g->timer, cfg(CFG_GC_INTERVAL, DFLT_GC_INTERVAL), 0);
	return 0;
}

static __always_inline void arm_gc_timer(struct ena_gc *g)
{
	if (g->armed || (cfg(CFG_FLAGS, 0) & CFG_FLAG_NO_TIMER))
		return;
	if (__sync_val_compare_and_swap(&g->armed, 0, 1) != 0)
		return;
	bpf_timer_init(&g->timer, &ena_gc, CLOCK_MONOTONIC);  /* -EBUSY when re-armed: fine */
	bpf_timer_set_callback(&g->timer, gc_timer_fired);
	bpf_timer_start(&g->timer, cfg(CFG_GC_INTERVAL, DFLT_GC_INTERVAL), 0);
}

/* Lazy GC when the table is full: at most once per interval, and only on the CPU that wins the slot. */
static __always_inline int lazy_gc(struct ena_gc *g, __u64 now)
{
	__u64 last = g->last_ns;
	if (now - last < cfg(CFG_GC_INTERVAL, DFLT_GC_INTERVAL))
		return 0;
	if (__sync_val_compare_and_swap(&g->last_ns, last, now) != last)
		return 0;
	run_gc(now);
	return 1;
}

static __always_inline void count_syn(void *map, __u32 dst)
{
	__u64 *n = bpf_map_lookup_elem(map, &dst);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return;
	}
	__u64 one = 1;
	if (bpf_map_update_elem(map, &dst, &one, BPF_NOEXIST) == -EEXIST) {
		n = bpf_map_lookup_elem(map, &dst);
		if (n)
			__sync_fetch_and_add(n, 1);
	}
}

static __always_inline void count_new_flow(__u8 proto, __u8 flags)
{
	__u32 idx;
	if (proto == IPPROTO_UDP)
		idx = S_FLOW_UDP;
	else if (flags & TCP_RST)
		idx = S_FLOW_RST;
	else if (flags & TCP_FIN)
		idx = S_FLOW_FIN;
	else if (flags & TCP_SYN)
		idx = (flags & TCP_ACK) ? S_FLOW_SYNACK : S_FLOW_SYN;
	else
		idx = S_FLOW_NONE;
	stat_add(idx, 1);
	stat_add(S_NEW_FLOWS, 1);
	stat_add(S_TRACKED, 1);
}

/* Take `cost` units from bucket `idx` refilled at `rate` units/s: 1 = the packet fits, 0 = exceeded. */
static __always_inline int take(__u32 idx, __u64 rate, __u64 cost, __u64 burst_ns, __u64 now)
{
	struct ena_rate *b = bpf_map_lookup_elem(&ena_rate, &idx);
	if (!b)
		return 1;
	__u64 cap = rate * burst_ns, need = cost * NS;
	int ok;
	bpf_spin_lock(&b->lock);
	if (!b->init) {
		b->init = 1;
		b->tokens = cap;
		b->last_ns = now;
	} else if (now > b->last_ns) {
		__u64 el = now - b->last_ns;
		if (el > burst_ns)
			el = burst_ns;
		__u64 t = b->tokens + el * rate;
		b->tokens = t > cap ? cap : t;
		b->last_ns = now;
	}
	ok = b->tokens >= need;
	if (ok)
		b->tokens -= need;
	bpf_spin_unlock(&b->lock);
	return ok;
}

/* The pps and bandwidth allowances (every packet, before any parsing): 1 = drop it. */
static __always_inline int rate_allowances(struct __sk_buff *skb, const int ingress, __u64 flags, __u64 now)
{
	__u64 burst = cfg(CFG_RATE_BURST, NS);
	if ((flags & RATE_PPS) && !take(B_PPS, cfg(CFG_PPS, 0), 1, burst, now)) {
		stat_add(S_PPS_EXCEEDED, 1);
		return !(flags & RATE_COUNT_ONLY);
	}
	if (ingress && (flags & RATE_BW_IN) && !take(B_BW_IN, cfg(CFG_BW_IN, 0), skb->len, burst, now)) {
		stat_add(S_BW_IN_EXCEEDED, 1);
		return !(flags & RATE_COUNT_ONLY);
	}
	if (!ingress && (flags & RATE_BW_OUT) && !take(B_BW_OUT, cfg(CFG_BW_OUT, 0), skb->len, burst, now)) {
		stat_add(S_BW_OUT_EXCEEDED, 1);
		return !(flags & RATE_COUNT_ONLY);
	}
	return 0;
}

#define L2_L3_L4_MAX (sizeof(struct ethhdr) + 60 + 20)

static __always_inline int handle(struct __sk_buff *skb, const int ingress)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	__u64 rates = cfg(CFG_RATE_FLAGS, 0);
	if ((rates & (RATE_PPS | RATE_BW_IN | RATE_BW_OUT)) && rate_allowances(skb, ingress, rates, bpf_ktime_get_ns()))
		return ENA_DROP;
	if (skb->protocol != bpf_htons(ETH_P_IP))
		return ENA_PASS;
	if (data + L2_L3_L4_MAX > data_end && skb->len > (__u32)(data_end - data)) {
		/* headers not all in the linear area (rare on veth): pull them in */
		__u32 want = skb->len < L2_L3_L4_MAX ? skb->len : L2_L3_L4_MAX;
		bpf_skb_pull_data(skb, want);
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
	}
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return ENA_PASS;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return ENA_PASS;
	if (!ingress && (ip->daddr & bpf_htonl(0xffff0000)) == bpf_htonl(0xa9fe0000)) {  /* to 169.254.0.0/16 */
		stat_add(S_LL_PACKETS, 1);
		if ((rates & RATE_LL) && !take(B_LL, cfg(CFG_LL_PPS, 0), 1, cfg(CFG_RATE_BURST, NS), bpf_ktime_get_ns())) {
			stat_add(S_LL_EXCEEDED, 1);
			if (!(rates & RATE_COUNT_ONLY))
				return ENA_DROP;
		}
	}
	__u8 proto = ip->protocol;
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return ENA_PASS;
	if (ip->frag_off & bpf_htons(0x1fff))  /* non-first fragment: no ports */
		return ENA_PASS;
	__u32 ihl = ip->ihl * 4;
	if (ihl < sizeof(*ip))
		return ENA_PASS;
	__u8 *l4 = (void *)ip + ihl;
	if ((void *)(l4 + 4) > data_end)
		return ENA_PASS;
	__u16 sport = *(__u16 *)l4, dport = *(__u16 *)(l4 + 2);
	__u8 flags = 0;
	if (proto == IPPROTO_TCP) {
		if ((void *)(l4 + 14) > data_end)
			return ENA_PASS;
		flags = l4[13];
	}
	__u32 saddr = ip->saddr, daddr = ip->daddr;
	__u64 now = bpf_ktime_get_ns();

	stat_add(S_PACKETS, 1);
	stat_add(ingress ? S_PACKETS_IN : S_PACKETS_OUT, 1);
	if (proto == IPPROTO_TCP && (flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
		count_syn(ingress ? (void *)&ena_syn_in : (void *)&ena_syn_out, daddr);
		stat_add(ingress ? S_SYN_IN : S_SYN_OUT, 1);
	}

	__u32 zero = 0;
	struct ena_gc *g = bpf_map_lookup_elem(&ena_gc, &zero);
	if (!g)
		return ENA_PASS;
	arm_gc_timer(g);

	/* canonical key: the sender is endpoint a iff (saddr, sport) < (daddr, dport) */
	int sender_a = saddr < daddr || (saddr == daddr && sport <= dport);
	struct ena_flow_key k = { .proto = proto };
	if (sender_a) {
		k.ip_a = saddr; k.port_a = sport; k.ip_b = daddr; k.port_b = dport;
	} else {
		k.ip_a = daddr; k.port_a = dport; k.ip_b = saddr; k.port_b = sport;
	}
	__u8 sender = sender_a ? 1 : 2;
	__u8 closing = (flags & (TCP_FIN | TCP_RST)) ? 1 : 0;

	struct ena_flow *f = bpf_map_lookup_elem(&ena_flows, &k);
	if (f) {  /* tracked flow: always passes (racy updates from several CPUs are harmless) */
		f->last_ns = now;
		f->seen |= sender;
		if (closing)
			f->closed = 1;
		if (f->last_sender != sender) {
			f->last_sender = sender;
			f->turns++;
		}
		__sync_fetch_and_add(&f->packets, 1);
		return ENA_PASS;
	}

	struct ena_flow nf = {
		.first_ns = now, .last_ns = now, .packets = 1, .seen = sender, .closed = closing,
		.first_flags = flags, .origin = (sender_a ? 1 : 0) | (ingress ? 2 : 0), .last_sender = sender,
	};
	long err = bpf_map_update_elem(&ena_flows, &k, &nf, BPF_NOEXIST);
	if (err == -E2BIG && lazy_gc(g, now))
		err = bpf_map_update_elem(&ena_flows, &k, &nf, BPF_NOEXIST);
	if (err == 0) {
		count_new_flow(proto, flags);
		return ENA_PASS;
	}
	if (err == -EEXIST)  /* another CPU inserted it just now */
		return ENA_PASS;
#if ENA_ENFORCE
	stat_add(S_EXCEEDED, 1);
	stat_add(ingress ? S_EXCEEDED_IN : S_EXCEEDED_OUT, 1);
	return ENA_DROP;
#else
	stat_add(S_UNTRACKED, 1);
	return ENA_PASS;
#endif
}

SEC("tc")
int ena_ingress(struct __sk_buff *skb)
{
	return handle(skb, 1);
}

SEC("tc")
int ena_egress(struct __sk_buff *skb)
{
	return handle(skb, 0);
}

char LICENSE[] SEC("license") = "GPL";
