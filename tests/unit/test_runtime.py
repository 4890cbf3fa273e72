# SPDX-License-Identifier: BSD-3-Clause
"""onvm.manager.bringup.runtime: the single-instance lock and DPDK file cleanup, in tmp dirs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from onvm.errors import EnvironmentProblem, ManagerExists, OnvmError
from onvm.manager.bringup import runtime
from onvm.manager.bringup.runtime import ManagerLock, file_prefix, is_running, remove_dpdk_files

# A second process that tries to take the lock of manager argv[2] under RUN_ROOT argv[1].
SECOND_MANAGER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from onvm.errors import ManagerExists
    from onvm.manager.bringup import runtime

    runtime.RUN_ROOT = Path(sys.argv[1])
    lock = runtime.ManagerLock(sys.argv[2])
    try:
        lock.acquire()
    except ManagerExists as e:
        print(e)
        sys.exit(4)
    lock.release()
    print("acquired")
    """
)


@pytest.fixture
def run_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "run-onvm"
    monkeypatch.setattr(runtime, "RUN_ROOT", root)
    return root


def second_manager(run_root: Path, name: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SECOND_MANAGER, str(run_root), name],
        capture_output=True,
        text=True,
        timeout=60,
    )


# ---- ManagerLock ----


def test_file_prefix_and_runtime_dir(run_root):
    assert file_prefix("t1") == "onvm-t1"
    assert runtime.runtime_dir("t1") == run_root / "t1"


def test_acquire_creates_private_dir_and_lock_with_pid(run_root):
    lock = ManagerLock("m1")
    lock.acquire()
    try:
        assert lock.path == run_root / "m1" / "manager.lock"
        assert lock.path.read_text() == f"{os.getpid()}\n"
        assert (run_root / "m1").stat().st_mode & 0o777 == 0o700
        assert lock.path.stat().st_mode & 0o777 == 0o600
    finally:
        lock.release()


def test_release_removes_the_runtime_dir(run_root):
    lock = ManagerLock("m1")
    lock.acquire()
    lock.mark_ready()
    (lock.dir / "sub").mkdir()
    (lock.dir / "sub" / "f").write_text("x")
    lock.release()
    assert not (run_root / "m1").exists()


def test_release_twice_is_harmless(run_root):
    lock = ManagerLock("m1")
    lock.acquire()
    lock.release()
    lock.release()
    ManagerLock("m1").release()  # never acquired


def test_mark_ready_writes_pid(run_root):
    lock = ManagerLock("m1")
    lock.acquire()
    try:
        lock.mark_ready()
        assert (run_root / "m1" / "ready").read_text() == f"{os.getpid()}\n"
    finally:
        lock.release()


def test_acquire_removes_files_a_crashed_manager_left(run_root):
    stale = run_root / "m1"
    stale.mkdir(parents=True)
    (stale / "manager.lock").write_text("999999\n")
    (stale / "ready").write_text("999999\n")
    (stale / "stats.json").write_text("{}")
    lock = ManagerLock("m1")
    lock.acquire()
    try:
        assert not (stale / "ready").exists()
        assert not (stale / "stats.json").exists()
        assert lock.path.read_text() == f"{os.getpid()}\n"
    finally:
        lock.release()


def test_second_manager_with_same_name_gets_manager_exists_with_pid(run_root):
    lock = ManagerLock("dup")
    lock.acquire()
    try:
        proc = second_manager(run_root, "dup")
        assert proc.returncode == 4, proc.stderr
        message = proc.stdout.strip()
        assert f"pid {os.getpid()}" in message
        assert "'dup'" in message
        assert "Traceback" not in proc.stderr
        # The loser must not have disturbed the holder's lock file.
        assert lock.path.read_text() == f"{os.getpid()}\n"
    finally:
        lock.release()


def test_second_manager_with_same_name_in_process_raises(run_root):
    lock = ManagerLock("dup")
    lock.acquire()
    try:
        with pytest.raises(ManagerExists, match=f"pid {os.getpid()}") as err:
            ManagerLock("dup").acquire()
        assert isinstance(err.value, OnvmError)
        assert err.value.exit_code != 0
    finally:
        lock.release()


def test_manager_with_another_name_is_independent(run_root):
    lock = ManagerLock("one")
    lock.acquire()
    try:
        proc = second_manager(run_root, "two")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.strip() == "acquired"
    finally:
        lock.release()


def test_lock_is_free_again_after_release(run_root):
    lock = ManagerLock("m1")
    lock.acquire()
    lock.release()
    proc = second_manager(run_root, "m1")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_lock_is_free_again_when_the_holder_dies(run_root):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from onvm.manager.bringup import runtime\n"
            "runtime.RUN_ROOT = Path(sys.argv[1]); runtime.ManagerLock('m1').acquire()\n"
            "print('held', flush=True); time.sleep(60)",
            str(run_root),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert is_running("m1")
    finally:
        holder.kill()
        holder.wait(timeout=30)
        holder.stdout.close()
    assert not is_running("m1")
    lock = ManagerLock("m1")
    lock.acquire()  # a crashed manager's lock file does not block a new one
    lock.release()


def test_acquire_without_permission_is_an_environment_problem(run_root, monkeypatch):
    """Not root: one clear line that says so (root ignores modes, so fake the denial)."""

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", denied)
    with pytest.raises(EnvironmentProblem, match="needs root") as err:
        ManagerLock("m1").acquire()
    assert str(run_root / "m1") in str(err.value)


# ---- is_running ----


def test_is_running_false_without_runtime_dir(run_root):
    assert not is_running("nobody")


def test_is_running_tracks_the_lock(run_root):
    lock = ManagerLock("m1")
    assert not is_running("m1")
    lock.acquire()
    try:
        assert is_running("m1")
        assert not is_running("m2")
    finally:
        lock.release()
    assert not is_running("m1")


def test_is_running_false_for_a_stale_lock_file(run_root):
    (run_root / "m1").mkdir(parents=True)
    (run_root / "m1" / "manager.lock").write_text("12345\n")
    assert not is_running("m1")


def test_is_running_true_from_another_process(run_root):
    lock = ManagerLock("m1")
    lock.acquire()
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from pathlib import Path; from onvm.manager.bringup import runtime\n"
                "runtime.RUN_ROOT = Path(sys.argv[1]); print(runtime.is_running('m1'))",
                str(run_root),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.stdout.strip() == "True", proc.stderr
    finally:
        lock.release()


# ---- remove_dpdk_files ----


@pytest.fixture
def dpdk_dirs(tmp_path, monkeypatch) -> tuple[Path, Path, Path]:
    huge_a, huge_b = tmp_path / "hugepages", tmp_path / "huge1G"
    run = tmp_path / "var-run-dpdk"
    for d in (huge_a, huge_b, run):
        d.mkdir()
    monkeypatch.setattr(runtime, "HUGEPAGE_DIRS", (str(huge_a), str(huge_b), str(tmp_path / "x")))
    monkeypatch.setattr(runtime, "DPDK_RUN_ROOT", run)
    return huge_a, huge_b, run


def _touch(*paths: Path) -> None:
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")


def test_remove_dpdk_files_removes_only_its_own_prefix(dpdk_dirs):
    huge_a, huge_b, run = dpdk_dirs
    mine = [huge_a / "onvm-t1map_0", huge_a / "onvm-t1map_17", huge_b / "onvm-t1map_0"]
    others = [
        huge_a / "onvm-t10map_0",  # manager t10
        huge_a / "onvm-t2map_0",
        huge_a / "rtemap_0",  # a plain DPDK app
        huge_a / "onvm-t1",
        huge_b / "xonvm-t1map_0",
        huge_b / "onvm-onvmmap_0",
    ]
    _touch(*mine, *others, run / "onvm-t1" / "config", run / "onvm-t10" / "config")
    assert remove_dpdk_files("t1") == len(mine)
    assert not any(p.exists() for p in mine)
    assert all(p.exists() for p in others)
    assert not (run / "onvm-t1").exists()
    assert (run / "onvm-t10" / "config").exists()


def test_remove_dpdk_files_with_nothing_to_remove(dpdk_dirs):
    assert remove_dpdk_files("t1") == 0


def test_remove_dpdk_files_spares_a_manager_whose_name_extends_the_prefix(dpdk_dirs):
    huge_a, _, _ = dpdk_dirs
    other = huge_a / "onvm-amap_xmap_0"  # manager "amap_x", a valid name
    _touch(huge_a / "onvm-amap_0", other)
    assert remove_dpdk_files("a") == 1
    assert other.exists()
