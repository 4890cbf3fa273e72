# SPDX-License-Identifier: BSD-3-Clause
"""Fill the switch's forwarding table from Python, as seed 000's
test_ebpf.py does for its eBPF switch:

    python fill.py [--name MANAGER] NF_ID MAC=PORT [MAC=PORT ...]

sets map `ports` of bpf NF NF_ID (running switch.o) so that frames to each
MAC leave by its port, then prints the table.
"""

from __future__ import annotations

import argparse
import sys

from onvm.bpf import decode
from onvm.errors import ControlError
from onvm.manager.client import Client


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="fill the eBPF switch's MAC table")
    parser.add_argument("--name", default="onvm", help="the manager (default onvm)")
    parser.add_argument("nf", type=int, help="the bpf NF running switch.o")
    parser.add_argument("entries", nargs="+", metavar="MAC=PORT")
    args = parser.parse_args(argv)
    try:
        with Client(args.name) as client:
            ports = client.bpf(args.nf).map("ports")
            for entry in args.entries:
                mac, sep, port = entry.partition("=")
                if not sep:
                    print(f"fill.py: {entry}: give MAC=PORT", file=sys.stderr)
                    return 2
                ports[f"mac:{mac}"] = f"u16:{port}"
            print("MAC address        port")
            for key, value in sorted(ports.items()):
                print(f"{decode(key, 'mac')[4:]}  {int.from_bytes(value, 'little')}")
    except (ControlError, ValueError, KeyError) as e:
        print(f"fill.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
