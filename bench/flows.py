# SPDX-License-Identifier: BSD-3-Clause
"""Scenario `flows`: flow rules added while traffic flows (by default 1,000
single flow.add requests, then 10,000 rules in one request: their times and
the forwarding rate meanwhile, onvm.bench.flow_adds), then the data plane's
forwarding rate against the number of flow rules in force (by default 0, 1,
100, 1,000 and 10,000; --no-sweep skips it), IPv4 rules on IPv4 traffic or,
with --ipv6, IPv6 on IPv6; and how long adding them takes.

    net_ring0 (loopback) -> manager worker: flow key, classifier -> chain
        -> simple_forward (C) -> manager worker -> out:0 -> net_ring0 ...

Port 0 is a net_ring port whose TX ring is its RX ring: what the chain
sends out of it comes straight back in, and is classified again. Port 1
(net_pcap) plays LOOP_PACKETS frames of TCP and UDP (onvm.bench.traffic's
ip_traffic) into the loop once; from then on they go round as fast as the
worker and the NF pass them. (A pcap replayed with infinite_rx=1 was tried
first: it fed the worker about 1.2 Mpps through simple_forward, far below
what the data plane forwards, and would have hidden the classifier.)

For each rule count N, a fresh manager, then, before any traffic: N rules
in one flow.add_bulk request (timed), N - 1 of them random, pairwise
disjoint 5-tuples that the traffic never matches, the last one matching
every packet of it (its destination prefix). Both the default chain and
that rule's chain are 1,out:0, so packets take the same path whatever
matches: what changes with N is the classification. With 0 rules the
worker runs no classifier at all. Figures:

- Mpps: port 0's TX rate over the window;
- worker cycles per packet: TSC cycles the worker thread ran (its CPU time
  from /proc) per packet forwarded; it polls without pause, so this is all
  of its time, and the rate is the worker's own while it is the bottleneck
  (the NF's busy share and the packets per worker loop say whether it is).
  Its CPU share says whether something else took its CPU (the machine is
  shared): a run under 0.95 is disturbed, and its rate low for that;
- x 0 rules: each run's rate over the 0-rule run of the same repeat;
- the bulk add's time as the client saw it and as the manager spent it
  (check, compile, publish), and a single flow.add on top of the N rules
  once the traffic has stopped;
- matched: the share of the packets the ports received that hit the last
  rule (the flow rule hit counters), which should be 1 for N >= 1.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import random
import signal
import statistics
import tempfile
import time
from pathlib import Path

from onvm import options
from onvm.bench import flow_adds, machine, report
from onvm.bench.procs import ManagerProc
from onvm.bench.traffic import IP_DESTINATIONS, ip_traffic, write_pcap
from onvm.contract import MAX_FLOW_RULES
from onvm.manager.client import Client

NAME = "flows"
HELP = ("flow rules added while traffic flows (1,000 single adds, 10,000 in one request: "
        "times and Mpps), then Mpps and worker cycles/packet against the number of flow "
        "rules (IPv4, or --ipv6) (plot)")

DEFAULT_RULES = "0,1,100,1000,10000"
DEFAULT_SINGLE_ADDS = 1000
DEFAULT_BULK_ADDS = 10000
LOOP_PACKETS = 1024  # fit the net_ring port's ring (1024 slots): none is dropped
FRAME_BYTES = 64  # IPv6 with TCP: 74, its headers alone
FLOWS = LOOP_PACKETS  # every packet of the loop its own flow
MANAGER_CORES = "0,1"
CHAIN = "1,out:0"
RULE_CHAIN = "flows"
WARMUP_SECONDS = 1.0
SINGLE_ADDS = 3
REQUEST_BYTES = 1 << 24  # the most a manager takes: 10,000 rules are ~600 KB
CLIENT_TIMEOUT = 120.0
WORKER_THREAD = "rte-worker-1"  # DPDK's name for the manager's first worker lcore
LAYOUT = {
    "manager": "control thread on CPU 0, one data-plane worker (RX, classify, TX) on CPU 1",
    "nf": "simple_forward (C), shared-core, floating on CPU 0",
    "ports": f"port 0 net_ring0 (loopback: its TX comes back as RX), port 1 net_pcap (plays "
             f"{LOOP_PACKETS} frames into the loop once); chains default and '{RULE_CHAIN}' "
             f"both {CHAIN}",
}
# Blocks of disjoint destinations for the rules the traffic never meets,
# outside IP_DESTINATIONS: one block per rule (2^14 and 2^16 of them).
MISS_SPACE = {4: (ipaddress.ip_network("100.64.0.0/10"), 24),
              6: (ipaddress.ip_network("fd02::/16"), 32)}
SOURCES = {4: "10.0.0.0/8", 6: "fd00::/16"}


def rule_counts(text: str) -> list[int]:
    """--rules: whole numbers from 0 to MAX_FLOW_RULES, comma-separated; the
    0-rule reference is always measured."""
    counts = set()
    for item in text.split(","):
        try:
            counts.add(options.integer(item, 0, MAX_FLOW_RULES))
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"each count {e} (ONVM_MAX_FLOW_RULES), e.g. "
                                             f"{DEFAULT_RULES}") from None
    return sorted(counts | {0})


def add_args(parser) -> None:
    parser.add_argument("--rules", type=rule_counts,
                        default=rule_counts(DEFAULT_RULES), metavar="N,N,...",
                        help=f"rule counts to measure (default {DEFAULT_RULES}; 0 is always "
                             "measured, as the reference)")
    parser.add_argument("--ipv6", action="store_true",
                        help="IPv6 rules and IPv6 traffic (default IPv4)")
    parser.add_argument("--seconds", type=options.number_arg(0.2, 60, " seconds"),
                        default=2.0, help="measured seconds per run (default 2)")
    parser.add_argument("--repeat", type=options.integer_arg(1, 20), default=3,
                        help="runs of each rule count, and of the adds (default 3)")
    parser.add_argument("--single-adds", type=options.integer_arg(0, MAX_FLOW_RULES - 1),
                        default=DEFAULT_SINGLE_ADDS, metavar="N",
                        help=f"rules added one flow.add request at a time while traffic "
                             f"flows (default {DEFAULT_SINGLE_ADDS:,}; 0: none)")
    parser.add_argument("--bulk-adds", type=options.integer_arg(0, MAX_FLOW_RULES - 1),
                        default=DEFAULT_BULK_ADDS, metavar="N",
                        help=f"rules added after them in one request (default "
                             f"{DEFAULT_BULK_ADDS:,}; 0: none)")
    parser.add_argument("--no-sweep", action="store_true",
                        help="measure the adds only, not the rate against rules in force")


def _miss_rule(rng: random.Random, version: int, block: int) -> dict:
    """A random rule inside destination block `block`: disjoint from every
    other block, and from the traffic."""
    space, block_len = MISS_SPACE[version]
    base = space.network_address + (block << (space.max_prefixlen - block_len))
    length = rng.choice([block_len, block_len + 4, block_len + 8, space.max_prefixlen])
    host = rng.randrange(1 << (space.max_prefixlen - block_len)) if length > block_len else 0
    dst = ipaddress.ip_network((int(base) + host, length), strict=False)
    rule = {"dst": str(dst), "chain": RULE_CHAIN}
    if rng.random() < 0.5:
        source = ipaddress.ip_network(SOURCES[version])
        src_len = rng.choice([source.prefixlen + 8, source.prefixlen + 16])
        offset = rng.randrange(1 << (src_len - source.prefixlen))
        rule["src"] = str(ipaddress.ip_network(
            (int(source.network_address) + (offset << (source.max_prefixlen - src_len)),
             src_len)))
    proto = rng.choice(["tcp", "udp", None])
    if proto:
        rule["proto"] = proto
        if rng.random() < 0.7:
            port = rng.randrange(1, 65536)
            rule["dport"] = port if rng.random() < 0.6 else f"{port}-{min(port + 99, 65535)}"
        if rng.random() < 0.2:
            rule["sport"] = "1024-65535"
    return rule


def _blocks(n: int, version: int) -> list[int]:
    """Distinct destination blocks for n rules and the single adds after."""
    space, block_len = MISS_SPACE[version]
    return random.Random(n).sample(range(1 << (block_len - space.prefixlen)),
                                   max(n - 1, 0) + SINGLE_ADDS)


def rule_set(n: int, version: int) -> list[dict]:
    """flow.add_bulk's rules: n - 1 the traffic misses, then one it all hits."""
    if n == 0:
        return []
    rng = random.Random(version)
    rules = [_miss_rule(rng, version, b) for b in _blocks(n, version)[:n - 1]]
    return rules + [{"dst": IP_DESTINATIONS[version], "chain": RULE_CHAIN}]


def single_rules(n: int, version: int) -> list[dict]:
    """Rules for the single adds after rule_set(n): blocks it did not use."""
    rng = random.Random(version + 100)
    return [_miss_rule(rng, version, b) for b in _blocks(n, version)[-SINGLE_ADDS:]]


def _config(workdir: Path, max_rules: int) -> Path:
    path = workdir / "flows-manager.toml"
    path.write_text(f"[dataplane]\nmax_flow_rules = {max(max_rules, 1)}\n\n"
                    f"[control]\nmax_request_bytes = {REQUEST_BYTES}\n")
    return path


def _worker_cpu_seconds(pid: int) -> float:
    """CPU time of the manager's data-plane worker thread (rte-worker-1)."""
    clock = os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").iterdir():
        if (task / "comm").read_text().strip() == WORKER_THREAD:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / clock
    raise RuntimeError(f"the manager has no {WORKER_THREAD} thread")


def _settled(mgr: ManagerProc) -> dict:
    """A snapshot once port RX has stopped (the loop drained)."""
    last = mgr.stats()
    for _ in range(100):
        time.sleep(0.1)
        snap = mgr.stats()
        if snap["ports"]["0"]["rx"] == last["ports"]["0"]["rx"]:
            return snap
        last = snap
    raise RuntimeError("packets kept coming round the loop after its NF left")


def measure(workdir: Path, pcap: Path, n: int, version: int, seconds: float,
            max_rules: int) -> dict:
    """One run: a fresh manager, N rules, the loop, a window, a single add."""
    mgr = ManagerProc(workdir, _manager_args(workdir, pcap, max_rules), prefix="bench-flows")
    client = None
    try:
        mgr.wait_ready()
        client = Client(mgr.name, timeout=CLIENT_TIMEOUT)
        client.call("chain.set", name=RULE_CHAIN, hops=CHAIN)
        bulk = {"added": 0, "seconds": 0.0, "last_id": None}
        started = time.perf_counter()
        if n:
            bulk = client.flow_add_bulk(rule_set(n, version))
        bulk_seconds = time.perf_counter() - started if n else 0.0
        nf = mgr.start_nf("simple_forward", 1)
        mgr.wait_stats(lambda s: s["ports"]["0"]["rx"] > 0, 10, "packets round the loop")
        time.sleep(WARMUP_SECONDS)
        before, cpu_before = mgr.stats(), _worker_cpu_seconds(mgr.pid)
        time.sleep(seconds)
        after, cpu_after = mgr.stats(), _worker_cpu_seconds(mgr.pid)
        nf.signal(signal.SIGINT)  # the loop drains: the rest is timed without traffic
        nf.wait(15)
        _settled(mgr)  # the loop has drained
        matched = None
        if n:
            hit = next(r for r in client.call("flow.list") if r["id"] == bulk["last_id"])
            # Live counters, read after the hits: the stats file lags them.
            ports = client.call("stats")["ports"]
            received = ports["0"]["rx"] + ports["1"]["rx"]
            matched = hit["hits"] / received if received else 0.0
        singles = []
        if n + SINGLE_ADDS <= max_rules:
            for rule in single_rules(n, version):
                t = time.perf_counter()
                client.call("flow.add", **rule)
                singles.append(time.perf_counter() - t)
        client.close()
        client = None
        mgr.stop()
    finally:
        if client is not None:
            client.close()
        mgr.cleanup()
    elapsed = after["time"] - before["time"]
    if elapsed <= 0:
        raise RuntimeError("the manager's stats did not advance")
    forwarded = after["ports"]["0"]["tx"] - before["ports"]["0"]["tx"]
    rate = forwarded / elapsed
    nf_before, nf_after = mgr.nf_stats(before, nf), mgr.nf_stats(after, nf)
    loops = after["dataplane"]["loops"] - before["dataplane"]["loops"]
    drops = sum(after["ports"][p]["drop"] - before["ports"][p]["drop"] for p in ("0", "1"))
    drops += sum(after["dataplane"][k] - before["dataplane"][k]
                 for k in ("act_drop", "chain_end", "no_dest", "ring_full_drop"))
    worker_cpu = cpu_after - cpu_before
    return {
        "mpps": rate / 1e6,
        "cycles_per_packet": worker_cpu * after["tsc_hz"] / forwarded if forwarded else 0.0,
        "worker_cpu": worker_cpu / elapsed,
        "packets_per_loop": forwarded / loops if loops else 0.0,
        "nf_busy": (nf_after["busy_cycles"] - nf_before["busy_cycles"])
                   / (after["tsc_hz"] * elapsed),
        "bulk_add_seconds": bulk_seconds,
        "bulk_add_manager_seconds": bulk["seconds"],
        "single_add_seconds": statistics.median(singles) if singles else None,
        "matched": matched,
        "drops": drops,
    }


FIGURES = ("mpps", "cycles_per_packet", "worker_cpu", "packets_per_loop", "nf_busy",
           "bulk_add_seconds", "bulk_add_manager_seconds")


def _manager_args(workdir: Path, pcap: Path, max_rules: int) -> list[str]:
    return ["--cores", MANAGER_CORES, "--config", str(_config(workdir, max_rules)),
            "--port", "net_ring0", "--port", f"net_pcap1,rx_pcap={pcap}",
            "--chain", CHAIN, "--wait-for-chain"]


def measure_adds(workdir: Path, pcap: Path, version: int, singles: int, bulk: int) -> dict:
    """One run of the adds while traffic flows: rule_set's rules, the one
    the traffic matches first, `singles` one by one, then `bulk` at once."""
    rules = rule_set(singles + bulk, version)
    rules = rules[-1:] + rules[:-1]
    args = _manager_args(workdir, pcap, max(singles + bulk, 1))
    return flow_adds.measure(workdir, pcap, rules, singles, args, RULE_CHAIN, CHAIN,
                             CLIENT_TIMEOUT)


def run(args) -> dict:
    version = 6 if args.ipv6 else 4
    counts = [] if args.no_sweep else args.rules
    singles, bulk = args.single_adds, args.bulk_adds
    if singles + bulk > MAX_FLOW_RULES:
        raise RuntimeError(f"--single-adds {singles} and --bulk-adds {bulk} make more than "
                           f"{MAX_FLOW_RULES} rules (ONVM_MAX_FLOW_RULES): add fewer")
    if not counts and not singles + bulk:
        raise RuntimeError("nothing to measure: --no-sweep with no adds (give --single-adds "
                           "or --bulk-adds)")
    max_rules = min(max(counts or [0]) + SINGLE_ADDS, MAX_FLOW_RULES)
    runs: dict[int, list[dict]] = {n: [] for n in counts}
    add_runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="onvm-bench-") as tmp:
        pcap = write_pcap(Path(tmp) / "loop.pcap",
                          ip_traffic(LOOP_PACKETS, version, FRAME_BYTES, FLOWS))
        # Round the counts in each repeat, so that all see the same background.
        for _ in range(args.repeat):
            if singles + bulk:
                add_runs.append(measure_adds(Path(tmp), pcap, version, singles, bulk))
            for n in counts:
                runs[n].append(measure(Path(tmp), pcap, n, version, args.seconds, max_rules))
    rows = []
    for n in counts:
        row = {"rules": n, **{k: report.spread([r[k] for r in runs[n]]) for k in FIGURES},
               "x_0_rules": report.spread([r["mpps"] / z["mpps"] if z["mpps"] else 0.0
                                           for r, z in zip(runs[n], runs[0], strict=True)]),
               "drops": sum(r["drops"] for r in runs[n])}
        single_times = [r["single_add_seconds"] for r in runs[n] if r["single_add_seconds"]]
        row["single_add_seconds"] = report.spread(single_times) if single_times else None
        matched = [r["matched"] for r in runs[n] if r["matched"] is not None]
        row["matched"] = min(matched) if matched else None
        rows.append(row)
    return {
        "scenario": NAME,
        "machine": machine.describe(),
        "ip_version": version,
        "adds": flow_adds.summarize(add_runs, singles, bulk) if add_runs else None,
        "seconds": args.seconds, "repeat": args.repeat, "warmup_seconds": WARMUP_SECONDS,
        "layout": LAYOUT,
        "traffic": f"{LOOP_PACKETS} frames of {FRAME_BYTES} bytes (IPv6 TCP: 74), TCP and UDP "
                   f"over IPv{version}, {FLOWS} flows to {IP_DESTINATIONS[version]}, round a "
                   "loopback port",
        "rules": f"N - 1 random disjoint rules the traffic misses (destinations in "
                 f"{MISS_SPACE[version][0]}), then dst {IP_DESTINATIONS[version]} -> "
                 f"'{RULE_CHAIN}', which every packet matches",
        "counts": rows,
    }


def _seconds(spread: dict | None) -> str:
    if spread is None:
        return "-"
    return f"{spread['median'] * 1e3:.1f} ms" if spread["median"] < 1 else \
        f"{spread['median']:.2f} s"


def headline(result: dict) -> list[tuple[str, float, bool]]:
    """The forwarding rates while rules were added and with none and the
    most in force: each packet takes one hop through the manager."""
    figures = []
    adds = result["adds"]
    if adds:
        figures.append(("loop while single flow.adds", adds["mpps_single"]["median"], True))
        if adds["mpps_bulk"]:
            figures.append(("loop while a bulk add", adds["mpps_bulk"]["median"], True))
    if result["counts"]:
        for row in (result["counts"][0], result["counts"][-1]):
            figures.append((f"loop, {row['rules']:,} rules in force", row["mpps"]["median"],
                            True))
    return figures


def _render_sweep(result: dict) -> list[str]:
    rows = [[r["rules"], report.fmt(r["mpps"]), f"{r['x_0_rules']['median']:.2f}",
             f"{r['cycles_per_packet']['median']:.0f}", f"{r['worker_cpu']['min']:.2f}",
             f"{r['packets_per_loop']['median']:.1f}",
             f"{r['nf_busy']['median']:.0%}",
             _seconds(r["bulk_add_seconds"]) if r["rules"] else "-",
             _seconds(r["bulk_add_manager_seconds"]) if r["rules"] else "-",
             _seconds(r["single_add_seconds"]),
             "-" if r["matched"] is None else f"{r['matched']:.3f}", r["drops"]]
            for r in result["counts"]]
    return [
        "forwarding against the rules in force (a fresh manager per count):",
        report.table(["rules", "Mpps", "x 0 rules", "cyc/pkt", "worker CPU", "pkt/loop",
                      "NF busy", "bulk add", "(manager)", "1 add after", "matched", "drops"],
                     rows),
        "(median (min-max) of the runs; x 0 rules: per-repeat ratio to the 0-rule run; "
        "cyc/pkt: TSC cycles the worker ran per packet; worker CPU: its least CPU share in a "
        "run (under 0.95: something else took its CPU); pkt/loop: packets per worker loop; "
        "bulk add: the flow.add_bulk request as the client timed it, (manager): its check, "
        "build and publish; 1 add after: one flow.add on top of the N rules; matched: share "
        "of the received packets that hit the last rule)",
    ]


def render(result: dict) -> str:
    m = result["machine"]
    lines = [f"flow rules, IPv{result['ip_version']}: {result['repeat']} runs; {m['cpus']} "
             f"CPUs ({m['cpu_model']}), DPDK {m['dpdk']}"]
    if result["adds"]:
        lines += ["added while traffic flows (a fresh manager per run; median (min-max)):",
                  flow_adds.render(result["adds"])]
    if result["counts"]:
        lines += _render_sweep(result)
    lines += [
        f"traffic: {result['traffic']}",
        f"rules: {result['rules']}",
        f"layout: {result['layout']['manager']}; {result['layout']['nf']}",
        f"        {result['layout']['ports']}",
    ]
    return "\n".join(lines)


def _plot_adds(result: dict, path: Path) -> None:
    adds = result["adds"]
    bars = [("before", adds["mpps_before"]), ("single adds", adds["mpps_single"]),
            ("bulk add", adds["mpps_bulk"]), ("after", adds["mpps_after"])]
    bars = [(label, f) for label, f in bars if f is not None]
    with report.plot_axes(result, f"flow rules added while traffic flows, "
                          f"IPv{result['ip_version']}",
                          f"median, min-max of {result['repeat']}", path) as ax:
        xs = list(range(len(bars)))
        ax.bar(xs, [f["median"] for _, f in bars],
               yerr=[[f["median"] - f["min"] for _, f in bars],
                     [f["max"] - f["median"] for _, f in bars]], capsize=3)
        ax.set_xticks(xs, [label for label, _ in bars])
        ax.set_ylabel("forwarding Mpps")
        ax.grid(alpha=0.3, axis="y")


def plot(result: dict, path: Path) -> None:
    """The sweep, or without one the rates while rules were added."""
    if not result["counts"]:
        _plot_adds(result, path)
        return
    counts = result["counts"]
    xs = list(range(len(counts)))
    with report.plot_axes(result, f"flow rules, IPv{result['ip_version']}",
                          f"median, min-max of {result['repeat']}", path) as ax:
        mpps = [r["mpps"] for r in counts]
        ax.errorbar(xs, [f["median"] for f in mpps],
                    yerr=[[f["median"] - f["min"] for f in mpps],
                          [f["max"] - f["median"] for f in mpps]],
                    marker="o", capsize=3, label="forwarding Mpps")
        ax.set_xticks(xs, [f"{r['rules']:,}" for r in counts])
        ax.set_xlabel("flow rules in force")
        ax.set_ylabel("Mpps")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        timed = [(x, r["bulk_add_seconds"]["median"]) for x, r in zip(xs, counts, strict=True)
                 if r["rules"]]
        if timed:
            right = ax.twinx()
            right.plot([x for x, _ in timed], [s * 1e3 for _, s in timed], marker="s",
                       color="tab:red", label="bulk add (ms)")
            right.set_ylabel("bulk add, ms (log)")
            right.set_yscale("log")
            right.legend(loc="upper right")
        ax.legend(loc="lower left")
