# SPDX-License-Identifier: BSD-3-Clause
"""Scenario `bpf`: Mpps per NF core of the bpf NF, as a tcpdump filter and
as the eBPF switch (nfs/bpf/examples/switch), each JIT-compiled and
interpreted, beside C NFs, in the same run on the same traffic.

    net_pcap1 (plays LOOP_FRAMES frames once)
        -> manager worker -> NF under test (service 1) -> manager worker
        -> out:0 -> net_ring0 (loopback) -> manager worker -> NF ...

Port 0 is a net_ring port whose TX ring is its RX ring: what leaves by it
comes straight back in at hop 0 of the default chain, 1,out:0. Every NF's
packets take that path: the C NFs', the filter's and the switch's misses
by the chain's next hop (NEXT, out:0), the switch's hits because its map
sends their destination MACs to port 0. So each frame goes round and
round, never copied or remade, hits and misses alike, and the share of
hits the NF sees is that of the frames. The frames are TCP and UDP over
IPv4 (onvm.bench.traffic's ip_traffic), each to one of HOSTS destination
MACs, HIT_HOSTS of them in the switch's map.

The NF runs alone on CPU 0 (the manager's control thread aside) and the
worker on CPU 1 feeds it as fast as it forwards; a fast NF is then idle
part of the time, and keeps polling. Its time on packets is the smaller of
two counts that both hold all of it: its busy cycles (nflib's TSC count of
the time spent on batches: take, handler, hand-back), which also hold any
time it was preempted during a batch, and the time its threads ran
(/proc/PID/task/*/schedstat), which also holds its idle polling. Mpps per NF core is the
packets it handled over that time: what a core of its own would forward
with packets always waiting, at the batch sizes of this run.

A filter drops what it does not keep, and a dropped frame leaves the loop:
once round, the loop holds only the frames the filter keeps. So the filter
runs twice on the same frames: keeping those that match (UDP frames match
the expression's first alternative, TCP frames to port 80 its second) and,
with --invert, those that do not (TCP frames to other ports: the whole
expression, then no match).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from onvm import options
from onvm.bench import machine, report, sched
from onvm.bench.procs import ManagerProc, Proc
from onvm.bench.traffic import IP_DPORTS, ip_traffic, write_pcap
from onvm.manager.client import Client

NAME = "bpf"
HELP = ("the bpf NF (tcpdump filter, eBPF switch; JIT and interpreter) beside C NFs, "
        "Mpps per NF core")

LOOP_FRAMES = 1024  # fit the net_ring port's ring (1024 slots): none is dropped
HOSTS = 256  # destination MACs of the frames
HIT_HOSTS = 224  # of them in the switch's map: 1 frame in 8 misses
FILTER = "udp or tcp port 80"
MANAGER_CORES = "0,1"  # control thread on CPU 0, one data-plane worker on CPU 1
HIT_PORT = 0  # the loopback port
CHAIN = f"1,out:{HIT_PORT}"
WARMUP_SECONDS = 1.0
CLANG = "clang"
# The switch example and the program contract, in the source tree.
ROOT = Path(__file__).resolve().parents[1]
SWITCH_SOURCE = ROOT / "nfs" / "bpf" / "examples" / "switch" / "switch.c"
BPF_INCLUDE = ROOT / "native" / "include"

LAYOUT = {
    "manager": "control thread on CPU 0, one data-plane worker (RX, routing, TX) on CPU 1",
    "nf": "the NF under test, shared-core, floating off the worker's CPU (CPU 0), alone",
    "ports": f"port 0 net_ring0 (loopback: its TX comes back as RX), port 1 net_pcap (plays "
             f"{LOOP_FRAMES} frames into the loop once); default chain {CHAIN}",
}


def host_mac(host: int) -> str:
    return f"02:00:00:01:{host >> 8:02x}:{host & 0xff:02x}"


def loop_frames(size: int) -> list[bytes]:
    """LOOP_FRAMES frames of `size` bytes, each its own flow; frame i goes to
    host i % HOSTS."""
    frames = ip_traffic(LOOP_FRAMES, 4, size, flows=LOOP_FRAMES)
    return [bytes.fromhex(host_mac(i % HOSTS).replace(":", "")) + f[6:]
            for i, f in enumerate(frames)]


def filter_matches(frame: bytes) -> bool:
    """Whether FILTER matches an unfragmented IPv4 frame of ip_traffic."""
    proto = frame[23]
    ihl = (frame[14] & 0xF) * 4
    sport, dport = (int.from_bytes(frame[14 + ihl + o:16 + ihl + o], "big") for o in (0, 2))
    return proto == 17 or (proto == 6 and 80 in (sport, dport))


def compile_switch(out_dir: Path) -> Path:
    """The switch example, built as the tests build programs."""
    if not SWITCH_SOURCE.is_file():
        raise RuntimeError(f"the eBPF switch example is not here ({SWITCH_SOURCE}): run "
                           "onvm-bench bpf from a source tree (scripts/setup.sh)")
    clang = shutil.which(CLANG)
    if clang is None:
        raise RuntimeError("clang not found: it compiles the eBPF switch (apt-get install "
                           "clang; scripts/setup.sh does)")
    obj = out_dir / "switch.o"
    built = subprocess.run([clang, "-O2", "-target", "bpf", "-mcpu=v2", "-g0", "-Wall",
                            "-Werror", f"-I{BPF_INCLUDE}", "-c", str(SWITCH_SOURCE), "-o",
                            str(obj)], capture_output=True, text=True)
    if built.returncode != 0:
        last = (built.stderr.strip().splitlines() or ["no output"])[0]
        raise RuntimeError(f"clang could not compile {SWITCH_SOURCE.name}: {last}")
    return obj


def cases(switch: Path) -> list[dict]:
    """What runs on service 1, with what it does to each packet."""
    switch_args = ["--", "--program", str(switch)]
    filter_args = ["--", "--filter", FILTER]
    return [
        {"nf": "C simple_forward", "kind": "c", "start": ["simple_forward"],
         "does": "returns NEXT for the whole burst, touches no packet"},
        {"nf": "C basic_monitor", "kind": "c", "start": ["basic_monitor"],
         "does": "adds up each packet's length (its mbuf), NEXT"},
        {"nf": "filter, JIT", "kind": "filter", "start": ["bpf", *filter_args],
         "does": f"'{FILTER}': keeps the frames that match"},
        {"nf": "filter, interpreter", "kind": "filter",
         "start": ["bpf", *filter_args, "--interp"], "does": "the same, interpreted"},
        {"nf": "filter --invert, JIT", "kind": "filter",
         "start": ["bpf", *filter_args, "--invert"],
         "does": f"'{FILTER}' --invert: keeps the frames that do not match"},
        {"nf": "filter --invert, interpreter", "kind": "filter",
         "start": ["bpf", *filter_args, "--invert", "--interp"],
         "does": "the same, interpreted"},
        {"nf": "switch, JIT", "kind": "switch", "start": ["bpf", *switch_args],
         "does": f"dst MAC lookup in map 'ports': {HIT_HOSTS} of {HOSTS} hosts -> port "
                 f"{HIT_PORT}, the rest NEXT"},
        {"nf": "switch, interpreter", "kind": "switch",
         "start": ["bpf", *switch_args, "--interp"], "does": "the same, interpreted"},
    ]


def _nf_id(mgr: ManagerProc, proc: Proc) -> int:
    for key, nf in mgr.stats()["nfs"].items():
        if nf["pid"] == proc.pid:
            return int(nf.get("id", key))
    raise RuntimeError(f"NF pid {proc.pid} is not in the manager's stats")


def fill_switch(client: Client, nf_id: int) -> None:
    ports = client.bpf(nf_id).map("ports")
    for host in range(HIT_HOSTS):
        ports[f"mac:{host_mac(host)}"] = f"u16:{HIT_PORT}"


def _verdicts(client: Client | None, nf_id: int) -> dict:
    if client is None:
        return {}
    info = client.bpf(nf_id).info()
    return {**info["verdicts"], "copied": info["copied"], "jit": info["jit"]}


def measure(workdir: Path, pcap: Path, case: dict, seconds: float) -> dict:
    """One run: a fresh manager, the NF (its map filled), a warm-up, a
    measured window."""
    args = ["--cores", MANAGER_CORES, "--port", "net_ring0", "--port",
            f"net_pcap1,rx_pcap={pcap}", "--chain", CHAIN, "--wait-for-chain"]
    mgr = ManagerProc(workdir, args, prefix="bench-bpf")
    client = None
    try:
        mgr.wait_ready()
        nf, *nf_args = case["start"]
        proc = mgr.start_nf(nf, 1, *nf_args)
        nf_id = _nf_id(mgr, proc)
        if case["kind"] != "c":
            client = Client(mgr.name)
        if case["kind"] == "switch":
            fill_switch(client, nf_id)  # frames that came before it went round as misses
        mgr.wait_stats(lambda s: mgr.nf_stats(s, proc)["rx"] > LOOP_FRAMES, 10,
                       "frames round the loop")
        time.sleep(WARMUP_SECONDS)
        cpus = sorted(os.sched_getaffinity(0))
        snap0, cpu0, v0 = mgr.stats(), sched.run_seconds(proc.pid), _verdicts(client, nf_id)
        sched0 = sched.sample(mgr.pid, [proc.pid], cpus)
        time.sleep(seconds)
        snap1, cpu1, v1 = mgr.stats(), sched.run_seconds(proc.pid), _verdicts(client, nf_id)
        sched1 = sched.sample(mgr.pid, [proc.pid], cpus)
        if client is not None:
            client.close()
            client = None
        mgr.stop()
    finally:
        if client is not None:
            client.close()
        mgr.cleanup()
    elapsed = snap1["time"] - snap0["time"]
    if elapsed <= 0:
        raise RuntimeError("the manager's stats did not advance")
    before, after = mgr.nf_stats(snap0, proc), mgr.nf_stats(snap1, proc)
    handled = after["rx"] - before["rx"]
    if handled <= 0:
        raise RuntimeError(f"{case['nf']} handled no packet in the window")
    cpu = cpu1 - cpu0
    busy = (after["busy_cycles"] - before["busy_cycles"]) / snap1["tsc_hz"]
    on_packets = max(min(cpu, busy), 1e-9)
    run = {"mpps_per_core": handled / on_packets / 1e6,
           "ns_per_packet": on_packets / handled * 1e9,
           "wall_mpps": handled / elapsed / 1e6,
           "cpu_share": cpu / elapsed, "busy_share": busy / elapsed,
           "drops": sum(snap1["ports"][p]["drop"] - snap0["ports"][p]["drop"]
                        for p in ("0", "1"))
                    + sum(snap1["dataplane"][k] - snap0["dataplane"][k]
                          for k in ("act_drop", "chain_end", "no_dest", "ring_full_drop")),
           **sched.share(sched0, sched1, elapsed)}
    if v1:
        counted = max(sum(v1[k] - v0[k] for k in ("drop", "pass", "tx", "redirect",
                                                   "aborted")), 1)
        run.update({
            "kept": (v1["pass"] - v0["pass"] + v1["redirect"] - v0["redirect"]) / counted,
            "redirected": (v1["redirect"] - v0["redirect"]) / counted,
            "copied": v1["copied"] - v0["copied"], "jit": v1["jit"],
            # Since the NF started: a filter's first pass, the frames it left out.
            "dropped": v1["drop"]})
    return run


FIGURES = ("mpps_per_core", "ns_per_packet", "wall_mpps", "cpu_share", "busy_share",
           "others_cpu")


def add_args(parser) -> None:
    parser.add_argument("--seconds", type=options.number_arg(0.2, 60, " seconds"),
                        default=3.0, help="measured seconds per run (default 3)")
    parser.add_argument("--repeat", type=options.integer_arg(1, 20), default=3,
                        help="runs of each NF; figures are their median (default 3)")
    parser.add_argument("--size", type=options.integer_arg(60, 1514), default=64,
                        metavar="BYTES", help="frame size, 60 to 1514 (default 64)")


def run(args) -> dict:
    with tempfile.TemporaryDirectory(prefix="onvm-bench-") as tmp:
        workdir = Path(tmp)
        switch = compile_switch(workdir)
        frames = loop_frames(args.size)
        pcap = write_pcap(workdir / "loop.pcap", frames)
        todo = cases(switch)
        runs: list[list[dict]] = [[] for _ in todo]
        # Round the cases in each repeat, so that all see the same background.
        for _ in range(args.repeat):
            for case, done in zip(todo, runs, strict=True):
                done.append(measure(workdir, pcap, case, args.seconds))
    base = runs[0]  # C simple_forward's, repeat by repeat
    results = []
    for case, done in zip(todo, runs, strict=True):
        row = {"nf": case["nf"], "kind": case["kind"], "does": case["does"],
               **{k: report.spread([r[k] for r in done]) for k in FIGURES},
               "x_simple_forward": report.spread(
                   [r["mpps_per_core"] / b["mpps_per_core"]
                    for r, b in zip(done, base, strict=True)]),
               "drops": sum(r["drops"] for r in done)}
        if case["kind"] != "c":
            row.update(kept=report.spread([r["kept"] for r in done]),
                       redirected=report.spread([r["redirected"] for r in done]),
                       copied=sum(r["copied"] for r in done),
                       dropped=[r["dropped"] for r in done],
                       # A program the JIT refuses runs interpreted: say so.
                       jit=[r["jit"] for r in done])
        results.append(row)
    matching = sum(filter_matches(f) for f in frames)
    switch_jit = next(r for r in results if r["nf"] == "switch, JIT")
    return {
        "scenario": NAME,
        "machine": machine.describe(),
        "seconds": args.seconds, "repeat": args.repeat, "warmup_seconds": WARMUP_SECONDS,
        "layout": LAYOUT,
        "traffic": {
            "frames": LOOP_FRAMES, "size": args.size,
            "what": f"TCP and UDP over IPv4 (about half each), {LOOP_FRAMES} flows, TCP "
                    f"destination ports from {', '.join(map(str, IP_DPORTS))}; destination "
                    f"MAC {host_mac(0)} + i % {HOSTS}",
            "filter": FILTER, "filter_matching": matching,
            "switch_hosts": HOSTS, "switch_hits": HIT_HOSTS,
            "switch_hit_frames": sum(i % HOSTS < HIT_HOSTS for i in range(LOOP_FRAMES)),
        },
        "results": results,
        "switch_jit_x_simple_forward": switch_jit["x_simple_forward"],
    }


def headline(result: dict) -> list[tuple[str, float, bool]]:
    """Each NF's packets per second of its own CPU time: a per-core rate,
    like testpmd io's."""
    return [(f"{r['nf']}: Mpps per NF core", r["mpps_per_core"]["median"], False)
            for r in result["results"]]


def _share(row: dict, key: str) -> str:
    return f"{row[key]['median']:.0%}" if key in row else "-"


def render(result: dict) -> str:
    rows = [[r["nf"], report.fmt(r["mpps_per_core"]), f"{r['ns_per_packet']['median']:.1f}",
             report.fmt(r["x_simple_forward"]), report.fmt(r["wall_mpps"]),
             f"{r['busy_share']['median']:.0%}", f"{r['cpu_share']['median']:.0%}",
             _share(r, "kept"), _share(r, "redirected"), f"{r['others_cpu']['max']:.0%}"]
            for r in result["results"]]
    t, m = result["traffic"], result["machine"]
    lines = [
        f"bpf NFs: {result['repeat']} runs of {result['seconds']:g} s each; {m['cpus']} CPUs "
        f"({m['cpu_model']}), DPDK {m['dpdk']}",
        report.table(["NF", "Mpps/NF core", "ns/pkt", "x simple_forward", "loop Mpps",
                      "NF busy", "NF CPU", "kept", "to port", "others CPU"], rows),
        "(median (min-max) of the runs; Mpps/NF core: packets over the NF's time on them, "
        "the smaller of its busy cycles (NF busy: their share of the time) and the time it "
        "ran (NF CPU), ns/pkt its inverse; x simple_forward: per-repeat ratios; loop Mpps: "
        "the rate round the loop; kept, to port: "
        "the bpf NF's verdicts in the window, pass or redirect, and redirect out of a port; "
        "others CPU: the most CPU time per second other processes took on the run's CPUs)",
        f"switch JIT = {report.fmt(result['switch_jit_x_simple_forward'])} x C "
        "simple_forward in Mpps per NF core (the issue's target: 0.7)",
        "what each NF does: " + "; ".join(f"{r['nf']}: {r['does']}"
                                          for r in result["results"]),
        f"traffic: {t['frames']} frames of {t['size']} bytes, {t['what']}; '{t['filter']}' "
        f"matches {t['filter_matching']} (the filter keeps those, --invert the other "
        f"{t['frames'] - t['filter_matching']}: the rest leave the loop at their first pass); "
        f"the switch's map holds {t['switch_hits']} of the {t['switch_hosts']} hosts "
        f"({t['switch_hit_frames']} frames)",
        f"layout: {result['layout']['manager']}; {result['layout']['nf']}",
        f"        {result['layout']['ports']}",
    ]
    interpreted = [r["nf"] for r in result["results"]
                   if "JIT" in r["nf"] and not all(r.get("jit", [True]))]
    if interpreted:
        lines.append(f"the JIT refused {', '.join(interpreted)}: interpreted instead")
    drops = sum(r["drops"] for r in result["results"])
    if drops:
        lines.append(f"drops in the windows: {drops} (frames lost from the loop)")
    return "\n".join(lines)
