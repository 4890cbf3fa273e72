# SPDX-License-Identifier: BSD-3-Clause
"""Named chains: the default chain (id 0) and chains that flow rules steer
packets to, by name. Replacing a chain publishes a new version in one
atomic step (see onvm_mgr_chain_set): packets in flight finish the old one.
"""

from __future__ import annotations

from onvm.contract import DEFAULT_CHAIN, MAX_CHAINS, NAME_MAX
from onvm.errors import ConfigError, ControlError, DpdkError
from onvm.manager.bringup.config import NAME_RE, Hop, parse_chain
from onvm.manager.protocol import BAD_ARGS, CONFLICT, LIMIT, NOT_FOUND
from onvm.manager.tables.dataplane import DataPlane

DEFAULT = "default"


class Chains:
    def __init__(self, dataplane: DataPlane) -> None:
        self.dp = dataplane
        self.ids: dict[str, int] = {DEFAULT: DEFAULT_CHAIN}

    def id_of(self, name: str) -> int:
        if name not in self.ids:
            raise ControlError(NOT_FOUND, f"no chain '{name}' (chain list shows them)")
        return self.ids[name]

    def set(self, name: str, spec: str | list) -> dict:
        if not NAME_RE.fullmatch(name):
            raise ControlError(BAD_ARGS,
                               f"chain name '{name}': 1 to {NAME_MAX} letters, digits, - or _")
        if isinstance(spec, list):
            if not all(isinstance(h, (str, int)) and not isinstance(h, bool) for h in spec):
                raise ControlError(BAD_ARGS, "hops: a list of service ids and out:PORT strings")
            spec = ",".join(map(str, spec))
        try:
            hops = parse_chain(spec)
        except ConfigError as e:
            raise ControlError(BAD_ARGS, str(e)) from None
        if not hops and name != DEFAULT:
            raise ControlError(BAD_ARGS, "a named chain needs at least one hop")
        chain_id = self.ids.get(name)
        if chain_id is None:
            free = sorted(set(range(1, MAX_CHAINS)) - set(self.ids.values()))
            if not free:
                raise ControlError(LIMIT, f"{MAX_CHAINS - 1} named chains already")
            chain_id = free[0]
        self._publish(chain_id, hops)
        self.ids[name] = chain_id
        return self.describe(name)

    def delete(self, name: str, used_by: list[int]) -> dict:
        chain_id = self.id_of(name)
        if name == DEFAULT:
            raise ControlError(CONFLICT, "the default chain cannot be deleted; set it to '' to "
                               "drop what no rule steers")
        if used_by:
            raise ControlError(CONFLICT, f"chain '{name}' is used by flow rule(s) "
                               f"{', '.join(map(str, used_by))}: delete them first")
        described = self.describe(name)
        self._publish(chain_id, [])
        del self.ids[name]
        return described

    def _publish(self, chain_id: int, hops: list[Hop]) -> None:
        try:
            self.dp.set_chain(chain_id, hops)
        except ConfigError as e:
            raise ControlError(BAD_ARGS, str(e)) from None
        except DpdkError as e:  # no free chain body within the grace period
            raise ControlError(LIMIT, f"chain not published: {e}") from None

    def describe(self, name: str) -> dict:
        chain_id = self.ids[name]
        hops = self.dp.chain(chain_id)
        return {"name": name, "id": chain_id, "hops": ",".join(map(str, hops)),
                "length": len(hops)}

    def list(self) -> list[dict]:
        return [self.describe(name) for name in sorted(self.ids, key=self.ids.get)]
