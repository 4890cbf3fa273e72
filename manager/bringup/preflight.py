# SPDX-License-Identifier: BSD-3-Clause
"""Checks made before DPDK starts, each failing with the problem and the fix."""

from __future__ import annotations

import os
from pathlib import Path

from onvm.errors import EnvironmentProblem
from onvm.manager.bringup.config import Config

SETUP_HINT = "run scripts/setup.sh as root"
MBUF_BYTES = 2560  # one mbuf with its 2 KiB data room, header and pool overhead
BASE_BYTES = 96 << 20  # EAL, NF rings of every slot, tables


def check_root() -> None:
    if os.geteuid() != 0:
        raise EnvironmentProblem(
            "onvm-manager needs root for hugepages and DPDK: run it with sudo"
        )


def _meminfo() -> dict[str, int]:
    info = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        key, _, value = line.partition(":")
        info[key] = int(value.split()[0])
    return info


def hugetlbfs_mounts() -> list[str]:
    mounts = []
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] == "hugetlbfs":
            mounts.append(fields[1])
    return mounts


def needed_hugepage_bytes(config: Config) -> int:
    return BASE_BYTES + config.num_mbufs * MBUF_BYTES


def check_hugepages(config: Config) -> None:
    if not hugetlbfs_mounts():
        raise EnvironmentProblem(
            "no hugetlbfs is mounted: mount one with "
            "`mount -t hugetlbfs nodev /dev/hugepages`, or " + SETUP_HINT
        )
    info = _meminfo()
    page_kib = info.get("Hugepagesize", 2048)
    free = info.get("HugePages_Free", 0) * page_kib * 1024
    needed = needed_hugepage_bytes(config)
    if free == 0:
        raise EnvironmentProblem(
            "no free hugepages: reserve some with "
            "`echo 512 > /proc/sys/vm/nr_hugepages`, or " + SETUP_HINT
        )
    if free < needed:
        raise EnvironmentProblem(
            f"only {free >> 20} MiB of hugepages free, about {needed >> 20} MiB needed "
            f"for {config.num_mbufs} mbufs: reserve more in /proc/sys/vm/nr_hugepages "
            "or lower num_mbufs"
        )


def check_all(config: Config) -> None:
    check_root()
    check_hugepages(config)
