# SPDX-License-Identifier: BSD-3-Clause
"""onvm-manager and onvm-nf error paths that need no running manager.

Each runs the installed command as a subprocess and checks what a user sees:
a non-zero exit, one line that names the problem, no Python traceback, and
nothing left behind (hugepage files, DPDK or onvm runtime dirs, processes).
Every manager here fails in configuration, before DPDK starts.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from onvm.errors import ConfigError
from onvm.manager.bringup import runtime

BIN = Path(sys.executable).parent
MANAGER = str(BIN / "onvm-manager")
NF = str(BIN / "onvm-nf")
TIMEOUT = 30
BUNDLED = (
    "simple_forward", "basic_monitor", "speed_tester", "bpf", "pping",
    "simple_forward.py", "basic_monitor.py", "firewall.py", "flow_tracker.py", "arp_response.py",
)


def _hugepage_files() -> set[str]:
    files = set()
    for d in runtime.HUGEPAGE_DIRS:
        try:
            files.update(os.path.join(d, f) for f in os.listdir(d) if f.startswith("onvm-"))
        except OSError:
            pass
    return files


def _processes_mentioning(token: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path("/proc", entry, "cmdline").read_bytes()
        except OSError:
            continue
        if token.encode() in cmdline:
            pids.append(int(entry))
    return pids


class Cli:
    """Runs onvm commands under unique manager names and checks for leftovers."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.hugepages_before = _hugepage_files()

    def name(self, stem: str = "ut") -> str:
        """A manager name no other test or process uses."""
        name = f"{stem}_{secrets.token_hex(4)}"
        self.names.append(name)
        return name

    def run(self, *args: str) -> subprocess.CompletedProcess:
        """Run a command; one that outlives TIMEOUT (a manager that came up by
        mistake) is stopped with SIGINT, then killed, and fails the test."""
        env = {k: v for k, v in os.environ.items() if k != "ONVM_DEBUG"}
        proc = subprocess.Popen(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            try:
                proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
            pytest.fail(f"{args} still running after {TIMEOUT}s: it should have failed at once")
        return subprocess.CompletedProcess(args, proc.returncode, out, err)

    def leftovers(self) -> list[str]:
        left = []
        new_files = _hugepage_files() - self.hugepages_before
        for name in self.names:
            prefix = runtime.file_prefix(name)
            left += [f for f in new_files if os.path.basename(f).startswith(prefix)]
            for d in (runtime.DPDK_RUN_ROOT / prefix, runtime.RUN_ROOT / name):
                if d.exists():
                    left.append(str(d))
            left += [f"pid {pid}" for pid in _processes_mentioning(name)]
        return left

    def cleanup(self) -> None:
        for name in self.names:
            for pid in _processes_mentioning(name):
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
            runtime.remove_dpdk_files(name)
            lock_dir = runtime.RUN_ROOT / name
            if lock_dir.is_dir():
                for f in lock_dir.iterdir():
                    f.unlink(missing_ok=True)
                lock_dir.rmdir()


@pytest.fixture
def cli():
    c = Cli()
    yield c
    c.cleanup()


def assert_one_error_line(proc: subprocess.CompletedProcess, prefix: str) -> str:
    """Exactly one stderr line, starting with `prefix`; no traceback; returns it."""
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, f"stderr: {proc.stderr!r}"
    assert lines[0].startswith(prefix), lines[0]
    return lines[0]


def manager_fails(cli: Cli, tmp_path: Path, *args: str, config: str | None = None) -> str:
    """Run `onvm-manager start ARGS` expecting a configuration error; return its line."""
    argv = [MANAGER, "start", "--name", cli.name(), *args]
    if config is not None:
        path = tmp_path / "manager.toml"
        path.write_text(config)
        argv += ["--config", str(path)]
    proc = cli.run(*argv)
    assert proc.returncode == ConfigError.exit_code, (proc.returncode, proc.stderr)
    line = assert_one_error_line(proc, "onvm-manager: error:")
    assert proc.stdout == ""
    assert cli.leftovers() == []
    return line


# ---- onvm-manager ----


def test_manager_malformed_config_file(cli, tmp_path):
    line = manager_fails(cli, tmp_path, config="[manager\nname = 'x'\n")
    assert "not valid TOML" in line
    assert str(tmp_path / "manager.toml") in line


def test_manager_unknown_config_key(cli, tmp_path):
    line = manager_fails(cli, tmp_path, config="[dataplane]\nburstsize = 32\n")
    assert "unknown setting 'dataplane.burstsize'" in line


def test_manager_wrong_type_in_config(cli, tmp_path):
    line = manager_fails(cli, tmp_path, config="[dataplane]\nburst_size = true\n")
    assert "'dataplane.burst_size' has the wrong type" in line


def test_manager_missing_config_file(cli, tmp_path):
    missing = tmp_path / "nope.toml"
    line = manager_fails(cli, tmp_path, "--config", str(missing))
    assert f"{missing} does not exist" in line


@pytest.mark.parametrize("chain, bad", [("1,x", "'x'"), ("0", "'0'"), ("out:16", "'out:16'")])
def test_manager_bad_chain(cli, tmp_path, chain, bad):
    line = manager_fails(cli, tmp_path, "--chain", chain)
    assert bad in line


def test_manager_too_long_chain(cli, tmp_path):
    line = manager_fails(cli, tmp_path, "--chain", ",".join(["1"] * 17))
    assert "at most 16" in line


def test_manager_nonexistent_core(cli, tmp_path):
    line = manager_fails(cli, tmp_path, "--cores", "0,99")
    assert "core 99 does not exist" in line
    allowed = ",".join(map(str, sorted(os.sched_getaffinity(0))))
    assert allowed in line


@pytest.mark.parametrize("cores", ["1-0", "0,1,1", "a"])
def test_manager_bad_cores_spec(cli, tmp_path, cores):
    line = manager_fails(cli, tmp_path, "--cores", cores)
    assert "cores:" in line


def test_manager_bad_name(cli, tmp_path):
    proc = cli.run(MANAGER, "start", "--name", "bad/name")
    assert proc.returncode == ConfigError.exit_code
    assert "name 'bad/name'" in assert_one_error_line(proc, "onvm-manager: error:")
    assert not (runtime.RUN_ROOT / "bad" / "name").exists()


@pytest.mark.parametrize(
    "args, what",
    [
        (("--burst-size", "0"), "--burst-size must be"),
        (("--num-mbufs", "10"), "--num-mbufs must be"),
        (("--stats-interval", "-1"), "--stats-interval must be"),
        (("--port", ""), "empty --port"),
        (("--rx-queues", "0"), '--rx-queues takes "auto"'),
        (("--rx-queues", "17"), "or a count from 1 to 16, not '17'"),
        (("--rx-queues", "some"), "not 'some'"),
        (("--rx-queues", "9" * 5000), "not '999999999999999999999999..."),
        (("--rx-queues", ""), "not ''"),
    ],
)
def test_manager_bad_flag_values(cli, tmp_path, args, what):
    assert what in manager_fails(cli, tmp_path, *args)


def test_manager_bad_value_in_config_file(cli, tmp_path):
    line = manager_fails(cli, tmp_path, config="[dataplane]\nnf_ring_size = 1000\n")
    assert "nf_ring_size must be a power of two" in line


def test_manager_bad_rx_queues_in_config_file(cli, tmp_path):
    line = manager_fails(cli, tmp_path, config="[dataplane]\nrx_queues = 'all'\n")
    assert "'dataplane.rx_queues' takes \"auto\"" in line and "not 'all'" in line


def test_manager_unparsable_flag_is_one_line_naming_it(cli, tmp_path):
    line = manager_fails(cli, tmp_path, "--burst-size", "many")
    assert "--burst-size must be a whole number from 1 to 64, not 'many'" in line


def test_manager_usage_error_is_one_line(cli):
    proc = cli.run(MANAGER, "start", "--name", cli.name(), "--no-such-flag")
    assert proc.returncode == 2
    assert "--no-such-flag" in assert_one_error_line(proc, "onvm-manager: error:")
    assert cli.leftovers() == []


def test_manager_non_ascii_digit_chain_is_one_line(cli, tmp_path):
    manager_fails(cli, tmp_path, "--chain", "²")


# ---- onvm-nf ----


def test_nf_without_manager_says_none_is_running(cli):
    name = cli.name("nosuchmgr")
    proc = cli.run(NF, "simple_forward", "--service", "1", "--name", name)
    assert proc.returncode != 0
    line = assert_one_error_line(proc, "simple_forward")
    assert f"no manager named '{name}' is running" in line
    assert f"onvm-manager start --name {name}" in line  # the fix
    assert cli.leftovers() == []


def test_nf_unknown_name(cli):
    proc = cli.run(NF, "no_such_nf", "--service", "1", "--name", cli.name())
    assert proc.returncode == 2
    line = assert_one_error_line(proc, "onvm-nf: error:")
    assert "'no_such_nf'" in line
    assert all(n in line for n in BUNDLED)
    assert cli.leftovers() == []


def test_nf_list_names_the_bundled_nfs(cli):
    proc = cli.run(NF, "--list")
    assert proc.returncode == 0, proc.stderr
    assert set(proc.stdout.split()) == set(BUNDLED)
    assert proc.stderr == ""


def test_nf_without_service(cli):
    proc = cli.run(NF, "simple_forward", "--name", cli.name())
    assert proc.returncode != 0
    assert "--service" in assert_one_error_line(proc, "simple_forward")
    assert cli.leftovers() == []


@pytest.mark.parametrize("service", ["0", "64", "x", ""])
def test_nf_bad_service(cli, service):
    proc = cli.run(NF, "simple_forward", "--service", service, "--name", cli.name())
    assert proc.returncode != 0
    line = assert_one_error_line(proc, "simple_forward")
    assert "--service" in line
    assert "1 to 63" in line
    assert cli.leftovers() == []


def test_nf_service_without_value(cli):
    proc = cli.run(NF, "simple_forward", "--name", cli.name(), "--service")
    assert proc.returncode != 0
    assert "--service needs a value" in assert_one_error_line(proc, "simple_forward")


def test_nf_bad_manager_name(cli):
    proc = cli.run(NF, "simple_forward", "--service", "1", "--name", "bad/name")
    assert proc.returncode != 0
    assert "--name" in assert_one_error_line(proc, "simple_forward")
    assert cli.leftovers() == []


def test_nf_without_arguments_prints_usage(cli):
    proc = cli.run(NF)
    assert proc.returncode == 2
    assert proc.stdout.startswith("usage: onvm-nf")
    assert "Traceback" not in proc.stdout + proc.stderr
