# SPDX-License-Identifier: BSD-3-Clause
"""Flow rules as users write them, read one way by the manager and by its
clients: the arguments of one rule (what flow.add takes) and rules files,
which hold many rules, one a line, in `onvm-ctl flow add`'s own syntax:

    # web traffic, then a whole IPv6 prefix
    --dst 10.0.0.0/8 --proto tcp --dport 80 --chain web
    --src 2001:db8::/32 --chain web --idle-timeout 60

`#` starts a comment; blank lines are skipped; `--opt=value` works as well
as `--opt value`. A client reads the whole file first, so a bad line is
named (with its number) before anything is sent; the manager checks every
rule again and adds all of them, with one classifier build, or none.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

from onvm import options
from onvm.contract import MAX_FLOW_RULES
from onvm.errors import RuleError
from onvm.rules import Rule, check, port_range

__all__ = ["MAX_IDLE_TIMEOUT", "OPTIONS", "idle_timeout", "match", "number_or_text", "parse",
           "parse_line", "read",
           "source_name"]

MAX_IDLE_TIMEOUT = 30 * 24 * 3600  # seconds: a month; 0 is never
# Far more than the largest rule set needs (a rule is a line of tens of
# bytes), and little enough that /dev/zero named as a file is refused.
MAX_FILE_BYTES = 16 << 20
INT63 = (1 << 63) - 1  # what a whole number sent over the control protocol may be

# A rule's options, as onvm-ctl spells them -> the flow.add argument.
OPTIONS = {
    "--src": "src", "--dst": "dst", "--proto": "proto", "--sport": "sport",
    "--dport": "dport", "--chain": "chain", "--idle-timeout": "idle_timeout",
}
_NUMERIC = ("proto", "sport", "dport")
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
    if args:
        check(match(args))
    return args


def parse(text: str, source: str = "rules", chain: str | None = None,
          timeout: float | None = None) -> list[tuple[int, dict]]:
    """(line number, flow.add arguments) of each rule in `text`, in order.
    `chain` and `timeout` are the defaults of lines that give none. Raises
    RuleError naming `source` and the line."""
    rules: list[tuple[int, dict]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            args = parse_line(line)
        except RuleError as e:
            raise RuleError(f"{source} line {number}: {e}") from None
        if not args:
            continue
        if "chain" not in args:
            if chain is None:
                raise RuleError(f"{source} line {number}: no --chain: give it on the line, "
                                "or --chain NAME for every line without one")
            args["chain"] = chain
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
    try:
        if str(path) == "-":
            data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        else:
            with open(path, "rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise RuleError(f"rules file {where} does not exist") from None
    except IsADirectoryError:
        raise RuleError(f"rules file {where} is a directory: give a file of rules, one a "
                        "line") from None
    except OSError as e:
        raise RuleError(f"cannot read rules file {where}: {e.strerror or e}") from None
    if len(data) > MAX_FILE_BYTES:
        raise RuleError(f"rules file {where} is larger than {MAX_FILE_BYTES >> 20} MiB: "
                        "not a rules file, or split it")
    try:
        text = data.decode()
    except UnicodeDecodeError as e:
        raise RuleError(f"rules file {where} is not UTF-8 text (byte {e.start}): give a file "
                        "of rules, one a line") from None
    return parse(text, where, chain, timeout)
