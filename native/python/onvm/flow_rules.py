# SPDX-License-Identifier: BSD-3-Clause
"""Flow rules as users write them, read one way by the manager and by its
clients: the arguments of one rule (what flow.add takes) and rules files,
which hold many rules, one a line, in `onvm-ctl flow add`'s own syntax:

    # web traffic, then a whole IPv6 prefix
    --dst 10.0.0.0/8 --proto tcp --dport 80 --chain web
    --src 2001:db8::/32 --chain web --idle-timeout 60
    --in-port 1 --vlan 100 --action drop --priority 10

`#` starts a comment; blank lines are skipped; `--opt=value` works as well
as `--opt value`. A client reads the whole file first, so a bad line is
named (with its number) before anything is sent; the manager checks every
rule again and adds all of them, in one change, or none.

Beyond the 5-tuple (onvm.rules) a rule may match the input port, the outer
VLAN id and the DSCP; its action is `chain` (to its chain, the default) or
`drop`; `mirror` copies what it matches to a service besides; `priority`
orders it (higher wins, then the rule added first); it goes after
`idle_timeout` seconds without a match or `hard_timeout` seconds after it
was added.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from onvm import options
from onvm.contract import FLOW_MAX_PRIORITY, MAX_FLOW_RULES, MAX_PORTS, MAX_SERVICES, RuleField
from onvm.errors import RuleError
from onvm.rules import Rule, check, port_range

__all__ = ["ACTIONS", "MAX_HARD_TIMEOUT", "MAX_IDLE_TIMEOUT", "OPTIONS", "action",
           "hard_timeout", "idle_timeout", "match", "match_fields", "number_or_text", "parse",
           "parse_line", "priority", "read", "source_name"]

MAX_IDLE_TIMEOUT = 30 * 24 * 3600  # seconds: a month; 0 is never
MAX_HARD_TIMEOUT = MAX_IDLE_TIMEOUT
# Far more than the largest rule set needs (a rule is a line of tens of
# bytes), and little enough that /dev/zero named as a file is refused.
MAX_FILE_BYTES = 16 << 20
INT63 = (1 << 63) - 1  # what a whole number sent over the control protocol may be

ACTIONS = ("chain", "drop")
# The bounds of a rule's whole-number fields beyond the 5-tuple.
IN_PORTS = (0, MAX_PORTS - 1)
VLAN_IDS = (0, 4095)
DSCPS = (0, 63)
MIRRORS = (1, MAX_SERVICES - 1)
PRIORITIES = (0, FLOW_MAX_PRIORITY)
# Match fields -> their bit in struct onvm_rule's `fields`.
_MATCH_FIELDS = {"in_port": (RuleField.IN_PORT, IN_PORTS, "an input port"),
                 "vlan": (RuleField.VLAN, VLAN_IDS, "a VLAN id"),
                 "dscp": (RuleField.DSCP, DSCPS, "a DSCP")}

# A rule's options, as onvm-ctl spells them -> the flow.add argument.
OPTIONS = {
    "--src": "src", "--dst": "dst", "--proto": "proto", "--sport": "sport",
    "--dport": "dport", "--in-port": "in_port", "--vlan": "vlan", "--dscp": "dscp",
    "--chain": "chain", "--action": "action", "--mirror": "mirror", "--priority": "priority",
    "--idle-timeout": "idle_timeout", "--hard-timeout": "hard_timeout",
}
_NUMERIC = ("proto", "sport", "dport", "in_port", "vlan", "dscp", "mirror", "priority")
_DIGITS = re.compile("[0-9]+")


def number_or_text(value: str | None) -> int | str | None:
    """A port or protocol as typed: a number as an int, a range or a name as
    given (as is a number too large to send: the manager names the range)."""
    if value is None or not _DIGITS.fullmatch(value):
        return value
    try:
        return options.integer(value, 0, INT63)
    except ValueError:
        return value


def _ports(value, what: str) -> tuple[int, int] | None:
    try:
        return port_range(value)
    except RuleError as e:
        raise RuleError(f"{what}: {e}") from None


def match(args: dict) -> Rule:
    """The 5-tuple of flow.add arguments (src, dst, proto, sport, dport;
    absent ones match anything), unchecked: onvm.rules.rule_fields checks."""
    return Rule(src=args.get("src"), dst=args.get("dst"), proto=args.get("proto"),
                src_ports=_ports(args.get("sport"), "sport"),
                dst_ports=_ports(args.get("dport"), "dport"))


def idle_timeout(value, what: str = "idle_timeout") -> float:
    """Seconds without a hit before a rule goes (0: never); NaN or an
    infinity would never expire and is no JSON number."""
    try:
        return options.number(value, 0, MAX_IDLE_TIMEOUT, " seconds")
    except ValueError as e:
        raise RuleError(f"{what} {e} (0: never)") from None


def hard_timeout(value, what: str = "hard_timeout") -> float:
    """Seconds after its add before a rule goes, whatever its traffic (0:
    never)."""
    try:
        return options.number(value, 0, MAX_HARD_TIMEOUT, " seconds")
    except ValueError as e:
        raise RuleError(f"{what} {e} (0: never)") from None


def _whole(value, bounds: tuple[int, int], what: str) -> int:
    try:
        return options.integer(value, *bounds)
    except ValueError as e:
        raise RuleError(f"{what} {e}") from None


def match_fields(args: dict) -> dict:
    """The fields of `struct onvm_rule` beyond the 5-tuple for flow.add
    arguments in_port, vlan and dscp (absent: any); raises RuleError."""
    out = {"fields": 0}
    for key, (bit, bounds, _) in _MATCH_FIELDS.items():
        value = args.get(key)
        if value is not None:
            out[key] = _whole(value, bounds, key)
            out["fields"] |= bit
    return out


def priority(value, what: str = "priority") -> int:
    """A rule's priority: 0 (None) to FLOW_MAX_PRIORITY, the higher wins."""
    return 0 if value is None else _whole(value, PRIORITIES, what)


def action(args: dict) -> tuple[str, int]:
    """(action, mirror service or 0) of flow.add arguments, checked with
    the chain: a chain rule needs one, a drop rule has none and copies
    nothing. Raises RuleError."""
    act = args.get("action") or "chain"
    if act not in ACTIONS:
        raise RuleError(f"action '{options.shown(act)}' is not one of {', '.join(ACTIONS)}")
    mirror = args.get("mirror")
    mirror = 0 if mirror is None else _whole(
        mirror, MIRRORS, "mirror (a service id)")
    if act == "chain" and args.get("chain") is None:
        raise RuleError("'chain' is required: the chain to steer to (or action drop)")
    if act == "drop" and args.get("chain") is not None:
        raise RuleError("a drop rule steers nowhere: leave out its chain")
    if act == "drop" and mirror:
        raise RuleError("a drop rule copies nothing: leave out mirror, or steer to a chain "
                        "of that service")
    return act, mirror


def _tokens(text: str) -> list[str]:
    if '"' not in text and "'" not in text:
        return text.split()  # the usual line: fast
    try:
        return shlex.split(text)
    except ValueError:  # shlex's only complaint
        raise RuleError("a quotation mark is not closed") from None


def parse_line(text: str) -> dict:
    """The flow.add arguments one line gives (its comment removed): {} for a
    blank line. Raises RuleError saying what is wrong with it."""
    words = _tokens(text.split("#", 1)[0])
    args: dict = {}
    i = 0
    while i < len(words):
        word = words[i]
        option, eq, value = word.partition("=")
        if option not in OPTIONS:
            raise RuleError(f"'{options.shown(word)}' is not an option of a rule; a rule takes "
                            f"{', '.join(OPTIONS)}")
        if not eq:
            i += 1
            value = words[i] if i < len(words) and not words[i].startswith("--") else ""
        if not value:
            raise RuleError(f"{option} needs a value")
        key = OPTIONS[option]
        if key in args:
            raise RuleError(f"{option} is given twice")
        args[key] = value
        i += 1
    for key in _NUMERIC:
        if key in args:
            args[key] = number_or_text(args[key])
    if "idle_timeout" in args:
        args["idle_timeout"] = idle_timeout(args["idle_timeout"], "--idle-timeout")
    if "hard_timeout" in args:
        args["hard_timeout"] = hard_timeout(args["hard_timeout"], "--hard-timeout")
    if args:
        check(match(args))
        for key, (_, bounds, _) in _MATCH_FIELDS.items():
            if key in args:
                _whole(args[key], bounds, "--" + key.replace("_", "-"))
        priority(args.get("priority"), "--priority")
        if args.get("action", "chain") not in ACTIONS:
            raise RuleError(f"--action '{options.shown(args['action'])}' is not one of "
                            f"{', '.join(ACTIONS)}")
        if "mirror" in args:
            _whole(args["mirror"], MIRRORS, "--mirror (a service id)")
    return args


def _check_action(args: dict, source: str, number: int) -> None:
    try:
        action(args)
    except RuleError as e:
        raise RuleError(f"{source} line {number}: {e}") from None


def parse(text: str, source: str = "rules", chain: str | None = None,
          timeout: float | None = None) -> list[tuple[int, dict]]:
    """(line number, flow.add arguments) of each rule in `text`, in order.
    `chain` and `timeout` are the defaults of lines that give none (`chain`
    of those whose action is chain). Raises RuleError naming `source` and
    the line."""
    rules: list[tuple[int, dict]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            args = parse_line(line)
        except RuleError as e:
            raise RuleError(f"{source} line {number}: {e}") from None
        if not args:
            continue
        if "chain" not in args and args.get("action", "chain") == "chain":
            if chain is None:
                raise RuleError(f"{source} line {number}: no --chain: give it on the line, "
                                "or --chain NAME for every line without one")
            args["chain"] = chain
        _check_action(args, source, number)
        if "idle_timeout" not in args and timeout is not None:
            args["idle_timeout"] = timeout
        rules.append((number, args))
        if len(rules) > MAX_FLOW_RULES:
            raise RuleError(f"{source} holds more than {MAX_FLOW_RULES} rules, more than any "
                            "manager holds (ONVM_MAX_FLOW_RULES): split it")
    if not rules:
        raise RuleError(f"{source} holds no rule (only blank lines and comments)")
    return rules


def source_name(path: str | Path) -> str:
    """How errors name the rules file `path` ("-": standard input)."""
    return "standard input" if str(path) == "-" else str(path)


def read(path: str | Path, chain: str | None = None,
         timeout: float | None = None) -> list[tuple[int, dict]]:
    """parse() of a rules file; "-" reads standard input. Raises RuleError,
    one line, if the file cannot be read or a line is wrong."""
    where = source_name(path)
    if not where:
        raise RuleError("no rules file named (an empty path): give --file RULES")
    data = options.read_user_file(path, "rules file",
                                  RuleError, "give a file of rules, one a line",
                                  MAX_FILE_BYTES)
    if len(data) > MAX_FILE_BYTES:
        raise RuleError(f"rules file {where} is larger than {MAX_FILE_BYTES >> 20} MiB: "
                        "not a rules file, or split it")
    try:
        text = data.decode()
    except UnicodeDecodeError as e:
        raise RuleError(f"rules file {where} is not UTF-8 text (byte {e.start}): give a file "
                        "of rules, one a line") from None
    return parse(text, where, chain, timeout)
