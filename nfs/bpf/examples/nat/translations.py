# SPDX-License-Identifier: BSD-3-Clause
"""Add static NAT translations to a running nat.o from Python:

    python translations.py [--name MANAGER] NF_ID INTERNAL=EXTERNAL [...]

sets, for each pair, map `snat` (INTERNAL -> EXTERNAL: outbound packets
from INTERNAL leave from EXTERNAL) and map `dnat` (EXTERNAL -> INTERNAL:
inbound packets to EXTERNAL go to INTERNAL) of bpf NF NF_ID, then prints
both tables and the packets translated so far. With no pair it only prints.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys

from onvm import options
from onvm.bpf import decode
from onvm.contract import MAX_NFS
from onvm.errors import OnvmError
from onvm.manager.client import Client

STATS = ("snat", "dnat")  # the indexes of map `stats`


def pair(text: str) -> tuple[str, str]:
    """INTERNAL=EXTERNAL, checked before anything is set."""
    internal, sep, external = text.partition("=")
    try:
        if not sep:
            raise ValueError
        return (str(ipaddress.IPv4Address(internal.strip())),
                str(ipaddress.IPv4Address(external.strip())))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text[:80]}' is not INTERNAL=EXTERNAL, two IPv4 addresses "
            "(10.0.0.1=203.0.113.1)") from None


def main(argv: list[str] | None = None) -> int:
    parser = options.ArgumentParser(prog="translations.py",
                                    description="add static NAT translations to nat.o")
    parser.add_argument("--name", default="onvm", help="the manager (default onvm)")
    parser.add_argument("nf", type=options.integer_arg(1, MAX_NFS - 1), metavar="NF_ID",
                        help="the bpf NF running nat.o")
    parser.add_argument("pairs", nargs="*", type=pair, metavar="INTERNAL=EXTERNAL")
    args = parser.parse_args(argv)
    try:
        with Client(args.name) as client:
            nf = client.bpf(args.nf)
            snat, dnat, stats = nf.map("snat"), nf.map("dnat"), nf.map("stats")
            for internal, external in args.pairs:
                snat[f"ip4:{internal}"] = f"ip4:{external}"
                dnat[f"ip4:{external}"] = f"ip4:{internal}"
            for title, table in (("snat: internal -> external", snat),
                                 ("dnat: external -> internal", dnat)):
                print(title)
                for key, value in sorted(table.items()):
                    print(f"  {decode(key, 'ip4')[4:]:15} -> {decode(value, 'ip4')[4:]}")
            counts = [f"{name} {int.from_bytes(stats[i], 'little')}"
                      for i, name in enumerate(STATS)]
            print("translated: " + ", ".join(counts))
    except KeyError as e:
        print(f"translations.py: NF {args.nf} has no map {e}: is it running nat.o?",
              file=sys.stderr)
        return 1
    except (OnvmError, ValueError) as e:
        print(f"translations.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
