# SPDX-License-Identifier: BSD-3-Clause
"""Port RX over several queues and workers: every (port, queue) is polled by
one worker, so every packet comes out and each flow keeps its order; a port
of one queue works as before."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from tests.support.pcaps import flow_id, flow_packets, read_pcap, write_pcap

# Control thread and worker 0 share CPU 0, worker 1 has CPU 1: two workers
# on this two-CPU machine.
TWO_WORKERS = ("--cores", "0,0,1")


def by_flow(frames: list[bytes]) -> dict[int, list[bytes]]:
    flows = defaultdict(list)
    for raw in frames:
        flows[flow_id(raw)].append(raw)
    return flows


def pcap_port(tmp_path, index: int, rx: list[list[bytes]], tx_files: int) -> tuple[str, list]:
    """net_pcap port `index` reading one file per list of `rx` (one RX queue
    each) and writing `tx_files` files (one per worker's TX queue)."""
    args, outs = [f"net_pcap{index}"], []
    for q, frames in enumerate(rx):
        write_pcap(tmp_path / f"in{index}-{q}.pcap", frames)
        args.append(f"rx_pcap={tmp_path}/in{index}-{q}.pcap")
    for q in range(tx_files):
        outs.append(tmp_path / f"out{index}-{q}.pcap")
        args.append(f"tx_pcap={outs[-1]}")
    return ",".join(args), outs


@pytest.mark.timeout(90)
def test_two_rx_queues_two_workers_keep_every_flow_in_order(tmp_path, start_manager):
    packets = flow_packets(4000, flows=60, seed=11)
    # A flow stays on one queue, as RSS keeps it: even flows in file 0, odd
    # in file 1, each file the flows interleaved.
    queues = [[p for p in packets if flow_id(p) % 2 == q] for q in (0, 1)]
    assert min(len(q) for q in queues) > 1500
    port, outs = pcap_port(tmp_path, 0, queues, tx_files=2)
    mgr = start_manager(*TWO_WORKERS, "--port", port, "--chain", "1,out:0",
                        "--wait-for-chain")
    assert re.search(r"port 0: .*; 2 RX queues \(one per file or ring\) over 2 worker",
                     mgr.output()), mgr.output()
    nf = mgr.start_nf("simple_forward", 1)
    snap = mgr.wait_stats(lambda s: s["ports"]["0"]["tx"] == len(packets), 45,
                          "every packet out of port 0")
    # Queue q was worker q's alone: each took exactly its file.
    assert snap["ports"]["0"]["rx_workers"] == [len(queues[0]), len(queues[1])]
    assert mgr.nf_stats(snap, nf)["rx"] == len(packets)
    assert mgr.stop() == 0
    assert "pool 16383/16383 free" in mgr.output()

    out = [raw for path in outs for raw in read_pcap(path)]
    assert sorted(out) == sorted(packets)
    got, sent = by_flow(out), by_flow(packets)
    assert got.keys() == sent.keys()
    for fid, frames in sent.items():
        # Each flow leaves through one worker's TX queue, in input order.
        assert sum(1 for path in outs if any(flow_id(r) == fid for r in read_pcap(path))) == 1
        assert got[fid] == frames, f"flow {fid} out of order"


@pytest.mark.timeout(90)
def test_a_port_of_one_queue_stays_with_one_worker(tmp_path, start_manager):
    """Ports of one queue take turns over the workers, as before: port 0's
    RX is worker 0's, port 1's worker 1's; each flow comes out in order."""
    packets = flow_packets(2500, flows=50, seed=12)
    rx0 = [p for p in packets if flow_id(p) < 40]
    rx1 = [p for p in packets if flow_id(p) >= 40]
    port0, outs0 = pcap_port(tmp_path, 0, [rx0], tx_files=2)
    port1, outs1 = pcap_port(tmp_path, 1, [rx1], tx_files=2)
    mgr = start_manager(*TWO_WORKERS, "--port", port0, "--port", port1,
                        "--chain", "1,out:1", "--wait-for-chain")
    assert "RX queues" not in mgr.output()
    mgr.start_nf("simple_forward", 1)
    snap = mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 45,
                          "every packet out of port 1")
    assert snap["ports"]["0"]["rx_workers"] == [len(rx0), 0]
    assert snap["ports"]["1"]["rx_workers"] == [0, len(rx1)]
    assert mgr.stop() == 0
    out = [raw for path in outs1 for raw in read_pcap(path)]
    assert sorted(out) == sorted(packets)
    got = by_flow(out)
    for fid, frames in by_flow(packets).items():
        assert got[fid] == frames, f"flow {fid} out of order"
    assert all(read_pcap(path) == [] for path in outs0)


@pytest.mark.timeout(90)
def test_one_worker_reads_every_file_of_a_pcap_port(tmp_path, start_manager):
    """Several rx_pcap files are several RX queues: the one worker polls them all."""
    packets = flow_packets(1500, flows=30, seed=13)
    queues = [[p for p in packets if flow_id(p) % 3 == q] for q in range(3)]
    port, outs = pcap_port(tmp_path, 0, queues, tx_files=1)
    mgr = start_manager("--port", port, "--chain", "1,out:0", "--wait-for-chain")
    assert "3 RX queues (one per file or ring) over 1 worker" in mgr.output()
    mgr.start_nf("simple_forward", 1)
    mgr.wait_stats(lambda s: s["ports"]["0"]["tx"] == len(packets), 45, "every packet out")
    assert mgr.stop() == 0
    out = read_pcap(outs[0])
    assert sorted(out) == sorted(packets)
    got = by_flow(out)
    for fid, frames in by_flow(packets).items():
        assert got[fid] == frames


@pytest.mark.timeout(60)
@pytest.mark.parametrize("rx_queues, spread", [("auto", True), ("1", False)])
def test_rss_port_spreads_over_the_workers(tmp_path, start_manager, rx_queues, spread):
    """net_null has RSS: with two workers it gets two RX queues, one each,
    unless rx_queues says one."""
    mgr = start_manager(*TWO_WORKERS, "--rx-queues", rx_queues, "--port", "net_null0",
                        "--port", "net_null1,no-rx=1", "--chain", "1,out:1")
    mgr.start_nf("simple_forward", 1)
    snap = mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] > 100_000, 30, "traffic")
    workers = snap["ports"]["0"]["rx_workers"]
    if spread:
        assert "2 RX queues (RSS) over 2 worker" in mgr.output()
        assert min(workers) > 0, workers
    else:
        assert "RX queues" not in mgr.output()
        assert workers[1] == 0 and workers[0] > 0, workers
    assert mgr.stop() == 0
