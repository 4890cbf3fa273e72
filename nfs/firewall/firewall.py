# SPDX-License-Identifier: BSD-3-Clause
"""firewall (Python, vector API): 5-tuple rules from a TOML file, first match
wins, a default for the rest. Rules compile to DPDK ACL tries; each batch
is classified in one C call and mapped to verdicts with NumPy.

Rules file:
    default = "drop"                 # or "pass"
    [[rules]]
    action = "pass"                  # pass | drop
    proto = "tcp"                    # tcp, udp, icmp, icmpv6, sctp, any, or 0..255
    src = "10.0.0.0/8"               # IPv4 or IPv6 address or CIDR, or "any"
    dst = "2001:db8::/32"
    src_port = "any"                 # 80, "1024-65535" or "any"
    dst_port = 443
"""

from __future__ import annotations

from pathlib import Path

from onvm import options
from onvm.contract import BATCH_MAX
from onvm.nflib import DROP, NEXT, NF, Classifier, Rule, RuleError, main, verdict_table
from onvm.rules import check, port_range

ACTIONS = {"pass": NEXT, "drop": DROP}
FILE_KEYS = {"default", "rules"}
RULE_KEYS = {"action", "proto", "src", "dst", "src_port", "dst_port"}


def _port_range(value, where: str) -> tuple[int, int] | None:
    try:
        return port_range(value)
    except RuleError as e:
        raise RuleError(f"{where}: {e}") from None


def _action(value, where: str, what: str) -> int:
    """The verdict of 'pass' or 'drop'; anything else (a number, a list) is refused."""
    if not isinstance(value, str) or value not in ACTIONS:
        raise RuleError(f"{where}: {what} must be 'pass' or 'drop', "
                        f"not {options.shown(repr(value))}")
    return ACTIONS[value]


def load_rules(path: str | Path) -> tuple[list[Rule], list[int], int]:
    """Rules, their verdicts, and the default verdict, from a TOML file."""
    data = options.read_toml(path, "rules file", RuleError)
    unknown = set(data) - FILE_KEYS
    if unknown:
        raise RuleError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; a rules file "
                        "holds `default` and [[rules]] tables")
    default = _action(data.get("default", "drop"), str(path), "default")
    specs = data.get("rules", [])
    if not isinstance(specs, list):
        raise RuleError(f"{path}: rules must be [[rules]] tables")
    rules, verdicts = [], []
    for i, spec in enumerate(specs, start=1):
        where = f"{path}: rule {i}"
        if not isinstance(spec, dict):
            raise RuleError(f"{where} is not a table")
        unknown = set(spec) - RULE_KEYS
        if unknown:
            raise RuleError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        verdict = _action(spec.get("action"), where, "action")
        proto = spec.get("proto")
        rule = Rule(
            src=spec.get("src"), dst=spec.get("dst"),
            proto=None if proto in (None, "any") else proto,
            src_ports=_port_range(spec.get("src_port"), where),
            dst_ports=_port_range(spec.get("dst_port"), where),
        )
        try:
            check(rule)
        except RuleError as e:
            raise RuleError(f"{where}: {e}") from None
        rules.append(rule)
        verdicts.append(verdict)
    return rules, verdicts, default


class Firewall:
    """The classification, apart from the NF, so it can be used on its own."""

    def __init__(self, rules: list[Rule], verdicts: list[int], default: int) -> None:
        self.classifier = Classifier(rules)
        self.rules = len(rules)
        # Result r (1-based rule index, 0 for no match) -> verdict.
        self.table = verdict_table(default, verdicts)

    def verdicts(self, batch) -> None:
        batch.set_verdicts_by_rule(self.classifier, self.table)


def run() -> None:
    nf = NF(name="firewall.py")
    parser = options.ArgumentParser(prog="firewall.py")
    parser.add_argument("--rules", required=True, help="TOML rules file")
    parser.add_argument("--batch", type=options.integer_arg(1, BATCH_MAX), default=512,
                        help=f"most packets per handler call, 1 to {BATCH_MAX}")
    args = parser.parse_args(nf.args)
    rules = load_rules(args.rules)  # a bad file stops the NF before it takes traffic
    nf.join()
    fw = Firewall(*rules)
    nf.vector_handler(fw.verdicts, batch=args.batch, fields=("keys",))

    @nf.periodic(seconds=1.0)
    def report():
        # nflib counts every packet's action in C: no per-batch counting here.
        stats = nf.stats()
        print(f"firewall.py: passed {stats['act_next']} dropped {stats['act_drop']}", flush=True)

    print(f"firewall.py: NF {nf.nf_id} serving service {nf.service} with "
          f"{fw.rules} rules", flush=True)
    nf.run()
    report()


if __name__ == "__main__":
    raise SystemExit(main(run))
