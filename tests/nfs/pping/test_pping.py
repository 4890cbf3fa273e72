# SPDX-License-Identifier: BSD-3-Clause
"""pping through a real manager: pcaps whose answers come at known delays,
replayed by net_pcap with their capture times in the mbufs (the manager's
--rx-timestamps), give every RTT to within 1% (to the microsecond, in
fact), the running minimum and the smoothed RTT; every packet passes on
unchanged; --sample-limit thins the samples as ePPing does; the RTT
histograms per subnet read the same through onvm-ctl and Prometheus."""

from __future__ import annotations

import bisect
import json
import re
import socket
import subprocess
from pathlib import Path
from urllib.request import urlopen

import pytest
from prometheus_client.parser import text_string_to_metric_families
from scapy.utils import rdpcap

from tests.nfs.pping.exchanges import (
    DELAYS_MS,
    Capture,
    dns_queries,
    pcap_records,
    pings,
    tcp_connection,
)
from tests.support.harness import Manager, Proc, tool, wait_until
from tests.support.nf_helpers import assert_nf_refuses
from tests.support.pcaps import read_pcap, write_pcap

pytestmark = pytest.mark.timeout(90)

V4_CLIENT, V4_SERVER = "10.1.0.1", "10.2.0.1"
V6_CLIENT, V6_SERVER = "2001:db8:1::1", "2001:db8:2::1"
# Server delays and client gaps (ms) of the TCP connections: the minimum
# falls and rises, every RTT of issue 14 comes once.
TCP_EXCHANGES = [(40, 0.5), (7.5, 2), (250, 3), (1, 5)]


def pcap_manager(start_manager, tmp: Path, cap: Capture, *args: str,
                 form: str = "pcap") -> Manager:
    """Port 0 replays `cap` (with its capture times: --rx-timestamps unless
    the test says otherwise) into chain 1,out:1 once pping runs."""
    cap.write(tmp / "in.pcap", form)
    write_pcap(tmp / "empty.pcap", [])
    return start_manager(
        "--port", f"net_pcap0,rx_pcap={tmp}/in.pcap,tx_pcap={tmp}/out0.pcap",
        "--port", f"net_pcap1,rx_pcap={tmp}/empty.pcap,tx_pcap={tmp}/out1.pcap",
        "--chain", "1,out:1", "--wait-for-chain", *args)


def json_samples(nf: Proc) -> list[dict]:
    return [json.loads(line) for line in nf.output().splitlines() if line.startswith("{")]


def run_pping(start_manager, tmp: Path, cap: Capture, *nf_args: str,
              manager_args: tuple[str, ...] = ("--rx-timestamps",),
              form: str = "pcap") -> tuple[Manager, Proc]:
    """Replay `cap` through pping --json; returns once every packet is out
    of port 1 and every sample the capture holds is printed."""
    mgr = pcap_manager(start_manager, tmp, cap, *manager_args, form=form)
    nf = mgr.start_nf("pping", 1, "--", "--json", *nf_args)
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(cap.packets), 30,
                   "every packet out of port 1")
    wait_until(lambda: len(json_samples(nf)) >= len(cap.samples), 10,
               f"{len(cap.samples)} samples from pping")
    return mgr, nf


def published(mgr: Manager, nf: Proc, cap: Capture) -> dict[str, dict]:
    """pping's metrics once its counts hold every sample of `cap` (they are
    published with each print)."""
    def complete():
        families = metrics(mgr, nf_id(mgr, nf))
        counts = {s["value"]: s["count"] for s in families["pping_events"]["series"]}
        rtts = sum(counts[f"rtt_{p}"] for p in ("tcp", "icmp", "dns"))
        return families if rtts == len(cap.samples) else None
    return wait_until(complete, 5, "pping's counts published")


def nf_id(mgr: Manager, nf: Proc) -> int:
    return next(int(i) for i, n in mgr.stats()["nfs"].items() if n.get("pid") == nf.pid)


def assert_samples(got: list[dict], cap: Capture) -> None:
    """Each sample as the capture says: flow, protocol, the echo's capture
    time, the RTT within 1%, the flow's minimum and smoothed RTT."""
    assert len(got) == len(cap.samples), got
    minimum: dict[str, float] = {}
    smoothed: dict[str, float] = {}
    for sample, want in zip(got, cap.samples, strict=True):
        rtt_ms = want.rtt_us / 1000
        assert (sample["flow"], sample["proto"]) == (want.flow, want.proto), sample
        assert sample["rtt_ms"] == pytest.approx(rtt_ms, rel=0.01), sample
        assert round(sample["time"] * 1e6) == want.echo_us, sample
        minimum[want.flow] = min(minimum.get(want.flow, rtt_ms), rtt_ms)
        old = smoothed.get(want.flow)
        smoothed[want.flow] = rtt_ms if old is None else old * 7 / 8 + rtt_ms / 8
        assert sample["min_rtt_ms"] == pytest.approx(minimum[want.flow], rel=0.01), sample
        assert sample["srtt_ms"] == pytest.approx(smoothed[want.flow], rel=0.01), sample


def assert_passed_on(mgr: Manager, tmp: Path) -> None:
    """Stopped cleanly, its NFs too; port 1 sent exactly the capture's frames."""
    assert mgr.stop() == 0
    for nf in mgr.nfs:
        assert nf.wait(10) == 0, nf.output()
    # Any of the forms the capture was written in (pcap, pcap-ns, pcapng).
    frames = [pkt.original for pkt in rdpcap(str(tmp / "in.pcap"))]
    assert frames and read_pcap(tmp / "out1.pcap") == frames
    assert read_pcap(tmp / "out0.pcap") == []


def test_capture_times_are_the_models(tmp_path):
    """The pcap holds the times the model computed its RTTs from."""
    cap = Capture()
    tcp_connection(cap, V4_CLIENT, V4_SERVER, 40001, TCP_EXCHANGES)
    times = [t for t, _ in pcap_records(cap.write(tmp_path / "model.pcap"))]
    assert times == [int(p.time * 1_000_000) for p in cap.packets]
    assert sorted(s.rtt_us for s in cap.samples if s.flow.startswith(V4_CLIENT)) == [
        1000, 1000, 7500, 40000, 250000]


def test_tcp_timestamps_ipv4_and_ipv6(tmp_path, start_manager):
    """Both directions of each connection: the client's RTTs are the
    server's delays, the server's the client's gaps; a TSval repeated by a
    later segment is timed from its first, a repeated echo is no sample."""
    cap = Capture()
    tcp_connection(cap, V4_CLIENT, V4_SERVER, 40001, TCP_EXCHANGES, repeat_ms=0.2)
    tcp_connection(cap, V6_CLIENT, V6_SERVER, 40002, TCP_EXCHANGES, repeat_ms=0.2)
    mgr, nf = run_pping(start_manager, tmp_path, cap)
    assert_samples(json_samples(nf), cap)
    assert {s["proto"] for s in json_samples(nf)} == {"tcp"}
    assert_passed_on(mgr, tmp_path)
    summary = nf.wait_line(r"pping: summary:", 10)
    assert f"{len(cap.samples)} RTT samples (tcp {len(cap.samples)}, icmp 0, dns 0)" in summary


def test_icmp_and_icmpv6_echo(tmp_path, start_manager):
    """Echo id and sequence, untagged and VLAN-tagged: a duplicate reply
    and a lost request give none."""
    cap = Capture()
    pings(cap, V4_CLIENT, V4_SERVER, 0x1234, list(DELAYS_MS))
    pings(cap, V4_CLIENT, "10.9.0.1", 0x99, [3.0], vlan=42)
    pings(cap, V6_CLIENT, V6_SERVER, 0x77, list(DELAYS_MS))
    mgr, nf = run_pping(start_manager, tmp_path, cap)
    got = json_samples(nf)
    assert_samples(got, cap)
    assert [s["rtt_ms"] for s in got] == [*DELAYS_MS, 3.0, *DELAYS_MS]
    assert got[0]["flow"] == "10.1.0.1:4660+10.2.0.1:4660"
    assert got[-1]["flow"] == "[2001:db8:1::1]:119+[2001:db8:2::1]:119"
    assert_passed_on(mgr, tmp_path)


def test_dns_query_to_response(tmp_path, start_manager):
    """The query id of each query's flow, over IPv4 and IPv6; a response no
    query asked for gives none."""
    cap = Capture()
    dns_queries(cap, V4_CLIENT, "10.0.0.53", 33001, list(DELAYS_MS))
    dns_queries(cap, V6_CLIENT, "2001:db8:53::53", 34001, list(DELAYS_MS))
    mgr, nf = run_pping(start_manager, tmp_path, cap)
    got = json_samples(nf)
    assert_samples(got, cap)
    assert {s["proto"] for s in got} == {"dns"}
    assert got[0]["flow"] == "10.1.0.1:33001+10.0.0.53:53"
    assert_passed_on(mgr, tmp_path)


@pytest.mark.parametrize("form", ["pcap-ns", "pcapng"])
def test_nanosecond_pcaps_and_pcapng(tmp_path, start_manager, form):
    """net_pcap reads these too: libpcap hands it their times in
    microseconds, so the RTTs are the same to the microsecond."""
    cap = Capture()
    pings(cap, V4_CLIENT, V4_SERVER, 0x1234, [0.0125, 1.2345, 7.5])
    dns_queries(cap, V4_CLIENT, "10.0.0.53", 33001, [40.0])
    mgr, nf = run_pping(start_manager, tmp_path, cap, form=form)
    got = json_samples(nf)
    assert len(got) == len(cap.samples)
    for sample, want in zip(got, cap.samples, strict=True):
        assert (sample["flow"], sample["proto"]) == (want.flow, want.proto)
        assert sample["rtt_ms"] == pytest.approx(want.rtt_us / 1000, abs=0.001)
    assert_passed_on(mgr, tmp_path)


def test_a_capture_that_starts_at_time_zero(tmp_path, start_manager):
    """Times are the capture's, whatever they start at: 0 is a time too."""
    cap = Capture(start_us=0)
    pings(cap, V4_CLIENT, V4_SERVER, 0x1234, list(DELAYS_MS))
    tcp_connection(cap, V4_CLIENT, V4_SERVER, 40001, TCP_EXCHANGES)
    assert cap.packets[0].time == 0
    mgr, nf = run_pping(start_manager, tmp_path, cap)
    assert_samples(json_samples(nf), cap)
    assert_passed_on(mgr, tmp_path)


def test_sample_limit_times_one_identifier_per_flow_and_interval(tmp_path, start_manager):
    """--sample-limit 50: a connection that answers every 10 ms gives a
    sample per direction about every 50 ms, the rest counted."""
    cap = Capture(limit_ms=50)
    tcp_connection(cap, V4_CLIENT, V4_SERVER, 40001, [(2, 8)] * 40)
    mgr, nf = run_pping(start_manager, tmp_path, cap, "--sample-limit", "50")
    got = json_samples(nf)
    assert_samples(got, cap)
    assert 10 <= len(got) <= 20  # of 81 without the limit
    for flow in {s["flow"] for s in got}:
        stamps = [s["time"] - s["rtt_ms"] / 1000 for s in got if s["flow"] == flow]
        gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
        assert min(gaps) >= 0.05 - 1e-6, stamps
    events = published(mgr, nf, cap)["pping_events"]
    counts = {s["value"]: s["count"] for s in events["series"]}
    assert counts["rate_limited"] == cap.rate_limited
    assert counts["timestamped"] == cap.stamped
    assert_passed_on(mgr, tmp_path)


def mixed_capture() -> Capture:
    cap = Capture()
    tcp_connection(cap, V4_CLIENT, V4_SERVER, 40001, TCP_EXCHANGES)
    pings(cap, V4_CLIENT, "10.3.0.9", 0x1234, list(DELAYS_MS))
    pings(cap, V6_CLIENT, "2001:db8:3::9", 0x77, list(DELAYS_MS))
    dns_queries(cap, V4_CLIENT, "10.0.0.53", 33001, list(DELAYS_MS))
    tcp_connection(cap, V6_CLIENT, V6_SERVER, 40002, [(1, 0.5), (250, 1)])
    return cap


def subnet_of(flow: str, v4_prefix: int, v6_prefix: int) -> str:
    """The subnet of the host that answered: the flow's second end."""
    import ipaddress

    host = re.fullmatch(r"\[?([^\]]+?)\]?:\d+", flow.split("+")[1]).group(1)
    prefix = v6_prefix if ":" in host else v4_prefix
    return str(ipaddress.ip_network(f"{host}/{prefix}", strict=False))


def expected_histograms(cap: Capture, bounds: list[float], v4: int = 24,
                        v6: int = 48) -> dict[str, dict]:
    """subnet -> count, sum (s) and bucket counts, as pping must hold them."""
    out: dict[str, dict] = {}
    for s in cap.samples:
        h = out.setdefault(subnet_of(s.flow, v4, v6),
                           {"count": 0, "sum": 0.0, "buckets": [0] * (len(bounds) + 1)})
        seconds = s.rtt_us / 1e6
        h["count"] += 1
        h["sum"] += seconds
        h["buckets"][bisect.bisect_left(bounds, seconds)] += 1
    return out


def metrics(mgr: Manager, nf: int) -> dict[str, dict]:
    """`onvm-ctl --json nf metrics NF`, by family name."""
    proc = subprocess.run([tool("onvm-ctl"), "--name", mgr.name, "--json", "nf", "metrics",
                           str(nf)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return {fam["name"]: fam for fam in json.loads(proc.stdout)["families"]}


def test_histograms_per_subnet_through_onvm_ctl(tmp_path, start_manager):
    cap = mixed_capture()
    mgr, nf = run_pping(start_manager, tmp_path, cap)
    assert_samples(json_samples(nf), cap)
    ident = nf_id(mgr, nf)
    families = published(mgr, nf, cap)
    rtt = families["pping_rtt_seconds"]
    assert (rtt["kind"], rtt["label"]) == ("histogram", "subnet")
    bounds = rtt["bounds"]
    assert bounds == sorted(bounds) and bounds[0] == 1e-05 and bounds[-1] == 10.0
    want = expected_histograms(cap, bounds)
    got = {s["value"]: s for s in rtt["series"]}
    assert set(got) == set(want) == {"10.2.0.0/24", "10.1.0.0/24", "10.3.0.0/24",
                                     "2001:db8:3::/48", "10.0.0.0/24", "2001:db8:2::/48",
                                     "2001:db8:1::/48"}
    for subnet, h in want.items():
        assert got[subnet]["count"] == h["count"], subnet
        assert got[subnet]["buckets"] == h["buckets"], subnet
        assert got[subnet]["sum"] == pytest.approx(h["sum"], rel=0.01), subnet
    counts = {s["value"]: s["count"] for s in families["pping_events"]["series"]}
    by_proto = {p: sum(s.proto == p for s in cap.samples) for p in ("tcp", "icmp", "dns")}
    assert {p: counts[f"rtt_{p}"] for p in by_proto} == by_proto
    assert counts["timestamped"] == cap.stamped
    assert counts["flows_full"] == counts["stamps_full"] == counts["clock_mismatch"] == 0
    text = subprocess.run([tool("onvm-ctl"), "--name", mgr.name, "nf", "metrics", str(ident)],
                          capture_output=True, text=True, timeout=30).stdout
    assert f"NF {ident} (pping, service 1)" in text
    assert re.search(r"^10\.2\.0\.0/24\s+5\s", text, re.M), text
    assert_passed_on(mgr, tmp_path)


def test_subnets_past_the_limit_share_one_series(tmp_path, start_manager):
    """--subnets 2 --subnet-prefix 16,32: two subnets of their own, the
    rest counted under "other"."""
    cap = Capture()
    for i, target in enumerate(("10.2.7.1", "10.3.7.1", "10.4.7.1", "2001:db8:9::1")):
        client = V6_CLIENT if ":" in target else V4_CLIENT
        pings(cap, client, target, 0x100 + i, [1.0, 2.0])
    mgr, nf = run_pping(start_manager, tmp_path, cap, "--subnets", "2",
                        "--subnet-prefix", "16,32")
    assert_samples(json_samples(nf), cap)
    rtt = published(mgr, nf, cap)["pping_rtt_seconds"]
    assert {s["value"]: s["count"] for s in rtt["series"]} == {
        "10.2.0.0/16": 2, "10.3.0.0/16": 2, "other": 4}
    assert [s["subnet"] for s in json_samples(nf)][-1] == "other"
    assert_passed_on(mgr, tmp_path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_histograms_on_prometheus(tmp_path, start_manager):
    """onvm_nf_pping_rtt_seconds: a real histogram per subnet (cumulative
    buckets, _sum, _count) labelled with the NF; the events as counters."""
    port = free_port()
    cap = mixed_capture()
    mgr, nf = run_pping(start_manager, tmp_path, cap, manager_args=(
        "--rx-timestamps", "--prometheus", f"127.0.0.1:{port}"))
    ident = nf_id(mgr, nf)

    def scrape() -> dict:
        text = urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        return {fam.name: fam for fam in text_string_to_metric_families(text)}

    families = wait_until(lambda: (f := scrape()).get("onvm_nf_pping_events") and f, 10,
                          "pping's metrics on the endpoint")
    hist = families["onvm_nf_pping_rtt_seconds"]
    assert hist.type == "histogram"
    bounds = sorted({float(s.labels["le"]) for s in hist.samples
                     if s.name.endswith("_bucket")} - {float("inf")})
    want = expected_histograms(cap, bounds)
    for subnet, h in want.items():
        mine = [s for s in hist.samples if s.labels.get("subnet") == subnet]
        assert all(s.labels["nf_id"] == str(ident) and s.labels["nf_name"] == "pping"
                   for s in mine)
        values = {s.name: s.value for s in mine if "le" not in s.labels}
        assert values["onvm_nf_pping_rtt_seconds_count"] == h["count"], subnet
        assert values["onvm_nf_pping_rtt_seconds_sum"] == pytest.approx(h["sum"], rel=0.01)
        buckets = {float(s.labels["le"]): s.value for s in mine if "le" in s.labels}
        cumulative = 0
        for bound, count in zip([*bounds, float("inf")], h["buckets"], strict=True):
            cumulative += count
            assert buckets[bound] == cumulative, (subnet, bound)
    events = {s.labels["event"]: s.value for s in families["onvm_nf_pping_events"].samples
              if s.name.endswith("_total")}
    assert events["rtt_dns"] == 4 and events["rtt_icmp"] == 8
    assert_passed_on(mgr, tmp_path)


def test_without_port_timestamps_the_manager_rx_time(tmp_path, start_manager):
    """No --rx-timestamps: the manager's RX times (the replay's own pace,
    not the capture's), as human lines; the same samples."""
    cap = mixed_capture()
    mgr = pcap_manager(start_manager, tmp_path, cap)
    nf = mgr.start_nf("pping", 1)
    line = re.compile(r"^\d\d:\d\d:\d\d\.\d{6} (\d+\.\d{3}) ms (\d+\.\d{3}) ms (tcp|icmp|dns) "
                      r"(\S+\+\S+)$", re.M)
    got = wait_until(lambda: len(found := line.findall(nf.output())) >= len(cap.samples)
                     and found, 20, "pping's lines")
    assert [(proto, flow) for _, _, proto, flow in got] == [
        (s.proto, s.flow) for s in cap.samples]
    assert "by the manager's RX time" in nf.output()
    assert_passed_on(mgr, tmp_path)


def test_the_manager_says_which_ports_stamp(tmp_path, start_manager):
    """--rx-timestamps: net_pcap's times are its file's; a port without
    timestamps says so and goes without."""
    write_pcap(tmp_path / "empty.pcap", [])
    mgr = start_manager("--rx-timestamps", "--port", f"net_pcap0,rx_pcap={tmp_path}/empty.pcap",
                        "--port", "net_null0,no-rx=1")
    out = wait_until(lambda: "default chain" in (text := mgr.output()) and text, 10,
                     "the manager to describe its ports")  # logged once ready
    assert re.search(r"port 0: .*\(net_pcap, .*; RX timestamps: capture times of its pcap "
                     r"file \(us\)$", out, re.M), out
    assert re.search(r"port 1: .*; RX timestamps: none \(its driver has no RX timestamps\)$",
                     out, re.M), out
    assert mgr.stop() == 0


def test_metrics_go_with_their_nf(tmp_path, start_manager):
    """Once pping has left, its slot shows nothing of it: not while free,
    not once another NF holds it."""
    cap = Capture()
    pings(cap, V4_CLIENT, V4_SERVER, 0x1234, list(DELAYS_MS))
    mgr, nf = run_pping(start_manager, tmp_path, cap)
    ident = nf_id(mgr, nf)
    nf.signal(2)
    assert nf.wait(10) == 0
    wait_until(lambda: str(ident) not in mgr.stats()["nfs"], 10, "the NF gone")
    ctl = [tool("onvm-ctl"), "--name", mgr.name, "nf", "metrics", str(ident)]
    proc = subprocess.run(ctl, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and f"no NF {ident}" in proc.stderr
    forward = mgr.start_nf("simple_forward", 2)
    assert nf_id(mgr, forward) == ident  # the slot again
    proc = subprocess.run(ctl, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and f"NF {ident} publishes no metrics" in proc.stderr
    assert mgr.stop() == 0


BAD_OPTIONS = [
    (("--flows", "0"), "pping: --flows takes a number from 16 to 262144"),
    (("--flows", "9" * 5000), "pping: --flows takes a number from 16 to 262144"),
    (("--flows", "x"), "pping: --flows takes a number from 16 to 262144"),
    (("--subnets", "0"), "pping: --subnets takes a number from 1 to 4096"),
    (("--subnets", "4097"), "pping: --subnets takes a number from 1 to 4096"),
    (("--sample-limit", "-1"), "pping: --sample-limit takes milliseconds from 0 to 60000"),
    (("--sample-limit", "nan"), "pping: --sample-limit takes milliseconds from 0 to 60000"),
    (("--sample-limit", "inf"), "pping: --sample-limit takes milliseconds from 0 to 60000"),
    (("--sample-limit", "1e400"), "pping: --sample-limit takes milliseconds from 0 to 60000"),
    (("--subnet-prefix", "33"), "pping: --subnet-prefix takes an IPv4 prefix length"),
    (("--subnet-prefix", "24,129"), "pping: --subnet-prefix takes an IPv4 prefix length"),
    (("--subnet-prefix", "24,"), "pping: --subnet-prefix takes an IPv4 prefix length"),
    (("--subnet-prefix", ",48"), "pping: --subnet-prefix takes an IPv4 prefix length"),
    (("--subnet-prefix", "9" * 5000), "pping: --subnet-prefix takes an IPv4 prefix length"),
    (("--flows",), "--flows needs a value"),
    (("--bogus",), "pping: unknown option '--bogus' (usage: pping"),
    (("stray",), "pping: unexpected argument 'stray'"),
]


@pytest.fixture(scope="module")
def idle_manager(tmp_path_factory):
    """One manager for the bad options (a port that receives nothing)."""
    mgr = Manager(tmp_path_factory.mktemp("pping-bad"), ["--port", "net_null0,no-rx=1"])
    try:
        yield mgr.wait_ready()
        assert mgr.stop() == 0
    finally:
        mgr.cleanup()


@pytest.mark.parametrize("args, message", BAD_OPTIONS, ids=[" ".join(a)[:30]
                                                            for a, _ in BAD_OPTIONS])
def test_a_bad_option_is_one_line_and_exit_2(idle_manager, args, message):
    out = assert_nf_refuses(idle_manager, "pping", 1, args, message)
    assert len([ln for ln in out.splitlines() if ln.strip()]) == 1, out
    assert idle_manager.alive()
