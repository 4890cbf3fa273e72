# SPDX-License-Identifier: BSD-3-Clause
"""Fill the switch's forwarding table from Python, as seed 000's
test_ebpf.py does for its eBPF switch:

    python fill.py [--name MANAGER] NF_ID MAC=PORT [MAC=PORT ...]

sets map `ports` of bpf NF NF_ID (running switch.o) so that frames to each
MAC leave by its port, then prints the table.
"""

from __future__ import annotations

import argparse
import re
import sys

from onvm import options
from onvm.bpf import decode
from onvm.contract import MAX_NFS, MAX_PORTS
from onvm.errors import OnvmError
from onvm.manager.client import Client

MAC = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")


def entry(text: str) -> tuple[str, int]:
    """MAC=PORT, checked before anything is set."""
    mac, sep, port = text.partition("=")
    if not sep or not MAC.fullmatch(mac.strip()):
        raise argparse.ArgumentTypeError(
            f"'{text[:80]}' is not MAC=PORT (02:00:00:00:00:0a=1)")
    try:
        return mac.strip().lower(), options.integer(port, 0, MAX_PORTS - 1)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"the port of {mac.strip()}: {e}") from None


def main(argv: list[str] | None = None) -> int:
    parser = options.ArgumentParser(prog="fill.py",
                                    description="fill the eBPF switch's MAC table")
    parser.add_argument("--name", default="onvm", help="the manager (default onvm)")
    parser.add_argument("nf", type=options.integer_arg(1, MAX_NFS - 1), metavar="NF_ID",
                        help="the bpf NF running switch.o")
    parser.add_argument("entries", nargs="+", type=entry, metavar="MAC=PORT")
    args = parser.parse_args(argv)
    try:
        with Client(args.name) as client:
            ports = client.bpf(args.nf).map("ports")
            for mac, port in args.entries:
                ports[f"mac:{mac}"] = f"u16:{port}"
            print("MAC address        port")
            for key, value in sorted(ports.items()):
                print(f"{decode(key, 'mac')[4:]}  {int.from_bytes(value, 'little')}")
    except KeyError as e:
        print(f"fill.py: NF {args.nf} has no map {e}: is it running switch.o?",
              file=sys.stderr)
        return 1
    except (OnvmError, ValueError) as e:
        print(f"fill.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
