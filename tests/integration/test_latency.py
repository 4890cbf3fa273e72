# SPDX-License-Identifier: BSD-3-Clause
"""Latency histograms of a running chain: an NF that holds every packet a
known time shows that time as its hop's latency, the chain's port-to-port
latency covers it, sampling records one packet in N, a reset starts over,
and onvm-ctl and Prometheus read the same figures."""

from __future__ import annotations

import json
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.test_control_robust import free_tcp_port
from tests.support.bpf_programs import ctl
from tests.support.nf_helpers import pcap_ports, start_nf_file
from tests.support.pcaps import mixed_packets, read_pcap

pytestmark = pytest.mark.timeout(120)

# Holds each packet DELAY_MS (its argument) from when it took it, then
# passes it on.
DELAY = """
import time
from collections import deque
from onvm.nflib import NF, NEXT, main

def run():
    nf = NF(name="delay")
    delay = float(nf.args[0]) / 1000
    waiting = deque()

    def release_due():
        now = time.monotonic()
        while waiting and waiting[0][0] <= now:
            nf.release(waiting.popleft()[1], NEXT)

    @nf.packet_handler
    def hold(pkt):
        waiting.append((time.monotonic() + delay, nf.hold(pkt)))
        release_due()
        return NEXT

    @nf.periodic(seconds=0.001)
    def tick():
        release_due()

    nf.run()

raise SystemExit(main(run))
"""


def latency(mgr, *args: str) -> dict:
    done = ctl(mgr, "latency", "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def delay_chain(tmp_path, start_manager, packets, delay_ms: float, *manager_args: str):
    port0, port1, _, out = pcap_ports(tmp_path, packets)
    mgr = start_manager("--port", port0, "--port", port1, "--chain", "1,2,out:1",
                        "--wait-for-chain", *manager_args)
    mgr.start_nf("simple_forward", 1)
    path = tmp_path / "delay.py"
    path.write_text(DELAY)
    delay = start_nf_file(mgr, path, 2, "--", str(delay_ms))
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 60, "every packet out")
    return mgr, delay, out


def nf_entry(report: dict, proc, mgr) -> dict:
    nf_id = next(int(k) for k, n in mgr.stats()["nfs"].items() if n["pid"] == proc.pid)
    return next(n for n in report["nfs"] if n["id"] == nf_id)


@pytest.mark.parametrize("nf_to_nf", ["manager", "direct"])
def test_a_delay_nf_shows_its_delay_as_its_hops_latency(tmp_path, start_manager, nf_to_nf):
    packets = mixed_packets(400, seed=21)
    mgr, delay, out = delay_chain(tmp_path, start_manager, packets, 20.0,
                                  "--nf-to-nf", nf_to_nf)
    report = latency(mgr)
    hop = nf_entry(report, delay, mgr)
    assert hop["count"] == len(packets)
    # Held 20 ms from when it took each packet: never less (bucket error:
    # under 0.8%), and not much more on a machine this busy.
    assert 20_000 * 0.992 <= hop["p50_us"] <= 26_000, hop
    assert 20_000 * 0.992 <= hop["p99_us"] <= 40_000, hop
    assert hop["p50_us"] <= hop["p90_us"] <= hop["p99_us"] <= hop["p99_9_us"] <= \
        hop["max_us"] * 1.008
    chain = next(c for c in report["chains"] if c["name"] == "default")
    assert chain["count"] == len(packets)
    assert chain["p50_us"] >= hop["p50_us"] * 0.99  # port to port covers the hop
    hops = {h["service"]: h for h in chain["hops"]}
    assert hops[2]["count"] == len(packets) and hops[2]["p50_us"] == hop["p50_us"]
    assert hops[1]["p50_us"] < 20_000  # simple_forward holds nothing
    assert mgr.stop() == 0
    assert read_pcap(out) == packets


def test_sampling_records_one_packet_in_n_and_a_reset_starts_over(tmp_path, start_manager):
    packets = mixed_packets(1000, seed=22)
    mgr, delay, _ = delay_chain(tmp_path, start_manager, packets, 1.0,
                                "--latency-sample", "10")
    report = latency(mgr)
    assert report["sample"] == 10
    assert nf_entry(report, delay, mgr)["count"] == len(packets) // 10
    chain = next(c for c in report["chains"] if c["name"] == "default")
    assert chain["count"] == len(packets) // 10
    assert ctl(mgr, "stats", "reset").returncode == 0
    after = latency(mgr)
    assert nf_entry(after, delay, mgr)["count"] == 0
    assert all(c["count"] == 0 for c in after["chains"])
    assert mgr.stop() == 0


def test_no_latency_with_sampling_off(tmp_path, start_manager):
    packets = mixed_packets(200, seed=23)
    mgr, delay, _ = delay_chain(tmp_path, start_manager, packets, 1.0,
                                "--latency-sample", "0")
    report = latency(mgr)
    assert report["sample"] == 0
    assert nf_entry(report, delay, mgr)["count"] == 0
    text = ctl(mgr, "latency")
    assert text.returncode == 0 and "off: latency_sample is 0" in text.stdout
    assert mgr.stop() == 0


def test_onvm_ctl_filters_and_prometheus_histograms(tmp_path, start_manager):
    packets = mixed_packets(300, seed=24)
    prom = free_tcp_port()
    mgr, delay, _ = delay_chain(tmp_path, start_manager, packets, 5.0,
                                "--prometheus", f"127.0.0.1:{prom}")
    nf_id = nf_entry(latency(mgr), delay, mgr)["id"]
    only = latency(mgr, "--nf", str(nf_id), "--chain", "default")
    assert [n["id"] for n in only["nfs"]] == [nf_id]
    assert [c["name"] for c in only["chains"]] == ["default"]
    table = ctl(mgr, "latency", "--chain", "default")
    assert table.returncode == 0 and "default (port to port)" in table.stdout
    assert "hop 1: service 2" in table.stdout
    for args, says in ((("--nf", "0"), "1 to 63"), (("--nf", "9" * 60), "1 to 63"),
                       (("--nf", "x"), "1 to 63"), (("--chain", "nosuch"), "no chain 'nosuch'")):
        bad = ctl(mgr, "latency", *args)
        assert bad.returncode != 0 and says in bad.stderr, (args, bad.stderr)
        assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
    text = urllib.request.urlopen(f"http://127.0.0.1:{prom}/metrics", timeout=10).read().decode()
    samples = [(s.name, s.labels, s.value) for fam in text_string_to_metric_families(text)
               for s in fam.samples]

    def value(name: str, **labels: str) -> float:
        found = [v for n, ls, v in samples
                 if n == name and all(ls.get(k) == want for k, want in labels.items())]
        assert len(found) == 1, (name, labels, found)
        return found[0]

    assert value("onvm_nf_latency_seconds_count", nf_id=str(nf_id)) == len(packets)
    # Every packet waited over 5 ms: none in the buckets up to 5 ms, all by 10 s.
    assert value("onvm_nf_latency_seconds_bucket", nf_id=str(nf_id), le="0.005") == 0
    assert value("onvm_nf_latency_seconds_bucket", nf_id=str(nf_id), le="+Inf") == len(packets)
    assert value("onvm_nf_latency_seconds_sum", nf_id=str(nf_id)) >= 0.005 * len(packets)
    assert value("onvm_chain_latency_seconds_count", chain="default") == len(packets)
    assert mgr.stop() == 0
