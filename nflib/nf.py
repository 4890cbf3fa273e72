# SPDX-License-Identifier: BSD-3-Clause
"""NF: a network function written in Python.

    nf = NF(name="my_nf")          # joins the manager named on the command line
    @nf.packet_handler
    def handle(pkt):
        return NEXT
    nf.run()

The C run loop calls Python once per batch: a packet handler is called per
packet from that one call; a vector handler gets the whole batch as NumPy
arrays and runs no per-packet Python at all.
"""

from __future__ import annotations

import array
import atexit
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from onvm.contract import BATCH_MAX, MAX_PORTS, NF_EXIT_MANAGER_GONE, MsgKind
from onvm.errors import OnvmError
from onvm.nflib import classifier
from onvm.nflib.actions import HOLD
from onvm.nflib.batch import Batch
from onvm.nflib.packet import HeldPacket, Packet
from onvm.pydpdk.nf import ffi, lib

# A vector handler costs a few us of Python per call, whatever its size: 512
# packets make that a few ns each. The ring hands over what is there, so a
# lightly loaded NF still gets small batches at once.
VECTOR_BATCH = 512


@dataclass(frozen=True)
class Message:
    """A message to this NF: its bytes, who sent it (an NF id; 0: the
    control plane), and whether it answers one this NF sent."""

    data: bytes
    sender: int
    is_reply: bool = False


class NfError(OnvmError):
    """The NF could not join its manager, or its handler failed."""


class ManagerGone(NfError):
    """The manager went away without stopping (it crashed or was killed)."""

    exit_code = NF_EXIT_MANAGER_GONE


class NF:
    """One NF process: joins a manager, runs handlers, leaves cleanly.

    Options (from `argv`, default sys.argv, and the arguments here): service,
    manager name, core, busy polling, dedicated (a CPU of its own, which the
    manager picks). What nflib does not take is left in
    `self.args` for the NF's own parser. The NF joins its manager (and starts
    taking traffic) only when first needed, at the latest in run(): an NF
    that rejects its own arguments first never takes a packet.
    """

    def __init__(self, service: int | None = None, name: str = "python_nf", *,
                 manager: str | None = None, core: int | None = None, busy_poll: bool = False,
                 dedicated: bool = False, read_only: bool = False,
                 argv: Sequence[str] | None = None) -> None:
        argv = list(sys.argv if argv is None else argv)
        prog, rest = (argv[0] if argv else name), argv[1:]
        given = ["--nf-name", name]
        if service is not None:
            given += ["--service", str(service)]
        if manager is not None:
            given += ["--name", manager]
        if core is not None:
            given += ["--core", str(core)]
        if busy_poll:
            given.append("--busy-poll")
        if dedicated:
            given.append("--dedicated")
        # Command-line options come last, so they win.
        self._argv = [prog, *given, *rest]
        keep = [ffi.new("char[]", a.encode()) for a in self._argv]
        c_argv = ffi.new("char *[]", [*keep, ffi.NULL])
        argc = lib.onvm_nflib_parse_args(len(keep), c_argv)
        if argc < 0:
            raise NfError(ffi.string(lib.onvm_nflib_strerror()).decode(errors="replace"))
        self.args = [ffi.string(c_argv[i]).decode() for i in range(1, argc)]
        self.name = name
        # Its handlers never write packet bytes: shared packets (tee copies,
        # clones) reach them with no private copy, and clone() shares data.
        self.read_only = read_only
        self._ctx_ptr = None
        self._handle = ffi.new_handle(self)
        self._on_batch: Callable | None = None
        self._periodic: Callable | None = None
        self._on_message: Callable | None = None
        self._period_ms = 1000
        self._batch_max = 0
        self._verdicts = ffi.NULL  # where on_batch leaves its verdicts
        self._batch_pkts = None  # the mbufs of the batch a handler runs on
        self._hold_now: list[int] = []  # what the running handler holds
        self._error: BaseException | None = None
        self._closed = False
        self._final_stats: dict = {}
        self._left_as: tuple[int, int] | None = None  # (nf_id, service) once closed
        _open_nfs.append(self)

    @property
    def _ctx(self):
        """The nflib context; joins the manager on first use."""
        if self._ctx_ptr is None:
            if self._closed:
                raise NfError(f"{self.name} has already left its manager")
            keep = [ffi.new("char[]", a.encode()) for a in self._argv]
            c_argv = ffi.new("char *[]", [*keep, ffi.NULL])
            ctx = ffi.new("struct onvm_nf_ctx **")
            if lib.onvm_nflib_init(len(keep), c_argv, self.name.encode(), ctx) < 0:
                raise NfError(ffi.string(lib.onvm_nflib_strerror()).decode(errors="replace"))
            self._ctx_ptr = ctx[0]
        return self._ctx_ptr

    def join(self) -> NF:
        """Join the manager now (run() does it if not done)."""
        _ = self._ctx
        return self

    # ---- identity ----

    @property
    def nf_id(self) -> int:
        """The NF's slot in the manager's table (kept once it has left)."""
        if self._closed and self._left_as is not None:
            return self._left_as[0]
        return lib.onvm_nflib_nf_id(self._ctx)

    @property
    def service(self) -> int:
        if self._closed and self._left_as is not None:
            return self._left_as[1]
        return lib.onvm_nflib_service_id(self._ctx)

    def port_mac(self, port_id: int) -> str | None:
        """MAC address of the manager's port `port_id`, None if no such port."""
        sh = lib.onvm_nflib_shared(self._ctx)
        if not 0 <= port_id < MAX_PORTS or not sh.ports[port_id].enabled:
            return None
        return ":".join(f"{b:02x}" for b in sh.ports[port_id].mac)

    def stats(self) -> dict:
        """The NF's counters (the last ones once it has left its manager)."""
        if self._closed:
            return dict(self._final_stats)
        s = lib.onvm_nflib_nf(self._ctx).stats
        out = {k: getattr(s, k) for k in ("rx", "tx", "act_drop", "act_next", "act_tonf",
                                          "act_out", "batches", "sleeps", "created",
                                          "busy_cycles", "unsent", "held", "released",
                                          "clones", "clone_fail", "unshared",
                                          "unshare_drop")}
        out["holding"] = out["held"] - out["released"]
        return out

    # ---- handlers (decorators) ----

    def packet_handler(self, fn: Callable[[Packet], int]) -> Callable[[Packet], int]:
        """fn(pkt) -> verdict, once per packet (NEXT, DROP, to_service(), out_port())."""
        packet = Packet()
        verdicts = array.array("I", bytes(4 * BATCH_MAX))

        def on_batch(pkts, n):
            packet._bind_batch(pkts)
            self._batch_pkts = pkts
            for i in range(n):
                packet._i = i
                verdicts[i] = fn(packet)
            self._held_in(verdicts)

        self._on_batch, self._batch_max = on_batch, 0
        self._verdicts = ffi.from_buffer("uint32_t[]", verdicts)
        return fn

    def vector_handler(self, fn: Callable[[Batch], object] | None = None, *,
                       batch: int = VECTOR_BATCH, fields: tuple[str, ...] | None = None):
        """fn(batch) -> verdicts: an array (one per packet), one verdict for
        all, or None to keep batch.verdicts (NEXT unless written).

        `batch`: most packets per call; `fields`: the field groups fn reads
        (keys, l2, l3, l4, meta; default all), as parsing costs per packet.
        """

        def install(fn):
            b = Batch() if fields is None else Batch(fields)
            verdicts = b._verdicts

            def on_batch(pkts, n):
                b._load(pkts, n)
                self._batch_pkts = pkts
                result = fn(b)
                if result is not None:
                    verdicts[:n] = result
                self._held_in(verdicts)

            self._on_batch = on_batch
            self._batch_max = max(1, min(batch, BATCH_MAX))
            # nflib applies the batch's own verdicts: no copy.
            self._verdicts = b._fields.verdicts
            return fn

        return install(fn) if fn is not None else install

    def message_handler(self, fn: Callable[[Message], bytes | str | None]):
        """fn(msg) for every message sent to this NF (onvm-ctl nf msg, the
        client, another NF's send_message), within one loop; what fn returns
        (bytes or str) answers a request."""
        self._on_message = fn
        return fn

    def send_message(self, data: bytes | str, *, service: int | None = None,
                     nf: int | None = None) -> None:
        """Send `data` (at most 1024 bytes) to NF `nf` or to every instance of
        `service`. Never waits; NfError if it could not be queued."""
        raw = data.encode() if isinstance(data, str) else bytes(data)
        if (service is None) == (nf is None):
            raise NfError("send_message: give service= or nf=, one of the two")
        rc = lib.onvm_nflib_send_msg(self._ctx, service or 0, nf or 0, raw, len(raw))
        if rc < 0:
            raise NfError(ffi.string(lib.onvm_nflib_strerror()).decode(errors="replace")
                          if rc != -105 else "the message pool or this NF's outbox is full")

    def periodic(self, seconds: float = 1.0):
        """Decorator: fn() every `seconds`; return True to stop the NF."""

        def install(fn):
            self._periodic = fn
            self._period_ms = max(1, int(seconds * 1000))
            return fn

        return install

    # ---- packets the NF keeps ----

    def hold(self, pkt: Packet | Batch, index: int | None = None) -> HeldPacket:
        """Keep a packet of the running handler's batch past the handler: the
        packet handler's `pkt`, or packet `index` of a vector handler's
        batch. Its verdict becomes HOLD whatever the handler returns; the NF
        hands it on later with release() or frees it with free(). What it
        still holds when it leaves goes back to the pool."""
        if self._batch_pkts is None:
            raise NfError("hold() is for the packets of a running handler")
        if isinstance(pkt, Batch):
            if index is None or not 0 <= index < len(pkt):
                raise NfError(f"hold(batch, index): index {index} is not in the batch")
            slot = index
        else:
            slot = pkt._i
        self._hold_now.append(slot)
        return HeldPacket(self._batch_pkts[slot])

    def _held_in(self, verdicts) -> None:
        for slot in self._hold_now:
            verdicts[slot] = HOLD
        self._hold_now.clear()

    def release(self, pkt: HeldPacket, verdict: int) -> bool:
        """Hand a held packet on with `verdict` (NEXT continues its chain),
        after the running handler's batch if called from a handler, ahead of
        that batch's other packets. False if 4096 were released in this
        batch already: the NF still holds it."""
        if not isinstance(pkt, HeldPacket) or pkt._pkts is None:
            raise NfError("release() takes a packet from hold() that is still held")
        mbufs = ffi.new("struct rte_mbuf *[1]", [pkt._m])
        verdicts = ffi.new("uint32_t[1]", [verdict])
        if lib.onvm_nflib_release(self._ctx, mbufs, verdicts, 1) != 1:
            return False
        pkt._unbind()
        return True

    @property
    def holding(self) -> int:
        """Packets the NF holds now."""
        return lib.onvm_nflib_holding(self._ctx)

    # ---- packets the NF makes ----

    def create(self, data: bytes) -> Packet:
        """A new packet from the shared pool holding `data`."""
        if not 0 < len(data) <= 2048:
            raise NfError(f"a packet holds 1 to 2048 bytes, not {len(data)}")
        mbufs = ffi.new("struct rte_mbuf *[1]")
        if lib.onvm_nflib_alloc_pkts(self._ctx, mbufs, 1) < 0:
            raise NfError("the packet pool is empty")
        dst = lib.rte_pktmbuf_append(mbufs[0], len(data))
        if dst == ffi.NULL:
            lib.onvm_nflib_free_pkts(self._ctx, mbufs, 1)
            raise NfError(f"{len(data)} bytes do not fit in a packet buffer")
        ffi.memmove(dst, data, len(data))
        return Packet(mbufs[0])

    def clone(self, pkt: Packet | Batch, index: int | None = None) -> Packet:
        """A copy of a packet the NF has (the packet handler's `pkt`, packet
        `index` of a vector handler's batch, a held or created one) to send
        elsewhere with send(); its metadata is the packet's. A read_only NF's
        copy shares the packet's bytes; any other NF's has bytes of its own,
        since it may still change the packet."""
        if isinstance(pkt, Batch):
            if self._batch_pkts is None or index is None or not 0 <= index < len(pkt):
                raise NfError(f"clone(batch, index): index {index} is not in the batch")
            mbuf = self._batch_pkts[index]
        elif pkt._pkts is None:
            raise NfError("clone(): that packet is no longer the NF's")
        else:
            mbuf = pkt._m
        copy = lib.onvm_nflib_clone(self._ctx, mbuf)
        if copy == ffi.NULL:
            raise NfError("clone(): the packet pool is empty")
        return Packet(copy)

    def send(self, pkt: Packet, verdict: int) -> bool:
        """Hand a created packet to the manager with `verdict`; the NF no
        longer owns it. False if the manager could not take it (freed)."""
        mbufs = ffi.new("struct rte_mbuf *[1]", [pkt._m])
        verdicts = ffi.new("uint32_t[1]", [verdict])
        lib.onvm_pkt_apply_verdicts(mbufs, 1, verdicts)
        pkt._unbind()
        if lib.onvm_nflib_send(self._ctx, mbufs, 1) == 1:
            return True
        lib.onvm_nflib_free_pkts(self._ctx, mbufs, 1)
        return False

    def free(self, pkt: Packet) -> None:
        """Return a created, unsent packet, or a held one, to the pool."""
        if pkt._pkts is None:
            raise NfError("free(): that packet is no longer the NF's")
        mbufs = ffi.new("struct rte_mbuf *[1]", [pkt._m])
        held = isinstance(pkt, HeldPacket)
        pkt._unbind()
        if held:
            lib.onvm_nflib_free_held(self._ctx, mbufs, 1)
        else:
            lib.onvm_nflib_free_pkts(self._ctx, mbufs, 1)

    # ---- running ----

    def stop(self) -> None:
        """Leave the run loop after the current batch."""
        if self._ctx_ptr is not None:
            lib.onvm_nflib_stop(self._ctx_ptr)

    def _fail(self, error: BaseException) -> None:
        if self._error is None:
            self._error = error
        self.stop()

    def run(self) -> None:
        """Run until stopped (signal, manager, periodic callback); then leave.

        Raises NfError if a handler raised: the NF stops rather than guess
        what to do with the packets; ManagerGone if the manager went away
        without stopping.
        """
        if self._on_batch is None:
            raise NfError("no handler: decorate a function with @nf.packet_handler or "
                          "@nf.vector_handler")
        handlers = ffi.new("struct onvm_nf_handlers *")
        # nflib applies the verdicts on_batch leaves in self._verdicts.
        handlers.verdict = lib.onvm_py_verdict
        handlers.verdicts = self._verdicts
        handlers.batch_max = self._batch_max
        handlers.read_only = 1 if self.read_only else 0
        if self._periodic is not None:
            handlers.periodic = lib.onvm_py_periodic
            handlers.periodic_ms = self._period_ms
        if self._on_message is not None:
            handlers.msg = lib.onvm_py_msg
        try:
            rc = lib.onvm_nflib_run(self._ctx, handlers, self._handle)
            why = ffi.string(lib.onvm_nflib_strerror()).decode(errors="replace")
        finally:
            self.close()
        if rc < 0 and self._error is None:
            raise ManagerGone(why)
        if self._error is not None:
            if os.environ.get("ONVM_DEBUG"):
                traceback.print_exception(self._error)
            error = self._error
            raise NfError(f"handler failed, NF stopped: {type(error).__name__}: {error} "
                          "(ONVM_DEBUG=1 shows the traceback)")

    def close(self) -> None:
        """Unregister and detach (run() does this when it returns)."""
        if not self._closed:
            if self._ctx_ptr is not None:
                self._final_stats = self.stats()
                self._left_as = (self.nf_id, self.service)
            self._closed = True
            if self._ctx_ptr is not None:
                classifier.close_all()
                lib.onvm_nflib_fini(self._ctx_ptr)
                self._ctx_ptr = None  # fini freed it
            if self in _open_nfs:
                _open_nfs.remove(self)


def _nf_of(user) -> NF:
    return ffi.from_handle(user)



@ffi.def_extern()
def onvm_py_verdict(pkts, n, verdicts, user):
    nf = _nf_of(user)
    try:
        nf._on_batch(pkts, n)
    except BaseException as e:  # noqa: BLE001 - reported when run() returns
        ffi.memmove(verdicts, bytes(4 * n), 4 * n)  # DROP all: the verdicts are unknown
        nf._fail(e)


@ffi.def_extern()
def onvm_py_msg(ctx, msg, user):
    nf = _nf_of(user)
    try:
        message = Message(bytes(ffi.buffer(msg.data, msg.len)), getattr(msg, "from"),
                          msg.kind == MsgKind.REPLY)
        answer = nf._on_message(message)
        if answer is not None and not message.is_reply:
            raw = answer.encode() if isinstance(answer, str) else bytes(answer)
            if lib.onvm_nflib_reply(ctx, msg, raw, len(raw)) < 0:
                raise NfError("the reply could not be sent (over 1024 bytes, or the "
                              "message pool full)")
    except BaseException as e:  # noqa: BLE001 - reported when run() returns
        nf._fail(e)


@ffi.def_extern()
def onvm_py_periodic(ctx, user):
    nf = _nf_of(user)
    try:
        return 1 if nf._periodic() else 0
    except BaseException as e:  # noqa: BLE001
        nf._fail(e)
        return 1


def _close_open_nfs() -> None:
    for nf in list(_open_nfs):
        nf.close()


def main(run: Callable[[], None]) -> int:
    """Run an NF's main function; errors become one line and an exit code,
    and an NF that joined its manager always leaves it."""
    prog = os.path.basename(sys.argv[0]) or "nf"
    try:
        run()
    except OnvmError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        pass
    finally:
        _close_open_nfs()
    return 0


def _excepthook(exc_type, exc, tb) -> None:
    """An OnvmError nobody caught is one line, not a traceback."""
    if issubclass(exc_type, OnvmError) and not os.environ.get("ONVM_DEBUG"):
        prog = os.path.basename(sys.argv[0]) or "nf"
        print(f"{prog}: error: {exc}", file=sys.stderr)
    else:
        _default_excepthook(exc_type, exc, tb)


_open_nfs: list[NF] = []
# A script that never reaches main() still leaves its manager cleanly.
atexit.register(_close_open_nfs)
_default_excepthook = sys.excepthook
sys.excepthook = _excepthook


__all__ = ["NF", "ManagerGone", "NfError", "main"]
