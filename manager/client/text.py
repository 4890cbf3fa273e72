# SPDX-License-Identifier: BSD-3-Clause
"""Text for people: the manager's stats table (which it prints every second
and `onvm-ctl stats` shows), and control replies as aligned tables and
key-value lists, rates humanised alike."""

from __future__ import annotations

import signal
import time
from collections.abc import Sequence
from typing import Any


def human(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{unit}"
    return f"{n:.0f}"


def render(snap: dict, name: str) -> str:
    """A human table of one snapshot."""
    pool = snap["pool"]
    lines = [
        f"[{name} {time.strftime('%H:%M:%S')}] pool {pool['available']}/{pool['size']} free"
        + ("" if snap["ports_enabled"] else "  (ports held: waiting for the chain's NFs)")
    ]
    lines.append(
        f"  {'port':<5}{'name':<14}{'rx':>12}{'rx/s':>10}{'tx':>12}{'tx/s':>10}{'drop':>10}"
    )
    for port_id, p in snap["ports"].items():
        lines.append(
            f"  {port_id:<5}{p['name'][:13]:<14}{p['rx']:>12}{human(p['rx_pps']):>10}"
            f"{p['tx']:>12}{human(p['tx_pps']):>10}{p['drop']:>10}"
        )
    if snap["nfs"]:
        lines.append(
            f"  {'nf':<5}{'name':<16}{'svc':>4} {'state':<9}"
            f"{'rx':>12}{'rx/s':>10}{'tx':>12}{'drop':>10}"
        )
        for nf_id, n in snap["nfs"].items():
            lines.append(
                f"  {nf_id:<5}{n.get('name', '?')[:15]:<16}{n.get('service', 0):>4} "
                f"{n.get('state', '?'):<9}{n['rx']:>12}{human(n['rx_pps']):>10}{n['tx']:>12}"
                f"{n['drop']:>10}"
            )
    return "\n".join(lines)


# A column: (header, reply key or function of the row[, how to show the
# value]). Without the third, _text shows it.
Column = tuple


def _text(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ",".join(map(str, value)) or "-"
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def table(rows: Sequence[dict], columns: Sequence[Column], empty: str = "") -> str:
    """Rows under a header; numeric columns right-aligned."""
    if not rows and empty:
        return empty
    grid = [[c[0] for c in columns]]
    right = [False] * len(columns)
    for row in rows:
        line = []
        for i, (_, key, *show) in enumerate(columns):
            value = key(row) if callable(key) else row.get(key)
            right[i] = right[i] or _is_number(value)
            line.append(show[0](value) if show and value is not None else _text(value))
        grid.append(line)
    widths = [max(len(line[i]) for line in grid) for i in range(len(columns))]
    return "\n".join(
        "  ".join(cell.rjust(w) if r else cell.ljust(w)
                  for cell, w, r in zip(line, widths, right, strict=True)).rstrip()
        for line in grid
    )


def pairs(items: Sequence[tuple[str, Any]]) -> str:
    """`label  value` lines, the values aligned."""
    width = max(len(label) for label, _ in items)
    return "\n".join(f"{label:<{width}}  {_text(value)}" for label, value in items)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def status(s: dict) -> str:
    pool = s["pool"]
    items = [
        ("manager", f"{s['name']} (pid {s['pid']}, up {_duration(s['uptime'])})"),
        ("onvm", f"{s['onvm']}, protocol {s['protocol']}"),
        ("cores", f"control {s['control_core']}, workers {_text(s['worker_cores'])}"),
        ("ports", f"{s['ports']}" + ("" if s["ports_enabled"] else
                                      " (held: waiting for the chain's NFs)")),
        ("nfs", s["nfs"]),
        ("chains", s["chains"]),
        ("flow rules", s["flow_rules"]),
        ("pool", f"{pool['available']}/{pool['size']} mbufs free"),
        ("capture", "none" if s["capture"] is None else f"{s['capture']} running"),
    ]
    items += [(name.replace("_", " "), endpoint) for name, endpoint in s["endpoints"].items()]
    return pairs(items)


def version(v: dict) -> str:
    return pairs([("onvm", v["onvm"]), ("protocol", v["protocol"]), ("dpdk", v["dpdk"]),
                  ("python", v["python"])])


def _arguments(args: dict) -> str:
    """name:str [src:str]: optional arguments in brackets."""
    return " ".join(f"{k}:{a['type']}" if a["required"] else f"[{k}:{a['type']}]"
                    for k, a in args.items())


def commands(cmds: list[dict]) -> str:
    return table(cmds, [("command", "cmd"), ("arguments", lambda c: _arguments(c["args"])),
                        ("summary", "summary")])


def ports(rows: list[dict]) -> str:
    return table(rows, [
        ("port", "id"), ("driver", "driver"), ("mac", "mac"), ("rx", "rx"),
        ("rx/s", "rx_pps", human), ("tx", "tx"), ("tx/s", "tx_pps", human), ("drop", "drop"),
        ("devargs", "devargs"),
    ], empty="no ports")


def _core(nf: dict) -> str:
    core = str(nf["core"]) if nf["core"] >= 0 else "-"  # -1: floating, not pinned
    return f"{core} shared" if nf.get("shared_core") else core


def nfs(rows: list[dict]) -> str:
    return table(rows, [
        ("nf", "id"), ("name", "name"), ("svc", "service"), ("inst", "instance"),
        ("state", "state"), ("pid", "pid"), ("core", _core), ("rx", "rx"),
        ("rx/s", "rx_pps", human), ("tx", "tx"), ("tx/s", "tx_pps", human), ("drop", "drop"),
        ("ring", "rx_ring"),
    ], empty="no NFs")


def _respawn(policy: dict | None) -> str:
    if not policy:
        return "off"
    return "gave up" if policy["gave_up"] else f"limit {policy['limit']}"


def services(rows: list[dict]) -> str:
    return table(rows, [("service", "id"), ("instances", "instances"), ("starting", "starting"),
                        ("nfs", "nfs"), ("names", "names"),
                        ("restarts", lambda s: s.get("restarts", 0)),
                        ("respawn", lambda s: _respawn(s.get("respawn")))],
                 empty="no services")


def chains(rows: list[dict]) -> str:
    return table(rows, [("chain", "name"), ("id", "id"), ("hops", "hops"),
                        ("length", "length"), ("flow rules", "flow_rules")])


def _rule_does(r: dict) -> str:
    does = "drop" if r.get("action") == "drop" else f"chain {r['chain']}"
    return does + (f", copy to {r['mirror']}" if r.get("mirror") else "")


def _rule_expires(r: dict) -> str:
    """When a rule goes: idle for so long, or so long after its add."""
    when = []
    if r.get("idle_timeout"):
        when.append(f"idle {r['idle_timeout']:g} s")
    if r.get("hard_timeout"):
        when.append(f"in {max(r['hard_timeout'] - r.get('age', 0.0), 0.0):.1f} s")
    return ", ".join(when) or "never"


def flows(rows: list[dict]) -> str:
    return table(rows, [
        ("rule", "id"), ("prio", lambda r: r.get("priority", 0)), ("src", "src"),
        ("dst", "dst"), ("proto", "proto"), ("sport", "sport"), ("dport", "dport"),
        ("in", lambda r: r.get("in_port", "any")), ("vlan", lambda r: r.get("vlan", "any")),
        ("dscp", lambda r: r.get("dscp", "any")), ("does", _rule_does),
        ("packets", lambda r: r.get("packets", r.get("hits"))),
        ("bytes", lambda r: r.get("bytes", "-")),
        ("idle", "idle_for", lambda s: f"{s:.1f} s"), ("expires", _rule_expires),
    ], empty="no flow rules")


def snapshot(snap: dict, name: str) -> str:
    return render(snap, name)


def scaled(r: dict) -> str:
    lines = [f"service {r['service']}: {r['had']} -> {r['instances']} instances"]
    lines += [f"  started {s['nf']} pid {s['pid']} (log {s['log']})" for s in r["started"]]
    lines += [f"  stopping NF {s['id']} (pid {s['pid']})" if "id" in s else
              f"  stopping pid {s['pid']} (not joined yet)" for s in r["stopping"]]
    policy = r.get("respawn")
    if policy:
        lines.append(f"  respawn: on, at most {policy['limit']} restart(s) in "
                     f"{policy['window']:g} s ({r['restarts']} so far)")
    return "\n".join(lines)


def service_ready(s: dict) -> str:
    if not s["instances"]:
        return f"service {s['id']}: no instances"
    return f"service {s['id']}: {s['instances']} instances (NFs {_text(s['nfs'])})"


def scale_exited(service: int, exited: dict) -> str:
    """One line: an instance `scale --wait` waited for has exited."""
    said = f": {exited['said']}" if exited.get("said") else ""
    return (f"service {service}: {exited['nf']} (pid {exited['pid']}) "
            f"{how_it_ended(exited['code'])}{said} (log {exited['log']})")


def how_it_ended(code: int) -> str:
    """A child's exit status as Popen gives it: negative for a signal."""
    if code >= 0:
        return f"exited with {code}"
    try:
        return f"was killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"was killed by signal {-code}"


def keys_made(r: dict) -> str:
    return "\n".join([
        f"CURVE keys in {r['dir']}:", *(f"  {f}" for f in r["files"]),
        f"manager: onvm-manager start --control-tcp [HOST:]PORT --curve-keys {r['dir']}",
        f"client:  onvm-ctl --connect tcp://HOST:PORT --keys {r['dir']} status",
        "more clients: put their public .key files in authorized/",
    ])



def bpf_maps(rows: list[dict]) -> str:
    return table(rows, [("MAP", "name"), ("TYPE", "type"), ("KEY", "key_size"),
                        ("VALUE", "value_size"), ("ENTRIES", "entries"),
                        ("MAX", "max_entries"), ("FULL", "full"), ("BUSY", "busy")],
                 empty="no maps")


def bpf_info(r: dict) -> str:
    runs = (f"filter '{r['filter']}'{' inverted' if r['invert'] else ''}"
            if r["kind"] == "filter" else f"{r['path']} section {r['section'] or '(the only)'}")
    v = r["verdicts"]
    lines = pairs([
        ("NF", r["nf"]), ("runs", runs), ("engine", "JIT" if r["jit"] else "interpreter"),
        ("window", f"{r['window']} bytes"), ("loads", r["loads"]),
        ("verdicts", ", ".join(f"{k} {human(n)}" for k, n in v.items())),
        ("bad verdicts", r["bad_verdicts"]), ("run from a copy", r["copied"]),
    ])
    return lines + "\n\n" + bpf_maps(r["maps"])


def bpf_entries(rows: list[dict]) -> str:
    return table(rows, [("KEY", "key"), ("VALUE", "value")], empty="no entries")


def message_text(data: bytes) -> str:
    """A message as text when it is printable UTF-8, else as hex."""
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return data.hex()
    return text if text.isprintable() or not text else data.hex()


def message_target(target: dict) -> str:
    return f"NF {target['nf']}" if "nf" in target else f"service {target['service']}"


def message_result(r: dict, target: dict, waited: bool) -> str:
    if not waited:
        return f"sent to {r['sent']} NF(s) of {message_target(target)}"
    lines = [f"NF {reply['nf']}: {reply['data']}" for reply in r["replies"]]
    if "nf" in target and len(r["replies"]) == 1:
        return r["replies"][0]["data"]
    if r.get("missing"):
        lines.append(f"({r['missing']} NF(s) did not answer in time)")
    return "\n".join(lines)


_LATENCY = [("count", "count"), ("p50 us", "p50_us"), ("p90 us", "p90_us"),
            ("p99 us", "p99_us"), ("p99.9 us", "p99_9_us"), ("max us", "max_us")]


def latency(r: dict) -> str:
    """Per NF, per chain end to end, and per chain hop."""
    sample = r.get("sample", 0)
    head = ("latency " + ("over the last interval" if r.get("interval") else "since start")
            + (f", 1 packet in {sample}" if sample > 1 else "" if sample else
               " (off: latency_sample is 0)"))
    parts = [head, table(r.get("nfs", []), [("nf", "id"), ("name", "name"),
                                             ("svc", "service"), *_LATENCY], empty="no NFs")]
    rows = []
    for chain in r.get("chains", []):
        rows.append({**chain, "where": f"{chain['name']} (port to port)"})
        for hop in chain.get("hops", []):
            kind = "tee " if hop["kind"] == "tee" else ""
            rows.append({**hop, "where": f"  hop {hop['hop']}: {kind}service {hop['service']}"})
    parts.append(table(rows, [("chain", "where"), *_LATENCY], empty="no chains"))
    return "\n\n".join(parts)


def _event_fields(e: dict) -> str:
    return " ".join(f"{k}={_text(v)}" for k, v in e.items() if k not in ("seq", "time", "kind"))


def event_line(e: dict) -> str:
    """One event: local time, kind, its fields."""
    stamp = time.strftime("%H:%M:%S", time.localtime(e.get("time", 0)))
    frac = f"{e.get('time', 0) % 1:.3f}"[1:]
    return f"{stamp}{frac}  {e.get('seq', '')}  {e.get('kind', '')}  {_event_fields(e)}".rstrip()


def events(r: dict) -> str:
    rows = r.get("events", [])
    return "\n".join(event_line(e) for e in rows) if rows else "no events"


def _seconds(value: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value * 1e9:.3g} ns" if value else "0"


def _quantile_bound(bounds: list[float], buckets: list[int], q: float) -> float:
    """The bound of the bucket holding quantile q (inf: above the last)."""
    rank, seen = q * sum(buckets), 0
    for bound, count in zip([*bounds, float("inf")], buckets, strict=False):
        seen += count
        if count and seen >= rank:
            return bound
    return float("inf")


def nf_metrics(r: dict) -> str:
    """What an NF publishes: a table per family."""
    parts = [f"NF {r['nf']} ({r['name']}, service {r['service']})"]
    for fam in r["families"]:
        label = fam["label"].upper()
        head = f"{fam['name']} ({fam['kind']} by {fam['label']}): {fam['help']}"
        if fam["kind"] != "histogram":
            rows = [{"v": s["value"], "n": s["count"]} for s in fam["series"]]
            parts.append(head + "\n" + table(rows, [(label, "v"), ("VALUE", "n")],
                                             empty="  (no series yet)"))
            continue
        unit = _seconds if fam["name"].endswith("_seconds") else (lambda v: f"{v:g}")

        def bound(v: float, unit=unit) -> str:
            return "> top bucket" if v == float("inf") else f"<= {unit(v)}"

        rows = [{"v": s["value"], "n": s["count"],
                 "mean": unit(s["sum"] / s["count"]) if s["count"] else "-",
                 **{q: bound(_quantile_bound(fam["bounds"], s["buckets"], p))
                    if s["count"] else "-" for q, p in (("p50", 0.5), ("p90", 0.9),
                                                         ("p99", 0.99))}}
                for s in fam["series"]]
        parts.append(head + "\n" + table(
            rows, [(label, "v"), ("COUNT", "n"), ("MEAN", "mean"), ("P50", "p50"),
                   ("P90", "p90"), ("P99", "p99")], empty="  (no series yet)"))
    return "\n\n".join(parts)
