# SPDX-License-Identifier: BSD-3-Clause
"""The web console of a manager with traffic: port 0 replays a pcap for ever
into the chain 1,tee:3,2,out:1 (basic_monitor, a copy to "mirror" which
sends it out of port 2, simple_forward, out of port 1). /api/snapshot holds
what onvm-ctl prints, /api/stream a view twice a second, and Debian's
headless Chromium shows the NFs, their rates changing, the chain's graph
and the events, and finds the manager again after a restart; a busy port is one line."""

from __future__ import annotations

import json
import socket
import time
import urllib.request

import pytest

from tests.integration.test_control_robust import free_tcp_port
from tests.integration.test_errors import one_error_line, run_manager
from tests.support.bpf_programs import ctl
from tests.support.browser import CHROMIUM, Chromium, png_size, screenshot
from tests.support.harness import wait_until
from tests.support.pcaps import mixed_packets, write_pcap

pytestmark = pytest.mark.timeout(180)

CHAIN = "1,tee:3,2,out:1"
NF_NAMES = {"basic_monitor", "mirror", "simple_forward"}
VIEW_TABLES = {"status", "nfs_table", "ports_table", "chains", "events"}
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(),
                                    reason=f"{CHROMIUM} is missing: scripts/setup.sh installs "
                                    "Debian's chromium")

# The NF table's rows as the page shows them: {field: raw value or text}.
NF_ROWS = """[...document.querySelectorAll('#nfs tbody tr[data-id]')].map(tr =>
  Object.fromEntries([...tr.cells].map(td => [td.dataset.field,
                                              td.dataset.value ?? td.textContent])))"""
PORT_RX_PPS = """[...document.querySelectorAll('#ports tbody tr[data-id]')].map(tr =>
  Number(tr.querySelector('[data-field=rx_pps]').dataset.value))"""
UPDATES = "Number(document.getElementById('link').dataset.updates)"
LINK = "document.getElementById('link').dataset.state"


def console_manager(tmp_path, start_manager, web_port: int):
    write_pcap(tmp_path / "in.pcap", mixed_packets(2000, seed=31))
    mgr = start_manager("--web", f"127.0.0.1:{web_port}",
                        "--port", f"net_pcap0,rx_pcap={tmp_path}/in.pcap,infinite_rx=1",
                        "--port", "net_null1,no-rx=1", "--port", "net_null2,no-rx=1",
                        "--chain", CHAIN, "--wait-for-chain")
    mgr.start_nf("basic_monitor", 1)
    mgr.start_nf("simple_forward", 3, "--nf-name", "mirror", "--", "--out", "2")
    mgr.start_nf("simple_forward", 2)
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] > 10_000 and s["ports"]["2"]["tx"] > 10_000,
                   30, "traffic out of port 1 and its copies out of port 2")
    # The console's view follows the stats file by up to one tick.
    wait_until(lambda: {n["name"] for n in snapshot(web_port)["nfs_table"]} == NF_NAMES, 10,
               "the three NFs in the console's view")
    return mgr


def snapshot(web_port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/api/snapshot",
                                timeout=10) as reply:
        assert reply.headers["Content-Type"] == "application/json"
        return json.loads(reply.read())


def ctl_json(mgr, *args: str):
    done = ctl(mgr, "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_api_snapshot_holds_the_stats_and_the_tables(tmp_path, start_manager):
    port = free_tcp_port()
    mgr = console_manager(tmp_path, start_manager, port)
    view = snapshot(port)
    stats = ctl_json(mgr, "stats")
    # The same content as `onvm-ctl stats --json`, latency included, and the tables.
    assert set(view) == set(stats) | VIEW_TABLES
    assert set(view["latency"]) == set(stats["latency"])
    assert view["status"]["name"] == mgr.name and "endpoints" not in view["status"]

    nfs = {nf["name"]: nf for nf in view["nfs_table"]}
    assert set(nfs) == NF_NAMES
    assert {(n["id"], n["name"], n["service"]) for n in ctl_json(mgr, "nf", "list")} == \
        {(n["id"], n["name"], n["service"]) for n in view["nfs_table"]}
    assert all(nf["state"] == "running" and nf["rx"] > 0 for nf in nfs.values())
    assert nfs["mirror"]["service"] == 3
    ports = {p["id"]: p for p in view["ports_table"]}
    assert sorted(ports) == [0, 1, 2]
    assert ports[0]["rx"] > 0 and ports[1]["tx"] > 0 and ports[2]["tx"] > 0
    assert [(c["name"], c["hops"]) for c in view["chains"]] == [("default", CHAIN)]
    assert view["chains"] == ctl_json(mgr, "chain", "list")
    joined = {e["name"] for e in view["events"] if e["kind"] == "nf.joined"}
    assert joined == NF_NAMES

    latency = {n["name"]: n for n in view["latency"]["nfs"]}
    assert set(latency) == NF_NAMES and all(n["count"] > 0 for n in latency.values())
    chain = view["latency"]["chains"][0]
    assert chain["name"] == "default" and chain["count"] > 0
    assert [(h["kind"], h["service"]) for h in chain["hops"]] == [("nf", 1), ("tee", 3),
                                                                 ("nf", 2)]
    assert mgr.stop() == 0


def test_api_stream_sends_a_view_twice_a_second(tmp_path, start_manager):
    port = free_tcp_port()
    console_manager(tmp_path, start_manager, port)
    views = []
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/stream", timeout=10) as reply:
        assert reply.headers["Content-Type"] == "text/event-stream"
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            line = reply.readline()
            if line.startswith(b"data: "):
                views.append(json.loads(line[len(b"data: "):]))
    assert len(views) >= 2, "at least one view a second"
    rx = [v["ports"]["0"]["rx"] for v in views]
    assert rx == sorted(rx) and rx[-1] > rx[0], "the counters go on"
    assert all({n["name"] for n in v["nfs_table"]} == NF_NAMES for v in views)


@needs_chromium
def test_the_console_in_chromium(tmp_path, start_manager):
    port = free_tcp_port()
    mgr = console_manager(tmp_path, start_manager, port)
    url = f"http://127.0.0.1:{port}/"
    with Chromium(tmp_path) as browser:
        page = browser.open(url)
        first = page.wait_for(f"(rows => rows.length === 3 && rows)({NF_ROWS})", 30,
                              "the three NFs in the page's table")
        updates = page.evaluate(UPDATES)
        time.sleep(2.0)
        second = page.evaluate(NF_ROWS)
        assert page.evaluate(UPDATES) >= updates + 2, "updated at least once a second"
        assert page.evaluate(LINK) == "live"
        before = {row["name"]: row for row in first}
        after = {row["name"]: row for row in second}
        assert set(before) == set(after) == NF_NAMES
        for name in NF_NAMES:
            assert after[name]["state"] == "running"
            assert float(before[name]["rx_pps"]) > 0 and float(after[name]["rx_pps"]) > 0
            assert int(after[name]["rx"]) > int(before[name]["rx"]), f"{name}'s count moved on"
        assert any(before[n]["rx_pps"] != after[n]["rx_pps"] for n in NF_NAMES), \
            "the rates changed"
        assert page.evaluate(PORT_RX_PPS)[0] > 0

        assert page.evaluate("document.getElementById('manager-name').textContent") == mgr.name
        graph = page.evaluate("[...document.querySelectorAll('.chain[data-name=default] svg "
                              "text')].map(t => t.textContent)")
        for label in ("ports RX", "service 1", "basic_monitor", "tee: service 3", "mirror",
                      "service 2", "simple_forward", "port 1 TX"):
            assert label in graph, (label, graph)
        assert page.evaluate("document.querySelectorAll('.chain svg .junction').length") == 1
        events = page.evaluate("[...document.querySelectorAll('#events li .kind')]"
                               ".map(k => k.textContent)")
        assert events.count("nf.joined") == 3
        # Per-hop latency: every NF's p50 and the chain's, as figures.
        assert all(float(row["p50_us"]) > 0 for row in second)
        assert float(page.evaluate("document.querySelector('.chain-lat').dataset.value")) > 0

    shot = tmp_path / "console.png"
    screenshot(url, shot, tmp_path / "screenshot-profile")
    assert png_size(shot) == (1400, 900)
    assert mgr.stop() == 0


@needs_chromium
def test_the_console_finds_a_restarted_manager_again(tmp_path, start_manager):
    port = free_tcp_port()
    args = ("--web", f"127.0.0.1:{port}", "--port", "net_null0,no-rx=1")
    first = start_manager(*args)
    name = "document.getElementById('manager-name').textContent"
    with Chromium(tmp_path) as browser:
        page = browser.open(f"http://127.0.0.1:{port}/")
        page.wait_for(f"{name} === '{first.name}'", 30, "the first manager's name")
        assert first.stop() == 0
        page.wait_for(f"{LINK} !== 'live'", 15, "the page to see its manager gone")
        second = start_manager(*args)
        page.wait_for(f"{name} === '{second.name}' && {LINK} === 'live'", 30,
                      "the page to show the second manager")
        assert second.stop() == 0


def test_a_web_port_in_use_is_one_line_and_leaves_nothing_behind():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        line = one_error_line(run_manager("--port", "net_null0,no-rx=1",
                                          "--web", f"127.0.0.1:{port}"))
    assert line == f"onvm-manager: error: web: cannot listen on 127.0.0.1:{port}: " \
        "Address already in use"
