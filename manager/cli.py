# SPDX-License-Identifier: BSD-3-Clause
"""`onvm-manager`: start the NF manager.

    onvm-manager start [--config FILE] [--port DEVARGS]... [--chain SPEC]
                       [--wait-for-chain] [--cores LIST] [--name NAME]
                       [-- EAL ARGS...]
"""

from __future__ import annotations

import argparse
import logging
import sys

from onvm import options
from onvm.errors import OnvmError
from onvm.manager.bringup import config as configlib
from onvm.manager.bringup import eal


def _parser() -> argparse.ArgumentParser:
    parser = options.ArgumentParser(prog="onvm-manager", description="onvm NF manager")
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser(
        "start",
        help="start a manager",
        description="Start a manager on pinned cores; flags override the config file. "
        "DPDK EAL arguments go after --.",
    )
    start.add_argument("--config", help="TOML config file (default: built-in defaults, "
                       "documented in configs/manager.toml)")
    start.add_argument("--port", action="append", dest="ports", metavar="DEVARGS",
                       help="a DPDK port: PCI address or vdev devargs; repeat for more")
    start.add_argument("--rx-timestamps", action="store_true", default=None,
                       help="stamp packets with their ports' RX times where a port can "
                       "(net_pcap: its file's capture times), for NFs to read")
    start.add_argument("--chain", metavar="SPEC",
                       help="default chain, e.g. 1,2,out:1 (service ids and out:PORT)")
    start.add_argument("--wait-for-chain", action="store_true", default=None,
                       help="start port RX only once every service of the chain has an NF")
    start.add_argument("--cores", metavar="LIST",
                       help="CPUs: first for control, the rest for data-plane workers "
                       "(default 0,1; 0,0,1: two workers on two CPUs, one beside control)")
    start.add_argument("--name", help="manager name (default onvm); NFs join with --name")
    # Numbers stay text here: the config's bounds check them (setting_flag).
    start.add_argument("--stats-interval", metavar="SECONDS",
                       help="seconds between stats tables (0: none)")
    start.add_argument("--control-tcp", metavar="[HOST:]PORT",
                       help="also serve control requests on TCP (loopback unless a host is "
                       "given), CURVE-authenticated; needs --curve-keys")
    start.add_argument("--curve-keys", metavar="DIR",
                       help="CURVE keys for --control-tcp, made by `onvm-ctl keys DIR`")
    start.add_argument("--prometheus", metavar="[HOST:]PORT",
                       help="serve Prometheus metrics over HTTP (loopback unless a host is given)")
    start.add_argument("--web", metavar="[HOST:]PORT",
                       help="serve the live web console over HTTP (loopback unless a host is "
                       "given)")
    start.add_argument("--burst-size", metavar="N", help="packets per burst, 1 to 64")
    start.add_argument("--num-mbufs", metavar="N", help="packet pool size")
    start.add_argument("--latency-sample", metavar="N",
                       help="latency histograms record 1 packet in N (0: none; default 1)")
    start.add_argument("--rx-queues", metavar="auto|N",
                       help="RX queues of each port with RSS: auto (one per worker, the "
                       "default) or 1 to 16")
    start.add_argument("--nf-to-nf", metavar="MODE",
                       help="who hands packets from one NF to the next: manager (its "
                       "workers) or direct (the NFs themselves)")
    start.add_argument("eal_args", nargs="*", metavar="EAL_ARGS", help=argparse.SUPPRESS)
    return parser


def build_config(args: argparse.Namespace) -> configlib.Config:
    config = configlib.load(args.config)
    config = configlib.override(
        config,
        name=args.name,
        ports=args.ports,
        rx_timestamps=args.rx_timestamps,
        chain=configlib.parse_chain(args.chain) if args.chain is not None else None,
        cores=configlib.parse_cores(args.cores) if args.cores is not None else None,
        wait_for_chain=args.wait_for_chain,
        stats_interval=configlib.setting_flag("stats_interval", args.stats_interval),
        burst_size=configlib.setting_flag("burst_size", args.burst_size),
        control_tcp=args.control_tcp,
        curve_keys=args.curve_keys,
        prometheus=args.prometheus,
        web=args.web,
        num_mbufs=configlib.setting_flag("num_mbufs", args.num_mbufs),
        rx_queues=(configlib.parse_rx_queues(args.rx_queues, "--rx-queues")
                   if args.rx_queues is not None else None),
        nf_to_nf=args.nf_to_nf,
        latency_sample=configlib.setting_flag("latency_sample", args.latency_sample),
        eal_args=(config.eal_args + args.eal_args) if args.eal_args else None,
    )
    config.validate()
    eal.check_user_args(config.eal_args)
    return config


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="onvm-manager: %(message)s", stream=sys.stdout)
    args = _parser().parse_args(argv)
    try:
        config = build_config(args)
    except OnvmError as e:
        print(f"onvm-manager: error: {e}", file=sys.stderr)
        return e.exit_code
    try:
        from onvm.manager.manager import run  # loads the DPDK libraries
    except ImportError as e:
        print(
            f"onvm-manager: error: cannot load DPDK or the onvm native library ({e}): "
            "install DPDK with `apt-get install dpdk` or run scripts/setup.sh",
            file=sys.stderr,
        )
        return 3
    return run(config)


if __name__ == "__main__":
    sys.exit(main())
