/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The eBPF program contract: what a program run by `onvm-nf bpf` sees and
 * may call. Self-contained (no libc, no DPDK): compile a program with
 *
 *   onvm-bpf build prog.c -o prog.o
 *   clang -O2 -target bpf -mcpu=v2 -I"$(onvm-bpf include-dir)" -c prog.c
 *
 * A program is one C function in a section of its own:
 *
 *   #include <onvm/bpf.h>
 *
 *   ONVM_BPF_MAP(ports, ONVM_BPF_MAP_HASH, struct mac_key, unsigned short,
 *                1024);
 *
 *   ONVM_BPF_PROGRAM("onvm") int
 *   switch_prog(unsigned char *frame)
 *   {
 *           struct mac_key key = {0};
 *           unsigned short port;
 *
 *           __builtin_memcpy(key.addr, frame, 6);
 *           if (ports__lookup(&key, &port) != 0)
 *                   return ONVM_BPF_PASS;
 *           onvm_md.redirect_port = port;
 *           return ONVM_BPF_REDIRECT;
 *   }
 *
 * The frame: the program's argument points at the frame's first byte (the
 * destination MAC). It may read and write the first `onvm_md.window` bytes
 * there, a bound the loader derives from the program itself (the smallest
 * of 64, 128, 256, ... that the validator accepts for it); bytes past the
 * frame's length read as zero, and what is written past it is discarded.
 * An access the validator cannot bound within the largest window (the
 * mbuf's data room) refuses the program at load time.
 *
 * What DPDK 22.11's validator allows: no loops (every jump goes forward;
 * unroll with #pragma unroll), no bounded-loop or JMP32 instructions
 * (hence -mcpu=v2), no BPF-to-BPF calls (mark helpers
 * static inline __attribute__((always_inline))), calls only to the helpers
 * declared here. Pointers loaded from memory are numbers to it: pass maps
 * keys and values that live on the program's stack (512 bytes).
 */
#ifndef ONVM_BPF_H
#define ONVM_BPF_H

/* What the program returns, per packet. */
#define ONVM_BPF_DROP 0     /* the packet is freed */
#define ONVM_BPF_PASS 1     /* on to the next hop of its chain */
#define ONVM_BPF_TX 2       /* back out of the port it came in on */
#define ONVM_BPF_REDIRECT 3 /* to onvm_md.redirect_service or _port */
#define ONVM_BPF_ABORTED 4  /* dropped and counted as an error */
/* Any other value counts as ABORTED. TX of a packet that came from no port
 * (an NF made it), and REDIRECT with neither destination set, count as
 * ABORTED too. */

/* No port or service: what onvm_md.port holds for a packet an NF made, and
 * what the redirect fields hold until the program writes them. */
#define ONVM_BPF_NONE 0xffff

/* The packet's metadata, refilled before each packet. */
struct onvm_bpf_md {
	unsigned int len;          /* frame length in bytes */
	unsigned short port;       /* port it came in on, or ONVM_BPF_NONE */
	unsigned short service;    /* the service this NF serves */
	unsigned short chain;      /* the chain it follows (0: the default) */
	unsigned char chain_index; /* hop of that chain it is at (0: first) */
	unsigned char reserved;
	unsigned int window; /* bytes of the frame the program may address */
	/* Written by the program, for ONVM_BPF_REDIRECT: a service (by flow
	 * hash among its instances) or, when no service is set, a port. */
	unsigned short redirect_service;
	unsigned short redirect_port;
};

extern struct onvm_bpf_md onvm_md;

/* Helpers the NF provides. */

/* The packet's flow hash (symmetric over the 5-tuple, the one that picks
 * among a service's instances); computed on the first call for a packet. */
extern unsigned int onvm_bpf_flow_hash(void);

/* Nanoseconds on a monotonic clock (the TSC). */
extern unsigned long long onvm_bpf_time_ns(void);

/* Recompute the checksum of the 20-byte IPv4 header at @p ip (options
 * not included) and store it in the header. */
extern void onvm_bpf_ipv4_csum(void *ip);

/* Incremental checksum updates (RFC 1624), in network byte order: the new
 * checksum after a 16-bit or 32-bit field changed from @p from to @p to.
 * Work for the IPv4 header checksum and for TCP/UDP checksums (addresses
 * are in the pseudo-header: update with them too). */
static inline __attribute__((always_inline)) unsigned short
onvm_csum_fold(unsigned int sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (unsigned short)sum;
}

static inline __attribute__((always_inline)) unsigned short
onvm_csum_replace2(unsigned short csum, unsigned short from, unsigned short to)
{
	unsigned int sum = (unsigned short)~csum;

	sum += (unsigned short)~from;
	sum += to;
	return (unsigned short)~onvm_csum_fold(sum);
}

static inline __attribute__((always_inline)) unsigned short
onvm_csum_replace4(unsigned short csum, unsigned int from, unsigned int to)
{
	csum = onvm_csum_replace2(csum, (unsigned short)(from >> 16),
	                          (unsigned short)(to >> 16));
	return onvm_csum_replace2(csum, (unsigned short)from,
	                          (unsigned short)to);
}

/* Byte order: frames are big-endian, the program runs little-endian. */
#define onvm_bpf_ntohs(x) __builtin_bswap16(x)
#define onvm_bpf_htons(x) __builtin_bswap16(x)
#define onvm_bpf_ntohl(x) __builtin_bswap32(x)
#define onvm_bpf_htonl(x) __builtin_bswap32(x)

/* Maps: tables in hugepage memory that the program, onvm-ctl and Python
 * read and fill while traffic flows. Each is per NF instance. */
#define ONVM_BPF_MAP_HASH 1  /* key -> value, at most max_entries */
#define ONVM_BPF_MAP_ARRAY 2 /* key: a 4-byte index below max_entries */
/* Counters: values are 8-byte unsigned counters; the program adds to its
 * own lane without atomics, userspace writes another, and every read
 * (the program's lookup, onvm-ctl, Python) returns the sum. */
#define ONVM_BPF_MAP_PERCPU_HASH 3
#define ONVM_BPF_MAP_PERCPU_ARRAY 4

#define ONVM_BPF_MAP_NAME_MAX 31 /* characters of a map's name */
#define ONVM_BPF_KEY_MAX 64      /* bytes of a key */
#define ONVM_BPF_VALUE_MAX 1024  /* bytes of a value */
#define ONVM_BPF_ENTRIES_MAX (1u << 20)
#define ONVM_BPF_MAX_MAPS 16 /* maps of one program */

/* What a map declaration leaves in the object's "maps" section. */
struct onvm_bpf_map_def {
	unsigned int type; /* ONVM_BPF_MAP_* */
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
};

/*
 * Declare map NAME with keys of type KEY and values of type VALUE, and its
 * helpers, whose pointers must point at a whole KEY or VALUE (the
 * validator checks the sizes):
 *   int NAME__lookup(const KEY *key, VALUE *value)   0: found, copied
 *   int NAME__update(const KEY *key, const VALUE *value)   0, or -1: full
 *   int NAME__delete(const KEY *key)   0, or -1: absent (an array zeroes)
 *   int NAME__add(const KEY *key, const VALUE *delta)   adds each 8-byte
 *       counter of *delta, creating the entry; VALUE a multiple of 8 bytes
 * Reads are never torn: they copy a whole value as one writer left it.
 * NAME__lookup zeroes *value before the NF's helper (NAME__lookup_elem)
 * fills it: DPDK 22.11's validator counts a value smaller than 8 bytes as
 * unwritten after a helper call.
 */
#define ONVM_BPF_MAP(name, type, key_type, value_type, max_entries)            \
	struct onvm_bpf_map_def __attribute__((section("maps"), used))         \
	name = {(type), sizeof(key_type), sizeof(value_type), (max_entries)};  \
	extern int name##__lookup_elem(const key_type *key,                    \
	                               value_type *value);                     \
	static inline                                                          \
	    __attribute__((always_inline, unused)) int name##__lookup(         \
	        const key_type *key, value_type *value)                        \
	{                                                                      \
		__builtin_memset(value, 0, sizeof(*value));                    \
		return name##__lookup_elem(key, value);                        \
	}                                                                      \
	extern int name##__update(const key_type *key,                         \
	                          const value_type *value);                    \
	extern int name##__delete(const key_type *key);                        \
	extern int name##__add(const key_type *key, const value_type *delta)

/* The program function's section (the NF runs the only non-empty code
 * section, or the one --section names). */
#define ONVM_BPF_PROGRAM(section_name)                                         \
	__attribute__((section(section_name), used))

#endif /* ONVM_BPF_H */
