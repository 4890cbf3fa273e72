# SPDX-License-Identifier: BSD-3-Clause
"""Messages to NFs: from onvm-ctl and the Python client to a C and a Python
NF and back, to every instance of a service, from one NF to another; an NF
that reads no messages costs its senders a drop each, never a stall."""

from __future__ import annotations

import subprocess

import pytest

from onvm.errors import ControlError
from tests.support.control_helpers import client, numbered_packets
from tests.support.harness import VENV_BIN, wait_until
from tests.support.nf_helpers import chain_manager, start_nf_file

pytestmark = pytest.mark.timeout(90)

# Answers "who" with its id, "upper X" with X in capitals, and forwards
# "tell N X" to NF N, printing what it is told.
ECHO = """
from onvm.nflib import NF, NEXT, main

def run():
    nf = NF(name="echo")

    @nf.vector_handler(fields=("meta",))
    def forward(batch):
        return NEXT

    @nf.message_handler
    def on_message(msg):
        text = msg.data.decode()
        if text == "who":
            return f"echo {nf.nf_id} from {msg.sender}"
        if text.startswith("upper "):
            return text[6:].upper()
        if text.startswith("tell "):
            _, to, rest = text.split(" ", 2)
            nf.send_message(rest, nf=int(to))
            return "told"
        print(f"echo {nf.nf_id} got {text!r} from {msg.sender}", flush=True)
        return None

    nf.run()

raise SystemExit(main(run))
"""


def ctl(mgr, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "onvm-ctl"), "--name", mgr.name, *args],
                          capture_output=True, text=True, timeout=60)


def nf_ids(mgr) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for key, n in mgr.stats()["nfs"].items():
        out.setdefault(n.get("name", "?"), []).append(int(n.get("id", key)))
    return out


def test_onvm_ctl_round_trips_to_a_c_and_a_python_nf(tmp_path, start_manager):
    mgr = chain_manager(start_manager, tmp_path, numbered_packets(2000), "1,2,out:1")
    mgr.start_nf("basic_monitor", 1)
    path = tmp_path / "echo.py"
    path.write_text(ECHO)
    start_nf_file(mgr, path, 2)
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == 2000, 30, "traffic through both")
    ids = nf_ids(mgr)
    monitor, echo = ids["basic_monitor"][0], ids["echo"][0]
    result = ctl(mgr, "nf", "msg", str(monitor), "stats", "--wait")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "packets 2000 bytes " + str(
        sum(len(p) for p in numbered_packets(2000)))
    result = ctl(mgr, "nf", "msg", str(echo), "upper hello", "--wait")
    assert (result.returncode, result.stdout.strip()) == (0, "HELLO"), result.stderr
    result = ctl(mgr, "nf", "msg", str(echo), "75 70 70 65 72 20 68 65 78", "--hex", "--wait")
    assert result.stdout.strip() == "HEX", result.stderr
    result = ctl(mgr, "nf", "msg", str(monitor), "nonsense", "--wait")
    assert result.stdout.strip() == "basic_monitor answers 'stats' only"
    # Without --wait: sent, not answered here.
    result = ctl(mgr, "nf", "msg", str(echo), "hello there")
    assert result.returncode == 0 and "sent to 1 NF" in result.stdout
    wait_until(lambda: "got 'hello there' from 0" in mgr.nfs[1].output(), 10, "the message")
    assert mgr.stop() == 0


def test_a_service_message_reaches_every_instance_and_nfs_message_each_other(
        tmp_path, start_manager):
    mgr = chain_manager(start_manager, tmp_path, numbered_packets(100), "3,out:1")
    path = tmp_path / "echo.py"
    path.write_text(ECHO)
    for _ in range(3):
        start_nf_file(mgr, path, 3)
    c = client(mgr, timeout=20)
    echoes = sorted(nf_ids(mgr)["echo"])
    reply = c.message("who", service=3, wait=True)
    assert reply["sent"] == 3
    assert sorted(r["data"].decode() for r in reply["replies"]) == [
        f"echo {i} from 0" for i in echoes]
    # NF to NF: the first tells the last.
    reply = c.message(f"tell {echoes[-1]} psst", nf=echoes[0], wait=True)
    assert reply["replies"][0]["data"] == b"told"
    wait_until(lambda: any(f"got 'psst' from {echoes[0]}" in nf.output() for nf in mgr.nfs),
               10, "the NF-to-NF message")
    # who and tell in; two replies and psst out.
    mgr.wait_stats(lambda s: (s["nfs"][str(echoes[0])]["msg_in"],
                              s["nfs"][str(echoes[0])]["msg_out"]) == (2, 3), 10,
                   "the sender's message counters")
    assert mgr.stop() == 0


def test_bad_messages_are_refused_in_one_line(tmp_path, start_manager):
    mgr = chain_manager(start_manager, tmp_path, numbered_packets(10), "1,out:1")
    mgr.start_nf("simple_forward", 1)
    ident = nf_ids(mgr)["simple_forward"][0]
    for args, words in (
            (("nf", "msg", "63", "x"), "no running NF"),
            (("nf", "msg", str(ident), "x" * 1025), "at most 1024 bytes"),
            (("nf", "msg", str(ident), "zz", "--hex"), "not hex"),
            (("nf", "msg", "0", "x"), "NF_ID"),
            (("nf", "msg", "99999999999999999999", "x"), "NF_ID"),
            (("nf", "msg", str(ident), "x", "--wait", "--wait-seconds", "nan"), "seconds"),
            (("nf", "msg", str(ident), "x", "--wait", "--wait-seconds", "0.3"), "no reply")):
        result = ctl(mgr, *args)
        assert result.returncode != 0, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], (args, result.stderr)
    with pytest.raises(ControlError):
        client(mgr).message("x", nf=ident, service=1)
    # simple_forward has no handler: the messages were taken and dropped.
    mgr.wait_stats(lambda s: mgr.nf_stats(s, mgr.nfs[0])["msg_in"] == 1, 10,
                   "the messages taken")
    assert mgr.stop() == 0
