# SPDX-License-Identifier: BSD-3-Clause
"""The control protocol's envelope, shared by the server and its clients.

A request is one msgpack map {"v": PROTOCOL_VERSION, "cmd": str, "args":
map, "id": any}; a reply is {"v", "id", "ok": true, "result"} or {"v",
"id", "ok": false, "error": {"code", "message"}}. docs/CONTROL.md has the
commands and their schemas.
"""

from __future__ import annotations

from typing import Any

import msgpack

from onvm import contract
from onvm.errors import ControlError

__all__ = ["ControlError", "PROTOCOL_VERSION", "control_endpoint", "stats_endpoint"]

PROTOCOL_VERSION = 1

# Error codes a reply may carry.
BAD_REQUEST = "bad_request"  # not msgpack, not a map, no command
BAD_VERSION = "unsupported_version"
UNKNOWN_COMMAND = "unknown_command"
BAD_ARGS = "bad_args"  # missing, unknown or ill-typed arguments
NOT_FOUND = "not_found"
CONFLICT = "conflict"  # the command contradicts the manager's state
LIMIT = "limit"  # a table is full
BUSY = "busy"  # try again later
INTERNAL = "internal"

STATS_TOPIC = b"stats"
EVENTS_TOPIC = b"events"

# service.scale's respawn_limit (restarts within a minute): onvm-ctl checks
# it before sending, as the manager does.
MAX_RESPAWN_LIMIT = 1000

# No command takes a value nested deeper than a list of hops; a request
# nested deeper is refused before any command sees it.
MAX_DEPTH = 32


def control_endpoint(name: str) -> str:
    """The ipc endpoint of manager `name`'s requests (ROUTER)."""
    return f"ipc://{contract.RUNTIME_DIR_FMT % name}/{contract.CONTROL_SOCKET}"


def stats_endpoint(name: str) -> str:
    """The ipc endpoint of manager `name`'s stats stream (PUB)."""
    return f"ipc://{contract.RUNTIME_DIR_FMT % name}/{contract.STATS_SOCKET}"


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def unpack(data: bytes, max_len: int | None = None) -> Any:
    """Decode one message; raises ControlError(BAD_REQUEST) on anything
    that is not exactly one well-formed msgpack value, or that nests
    deeper than MAX_DEPTH."""
    limit = max_len or len(data) or 1
    try:
        msg = msgpack.unpackb(
            data, raw=False, strict_map_key=True,
            max_bin_len=limit, max_str_len=limit, max_array_len=limit, max_map_len=limit,
        )
    except (msgpack.StackError, RecursionError):
        raise ControlError(BAD_REQUEST, _too_deep()) from None
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, TypeError) as e:
        raise ControlError(BAD_REQUEST, f"not a msgpack message: {e or type(e).__name__}"
                           ) from None
    if nesting(msg) > MAX_DEPTH:
        raise ControlError(BAD_REQUEST, _too_deep())
    return msg


def _too_deep() -> str:
    return f"the message nests lists or maps more than {MAX_DEPTH} levels deep"


def nesting(value: Any) -> int:
    """How deep lists and maps nest in `value` (a scalar: 0), counted
    without recursion so that no depth can exhaust the stack."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = (item.values() if isinstance(item, dict) else
                    item if isinstance(item, list | tuple) else None)
        if children is None:
            continue
        deepest = max(deepest, depth)
        if depth <= MAX_DEPTH:  # deeper is too deep already: no need to look further
            pending.extend((child, depth + 1) for child in children)
    return deepest


def request(cmd: str, args: dict | None = None, req_id: Any = None) -> dict:
    msg: dict = {"v": PROTOCOL_VERSION, "cmd": cmd, "args": args or {}}
    if req_id is not None:
        msg["id"] = req_id
    return msg


def ok(result: Any, req_id: Any = None) -> dict:
    return {"v": PROTOCOL_VERSION, "id": req_id, "ok": True, "result": result}


def error(code: str, message: str, req_id: Any = None) -> dict:
    return {"v": PROTOCOL_VERSION, "id": req_id, "ok": False,
            "error": {"code": code, "message": message}}


def request_id(msg: Any) -> int | str | None:
    """The id of a decoded request if it has a usable one, else None."""
    req_id = msg.get("id") if isinstance(msg, dict) else None
    return req_id if isinstance(req_id, (int, str)) and not isinstance(req_id, bool) else None


def parse_request(msg: Any) -> tuple[str, dict, Any]:
    """(cmd, args, id) of a decoded request; raises ControlError."""
    if not isinstance(msg, dict):
        raise ControlError(BAD_REQUEST, "a request is a msgpack map")
    req_id = msg.get("id")
    if not isinstance(req_id, (int, str, type(None))) or isinstance(req_id, bool):
        raise ControlError(BAD_REQUEST, "'id' must be an integer or a string")
    version = msg.get("v")
    if version != PROTOCOL_VERSION:
        raise ControlError(
            BAD_VERSION, f"protocol version {version!r} is not supported; "
            f"this manager speaks {PROTOCOL_VERSION}"
        )
    cmd = msg.get("cmd")
    if not isinstance(cmd, str) or not cmd:
        raise ControlError(BAD_REQUEST, "'cmd' must be a non-empty string")
    args = msg.get("args", {})
    if not isinstance(args, dict) or not all(isinstance(k, str) for k in args):
        raise ControlError(BAD_ARGS, "'args' must be a map with string keys")
    unknown = set(msg) - {"v", "cmd", "args", "id"}
    if unknown:
        raise ControlError(BAD_REQUEST, f"unknown request field(s): {', '.join(sorted(unknown))}")
    return cmd, args, req_id
