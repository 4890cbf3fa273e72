# SPDX-License-Identifier: BSD-3-Clause
"""Flow rules files (onvm.flow_rules): what each line becomes as flow.add
arguments, and one line naming the line and the problem for everything
that is wrong with a file."""

from __future__ import annotations

import io
import sys

import pytest

from onvm import flow_rules
from onvm.contract import MAX_FLOW_RULES
from onvm.errors import RuleError


def test_lines_become_flow_add_arguments_in_order():
    text = """\
# web traffic first
--dst 10.0.0.0/8 --proto tcp --dport 80 --chain web

--src=2001:db8::/32 --sport 1000-2000 --chain v6 --idle-timeout 60   # a comment
   --proto 17 --dport any --chain web
--dst "192.168.1.0/24" --chain 'web'
"""
    assert flow_rules.parse(text, "r") == [
        (2, {"dst": "10.0.0.0/8", "proto": "tcp", "dport": 80, "chain": "web"}),
        (4, {"src": "2001:db8::/32", "sport": "1000-2000", "chain": "v6", "idle_timeout": 60.0}),
        (5, {"proto": 17, "dport": "any", "chain": "web"}),
        (6, {"dst": "192.168.1.0/24", "chain": "web"}),
    ]


def test_chain_and_idle_timeout_defaults_fill_only_lines_without_them():
    text = "--dst 10.0.0.0/8\n--dst ::/0 --chain own --idle-timeout 5\n"
    assert flow_rules.parse(text, "r", chain="web", timeout=30.0) == [
        (1, {"dst": "10.0.0.0/8", "chain": "web", "idle_timeout": 30.0}),
        (2, {"dst": "::/0", "chain": "own", "idle_timeout": 5.0}),
    ]


def test_crlf_line_endings_and_a_missing_last_newline():
    assert [n for n, _ in flow_rules.parse("--chain a\r\n# x\r\n--chain b", "r")] == [1, 3]


@pytest.mark.parametrize("line, problem", [
    ("--prot tcp --chain a", "'--prot' is not an option of a rule; a rule takes --src, --dst"),
    ("dst 10.0.0.0/8 --chain a", "'dst' is not an option of a rule"),
    ("--dst --chain a", "--dst needs a value"),
    ("--chain a --dst", "--dst needs a value"),
    ("--dst= --chain a", "--dst needs a value"),
    ("--dst 10.0.0.0/8 --dst 10.0.0.0/9 --chain a", "--dst is given twice"),
    ("--chain a --chain b", "--chain is given twice"),
    ("--dst 10.0.0.0/33 --chain a", "destination '10.0.0.0/33' is not an IPv4 or IPv6"),
    ("--src 2001:db8::/129 --chain a", "source '2001:db8::/129' is not an IPv4 or IPv6"),
    ("--src 10.0.0.1 --dst 2001:db8::1 --chain a", "rule mixes IPv4 and IPv6 addresses"),
    ("--dport 80-20 --chain a", "destination port range 80-20 runs backwards"),
    ("--sport 70000 --chain a", "source port range 70000-70000 is not within 0-65535"),
    ("--sport 80- --chain a", "sport: port '80-' is not a number, a range like 1024-65535"),
    ("--dport " + "9" * 5000 + " --chain a", "dport: port '999999999999999999999999..."),
    ("--proto gre --chain a", "protocol 'gre' is not one of any, icmp, tcp"),
    ("--proto 256 --chain a", "protocol '256' is not one of"),
    ("--idle-timeout nan --chain a", "--idle-timeout must be a number from 0 to 2592000 seconds"),
    ("--idle-timeout inf --chain a", "--idle-timeout must be a number from 0 to 2592000"),
    ("--idle-timeout -1 --chain a", "--idle-timeout must be a number from 0 to 2592000"),
    ("--idle-timeout 1e400 --chain a", "--idle-timeout must be a number from 0 to 2592000"),
    ("--idle-timeout " + "9" * 5000 + " --chain a", "not '999999999999999999999999...'"),
    ('--dst "10.0.0.0/8 --chain a', "a quotation mark is not closed"),
    ("--dst 10.0.0.0/8", "no --chain: give it on the line, or --chain NAME"),
])
def test_a_bad_line_is_named_with_its_problem(line, problem):
    text = "# rules\n--dst 10.1.0.0/16 --chain a\n" + line + "\n--chain a\n"
    with pytest.raises(RuleError) as e:
        flow_rules.parse(text, "rules.txt")
    message = str(e.value)
    assert message.startswith("rules.txt line 3: "), message
    assert problem in message
    assert "\n" not in message and len(message) < 300


def test_a_file_of_nothing_but_comments_is_refused():
    with pytest.raises(RuleError, match="r holds no rule"):
        flow_rules.parse("# only\n\n   # comments\n", "r")
    with pytest.raises(RuleError, match="r holds no rule"):
        flow_rules.parse("", "r")


def test_more_rules_than_any_manager_holds_are_refused():
    text = "--chain a\n" * MAX_FLOW_RULES
    assert len(flow_rules.parse(text, "r")) == MAX_FLOW_RULES
    with pytest.raises(RuleError, match=f"r holds more than {MAX_FLOW_RULES} rules"):
        flow_rules.parse(text + "--chain a\n", "r")


def test_read_a_file(tmp_path):
    path = tmp_path / "rules.txt"
    path.write_text("--dst 10.0.0.0/8 --chain web\n--dst fd00::/8 --chain web\n")
    assert [args["dst"] for _, args in flow_rules.read(path)] == ["10.0.0.0/8", "fd00::/8"]


def test_read_standard_input(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"--chain web\n")))
    assert flow_rules.read("-") == [(1, {"chain": "web"})]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"--dport x --chain w\n")))
    with pytest.raises(RuleError, match="^standard input line 1: dport: port 'x'"):
        flow_rules.read("-")


@pytest.mark.parametrize("make, message", [
    (lambda d: d, "is a directory: give a file of rules"),
    (lambda d: d / "missing.txt", "does not exist"),
    (lambda d: _write(d / "empty.txt", b""), "holds no rule"),
    (lambda d: _write(d / "binary.txt", b"--chain a\n\xff\xfe\n"), "is not UTF-8 text (byte 10)"),
    (lambda d: _write(d / "big.txt", b"#" * (flow_rules.MAX_FILE_BYTES + 1)),
     "is larger than 16 MiB"),
])
def test_unreadable_files_are_one_line(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(RuleError) as e:
        flow_rules.read(path)
    assert str(path) in str(e.value) and message in str(e.value)
    assert "\n" not in str(e.value)


def test_an_empty_path_is_refused():
    with pytest.raises(RuleError, match="no rules file named"):
        flow_rules.read("")


def _write(path, data: bytes):
    path.write_bytes(data)
    return path
