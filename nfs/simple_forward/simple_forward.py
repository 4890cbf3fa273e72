# SPDX-License-Identifier: BSD-3-Clause
"""simple_forward (Python): every packet to the next hop, to service
--dest, or out of port --out. Per-packet API."""

from __future__ import annotations

from onvm import options
from onvm.contract import MAX_PORTS, MAX_SERVICES
from onvm.nflib import NEXT, NF, main, out_port, to_service


def run() -> None:
    nf = NF(name="simple_forward.py", read_only=True)
    parser = options.ArgumentParser(prog="simple_forward.py")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--dest", type=options.integer_arg(1, MAX_SERVICES - 1),
                       help="service to send every packet to")
    where.add_argument("--out", type=options.integer_arg(0, MAX_PORTS - 1),
                       help="port to send every packet out of")
    args = parser.parse_args(nf.args)
    verdict = NEXT
    if args.dest is not None:
        verdict = to_service(args.dest)
    elif args.out is not None:
        verdict = out_port(args.out)

    @nf.packet_handler
    def forward(pkt):
        return verdict

    print(f"simple_forward.py: NF {nf.nf_id} serving service {nf.service}", flush=True)
    nf.run()


if __name__ == "__main__":
    raise SystemExit(main(run))
