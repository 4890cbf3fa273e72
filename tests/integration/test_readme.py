# SPDX-License-Identifier: BSD-3-Clause
"""The README's first steps, followed as printed: its manager example
replays the pcap it makes through the chain into out.pcap, and its C and
Python NF examples join that chain and do what they say."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

import pytest
from scapy.layers.inet import IP
from scapy.layers.l2 import ARP, Ether

from onvm.manager.bringup.runtime import remove_dpdk_files, runtime_dir
from tests.support.harness import VENV_BIN, Proc, wait_until
from tests.support.pcaps import read_pcap

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def code_block(after: str, lang: str) -> str:
    """The first ```lang block after the text `after`."""
    m = re.compile(rf"```{lang}\n(.*?)```", re.S).search(README, README.index(after))
    return m.group(1)


def commands(block: str) -> list[str]:
    """Shell lines of a block, continuations joined, comments dropped."""
    text = block.replace("\\\n", " ")
    return [ln.split("  #")[0].strip() for ln in text.splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")]


class Example:
    """The README's manager example run in `workdir`, under a unique name."""

    def __init__(self, workdir: Path, replace: dict[str, str] | None = None) -> None:
        self.workdir, self.name = workdir, f"readme-{uuid.uuid4().hex[:8]}"
        self.env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}
        self.procs: list[Proc] = []
        lines = commands(code_block("## Running a manager", "sh"))
        for old, new in (replace or {}).items():  # an NF of the user's in place of one
            lines = [new if ln.startswith(old) else ln for ln in lines]
        self.lines = [ln.replace("--name lab", f"--name {self.name}") for ln in lines]

    def run(self) -> None:
        for n, line in enumerate(self.lines):
            if not line.endswith("&"):
                subprocess.run(line, shell=True, check=True, cwd=self.workdir, env=self.env,
                               timeout=120, stdout=subprocess.DEVNULL)
                continue
            argv = shlex.split(line[:-1])
            proc = Proc(argv, self.workdir / f"step{n}.log", cwd=self.workdir, env=self.env)
            self.procs.append(proc)
            if argv[0] == "onvm-manager":
                wait_until(lambda p=proc: f"'{self.name}' ready" in p.output(), 30,
                           "the manager to be ready")

    def stop(self) -> None:
        manager = self.procs[0]
        manager.signal(signal.SIGINT)
        assert manager.wait(30) == 0, manager.output()
        for nf in self.procs[1:]:
            assert nf.wait(10) == 0, nf.output()

    def cleanup(self) -> None:
        for proc in reversed(self.procs):
            proc.kill()
        remove_dpdk_files(self.name)
        shutil.rmtree(runtime_dir(self.name), ignore_errors=True)


@pytest.fixture
def example(tmp_path):
    made: list[Example] = []

    def make(**kw) -> Example:
        made.append(Example(tmp_path, **kw))
        return made[-1]

    yield make
    for ex in made:
        ex.cleanup()


def wait_for_output(ex: Example, count: int) -> None:
    stats = Path(f"/run/onvm/{ex.name}/stats.json")
    wait_until(lambda: stats.exists() and f'"tx": {count}' in stats.read_text(), 30,
               f"{count} frames out of port 0")


def test_the_manager_example_replays_its_pcap_through_the_chain(tmp_path, example):
    ex = example()
    ex.run()
    sent = read_pcap(tmp_path / "in.pcap")
    assert len(sent) == 10_000
    wait_for_output(ex, len(sent))
    ex.stop()
    assert read_pcap(tmp_path / "out.pcap") == sent


def test_the_c_and_python_nf_examples_join_that_chain(tmp_path, example):
    (tmp_path / "no_arp.c").write_text(code_block("## Writing a C NF", "c"))
    (tmp_path / "ttl_guard.py").write_text(code_block("## Writing a Python NF", "python"))
    cc = commands(code_block("Build it against the headers", "sh"))[0]
    cc = cc.replace("native/include", str(ROOT / "native" / "include"))
    cc = re.sub(r"\bbuild/", f"{ROOT}/build/", cc)
    subprocess.run(cc, shell=True, check=True, cwd=tmp_path, timeout=120)
    ex = example(replace={
        "onvm-nf simple_forward": "onvm-nf ttl_guard.py --service 1 --name lab &",
        "onvm-nf basic_monitor": "./no_arp --service 2 --name lab &",
    })
    ex.run()
    sent = read_pcap(tmp_path / "in.pcap")
    expected = []
    for raw in sent:
        frame = Ether(raw)
        if ARP in frame:
            continue  # no_arp drops ARP
        if IP in frame:
            if frame[IP].ttl <= 1:
                continue  # ttl_guard drops what would expire
            frame[IP].ttl -= 1  # and decrements the rest, fixing the checksum
            del frame[IP].chksum
            raw = bytes(frame)
        expected.append(raw)
    wait_for_output(ex, len(expected))
    ex.stop()
    assert read_pcap(tmp_path / "out.pcap") == expected
    assert f"no_arp: dropped {len(sent) - len(expected)} ARP frames" in ex.procs[2].output()
