/* SPDX-License-Identifier: BSD-3-Clause */
/* reflector: swaps the Ethernet addresses and sends the frame back out of
 * the port it came in on. */
#include <onvm/bpf.h>

ONVM_BPF_PROGRAM("onvm") int reflector(unsigned char *frame)
{
	unsigned char mac[6];

	if (onvm_md.len < 14)
		return ONVM_BPF_DROP;
	__builtin_memcpy(mac, frame, 6);
	__builtin_memcpy(frame, frame + 6, 6);
	__builtin_memcpy(frame + 6, mac, 6);
	return ONVM_BPF_TX;
}
