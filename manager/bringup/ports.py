# SPDX-License-Identifier: BSD-3-Clause
"""Port bring-up over the pydpdk ethdev bindings: probe, configure, start."""

from __future__ import annotations

import errno
from dataclasses import dataclass

from onvm.errors import DpdkError, PortError
from onvm.manager.bringup.eal import is_pci
from onvm.pydpdk import manager as pydpdk

ffi, lib = pydpdk.ffi, pydpdk.lib


@dataclass
class Port:
    port_id: int
    name: str
    devargs: str
    driver: str
    mac: str


def _port_name(devargs: str) -> str:
    name = devargs.split(",", 1)[0]
    if is_pci(devargs) and name.count(":") == 1:
        name = "0000:" + name
    return name


def memif_client_socket(devargs: str) -> str | None:
    """The socket a net_memif client port connects to; None for other ports.

    A memif client connects when the port starts and fails with a bare -1
    (which reads as EPERM) if no server is listening yet.
    """
    name, _, rest = devargs.partition(",")
    if not name.startswith("net_memif"):
        return None
    kvargs = dict(item.partition("=")[::2] for item in rest.split(",") if item)
    role = kvargs.get("role", "client")  # memif's default role
    if "server" in role or "master" in role:
        return None
    return kvargs.get("socket", "/run/memif.sock")


def probe(devargs: str) -> int:
    """Attach the device named by `devargs` and return its port id."""
    name = _port_name(devargs)
    if not is_pci(devargs):
        rc = lib.rte_dev_probe(devargs.encode())
        if rc == -errno.EFAULT:  # DPDK's answer when no bus or driver claims the name
            raise PortError(
                f"port '{devargs}': no DPDK driver matches '{name}' (virtual ports: net_pcap, "
                "net_memif, net_null, net_ring, net_tap; a NIC: its PCI address)",
                errno.ENODEV,
                "no such driver",
            )
        if rc < 0:
            err = -rc
            raise PortError(
                f"port '{devargs}' could not be created (check the driver name and its "
                f"arguments, e.g. net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap)",
                err,
                pydpdk.strerror(err),
            )
    port_id = ffi.new("uint16_t *")
    if lib.rte_eth_dev_get_port_by_name(name.encode(), port_id) != 0:
        raise PortError(
            f"port '{devargs}' does not exist (a PCI device must be bound to vfio-pci; "
            "see dpdk-devbind.py --status)",
            errno.ENODEV,
            "no such device",
        )
    return port_id[0]


def setup(devargs: str, pool, num_tx_queues: int, rx_desc: int, tx_desc: int) -> Port:
    """Probe, configure (1 rx queue, a tx queue per worker) and start a port."""
    port_id = probe(devargs)
    what = f"port {port_id} ({devargs})"
    info = ffi.new("struct rte_eth_dev_info *")
    pydpdk.check(lib.rte_eth_dev_info_get(port_id, info), what, PortError)
    if info.max_tx_queues < num_tx_queues:
        raise PortError(
            f"{what} has {info.max_tx_queues} tx queue(s) but the manager runs "
            f"{num_tx_queues} workers: use fewer --cores",
            errno.EINVAL,
            "too few tx queues",
        )
    conf = ffi.new("struct rte_eth_conf *")
    socket = max(lib.rte_eth_dev_socket_id(port_id), 0)
    steps = [
        ("configure", lambda: lib.rte_eth_dev_configure(port_id, 1, num_tx_queues, conf)),
        ("rx queue setup",
         lambda: lib.rte_eth_rx_queue_setup(port_id, 0, rx_desc, socket, ffi.NULL, pool)),
        *[(f"tx queue {q} setup",
           lambda q=q: lib.rte_eth_tx_queue_setup(port_id, q, tx_desc, socket, ffi.NULL))
          for q in range(num_tx_queues)],
        ("start", lambda: lib.rte_eth_dev_start(port_id)),
    ]
    for step, call in steps:
        try:
            pydpdk.check(call(), what)
        except DpdkError as e:
            socket = memif_client_socket(devargs) if step == "start" else None
            if socket is not None:
                raise PortError(
                    f"{what} found no memif server on {socket} (start the peer, a port "
                    "with role=server on that socket, before the manager; or make this "
                    "port role=server)",
                    errno.ECONNREFUSED,
                    "connection refused",
                ) from None
            raise PortError(f"{what} could not be set up ({step} failed)", e.errno,
                            e.detail) from None
    lib.rte_eth_promiscuous_enable(port_id)  # not every PMD has it
    mac = ffi.new("struct rte_ether_addr *")
    lib.rte_eth_macaddr_get(port_id, mac)
    return Port(
        port_id=port_id,
        name=_port_name(devargs),
        devargs=devargs,
        driver=ffi.string(info.driver_name).decode() if info.driver_name else "?",
        mac=":".join(f"{b:02x}" for b in mac.addr_bytes),
    )


def close(port_id: int) -> None:
    """Stop and close a port; a pcap port writes out its file here."""
    lib.rte_eth_dev_stop(port_id)
    lib.rte_eth_dev_close(port_id)


def hw_stats(port_id: int) -> dict[str, int]:
    stats = ffi.new("struct rte_eth_stats *")
    if lib.rte_eth_stats_get(port_id, stats) != 0:
        return {}
    return {
        "ipackets": stats.ipackets,
        "opackets": stats.opackets,
        "ibytes": stats.ibytes,
        "obytes": stats.obytes,
        "imissed": stats.imissed,
        "ierrors": stats.ierrors,
        "oerrors": stats.oerrors,
        "rx_nombuf": stats.rx_nombuf,
    }
