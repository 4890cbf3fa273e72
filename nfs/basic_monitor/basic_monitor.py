# SPDX-License-Identifier: BSD-3-Clause
"""basic_monitor (Python, vector API): packet and bit rates every second;
every packet goes on to the next hop."""

from __future__ import annotations

import time

from onvm import options
from onvm.nflib import NF, main


def run() -> None:
    nf = NF(name="basic_monitor.py", read_only=True)
    # No options of its own: anything else given is a mistake to report.
    options.ArgumentParser(prog="basic_monitor.py",
                           description="Packet and bit rates every second.").parse_args(nf.args)
    totals = {"packets": 0, "bytes": 0}
    last = {"packets": 0, "bytes": 0, "time": time.monotonic()}

    @nf.vector_handler(fields=("meta",))
    def count(batch):
        totals["packets"] += batch.n
        totals["bytes"] += int(batch.length.sum())
        return None  # keep NEXT for all

    @nf.periodic(seconds=1.0)
    def report():
        now = time.monotonic()
        secs = max(now - last["time"], 1e-9)
        pps = (totals["packets"] - last["packets"]) / secs
        bps = (totals["bytes"] - last["bytes"]) * 8 / secs
        print(f"basic_monitor.py[nf {nf.nf_id}]: {pps / 1e6:.3f} Mpps {bps / 1e6:.3f} Mbit/s  "
              f"total {totals['packets']} packets {totals['bytes']} bytes", flush=True)
        last.update(totals, time=now)

    print(f"basic_monitor.py: NF {nf.nf_id} serving service {nf.service}", flush=True)
    nf.run()
    report()


if __name__ == "__main__":
    raise SystemExit(main(run))
