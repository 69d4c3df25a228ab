"""Xray on a node: its config written from the database, users changed live, traffic read.

Xray has no reload (SIGHUP kills it), so a user is added or removed through its gRPC API
(HandlerService), which touches nobody else's sessions; the config file is written too, so a
restarted Xray serves the same users. The API listens on the node's loopback only and is
reached through the node's SSH connection. Its answers are read as untrusted input: bounded,
checked, never quoted in errors."""

from __future__ import annotations

import ipaddress
import json
import logging
import shlex
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from nodes import protowire as pb
from nodes.errors import NodeError
from nodes.reality import API_PORT, FLOW, INBOUND_TAG, RealityError, XrayUser
from nodes.ssh import SshPool
from nodes.target import NodeTarget
from nodes.xray_grace import ROUTING, GraceRoutes, parse_rules
from nodes.xrayforeign import (
    CONFIG_LIMIT,
    ForeignConfigError,
    ForeignXray,
    clash,
    foreign_part,
    merge,
    parse_config,
    summary,
)
from nodes.xraysetup import RELEASES, install_xray

if TYPE_CHECKING:  # grpc is imported when a VLESS node is first called: not at start-up
    import grpc

log = logging.getLogger(__name__)

CONFIG_PATH = "/usr/local/etc/xray/config.json"  # where the official install script puts it
HANDLER = "/xray.app.proxyman.command.HandlerService/"
STATS = "/xray.app.stats.command.StatsService/"
ADD = "xray.app.proxyman.command.AddUserOperation"
REMOVE = "xray.app.proxyman.command.RemoveUserOperation"
ACCOUNT = "xray.proxy.vless.Account"
API_TIMEOUT = 10.0
ANSWER_LIMIT = 16 << 20  # bytes of one API answer: 100,000 users are about 10 MB
MOST_USERS = 100_000
MOST_ADDRESSES = 1_000  # client addresses of one user Xray reports online
COUNTER_LIMIT = 2**63
_COUNTER = "user>>>"
T = TypeVar("T")
RESTART = "if systemctl cat xray.service >/dev/null 2>&1; then systemctl restart xray; fi"


class XrayDown(NodeError):
    """The node answers over SSH but nothing serves Xray's API: Xray is not running."""


class XrayConfigRefused(NodeError):
    """The node's own Xray config cannot take the bot's inbound (a port of its own clashes,
    or it cannot be read); nothing was written. The reason says which, for the operator."""


@dataclass(frozen=True, slots=True)
class XrayPlan:
    """What a reconcile changed on a node's Xray: names added and removed."""

    added: tuple[str, ...]
    removed: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.added) + len(self.removed)


def parse_users(answer: bytes) -> list[XrayUser]:
    """GetInboundUsersResponse: repeated User (1){level 1, email 2, account 3: TypedMessage}."""
    users = []
    items = pb.many(answer, 1, what="users")
    if len(items) > MOST_USERS:
        raise pb.WireError(f"more than {MOST_USERS} users")
    for item in items:
        name = pb.one_text(item, 2, most=64, what="user email")
        account = b""
        for number, value in pb.fields(item):
            if number == 3 and isinstance(value, bytes):
                account = value
        kind = pb.one_text(account, 1, most=100, what="account type")
        if kind != ACCOUNT:
            raise pb.WireError("a user that is not a VLESS account")
        body = b""
        for number, value in pb.fields(account):
            if number == 2 and isinstance(value, bytes):
                body = value
        uid = pb.one_text(body, 1, most=36, what="user id")
        try:
            users.append(XrayUser(name, uid))
        except RealityError as exc:
            raise pb.WireError(f"user: {exc}") from None
    return users


def parse_traffic(answer: bytes) -> dict[str, tuple[int, int]]:
    """QueryStatsResponse: repeated Stat (1){name 1, value 2} named user>>>EMAIL>>>traffic>>>
    uplink|downlink; the result is email → (uplink, downlink) bytes."""
    out: dict[str, tuple[int, int]] = {}
    stats = pb.many(answer, 1, what="counters")
    if len(stats) > 2 * MOST_USERS:
        raise pb.WireError("too many counters")
    for stat in stats:
        name = pb.one_text(stat, 1, most=120, what="counter name")
        value = pb.one_number(stat, 2, what="counter value")
        if value >= COUNTER_LIMIT:
            raise pb.WireError("counter out of range")
        parts = name.split(">>>")
        if len(parts) != 4 or parts[0] != "user" or parts[2] != "traffic":
            continue
        if parts[3] not in ("uplink", "downlink"):
            raise pb.WireError("counter of unknown direction")
        try:
            XrayUser(parts[1], "00000000-0000-0000-0000-000000000000")
        except RealityError:
            raise pb.WireError("counter of a user name Xray would not accept") from None
        up, down = out.get(parts[1], (0, 0))
        out[parts[1]] = (value, down) if parts[3] == "uplink" else (up, value)
    return out


def parse_online(answer: bytes) -> dict[str, set[str]]:
    """GetUsersStatsResponse: repeated UserStat (1){email 1, ips 2: repeated OnlineIPEntry{ip 1,
    last_seen 2}}; the result is email → the client addresses of its open connections."""
    out: dict[str, set[str]] = {}
    users = pb.many(answer, 1, what="online users")
    if len(users) > MOST_USERS:
        raise pb.WireError(f"more than {MOST_USERS} online users")
    for item in users:
        name = pb.one_text(item, 1, most=64, what="user email")
        entries = pb.many(item, 2, what="online addresses")
        if len(entries) > MOST_ADDRESSES:
            raise pb.WireError("too many online addresses")
        found = out.setdefault(name, set())
        for entry in entries:
            text = pb.one_text(entry, 1, most=64, what="online address")
            try:
                address = ipaddress.ip_address(text.strip("[]"))
            except ValueError:
                raise pb.WireError("online address that is not an IP address") from None
            mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
            found.add(str(mapped or address))
    return out


def cut_command(port: int, addresses: Iterable[str]) -> str:
    """Close the established connections to the inbound `port` from the client `addresses`
    (`ss -K`: the kernel destroys the sockets; Xray's dual-stack listener shows IPv4 clients
    as ::ffff:a.b.c.d, so both forms are matched)."""
    peers = []
    for text in sorted(addresses):
        address = ipaddress.ip_address(text)
        peers.append(f"dst {address}" if address.version == 4 else f"dst [{address}]")
        if address.version == 4:
            peers.append(f"dst [::ffff:{address}]")
    selector = f"( sport = :{int(port)} and ( {' or '.join(peers)} ) )"
    return f"ss -K -Htn state established {shlex.quote(selector)} | wc -l"


def _add_request(user: XrayUser) -> bytes:
    account = pb.text(1, user.id) + pb.text(2, FLOW)
    body = pb.text(2, user.email) + pb.blob(3, pb.typed(ACCOUNT, account))
    return pb.text(1, INBOUND_TAG) + pb.blob(2, pb.typed(ADD, pb.blob(1, body)))


def _remove_request(name: str) -> bytes:
    return pb.text(1, INBOUND_TAG) + pb.blob(2, pb.typed(REMOVE, pb.text(1, name)))


def write_command(path: str, *, keep_mode: bool = False) -> str:
    """Write the config from stdin next to `path` (0600; 0640 to the xray group that
    scripts/xray-setup.sh makes for the service), check it with the node's `xray run -test`
    when the official binary is there, and only then move it into place. keep_mode: the
    file there passes on its owner and mode instead (a node's own service, which may run as
    another user, reads it)."""
    quoted, temporary = shlex.quote(path), shlex.quote(path + ".new")
    folder = shlex.quote(path.rpartition("/")[0] or "/")
    same = f"[ -f {quoted} ] && chown --reference={quoted} {temporary} " if keep_mode else "false "
    return (
        f"umask 077 && mkdir -p {folder} && cat > {temporary} "
        f"&& {{ ! command -v xray >/dev/null 2>&1 "
        f"|| xray run -test -config {temporary} >/dev/null 2>&1 "
        f"|| {{ rm -f {temporary}; echo 'xray refused the new config' >&2; exit 23; }}; }} "
        f"&& if {same}; then chmod --reference={quoted} {temporary}; "
        f"elif getent group xray >/dev/null 2>&1; then chgrp xray {temporary} "
        f"&& chmod 640 {temporary}; fi "
        f"&& mv -f {temporary} {quoted}"
    )


def read_command(path: str) -> str:
    """Print the config file at `path`; nothing when there is none."""
    quoted = shlex.quote(path)
    return f"if [ -f {quoted} ]; then cat {quoted}; fi"


class _Api:
    """One gRPC channel to a node's Xray API through an SSH tunnel."""

    def __init__(self, node: str, channel: grpc.aio.Channel) -> None:
        self._node = node
        self._channel = channel

    async def call(self, method: str, request: bytes, *, tolerate: str = "") -> bytes:
        """Call method; an error whose details contain `tolerate` (e.g. "not found") is an
        empty answer, any other a NodeError naming only the status."""
        import grpc

        stub = self._channel.unary_unary(method)
        try:
            answer = await stub(request, timeout=API_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            details = (exc.details() or "")[:300]
            if tolerate and tolerate in details:
                return b""
            name = method.rpartition("/")[2]
            if exc.code() is grpc.StatusCode.UNAVAILABLE:
                raise XrayDown(self._node, f"xray {name} failed: UNAVAILABLE") from None
            raise NodeError(self._node, f"xray {name} failed: {exc.code().name}") from None
        if not isinstance(answer, bytes) or len(answer) > ANSWER_LIMIT:
            raise NodeError(self._node, "xray API answer too long")
        return answer


class Xray:
    """Xray-core on nodes, through the SSH pool; every failure is a NodeError."""

    def __init__(
        self, pool: SshPool, *, config_path: str = CONFIG_PATH, api_port: int = API_PORT
    ) -> None:
        self._pool = pool
        self.config_path = config_path
        self._api_port = api_port

    @asynccontextmanager
    async def _api(self, target: NodeTarget, even_if_down: bool = False) -> AsyncIterator[_Api]:
        import grpc

        async with self._pool.tunnel(target, self._api_port, even_if_down=even_if_down) as port:
            options = [("grpc.max_receive_message_length", ANSWER_LIMIT)]
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=options) as ch:
                yield _Api(target.name, ch)

    async def write_config(self, target: NodeTarget, config: str) -> ForeignXray:
        """Put the config (it holds the Reality private key: sent on stdin) in place, joined
        to what the node's config file serves that is not the bot's (nodes/xrayforeign.py);
        returns what was kept. XrayConfigRefused, with nothing written, when they clash."""
        foreign = await self._foreign(target)
        problem = clash(foreign, int(json.loads(config)["inbounds"][0]["port"]), self._api_port)
        if problem is not None:
            raise XrayConfigRefused(target.name, problem)
        merged = merge(config, foreign)
        command = write_command(self.config_path, keep_mode=bool(foreign))
        await self._pool.run(target, command, stdin=merged)
        return summary(foreign)

    async def foreign(self, target: NodeTarget, port: int) -> ForeignXray:
        """What the node's Xray config serves that is not the bot's; XrayConfigRefused when
        the bot's inbound on `port` could not join it."""
        found = await self._foreign(target)
        problem = clash(found, port, self._api_port)
        if problem is not None:
            raise XrayConfigRefused(target.name, problem)
        return summary(found)

    async def _foreign(self, target: NodeTarget) -> dict[str, object]:
        text = await self._pool.run(
            target, read_command(self.config_path), limit=CONFIG_LIMIT, even_if_down=True
        )
        try:
            return foreign_part(parse_config(text))
        except ForeignConfigError as error:
            raise XrayConfigRefused(target.name, f"{error} ({self.config_path})") from None

    async def install(
        self,
        target: NodeTarget,
        *,
        releases: str = RELEASES,
        progress: Callable[[str], Awaitable[None]] | None = None,
    ) -> str:
        """Install Xray and its service on the node unless it has them (scripts/xray-setup.sh,
        the release's SHA-256 checked); returns what the install step said."""
        return await install_xray(self._pool, target, releases=releases, progress=progress)

    async def restart(self, target: NodeTarget) -> None:
        """Start the node's Xray service again from its config file (a node installed by
        scripts/node-setup-xray.sh); this cuts its VLESS sessions, which reconnect. A node
        without the service (run some other way) is left as it is."""
        await self._pool.run(target, RESTART, even_if_down=True)

    async def users(self, target: NodeTarget, *, even_if_down: bool = False) -> list[XrayUser]:
        """The users the running Xray serves now."""
        async with self._api(target, even_if_down) as api:
            answer = await api.call(HANDLER + "GetInboundUsers", pb.text(1, INBOUND_TAG))
        return self._read(target, parse_users, answer)

    async def add_user(self, target: NodeTarget, user: XrayUser) -> None:
        """Serve user from now on; one already served is left as it is."""
        async with self._api(target) as api:
            await api.call(HANDLER + "AlterInbound", _add_request(user), tolerate="already exists")

    async def remove_user(self, target: NodeTarget, name: str) -> None:
        """Refuse new connections of the user called name; one not served is no change."""
        async with self._api(target) as api:
            await api.call(HANDLER + "AlterInbound", _remove_request(name), tolerate="not found")

    async def traffic(
        self, target: NodeTarget, *, reset: bool = True
    ) -> dict[str, tuple[int, int]]:
        """Bytes per user (uplink: from the user, downlink: to the user) since the last reset
        or Xray's start; reset zeroes them, so each byte is read once."""
        request = pb.text(1, _COUNTER) + pb.number(2, 1 if reset else 0)
        async with self._api(target) as api:
            answer = await api.call(STATS + "QueryStats", request)
        return self._read(target, parse_traffic, answer)

    async def reconcile(
        self,
        target: NodeTarget,
        wanted: Iterable[XrayUser],
        *,
        port: int,
        even_if_down: bool = False,
    ) -> XrayPlan:
        """Make the running Xray serve exactly `wanted` (a user whose id changed is removed
        and added again), and close the open connections of the users removed (see
        _cut_removed); nobody else's sessions are touched."""
        want = {user.email: user for user in wanted}
        async with self._api(target, even_if_down) as api:
            answer = await api.call(HANDLER + "GetInboundUsers", pb.text(1, INBOUND_TAG))
            have = {user.email: user for user in self._read(target, parse_users, answer)}
            removed = sorted(n for n, u in have.items() if want.get(n) != u)
            added = sorted(n for n, u in want.items() if have.get(n) != u)
            for name in removed:
                request = _remove_request(name)
                await api.call(HANDLER + "AlterInbound", request, tolerate="not found")
            for name in added:
                request = _add_request(want[name])
                await api.call(HANDLER + "AlterInbound", request, tolerate="already exists")
            online = await api.call(STATS + "GetUsersStats", b"") if removed else b""
        if removed:
            await self._cut_removed(target, port, set(removed) - set(want), set(want), online)
        plan = XrayPlan(tuple(added), tuple(removed))
        if plan.size:
            log.info("node %s: xray users +%d -%d", target.name, len(added), len(removed))
        return plan

    async def _cut_removed(
        self, target: NodeTarget, port: int, gone: set[str], served: set[str], answer: bytes
    ) -> None:
        """Removing a user only refuses their new connections: close the open ones too, from
        the client addresses Xray reports online for them (`answer`), but not an address a
        user still served is online from (users behind one NAT): those run on until they end.
        Best effort: a node that cannot tell or cut is logged, its users stay removed."""
        try:
            online = self._read(target, parse_online, answer)
            shared = set().union(*(ips for name, ips in online.items() if name in served))
            addresses = set().union(*(online.get(name, set()) for name in gone)) - shared
            if addresses:
                closed = await self._pool.run(target, cut_command(port, addresses))
                log.info("node %s: closed %s vless connections", target.name, closed.strip())
        except NodeError as error:
            log.warning("node %s: open vless connections not closed: %s", target.name, error.reason)

    async def route_grace(
        self, target: NodeTarget, routes: GraceRoutes, *, even_if_down: bool = False
    ) -> bool:
        """Make the running Xray route users in grace by `routes` (nodes.xray_grace), its
        rules replaced at once when they differ, no connection cut; True when they did.
        Never on a node whose Xray keeps its own config: that would drop its own rules."""
        async with self._api(target, even_if_down) as api:
            answer = await api.call(ROUTING + "ListRule", b"")
            if self._read(target, parse_rules, answer) == routes.listing:
                return False
            await api.call(ROUTING + "AddRule", routes.request())
        log.info("node %s: grace routes now %s", target.name, routes.digest)
        return True

    @staticmethod
    def _read(target: NodeTarget, parse: Callable[[bytes], T], answer: bytes) -> T:
        try:
            return parse(answer)
        except pb.WireError as exc:
            raise NodeError(target.name, f"unexpected xray answer: {exc}") from None
