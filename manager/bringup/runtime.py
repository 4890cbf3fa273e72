# SPDX-License-Identifier: BSD-3-Clause
"""Where a named manager keeps its files, and its single-instance lock.

/run/onvm/NAME/ holds `manager.lock` (flock held while the manager runs,
which is how NFs and a second manager know it is up), `ready` once NFs can
join, `stats.json` snapshots and DPDK's log. DPDK's own files use the file
prefix onvm-NAME.
"""

from __future__ import annotations

import errno
import fcntl
import glob
import os
import re
import shutil
from pathlib import Path

from onvm.contract import (
    FILE_PREFIX_FMT,
    MANAGER_LOCK_FILE,
    READY_FILE,
    RUNTIME_DIR_FMT,
    STATS_FILE,
)
from onvm.errors import EnvironmentProblem, ManagerExists

# ONVM_RUNTIME_DIR_FMT is "<root>/%s": every manager's directory is in one
# root (tests move it elsewhere).
RUN_ROOT = Path(RUNTIME_DIR_FMT.removesuffix("/%s"))
DPDK_RUN_ROOT = Path("/var/run/dpdk")
HUGEPAGE_DIRS = ("/dev/hugepages", "/mnt/huge", "/dev/hugepages1G")


def file_prefix(name: str) -> str:
    """DPDK --file-prefix of manager `name`."""
    return FILE_PREFIX_FMT % name


def runtime_dir(name: str) -> Path:
    return RUN_ROOT / name


class ManagerLock:
    """Exclusive lock that says "manager NAME is running (pid N)"."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dir = runtime_dir(name)
        self.path = self.dir / MANAGER_LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                os.close(fd)
                if e.errno != errno.EWOULDBLOCK:
                    raise EnvironmentProblem(f"cannot lock {self.path}: {e.strerror}") from None
                raise ManagerExists(
                    f"a manager named '{self.name}' is already running (pid {holder}): "
                    f"stop it first, or start this one with another --name"
                ) from None
            # A manager that was exiting may have unlinked the file we opened.
            try:
                if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        # Files a crashed manager of this name left behind.
        for stale in (READY_FILE, STATS_FILE):
            (self.dir / stale).unlink(missing_ok=True)

    def _open(self) -> int:
        try:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except PermissionError:
            raise EnvironmentProblem(
                f"cannot create {self.dir}: onvm-manager needs root (run it with sudo)"
            ) from None
        except OSError as e:
            raise EnvironmentProblem(f"cannot create {self.path}: {e.strerror}") from None

    @property
    def held(self) -> bool:
        """True between acquire() and release(): this process owns the name."""
        return self._fd is not None

    def mark_ready(self) -> None:
        write_private(self.dir / READY_FILE, f"{os.getpid()}\n")

    def release(self) -> None:
        """Remove the runtime directory and drop the lock."""
        if self._fd is None:
            return
        for entry in self.dir.iterdir():
            if entry != self.path:
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
        self.path.unlink(missing_ok=True)
        try:
            self.dir.rmdir()
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None


def write_private(path: Path, text: str) -> None:
    """Replace `path` atomically with `text`, readable by its owner only
    (0600 from the first byte: no window in which others may read it)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    try:
        os.fchmod(fd, 0o600)  # a leftover tmp file keeps its old mode otherwise
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)


def is_running(name: str) -> bool:
    """True if a manager named `name` holds its lock."""
    try:
        fd = os.open(runtime_dir(name) / MANAGER_LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def remove_dpdk_files(name: str) -> int:
    """Delete the hugepage files and DPDK runtime directory of `name`.

    DPDK leaves its hugepage files behind on exit so secondaries could still
    map them; once the manager and its NFs are gone they are only waste.
    Returns how many hugepage files were removed.
    """
    prefix = file_prefix(name)
    ours = re.compile(re.escape(prefix) + r"map_[0-9]+")
    removed = 0
    for hugedir in HUGEPAGE_DIRS:
        for path in glob.glob(os.path.join(hugedir, f"{prefix}map_*")):
            if not ours.fullmatch(os.path.basename(path)):
                continue  # another manager, whose name extends ours
            try:
                os.unlink(path)
                removed += 1
            except OSError:
                pass
    shutil.rmtree(DPDK_RUN_ROOT / prefix, ignore_errors=True)
    return removed
