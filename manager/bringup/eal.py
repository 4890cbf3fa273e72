# SPDX-License-Identifier: BSD-3-Clause
"""EAL bring-up of the manager as the DPDK primary process."""

from __future__ import annotations

import re

from onvm.contract import DPDK_LOG_FILE
from onvm.errors import DpdkError, EnvironmentProblem
from onvm.manager.bringup.config import Config
from onvm.manager.bringup.runtime import file_prefix, runtime_dir
from onvm.pydpdk import manager as pydpdk

PCI_RE = re.compile(r"^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7](,.*)?$")


def is_pci(devargs: str) -> bool:
    return bool(PCI_RE.match(devargs))


def eal_args(config: Config) -> list[str]:
    """argv for rte_eal_init: lcore 0 is the control thread, 1.. the workers."""
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
    return args + config.eal_args


def init(config: Config) -> str:
    """Start EAL; its log goes to a file in the runtime directory.

    Returns the log path. Raises EnvironmentProblem with DPDK's last line.
    """
    log_path = runtime_dir(config.name) / DPDK_LOG_FILE
    pydpdk.lib.pydpdk_log_to_file(str(log_path).encode())
    try:
        pydpdk.eal_init(eal_args(config))
    except DpdkError as e:
        lines = [ln for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
        last = lines[-1].strip() if lines else e.detail
        raise EnvironmentProblem(
            f"DPDK could not start ({e.detail}): {last} [full log: {log_path}]"
        ) from None
    return str(log_path)
