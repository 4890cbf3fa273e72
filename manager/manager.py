# SPDX-License-Identifier: BSD-3-Clause
"""The NF manager: brings up DPDK, ports and the data plane, then runs the
control loop (NF registry, stats) until SIGINT or SIGTERM, and shuts down
leaving no process, hugepage file or socket behind."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
import traceback

import zmq

from onvm.contract import STATS_FILE
from onvm.errors import OnvmError
from onvm.manager.bringup import eal, ports, preflight
from onvm.manager.bringup.config import Config, parse_listen
from onvm.manager.bringup.runtime import ManagerLock, remove_dpdk_files
from onvm.manager.client.text import render
from onvm.manager.control import web
from onvm.manager.control.prometheus import PrometheusExporter
from onvm.manager.control.server import ControlServer
from onvm.manager.tables import latency
from onvm.manager.tables.bpf import BpfNFs
from onvm.manager.tables.capture import Captures
from onvm.manager.tables.chains import Chains
from onvm.manager.tables.dataplane import DataPlane
from onvm.manager.tables.events import Events
from onvm.manager.tables.flows import FlowRules
from onvm.manager.tables.latency import Latency
from onvm.manager.tables.messages import Messages
from onvm.manager.tables.nf_metrics import NfMetrics
from onvm.manager.tables.registry import NfRegistry
from onvm.manager.tables.scaler import Scaler
from onvm.manager.tables.stats import Stats, write_json
from onvm.pydpdk import manager as pydpdk

log = logging.getLogger("onvm.manager")

TICK_SECONDS = 0.1
CAPTURE_TICK_SECONDS = 0.002  # the capture ring is drained this often
STATS_FILE_SECONDS = 0.1
LINK_CHECK_SECONDS = 1.0  # ports' link state, for port.link events


class Manager:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.lock = ManagerLock(config.name)
        self.dp: DataPlane | None = None
        self.registry: NfRegistry | None = None
        self.ports: list[ports.Port] = []
        self.stats: Stats | None = None
        self.chains: Chains | None = None
        self.flows: FlowRules | None = None
        self.captures: Captures | None = None
        self.scaler: Scaler | None = None
        self.server: ControlServer | None = None
        self.prometheus: PrometheusExporter | None = None
        self.web: web.WebConsole | None = None
        self._last_snapshot: dict | None = None
        self._eal_up = False
        self._stop = False
        self._wake_r, self._wake_w = -1, -1
        self.started = 0.0
        self.nf_cpus: list[int] = []

    # ---- start ----

    def start(self) -> None:
        """Everything up to "NFs can join"; raises OnvmError on any failure."""
        preflight.check_all(self.config)
        self.lock.acquire()
        remove_dpdk_files(self.config.name)  # left by a crashed manager of this name
        self.nf_cpus = self.config.nf_cpus()  # EAL is about to pin this thread
        eal.init(self.config)
        self._eal_up = True
        pydpdk.check(pydpdk.lib.onvm_mgr_hide_ports_from_secondaries(),
                     "keeping NFs off the ports")
        self.dp = DataPlane(self.config, self.nf_cpus)
        for devargs in self.config.ports:
            port = ports.setup(
                devargs,
                self.dp.pool,
                self.dp.num_workers,
                self.config.port_rx_desc,
                self.config.port_tx_desc,
                self.config.rx_queues,
                self.config.rx_timestamps,
            )
            self.ports.append(port)
            self.dp.enable_port(port.port_id, port.rx_queues, port.rss_flow_hash,
                                port.rx_ts_ns_mul)
        self.dp.set_chain(0, self.config.chain)
        self.events = Events()
        self.nf_metrics = NfMetrics(self.dp)
        self.registry = NfRegistry(self.dp, self.events, on_gone=self.nf_metrics.release)
        self.stats = Stats(self.dp, {p.port_id: p.name for p in self.ports})
        self.latency = Latency(self.dp)
        self.chains = Chains(self.dp)
        self.flows = FlowRules(self.dp.sh, self.config.max_flow_rules, self.chains.id_of)
        self.captures = Captures(self.dp.sh, self.dp.tsc_hz)
        self.bpf = BpfNFs(self.dp.sh)
        self.messages = Messages(self.dp.sh)
        self.scaler = Scaler(self.dp, self.config.name, self.lock.dir)
        self.dp.launch(list(range(1, len(self.config.worker_cores) + 1)))
        self.server = ControlServer(self.config, self.lock.dir, self)
        self.events.publish = self.server.publish_event
        self.scaler.events = self.events
        self._links = {p.port_id: None for p in self.ports}
        self._capture_running: int | None = None
        self._next_link_check = 0.0
        if self.config.prometheus:
            self.prometheus = PrometheusExporter(lambda: self._last_snapshot, self.config.name,
                                                 self.nf_metrics.read_all)
            self.prometheus.start(*parse_listen(self.config.prometheus, "prometheus"))
        if self.config.web:
            self.web = web.WebConsole()
            self.web.start(*parse_listen(self.config.web, "web"))
        self.lock.mark_ready()
        self.started = time.monotonic()
        self._describe()

    def _describe(self) -> None:
        c = self.config
        log.info(
            "manager '%s' ready: control on CPU %d, data-plane workers on CPU %s, "
            "%d mbufs, burst %d",
            c.name, c.control_core, ",".join(map(str, c.worker_cores)), c.num_mbufs,
            c.burst_size,
        )
        log.info("CPUs for dedicated NFs (onvm-nf --dedicated): %s",
                 ",".join(map(str, self.nf_cpus)) or "none (every CPU runs the manager)")
        for p in self.ports:
            log.info("port %d: %s (%s, %s)%s%s", p.port_id, p.devargs, p.driver, p.mac,
                     _rx_spread(p, len(c.worker_cores)),
                     f"; RX timestamps: {p.rx_timestamps}" if p.rx_timestamps else "")
        log.info("control: %s", ", ".join(f"{k} {v}" for k, v in self.server.endpoints().items()))
        if self.prometheus:
            log.info("prometheus: http://%s:%d/metrics", *parse_listen(c.prometheus, "prometheus"))
        if self.web:
            host, port = parse_listen(c.web, "web")
            log.info("web console: http://%s:%d/", f"[{host}]" if ":" in host else host, port)
        chain = ",".join(map(str, c.chain)) or "(none: packets are dropped until one is set)"
        log.info(
            "default chain: %s%s", chain,
            "; ports wait for its NFs" if c.wait_for_chain and c.chain else "",
        )

    # ---- run ----

    def _on_signal(self, signum, frame) -> None:
        self._stop = True

    def run(self) -> None:
        """Control loop until a stop signal or a shutdown request."""
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self._wake_w)
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        now = time.monotonic()
        next_print = now + self.config.stats_interval
        next_publish = now + self.config.stats_publish_interval
        next_file = 0.0
        while not self._stop:
            ready = self._wait()
            self._drain_wakeup()
            self.server.serve(ready)
            self.registry.poll()
            self.captures.poll()
            for rule in self.flows.expire() or []:
                self.events.record("flow.expired", id=rule.get("id"), chain=rule.get("chain"))
            self._watch_changes()
            self.scaler.reap()
            now = time.monotonic()
            if now >= next_file:
                snap = self.snapshot()
                next_file = now + STATS_FILE_SECONDS
                if self.web is not None:
                    self.web.publish(web.view(self, snap))
                if now >= next_publish:
                    self.latency.tick(self.chains.ids.values())
                    self.server.publish(snap)
                    next_publish = now + self.config.stats_publish_interval
                if self.config.stats_interval > 0 and now >= next_print:
                    print(render(snap, self.config.name), flush=True)
                    next_print = now + self.config.stats_interval

    def _watch_changes(self) -> None:
        """Events of what changes without a command: captures ending, links."""
        cap = self.captures.current
        if self._capture_running is not None and (cap is None or
                                                  cap.capture_id != self._capture_running):
            done = self.captures.finished.get(self._capture_running)
            self.events.record("capture.ended", **({k: v for k, v in done.describe().items()
                                                    if k in ("id", "target", "path", "state",
                                                             "packets", "missed", "error")}
                                                   if done else {"id": self._capture_running}))
            self._capture_running = None
        if cap is not None and cap.state == "running":
            self._capture_running = cap.capture_id
        now = time.monotonic()
        if now < self._next_link_check:
            return
        self._next_link_check = now + LINK_CHECK_SECONDS
        for port_id, before in self._links.items():
            up, speed = ports.link_state(port_id)
            if up is None or up == before:
                continue
            self._links[port_id] = up
            if before is not None or not up:  # a port that comes up at start is no news
                self.events.record("port.link", port=port_id, up=up, speed_mbps=speed)

    def _wait(self) -> dict:
        """Sleep until a request, a signal, an NF exit or the next tick."""
        poller = zmq.Poller()
        poller.register(self._wake_r, zmq.POLLIN)
        for fd in self.registry.pidfds():
            poller.register(fd, zmq.POLLIN)
        self.server.register(poller)
        tick = CAPTURE_TICK_SECONDS if self.captures.active else TICK_SECONDS
        return dict(poller.poll(tick * 1000))

    def request_stop(self) -> None:
        """A shutdown command: the loop ends after this request's reply."""
        self._stop = True

    def latest_snapshot(self) -> dict:
        """The snapshot the loop took last (at most 0.1 s old)."""
        return self._last_snapshot or self.snapshot()

    def _drain_wakeup(self) -> None:
        try:
            while os.read(self._wake_r, 64):
                pass
        except BlockingIOError:
            pass

    def nf_names(self) -> dict[int, dict]:
        """Who is in each occupied NF slot, for the stats."""
        return {
            s.nf_id: {
                "name": s.name, "service": s.service_id, "state": s.state, "pid": s.pid,
                "instance": s.instance, "generation": s.generation,
            }
            for s in self.dp.nf_slots()
        }

    def latency_report(self, interval: bool = False, nf: int | None = None,
                       chain: str | None = None) -> dict:
        return latency.describe(self.latency, self.chains.ids, self.dp.chain, self.nf_names(),
                                interval, nf, chain)

    def snapshot(self) -> dict:
        snap = self.stats.snapshot(self.nf_names())
        snap["uptime"] = time.monotonic() - self.started
        snap["crashed_nfs"] = self.registry.crashed
        snap["reclaimed_mbufs"] = self.registry.reclaimed
        snap["latency"] = self.latency_report()
        self._last_snapshot = snap  # first: whoever reads stats.json may then ask for it
        write_json(snap, self.lock.dir / STATS_FILE)
        return snap

    # ---- stop ----

    def _stop_nfs(self) -> None:
        """Ask every NF to leave; kill those that do not within the timeout."""
        for slot in self.registry.running():
            self.dp.nf_stop(slot.nf_id)
        deadline = time.monotonic() + self.config.nf_stop_timeout
        while self.dp.nf_slots() and time.monotonic() < deadline:
            time.sleep(0.02)
            self.registry.poll()
        for slot in self.dp.nf_slots():
            if slot.pid > 0:
                log.warning("NF %d '%s' did not stop: killing pid %d", slot.nf_id,
                            slot.name, slot.pid)
                try:
                    os.kill(slot.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 2.0
        while self.dp.nf_slots() and time.monotonic() < deadline:
            time.sleep(0.02)
            self.registry.poll()

    def shutdown(self) -> dict | None:
        """Stop NFs, workers and ports, release everything. Returns the last
        snapshot, or None if the manager never got running."""
        final = None
        if self.captures is not None:
            self.captures.close()
        if self.server is not None:
            self.server.close()
        if self.prometheus is not None:
            self.prometheus.stop()
        if self.web is not None:
            self.web.stop()
        if self.dp is not None and self.registry is not None:
            self._stop_nfs()
            self.scaler.close()
            self.dp.halt()
            final = self.snapshot()
            self.registry.close()
        elif self.dp is not None:
            self.dp.halt()
        for port in self.ports:
            ports.close(port.port_id)
        if self._eal_up:
            pydpdk.lib.rte_eal_cleanup()
            pydpdk.lib.pydpdk_log_to_file(pydpdk.ffi.NULL)
        if self.lock.held:
            # Only the holder of the name's lock may remove its files: a
            # start refused because the name runs must leave them alone.
            remove_dpdk_files(self.config.name)
        self.lock.release()
        return final


def _rx_spread(port: ports.Port, workers: int) -> str:
    """How a port's RX is spread, when it has several queues."""
    if port.rx_queues == 1:
        return ""
    how = ("RSS, symmetric key: its hash is the flow hash" if port.rss_flow_hash
           else "RSS" if port.rss else "one per file or ring")
    return (f"; {port.rx_queues} RX queues ({how}) over "
            f"{min(port.rx_queues, workers)} worker(s)")


def summary(snap: dict) -> str:
    ports = ", ".join(
        f"port {pid} rx {p['rx']} tx {p['tx']} drop {p['drop']}" for pid, p in snap["ports"].items()
    )
    dp = snap["dataplane"]
    drops = (
        f"dropped: {dp['ring_full_drop']} at full NF rings, {dp['act_drop']} by NFs, "
        f"{dp['chain_end']} at chain ends, {dp['chain_gone']} on a replaced chain, "
        f"{dp['no_dest']} with no destination"
    )
    return (
        f"summary: ran {snap['uptime']:.1f} s; {ports or 'no ports'}; {drops}; "
        f"pool {snap['pool']['available']}/{snap['pool']['size']} free; "
        f"{snap['crashed_nfs']} NF crash(es), {snap['reclaimed_mbufs']} mbufs reclaimed"
    )


def run(config: Config) -> int:
    """Start, serve until signalled, stop. Returns the exit code."""
    manager = Manager(config)
    try:
        manager.start()
        print(f"onvm-manager: '{config.name}' ready", flush=True)
        manager.run()
    except OnvmError as e:
        print(f"onvm-manager: error: {e}", file=sys.stderr, flush=True)
        manager.shutdown()
        return e.exit_code
    except KeyboardInterrupt:
        pass
    except Exception as e:  # a bug: still stop cleanly and say one line
        if os.environ.get("ONVM_DEBUG"):
            traceback.print_exc()
        print(
            f"onvm-manager: internal error: {type(e).__name__}: {e} "
            "(set ONVM_DEBUG=1 for the traceback)",
            file=sys.stderr,
            flush=True,
        )
        manager.shutdown()
        return 70
    final = manager.shutdown()
    if final:
        print(render(final, config.name), flush=True)
        print(f"onvm-manager: {summary(final)}", flush=True)
    return 0
