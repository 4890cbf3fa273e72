# SPDX-License-Identifier: BSD-3-Clause
"""The manager's handle on the native data plane and its shared tables.

DataPlane creates the shared region, launches and halts the workers, and
answers for the NF table, chains, services and counters in plain Python
values. The rooms with native calls of their own (flow rules, capture) are
handed its `sh` pointer and pass it to them; nothing else reads the cdata.
"""

from __future__ import annotations

from dataclasses import dataclass

from onvm.contract import (
    MAX_NFS,
    MAX_PORTS,
    NF_FLAG_SHARED_CORE,
    HopKind,
    NfState,
)
from onvm.errors import ConfigError, DpdkError
from onvm.manager.bringup.config import NF_TO_NF, Config, Hop
from onvm.pydpdk import manager as pydpdk

ffi, lib = pydpdk.ffi, pydpdk.lib

_HOP_KINDS = {"nf": HopKind.NF, "port": HopKind.PORT, "tee": HopKind.TEE}
_HOP_NAMES = {int(kind): name for name, kind in _HOP_KINDS.items()}


def state_name(state: int) -> str:
    """An NF state as people read it: its C name in lower case."""
    try:
        return NfState(state).name.lower()
    except ValueError:
        return "unknown"


@dataclass
class NfSlot:
    """One NF table slot, as the control plane sees it."""

    nf_id: int
    state: str
    generation: int
    pid: int
    name: str
    service_id: int
    instance: int
    core: int
    shared_core: bool


class DataPlane:
    """Shared region, workers and the control-plane writes to them."""

    def __init__(self, config: Config, nf_cpus: list[int] = ()) -> None:
        """`nf_cpus`: the CPUs dedicated NFs may be given (Config.nf_cpus,
        taken before EAL pins this thread to the control CPU)."""
        nf_cpus = list(nf_cpus)
        cfg = ffi.new(
            "struct onvm_mgr_config *",
            {
                "num_mbufs": config.num_mbufs,
                "mbuf_cache": config.mbuf_cache,
                "burst_size": config.burst_size,
                "nf_ring_size": config.nf_ring_size,
                "num_workers": len(config.worker_cores),
                "wait_for_chain": int(config.wait_for_chain),
                "chain_grace_ms": config.chain_grace_ms,
                "idle_sleep_us": config.idle_sleep_us,
                "wake_batch": config.wake_batch,
                "wake_delay_us": config.wake_delay_us,
                "nf_to_nf": int(NF_TO_NF[config.nf_to_nf]),
                "latency_sample": config.latency_sample,
                "worker_cpu_mask": sum(1 << c for c in config.worker_cores if c < 64),
                "n_nf_cpus": len(nf_cpus),
                "nf_cpus": nf_cpus,
            },
        )
        self.sh = pydpdk.check_ptr(lib.onvm_mgr_create(cfg), "creating shared memory")
        self.num_workers = len(config.worker_cores)
        self.pool_size = self.sh.pktmbuf_pool.size
        self.tsc_hz = self.sh.tsc_hz
        self._launched = False

    @property
    def pool(self):
        return self.sh.pktmbuf_pool

    def enable_port(self, port_id: int, rx_queues: int = 1, rss_flow_hash: bool = False,
                    rx_ts_ns_mul: int = 0) -> None:
        """Hand a started port to the workers: its RX queues spread over them.
        `rx_ts_ns_mul`: the rate NFs turn its RX timestamps into ns with (0:
        they use none), set before any NF can join."""
        pydpdk.check(lib.onvm_mgr_port_enable(self.sh, port_id, rx_queues, int(rss_flow_hash)),
                     f"enabling port {port_id}")
        self.sh.ports[port_id].rx_ts_ns_mul = rx_ts_ns_mul

    def set_chain(self, chain_id: int, hops: list[Hop]) -> None:
        """Publish a chain; raises ConfigError for hops the data plane refuses."""
        arr = ffi.new("struct onvm_chain_hop[]", max(len(hops), 1))
        for i, hop in enumerate(hops):
            arr[i].kind = _HOP_KINDS[hop.kind]
            arr[i].dest = hop.dest
        rc = lib.onvm_mgr_chain_set(self.sh, chain_id, arr, len(hops))
        if rc == -22:
            bad = [str(h) for h in hops if h.kind == "port" and not self.port_enabled(h.dest)]
            reason = f"port {bad[0][4:]} is not one of the manager's ports" if bad else "bad hop"
            raise ConfigError(f"chain {','.join(map(str, hops))}: {reason}")
        pydpdk.check(rc, f"setting chain {chain_id}")

    def chain(self, chain_id: int) -> list[Hop]:
        body = self.sh.chains.bodies[self.sh.chains.head[chain_id]]
        return [
            Hop(_HOP_NAMES[body.hops[i].kind], body.hops[i].dest)
            for i in range(body.length)
        ]

    def port_enabled(self, port_id: int) -> bool:
        return 0 <= port_id < MAX_PORTS and bool(self.sh.ports[port_id].enabled)

    def launch(self, lcores: list[int]) -> None:
        arr = ffi.new("unsigned int[]", lcores)
        pydpdk.check(lib.onvm_mgr_launch(self.sh, arr), "launching data-plane workers")
        self._launched = True

    def halt(self) -> None:
        if self._launched:
            lib.onvm_mgr_halt(self.sh)
            self._launched = False

    @property
    def ports_enabled(self) -> bool:
        return bool(self.sh.ports_enabled)

    # ---- NF table ----

    def nf_slot(self, nf_id: int) -> NfSlot:
        nf = self.sh.nfs[nf_id]
        return NfSlot(
            nf_id=nf_id,
            state=state_name(nf.state),
            generation=nf.generation,
            pid=nf.pid,
            name=ffi.string(nf.name).decode(errors="replace"),
            service_id=nf.service_id,
            instance=nf.instance,
            core=nf.core,
            shared_core=bool(nf.flags & NF_FLAG_SHARED_CORE),
        )

    def nf_slots(self) -> list[NfSlot]:
        """Every occupied slot."""
        return [
            self.nf_slot(i)
            for i in range(1, MAX_NFS)
            if self.sh.nfs[i].state != NfState.FREE
        ]

    def free_nf_slots(self) -> int:
        """How many NFs could still join."""
        return sum(1 for i in range(1, MAX_NFS) if self.sh.nfs[i].state == NfState.FREE)

    def nf_occupied(self, nf_id: int) -> bool:
        """True if slot `nf_id` holds an NF (in any state but free)."""
        return 1 <= nf_id < MAX_NFS and self.sh.nfs[nf_id].state != NfState.FREE

    def nf_dead(self, nf_id: int, generation: int) -> bool:
        """Tell the control worker; False if its ring is full (retry)."""
        return lib.onvm_mgr_nf_dead(self.sh, nf_id, generation) == 0

    def nf_stop(self, nf_id: int) -> bool:
        return lib.onvm_mgr_nf_stop(self.sh, nf_id) == 0

    def nf_reclaim(self, nf_id: int) -> int:
        # A bpf NF's maps and directory first, while nothing can claim the
        # slot and make new ones under its number. (Its metrics zone, which
        # the manager may be reading, goes once the slot is seen free.)
        lib.onvm_bpf_dir_release(nf_id)
        rc = lib.onvm_mgr_nf_reclaim(self.sh, nf_id)
        if rc < 0:
            raise DpdkError(f"reclaiming NF {nf_id}", -rc, pydpdk.strerror(-rc))
        return rc

    def nf_release_rejected(self, nf_id: int) -> None:
        lib.onvm_mgr_nf_release_rejected(self.sh, nf_id)

    def service_buckets(self, service_id: int) -> list[int]:
        """NF id of each flow-hash bucket of a service (0: none), read
        consistently against the control worker's writes."""
        svc = self.sh.services[service_id]
        while True:
            seq = svc.seq
            buckets = list(svc.bucket_nf)
            if seq % 2 == 0 and seq == svc.seq:
                return buckets

    # ---- counters ----

    def pool_available(self) -> int:
        return lib.onvm_mgr_pool_available(self.sh)

    def counters(self) -> dict:
        """Sum of every writer's counters, as plain integers."""
        w = self.sh.workers
        n = self.num_workers
        ports = {}
        for p in range(MAX_PORTS):
            if self.sh.ports[p].enabled:
                ports[p] = {
                    "rx": sum(w[i].port_rx[p] for i in range(n)),
                    "rx_workers": [w[i].port_rx[p] for i in range(n)],
                    "tx": sum(w[i].port_tx[p] for i in range(n)),
                    "tx_drop": sum(w[i].port_tx_drop[p] for i in range(n)),
                }
        nfs = {}
        for slot in self.nf_slots():
            nf = self.sh.nfs[slot.nf_id]
            s = nf.stats
            nfs[slot.nf_id] = {
                "rx": s.rx,
                "tx": s.tx,
                "act_drop": s.act_drop,
                "act_next": s.act_next,
                "act_tonf": s.act_tonf,
                "act_out": s.act_out,
                "batches": s.batches,
                "sleeps": s.sleeps,
                "created": s.created,
                "busy_cycles": s.busy_cycles,
                "unsent": s.unsent,
                "direct": s.direct,
                "direct_fallback": s.direct_fallback,
                "direct_in": s.direct_in,
                "msg_in": s.msg_in,
                "msg_out": s.msg_out,
                "msg_drop": s.msg_drop,
                "clones": s.clones,
                "clone_fail": s.clone_fail,
                "unshared": s.unshared,
                "unshare_drop": s.unshare_drop,
                "held": s.held,
                "released": s.released,
                # Packets it holds now (a gauge, not reset with the counters).
                "holding": s.held - s.released,
                "enqueued": sum(w[i].nf_enq[slot.nf_id] for i in range(n)) - nf.enq_base,
                "ring_full_drop": sum(w[i].nf_enq_drop[slot.nf_id] for i in range(n))
                - nf.enq_drop_base,
                "rx_ring": lib.rte_ring_count(nf.rx_ring),
                "tx_ring": lib.rte_ring_count(nf.tx_ring),
            }
        totals = {
            key: sum(getattr(w[i], key) for i in range(n))
            for key in ("act_drop", "chain_end", "chain_gone", "no_dest", "reclaimed", "loops",
                        "rx_held", "msg_delivered", "msg_dropped", "tee_copies", "tee_fail",
                        "flow_drop")
        }
        totals["ring_full_drop"] = sum(
            w[i].nf_enq_drop[nf_id] for i in range(n) for nf_id in range(MAX_NFS)
        )
        return {"ports": ports, "nfs": nfs, "dataplane": totals}
