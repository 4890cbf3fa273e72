# SPDX-License-Identifier: BSD-3-Clause
"""arp_response (Python, per-packet API): answers ARP requests for the
configured IPv4 addresses out of the port they came in on, rewriting the
request into the reply in place; every other packet goes on to the next hop.

    onvm-nf arp_response.py --service 1 -- --ip 10.0.0.1 --ip 10.0.0.2 [--mac 02:..]

The reply's source MAC is --mac, or else the MAC of the port the request
came in on.
"""

from __future__ import annotations

import argparse
import ipaddress

from onvm import options
from onvm.nflib import NEXT, NF, main, out_port
from onvm.nflib.headers import Arp, mac_to_bytes


def _ipv4(text: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{options.shown(text)}' is not an IPv4 address "
                                         "such as 10.0.0.1") from None


def _mac(text: str) -> str:
    """A MAC checked now, so that a bad one fails here, not on the first request."""
    try:
        mac_to_bytes(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{options.shown(text)}' is not a MAC address such "
                                         "as 02:00:00:00:00:01") from None
    return text


def run() -> None:
    nf = NF(name="arp_response.py")
    parser = options.ArgumentParser(prog="arp_response.py")
    parser.add_argument("--ip", action="append", required=True, type=_ipv4,
                        help="an IPv4 address to answer for (repeat for more)")
    parser.add_argument("--mac", type=_mac, help="MAC to answer with (default: the port's)")
    args = parser.parse_args(nf.args)
    mine = {ip.packed for ip in args.ip}
    replies = {"sent": 0}

    @nf.packet_handler
    def respond(pkt):
        arp = pkt.arp
        if arp is None or arp.op != Arp.REQUEST or not arp.is_ipv4_over_ethernet:
            return NEXT
        target = arp.target_ip
        if target.packed not in mine:
            return NEXT
        mac = args.mac or nf.port_mac(pkt.in_port)
        if mac is None:
            return NEXT
        asker_mac, asker_ip = arp.sender_mac, arp.sender_ip
        eth = pkt.eth
        eth.dst, eth.src = asker_mac, mac
        arp.op = Arp.REPLY
        arp.sender_mac, arp.sender_ip = mac, target
        arp.target_mac, arp.target_ip = asker_mac, asker_ip
        replies["sent"] += 1
        return out_port(pkt.in_port)

    print(f"arp_response.py: NF {nf.nf_id} serving service {nf.service}, answering for "
          f"{', '.join(map(str, args.ip))}", flush=True)
    nf.run()
    print(f"arp_response.py: sent {replies['sent']} replies", flush=True)


if __name__ == "__main__":
    raise SystemExit(main(run))
