# SPDX-License-Identifier: BSD-3-Clause
"""Port bring-up over the pydpdk ethdev bindings: probe, configure, start."""

from __future__ import annotations

import errno
import time
from dataclasses import dataclass

from onvm.contract import MAX_PORT_RX_QUEUES
from onvm.errors import DpdkError, PortError
from onvm.manager.bringup.config import RX_QUEUES_AUTO
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
    rx_queues: int = 1
    rss: bool = False  # RX spread by the port's RSS
    rss_flow_hash: bool = False  # ...with a symmetric key: its hash is the flow hash
    # ns per unit of its RX timestamps, 32.32 fixed point (0: none used),
    # and where they come from, for the log.
    rx_ts_ns_mul: int = 0
    rx_timestamps: str = ""


@dataclass(frozen=True)
class RxPlan:
    """How a port receives: its RX queue count, and whether RSS spreads them."""

    queues: int
    rss: bool


def plan_rx(what: str, *, workers: int, setting: str | int, has_rss: bool,
            max_rx_queues: int, driver_rx_queues: int) -> RxPlan:
    """The RX queues of a port, from what its driver offers.

    A port with RSS gets one queue per worker ("auto") or `setting` of them;
    RSS keeps each flow on one queue. A port without RSS whose driver made
    its queues from its arguments (net_pcap: one per rx_pcap file, net_ring:
    one per ring) gets all of them, each fed by its own file or ring; any
    other port one queue, as before.
    """
    if has_rss and max_rx_queues >= 1:
        limit = min(max_rx_queues, MAX_PORT_RX_QUEUES)
        if setting == RX_QUEUES_AUTO:
            return RxPlan(min(workers, limit), True)
        if setting > limit:
            raise PortError(
                f"{what} has at most {limit} RX queue(s) but rx_queues is {setting}: set "
                f"[dataplane] rx_queues to {limit} or less, or to \"auto\"",
                errno.EINVAL, "too many rx queues")
        return RxPlan(setting, True)
    if driver_rx_queues > MAX_PORT_RX_QUEUES:
        raise PortError(
            f"{what} has {driver_rx_queues} RX queues (files or rings); the manager polls "
            f"at most {MAX_PORT_RX_QUEUES} of one port: give it fewer",
            errno.EINVAL, "too many rx queues")
    return RxPlan(max(driver_rx_queues, 1), False)


def symmetric_rss_key(size: int) -> bytes:
    """A Toeplitz key of `size` bytes that hashes both directions of a flow
    alike: its bits repeat every 16, so swapping the addresses (32 or 128
    bits apart) or the ports (16 bits apart) leaves the hash as it was."""
    return bytes((0x6D, 0x5A) * (size // 2 + 1))[:size]


# Drivers read the key when a port starts, some again when it restarts:
# one buffer of each size, kept as long as the process.
_rss_keys: dict[int, object] = {}


def _rss_key_buffer(size: int):
    if size not in _rss_keys:
        _rss_keys[size] = ffi.new("uint8_t[]", symmetric_rss_key(size))
    return _rss_keys[size]


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


# DPDK 22.11's net_pcap stamps every packet it reads with the capture time
# of its file in microseconds (pcap_open_offline's precision), whatever the
# port's offloads, and offers no RX timestamp offload to ask for it.
PCAP_DRIVER = "net_pcap"
PCAP_NS_MUL = 1000 << 32
CLOCK_RATE_SECONDS = 0.1  # how long a NIC's clock is watched to learn its rate


def _conf(info, rx_timestamps: bool):
    """A port configuration: RX timestamps where asked and offered."""
    conf = ffi.new("struct rte_eth_conf *")
    if rx_timestamps:
        lib.pydpdk_eth_conf_rx_timestamp(conf, info)
    return conf


def _configure(port_id: int, what: str, info, num_tx_queues: int,
               setting: str | int, rx_timestamps: bool = False) -> RxPlan:
    """rte_eth_dev_configure with the RX queues and RSS of plan_rx."""
    conf = _conf(info, rx_timestamps)
    key_size = info.hash_key_size
    key = _rss_key_buffer(key_size) if key_size else ffi.NULL
    has_rss = lib.pydpdk_eth_conf_rss(conf, info, key, key_size) != 0
    plan = plan_rx(what, workers=num_tx_queues, setting=setting, has_rss=has_rss,
                   max_rx_queues=info.max_rx_queues, driver_rx_queues=info.nb_rx_queues)
    rc = lib.rte_eth_dev_configure(port_id, plan.queues, num_tx_queues, conf)
    if rc < 0 and plan.rss and plan.queues == 1:
        # One queue asked RSS only for the port's hash: do without.
        plan = RxPlan(1, False)
        rc = lib.rte_eth_dev_configure(port_id, 1, num_tx_queues,
                                       _conf(info, rx_timestamps))
    if rc < 0:
        hint = (f" with RSS over {plan.queues} RX queues: try [dataplane] rx_queues = 1"
                if plan.rss else "")
        raise PortError(f"{what} could not be set up (configure failed{hint})", -rc,
                        pydpdk.strerror(-rc))
    return plan


def _clock_ns_mul(port_id: int) -> int:
    """ns per tick of a started port's clock (32.32 fixed point), watched
    for CLOCK_RATE_SECONDS; 0 if its driver cannot read it."""
    clock = ffi.new("uint64_t *")
    if lib.rte_eth_read_clock(port_id, clock) != 0:
        return 0
    first, start = clock[0], time.monotonic_ns()
    time.sleep(CLOCK_RATE_SECONDS)
    if lib.rte_eth_read_clock(port_id, clock) != 0 or clock[0] <= first:
        return 0
    return ((time.monotonic_ns() - start) << 32) // (clock[0] - first)


def _rx_timestamps(port_id: int, driver: str, info) -> tuple[int, str]:
    """The rate of a started port's RX timestamps, and their source in words."""
    if driver == PCAP_DRIVER:
        return PCAP_NS_MUL, "capture times of its pcap file (us)"
    if not lib.pydpdk_eth_conf_rx_timestamp(ffi.new("struct rte_eth_conf *"), info):
        return 0, "none (its driver has no RX timestamps)"
    mul = _clock_ns_mul(port_id)
    if mul == 0:
        return 0, "none (its driver cannot read its clock, to learn its rate)"
    return mul, f"its clock, {1e3 * (1 << 32) / mul:.3f} MHz"


def setup(devargs: str, pool, num_tx_queues: int, rx_desc: int, tx_desc: int,
          rx_queues: str | int = RX_QUEUES_AUTO, rx_timestamps: bool = False) -> Port:
    """Probe, configure (RX queues as plan_rx says, a tx queue per worker,
    RX timestamps if asked and offered) and start a port."""
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
    plan = _configure(port_id, what, info, num_tx_queues, rx_queues, rx_timestamps)
    socket = max(lib.rte_eth_dev_socket_id(port_id), 0)
    steps = [
        *[(f"rx queue {q} setup",
           lambda q=q: lib.rte_eth_rx_queue_setup(port_id, q, rx_desc, socket, ffi.NULL, pool))
          for q in range(plan.queues)],
        *[(f"tx queue {q} setup",
           lambda q=q: lib.rte_eth_tx_queue_setup(port_id, q, tx_desc, socket, ffi.NULL))
          for q in range(num_tx_queues)],
        ("start", lambda: lib.rte_eth_dev_start(port_id)),
    ]
    for step, call in steps:
        try:
            pydpdk.check(call(), what)
        except DpdkError as e:
            server = memif_client_socket(devargs) if step == "start" else None
            if server is not None:
                raise PortError(
                    f"{what} found no memif server on {server} (start the peer, a port "
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
    driver = ffi.string(info.driver_name).decode() if info.driver_name else "?"
    ts_mul, ts_source = _rx_timestamps(port_id, driver, info) if rx_timestamps else (0, "")
    return Port(
        port_id=port_id,
        name=_port_name(devargs),
        devargs=devargs,
        driver=driver,
        mac=":".join(f"{b:02x}" for b in mac.addr_bytes),
        rx_queues=plan.queues,
        rss=plan.rss,
        rss_flow_hash=plan.rss and info.hash_key_size > 0,
        rx_ts_ns_mul=ts_mul,
        rx_timestamps=ts_source,
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


def link_state(port_id: int) -> tuple[bool | None, int]:
    """(up, speed in Mb/s) of a port's link, without waiting; (None, 0) if
    the driver cannot say."""
    speed = ffi.new("uint32_t *")
    rc = lib.pydpdk_link_state(port_id, speed)
    if rc < 0:
        return None, 0
    return rc == 1, int(speed[0])
