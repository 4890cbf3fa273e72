# SPDX-License-Identifier: BSD-3-Clause
"""Flow rules added while traffic flows, a part of `onvm-bench flows`: how
long N single flow.add requests take in all (by default 1,000), and one
request of M rules (10,000), and what the data plane forwards meanwhile.

The traffic is the sweep's loop (onvm.bench.flows): net_ring0 round
simple_forward and back. The first rule added matches all of it and steers
it to a chain of the same path as the default chain's; the others are
random rules the traffic never meets (flows.rule_set), so the work of
classifying grows while the path stays. Figures, from one fresh manager
per run:

- the time of the single adds, one request after the other as a client
  makes them (each waits for its reply: the rule is in force then), and of
  the bulk request as the client saw it and as the manager spent it;
- port 0's TX rate before the adds, during the single adds, during the
  bulk request, and once the rules have settled (the newest compiled);
- the manager's rule tiers afterwards (status: flow_tiers), and the share
  of the packets received after the first add that hit its rule, which
  should be 1 (but for those of the 0.1 ms between the two counters' reads).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

from onvm.bench import report
from onvm.bench.procs import ManagerProc
from onvm.manager.client import Client

WINDOW_SECONDS = 1.0  # the rate before and after the adds
SETTLE_SECONDS = 0.5  # the manager settles the newest rules 0.2 s after the last add


def _tx(client: Client) -> tuple[float, int]:
    """(time, port 0 TX) from a live snapshot."""
    snap = client.call("stats")
    return snap["time"], snap["ports"]["0"]["tx"]


def _rate(before: tuple[float, int], after: tuple[float, int]) -> float:
    elapsed = after[0] - before[0]
    return (after[1] - before[1]) / elapsed / 1e6 if elapsed > 0 else 0.0


def _window(client: Client, seconds: float) -> float:
    before = _tx(client)
    time.sleep(seconds)
    return _rate(before, _tx(client))


def measure(workdir: Path, pcap: Path, rules: list[dict], singles: int, args: list[str],
            rule_chain: str, chain: str, client_timeout: float) -> dict:
    """One run: a fresh manager (`args`), its loop running, `singles` of
    `rules` added one request at a time, then the rest in one request.
    rules[0] is the one the traffic matches."""
    mgr = ManagerProc(workdir, args, prefix="bench-flow-adds")
    client = None
    try:
        mgr.wait_ready()
        client = Client(mgr.name, timeout=client_timeout)
        client.call("chain.set", name=rule_chain, hops=chain)
        nf = mgr.start_nf("simple_forward", 1)
        mgr.wait_stats(lambda s: s["ports"]["0"]["rx"] > 0, 10, "packets round the loop")
        time.sleep(WINDOW_SECONDS)  # warm up
        result = {"mpps_before": _window(client, WINDOW_SECONDS)}
        mark = None  # (received, rules[0]'s packets) once it is in force
        start, started = _tx(client), time.perf_counter()
        for rule in rules[:singles]:
            client.call("flow.add", **rule)
            mark = mark or _mark(client)  # 0.2 ms of the run's time
        result["single_seconds"] = time.perf_counter() - started
        result["mpps_single"] = _rate(start, _tx(client))
        bulk = rules[singles:]
        result["bulk_seconds"] = result["bulk_manager_seconds"] = result["mpps_bulk"] = None
        if bulk:
            start, started = _tx(client), time.perf_counter()
            done = client.flow_add_bulk(bulk)
            result["bulk_seconds"] = time.perf_counter() - started
            result["bulk_manager_seconds"] = done["seconds"]
            result["mpps_bulk"] = _rate(start, _tx(client))
            mark = mark or _mark(client)
        time.sleep(SETTLE_SECONDS)
        result["mpps_after"] = _window(client, WINDOW_SECONDS)
        result["tiers"] = client.call("status")["flow_tiers"]
        nf.signal(signal.SIGINT)  # the loop drains: the counters stand still
        nf.wait(15)
        _drained(client)
        hits = _first_rule_packets(client) - mark[1]
        received = _received(client) - mark[0]
        result["matched"] = hits / received if received else 0.0
        client.close()
        client = None
        mgr.stop()
    finally:
        if client is not None:
            client.close()
        mgr.cleanup()
    return result


def _received(client: Client) -> int:
    ports = client.call("stats")["ports"]
    return ports["0"]["rx"] + ports["1"]["rx"]


def _first_rule_packets(client: Client) -> int:
    return client.call("flow.list")[0]["packets"]  # rules[0]: the lowest id


def _mark(client: Client) -> tuple[int, int]:
    """Packets received so far, then rules[0]'s: from here on every packet
    the ports take should hit it."""
    return _received(client), _first_rule_packets(client)


def _drained(client: Client) -> None:
    """Once port RX has stopped: the loop is empty."""
    last = _received(client)
    for _ in range(100):
        time.sleep(0.1)
        now = _received(client)
        if now == last:
            return
        last = now
    raise RuntimeError("packets kept coming round the loop after its NF left")


FIGURES = ("mpps_before", "mpps_single", "mpps_after", "single_seconds")
BULK_FIGURES = ("mpps_bulk", "bulk_seconds", "bulk_manager_seconds")


def summarize(runs: list[dict], singles: int, bulk: int) -> dict:
    """The runs' figures as spreads, with the last run's tiers."""
    out = {"single_adds": singles, "bulk_adds": bulk,
           **{k: report.spread([r[k] for r in runs]) for k in FIGURES}}
    out["per_single_add_ms"] = report.spread(
        [r["single_seconds"] * 1e3 / singles for r in runs]) if singles else None
    for k in BULK_FIGURES:
        out[k] = report.spread([r[k] for r in runs]) if bulk else None
    out["matched"] = min(r["matched"] for r in runs)
    out["tiers"] = runs[-1]["tiers"]
    return out


def _time(spread: dict | None) -> str:
    if spread is None:
        return "-"
    lo, mid, hi = spread["min"], spread["median"], spread["max"]
    return f"{mid:.3f} s ({lo:.3f}-{hi:.3f})"


def render(adds: dict) -> str:
    rows = [
        ["before the adds", "-", "-", report.fmt(adds["mpps_before"])],
        [f"{adds['single_adds']:,} single flow.add requests", f"{adds['single_adds']:,}",
         _time(adds["single_seconds"]), report.fmt(adds["mpps_single"])],
    ]
    if adds["bulk_adds"]:
        rows.append([f"one request of {adds['bulk_adds']:,} rules", f"{adds['bulk_adds']:,}",
                     _time(adds["bulk_seconds"]), report.fmt(adds["mpps_bulk"])])
    rows.append(["after, rules settled", "-", "-", report.fmt(adds["mpps_after"])])
    tiers = ", ".join(f"{t['tier']} {t['rules']} rules ({t['builds']} builds, "
                      f"{t['build_seconds']:.3f} s)" for t in adds["tiers"])
    lines = [report.table(["adds", "rules", "time", "Mpps meanwhile"], rows)]
    if adds["per_single_add_ms"]:
        lines.append(f"a single add: {report.fmt(adds['per_single_add_ms'], 3)} ms; bulk "
                     f"request as the manager spent it: {_time(adds['bulk_manager_seconds'])}")
    lines.append(f"tiers after (last run): {tiers}")
    lines.append(f"share of the packets after the first add that hit its rule (all should): "
                 f"{adds['matched']:.4f}")
    return "\n".join(lines)
