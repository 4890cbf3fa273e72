# SPDX-License-Identifier: BSD-3-Clause
"""EAL bring-up of the manager as the DPDK primary process.

The manager owns its EAL identity: the file prefix (from --name, which is
how NFs find it), the process type and the lcore map (from --cores). The
EAL arguments a user adds after `--` are checked against DPDK 22.11's
options first, so a typo or an option that would take that identity away
is one line naming it, not DPDK's usage text.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from typing import TYPE_CHECKING

from onvm._build_info import SANITIZE
from onvm.contract import DPDK_LOG_FILE
from onvm.errors import ConfigError, DpdkError, EnvironmentProblem
from onvm.manager.bringup.runtime import file_prefix, runtime_dir

if TYPE_CHECKING:
    from onvm.manager.bringup.config import Config

PCI_RE = re.compile(r"^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7](,.*)?$")

# DPDK 22.11's EAL options (lib/eal/common/eal_common_options.c) and
# whether each takes a value: "required", "optional" (only as --opt=value)
# or "none".
EAL_SHORT_OPTIONS = {
    "a": "required", "b": "required", "c": "required", "d": "required", "h": "none",
    "l": "required", "m": "required", "n": "required", "r": "required", "s": "required",
    "S": "required", "v": "none",
}
EAL_LONG_OPTIONS = {
    "allow": "required", "base-virtaddr": "required", "block": "required",
    "create-uio-dev": "none", "file-prefix": "required", "force-max-simd-bitwidth": "required",
    "help": "none", "huge-dir": "required", "huge-unlink": "optional",
    "huge-worker-stack": "optional", "in-memory": "none", "iova-mode": "required",
    "lcores": "required", "legacy-mem": "none", "log-level": "required",
    "main-lcore": "required", "match-allocations": "none", "mbuf-pool-ops-name": "required",
    "no-hpet": "none", "no-huge": "none", "no-pci": "none", "no-shconf": "none",
    "no-telemetry": "none", "proc-type": "required", "single-file-segments": "none",
    "socket-limit": "required", "socket-mem": "required", "syslog": "required",
    "telemetry": "none", "trace": "required", "trace-bufsz": "required",
    "trace-dir": "required", "trace-mode": "required", "vdev": "required",
    "vfio-intr": "required", "vfio-vf-token": "required", "vmware-tsc-map": "none",
}
# Options the manager sets itself, and what to use instead.
OWNED_BY_MANAGER = {
    "file-prefix": "the manager's DPDK file prefix comes from its name (NFs find it by "
                   "it): use --name",
    "proc-type": "the manager is always the DPDK primary process: leave --proc-type out",
    "lcores": "the manager maps its lcores from --cores: use --cores",
    "l": "the manager maps its lcores from --cores: use --cores",
    "c": "the manager maps its lcores from --cores: use --cores",
    "main-lcore": "the manager's main lcore is the first of --cores: use --cores",
    "in-memory": "NFs attach to the manager's shared memory files: leave --in-memory out",
    "no-shconf": "NFs attach to the manager's shared config: leave --no-shconf out",
    "h": "it prints DPDK's usage and exits; `dpdk-testpmd -h` shows the EAL options",
    "help": "it prints DPDK's usage and exits; `dpdk-testpmd -h` shows the EAL options",
}


def is_pci(devargs: str) -> bool:
    return bool(PCI_RE.match(devargs))


def _option(arg: str) -> tuple[str, str | None, str | None]:
    """(display name, option name, inline value) of one EAL argument; a
    name of None: not an option at all."""
    if arg.startswith("--"):
        name, eq, value = arg[2:].partition("=")
        return "--" + name, name, value if eq else None
    if arg.startswith("-") and len(arg) > 1:
        return arg[:2], arg[1], arg[2:] or None
    return arg, None, None


def check_user_args(args: list[str]) -> None:
    """Raise ConfigError naming the first EAL argument DPDK 22.11 would not
    take, or that the manager sets itself."""
    i = 0
    while i < len(args):
        shown, name, value = _option(args[i])
        kinds = EAL_LONG_OPTIONS if args[i].startswith("--") else EAL_SHORT_OPTIONS
        if name is None or name not in kinds:
            raise ConfigError(
                f"EAL argument '{shown}' is not a DPDK 22.11 EAL option "
                "(`dpdk-testpmd -h` lists them; onvm-manager's own flags go before --)"
            )
        if name in OWNED_BY_MANAGER:
            raise ConfigError(f"EAL option {shown} is refused: {OWNED_BY_MANAGER[name]}")
        takes = kinds[name]
        if takes == "none" and value is not None:
            raise ConfigError(f"EAL option {shown} takes no value")
        if takes == "required" and value is None:
            if i + 1 == len(args):
                raise ConfigError(f"EAL option {shown} needs a value")
            i += 1
        i += 1


SANITIZED_BASE_VIRTADDR = 0x500000000000  # 80 TiB: below ASan's allocator, above its shadow


def eal_args(config: Config) -> list[str]:
    """argv for rte_eal_init: lcore 0 is the control thread, 1.. the workers."""
    check_user_args(config.eal_args)
    lcores = [f"0@{config.control_core}"]
    lcores += [f"{i + 1}@{cpu}" for i, cpu in enumerate(config.worker_cores)]
    args = [
        "onvm-manager",
        "--proc-type=primary",
        f"--file-prefix={file_prefix(config.name)}",
        f"--lcores={','.join(lcores)}",
        "--main-lcore=0",
    ]
    pci = [p for p in config.ports if is_pci(p)]
    if pci:
        for p in pci:
            args += ["-a", p]
    else:
        args.append("--no-pci")
    if SANITIZE != "none":
        # AddressSanitizer reserves DPDK's default base (4 GiB) as its shadow
        # gap, and the kernel's own choice may be taken in an NF: a sanitized
        # build puts the hugepage memory where neither ASan nor the loader
        # maps anything, so every NF can map it at the manager's addresses.
        args.append(f"--base-virtaddr={SANITIZED_BASE_VIRTADDR:#x}")
    return args + config.eal_args


class _OutputToLog:
    """stdout and stderr into the log file while EAL starts: whatever DPDK
    prints there (its usage text, getopt's complaints) lands in the log, not
    on the terminal."""

    def __init__(self, log_path) -> None:
        self.log_path = log_path
        self._saved: list[int] = []

    def __enter__(self) -> _OutputToLog:
        sys.stdout.flush()
        sys.stderr.flush()
        log_fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            for fd in (1, 2):
                self._saved.append(os.dup(fd))
                os.dup2(log_fd, fd)
        finally:
            os.close(log_fd)
        return self

    def __exit__(self, *exc) -> None:
        # What DPDK printf()ed may still sit in libc's stdout buffer.
        ctypes.CDLL(None).fflush(None)
        for fd, saved in zip((1, 2), self._saved, strict=False):
            os.dup2(saved, fd)
            os.close(saved)


def _last_error_line(log_path) -> str | None:
    """DPDK's line that says what failed: the last EAL or getopt complaint
    before any usage text."""
    lines = [ln.strip() for ln in log_path.read_text(errors="replace").splitlines()]
    usage = next((i for i, ln in enumerate(lines) if ln.startswith("Usage:")), len(lines))
    lines = [ln for ln in lines[:usage] if ln]
    return lines[-1] if lines else None


def init(config: Config) -> str:
    """Start EAL; its log and output go to a file in the runtime directory.

    Returns the log path. Raises EnvironmentProblem with DPDK's last line.
    """
    from onvm.pydpdk import manager as pydpdk  # the DPDK libraries: only once EAL starts

    argv = eal_args(config)
    log_path = runtime_dir(config.name) / DPDK_LOG_FILE
    pydpdk.lib.pydpdk_log_to_file(str(log_path).encode())
    try:
        with _OutputToLog(log_path):
            pydpdk.eal_init(argv)
    except DpdkError as e:
        last = _last_error_line(log_path) or e.detail
        raise EnvironmentProblem(
            f"DPDK could not start ({e.detail}): {last} [full log: {log_path}]"
        ) from None
    return str(log_path)
