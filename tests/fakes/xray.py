"""An in-process stand-in for nodes.xray.Xray: each node's users and config kept in memory."""

from __future__ import annotations

import json
from collections.abc import Iterable

from nodes import NodeError, NodeTarget
from nodes.reality import XrayUser
from nodes.xray import XrayDown, XrayPlan
from nodes.xray_grace import GraceRoutes
from nodes.xrayforeign import NOTHING, ForeignXray


class FakeXray:
    """Same methods as nodes.xray.Xray. A node in `unreachable` answers nothing; one not in
    `running` (never started, or wiped) has no Xray serving until restart() starts it from the
    config last written, unless it is in `missing` (no Xray installed); `cut` lists the users
    whose open connections a reconcile closed."""

    def __init__(self) -> None:
        self.config_path = "/usr/local/etc/xray/config.json"
        self.running: dict[str, dict[str, XrayUser]] = {}
        self.configs: dict[str, str] = {}
        self.unreachable: set[str] = set()
        self.missing: set[str] = set()
        self.cut: dict[str, list[str]] = {}
        self.routes: dict[str, GraceRoutes] = {}  # the grace routes each running Xray has
        self.unrouted: set[str] = set()  # nodes whose Xray has no RoutingService
        self.own_config: dict[str, ForeignXray] = {}  # nodes whose Xray keeps a config of theirs

    def _check(self, target: NodeTarget) -> None:
        if target.name in self.unreachable:
            raise NodeError(target.name, "connection refused")

    def _served(self, target: NodeTarget) -> dict[str, XrayUser]:
        self._check(target)
        if target.name not in self.running:
            raise XrayDown(target.name, "xray GetInboundUsers failed: UNAVAILABLE")
        return self.running[target.name]

    def wipe(self, name: str, *, uninstall: bool = False) -> None:
        """The machine lost its Xray's users and config (and with `uninstall`, Xray itself)."""
        self.running.pop(name, None)
        self.configs.pop(name, None)
        self.routes.pop(name, None)
        if uninstall:
            self.missing.add(name)

    async def write_config(self, target: NodeTarget, config: str) -> ForeignXray:
        """What the node's own config serves is kept (`own_config`; by default nothing)."""
        self._check(target)
        self.configs[target.name] = config
        return self.own_config.get(target.name, NOTHING)

    async def restart(self, target: NodeTarget) -> None:
        self._check(target)
        if target.name in self.missing:
            return
        config = json.loads(self.configs[target.name])
        clients = config["inbounds"][0]["settings"]["clients"]
        self.running[target.name] = {c["email"]: XrayUser(c["email"], c["id"]) for c in clients}
        rules = config.get("routing", {}).get("rules", [])
        self.routes[target.name] = GraceRoutes(tuple(ip for r in rules for ip in r.get("ip", [])))

    async def route_grace(
        self, target: NodeTarget, routes: GraceRoutes, *, even_if_down: bool = False
    ) -> bool:
        self._served(target)
        if target.name in self.unrouted:
            raise NodeError(target.name, "xray ListRule failed: UNIMPLEMENTED")
        changed = self.routes.get(target.name) != routes
        self.routes[target.name] = routes
        return changed

    async def users(self, target: NodeTarget, *, even_if_down: bool = False) -> list[XrayUser]:
        return list(self._served(target).values())

    async def add_user(self, target: NodeTarget, user: XrayUser) -> None:
        self._served(target).setdefault(user.email, user)

    async def traffic(
        self, target: NodeTarget, *, reset: bool = True
    ) -> dict[str, tuple[int, int]]:
        self._served(target)
        return {}

    async def reconcile(
        self,
        target: NodeTarget,
        wanted: Iterable[XrayUser],
        *,
        port: int,
        even_if_down: bool = False,
    ) -> XrayPlan:
        served = self._served(target)
        want = {user.email: user for user in wanted}
        removed = sorted(name for name, user in served.items() if want.get(name) != user)
        added = sorted(name for name, user in want.items() if served.get(name) != user)
        served.clear()
        served.update(want)
        self.cut.setdefault(target.name, []).extend(n for n in removed if n not in want)
        return XrayPlan(tuple(added), tuple(removed))
