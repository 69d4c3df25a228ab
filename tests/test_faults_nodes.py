"""Fault suite, the nodes: real sshd and WireGuard in network namespaces. An SSH connection cut
in the middle of a peer change (one reconcile converges), a node that hangs, and the bot killed
with -9 during /migrate between two nodes. The result table is docs/faults.md."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import ipaddress
import os
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import create_bot, create_dispatcher
from bot.container import Services, open_services
from bot.settings import load_settings
from db.models import AccessKind, Device, Node, Role, User
from nodes import SshPool, parse_dump
from nodes.commands import lock_file
from services.audit import OPERATOR
from services.fleet import NewNode
from tests.conftest import ADMIN_ID, App, Clock
from tests.e2e import ADMIN, Operator
from tests.fakes.telegram_api import FakeTelegram, Sent
from tests.netlab import Lab, LabNode, require_root_lab

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]

UNAVAILABLE = "Сервер {} сейчас недоступен. Попробуйте другой:"
NODE_TIMEOUT = 2.0  # NODE_CONNECT_TIMEOUT and NODE_COMMAND_TIMEOUT of the bots here


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    require_root_lab()
    with Lab() as lab:
        yield lab


# --- the node's processes ---------------------------------------------------------------------


def processes(node: LabNode) -> list[tuple[int, str, str]]:
    """(pid, comm, command line) of every process in the node's namespace."""
    found = []
    pids = subprocess.run(
        ["ip", "netns", "pids", node.ns], capture_output=True, text=True, check=False
    ).stdout.split()
    for pid in pids:
        with contextlib.suppress(OSError):
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            found.append((int(pid), comm, argv.strip()))
    return found


def sshd_sessions(node: LabNode) -> list[int]:
    """The sshd processes serving connections (not the listener)."""
    listener = node._sshd.pid if node._sshd is not None else None
    return [pid for pid, comm, _ in processes(node) if comm.startswith("sshd") and pid != listener]


def signal_all(pids: list[int], signum: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def wireguard_go(node: LabNode) -> list[int]:
    return [pid for pid, comm, _ in processes(node) if comm == "wireguard-go"]


def running(node: LabNode, wanted: Callable[[str, str], bool]) -> bool:
    return any(wanted(comm, argv) for _, comm, argv in processes(node))


async def settled(node: LabNode, quiet: float) -> None:
    """Wait until no wg or wg-quick runs on the node for `quiet` seconds in a row (60 s at most)."""
    deadline, calm_since = time.monotonic() + 60, time.monotonic()
    while time.monotonic() - calm_since < quiet:
        assert time.monotonic() < deadline, "the node never went quiet"
        if await asyncio.to_thread(running, node, lambda comm, _: comm in ("wg", "wg-quick")):
            calm_since = time.monotonic()
        await asyncio.sleep(0.05)


def probed(data_dir: Path) -> int:
    """How many nodes the running bot has probed, read from its database file."""
    with contextlib.closing(sqlite3.connect(data_dir / "vpnservice.db", timeout=5)) as db:
        return int(
            db.execute("SELECT count(*) FROM node_health WHERE checked_at IS NOT NULL").fetchone()[
                0
            ]
        )


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` (run in a thread: it may read /proc or run `wg`) until it holds."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        await asyncio.sleep(0.05)


def save_lock(node: LabNode) -> Path:
    """The lock `wg-quick save` takes on the node (/run is the host's in these namespaces)."""
    return Path(lock_file(node.interface))


@contextlib.contextmanager
def holding(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def stalled(node: LabNode, phase: str) -> Iterator[Callable[[], bool]]:
    """Make the bot's next peer change wait on the node: `wg set` behind a stopped
    wireguard-go, or the save behind its lock. Yields "is it waiting now?"; released on exit."""
    if phase == "wg-set":
        pids = wireguard_go(node)
        signal_all(pids, signal.SIGSTOP)
        try:
            yield lambda: running(node, lambda comm, argv: comm == "wg" and " set " in argv)
        finally:
            signal_all(pids, signal.SIGCONT)
    else:
        with holding(save_lock(node)):
            yield lambda: running(node, lambda comm, argv: comm == "flock")


# --- the database against the node -----------------------------------------------------------


def _nets(values: tuple[str, ...]) -> frozenset[str]:
    return frozenset(str(ipaddress.ip_network(v, strict=False)) for v in values)


def live_peers(node: LabNode) -> dict[str, tuple[frozenset[str], str | None]]:
    return {
        p.public_key: (_nets(p.allowed_ips), p.preshared_key) for p in parse_dump(node.wg_dump())
    }


async def wanted_peers(services: Services, node_id: int) -> dict[str, tuple[frozenset[str], str]]:
    desired = await services.reconcile.desired_peers(node_id)
    return {p.public_key: (_nets(p.allowed_ips), p.preshared_key) for p in desired}


def saved_peers(node: LabNode) -> list[str]:
    """Public keys of the peers in the node's saved wg-quick config (what a reboot serves)."""
    lines = node.config_path.read_text().splitlines()
    return sorted(line.split("=", 1)[1].strip() for line in lines if line.startswith("PublicKey"))


async def device_keys(services: Services, user_id: int) -> list[str]:
    async with services.sessions() as session:
        query = select(Device.public_key).where(Device.user_id == user_id)
        return list((await session.scalars(query)).all())


# --- a bot in this process, on real nodes ---------------------------------------------------


@asynccontextmanager
async def live_app(tmp_path: Path, telegram: FakeTelegram) -> AsyncIterator[App]:
    """The real Dispatcher and services with the real SSH pool and WireGuard."""
    settings = load_settings(
        _env_file=None,
        bot_token=telegram.token,
        telegram_api_url=telegram.base_url,
        data_dir=tmp_path / "data",
        admin_ids=str(ADMIN_ID),
        node_connect_timeout=NODE_TIMEOUT,
        node_command_timeout=NODE_TIMEOUT,
    )
    clock = Clock()
    services = await open_services(settings, clock=clock)
    bot = create_bot(settings)
    app = App(telegram, services, bot, create_dispatcher(services, bot), None, clock, settings)  # type: ignore[arg-type]
    try:
        yield app
    finally:
        await app.close()


def bot_key(tmp_path: Path) -> str:
    return SshPool.ensure_client_key(tmp_path / "data" / "ssh_ed25519")


async def adopt(services: Services, node: LabNode, name: str) -> Node:
    new = NewNode(name=name, ssh_host=node.ip, interface=node.interface)
    return await services.fleet.add(OPERATOR, new)


async def with_access(services: Services, user_ids: list[int], node: Node | None = None) -> None:
    """Users who started the bot, with access without an end, choosing `node`."""
    async with services.sessions.begin() as session:
        for user_id in user_ids:
            session.add(
                User(
                    id=user_id,
                    first_name="Test",
                    language="ru",
                    role=Role.USER,
                    access_kind=AccessKind.INVITE,
                    access_until=None,
                    started=True,
                    preferred_node_id=node.id if node else None,
                )
            )


def document(sent: list[Any]) -> str:
    (doc,) = [m for m in sent if m.document is not None]
    return str(doc.document.content.decode())


# --- 1. an SSH connection cut in the middle of a peer change --------------------------------


async def test_ssh_cut_in_the_middle_of_a_peer_change_then_one_reconcile_converges(
    lab: Lab, telegram: FakeTelegram, tmp_path: Path
) -> None:
    """The cut comes while `wg set` waits for WireGuard (wireguard-go stopped); the node
    carries the command out after the bot has given up on it. The user is told the server is
    unavailable and no device row stays; the node then holds a peer the database does not
    know, and one reconcile pass removes it, live and saved."""
    node = lab.add_node("cut-wg-set", wg_subnet="10.71.0.1/24", authorized_key=bot_key(tmp_path))
    stay, newcomer = 7101, 7102
    async with live_app(tmp_path, telegram) as app:
        services = app.services
        nl1 = await adopt(services, node, "nl1")
        await with_access(services, [stay, newcomer])
        document(await app.say(stay, "/get_config"))  # someone already served by the node
        (kept,) = await device_keys(services, stay)

        with stalled(node, "wg-set") as waiting:
            asked = asyncio.create_task(app.say(newcomer, "/get_config"))
            await until(waiting, 10, "the bot's command waits on the node (wg set)")
            signal_all(sshd_sessions(node), signal.SIGKILL)  # the connection is cut
            answer = await asyncio.wait_for(asked, 10)

        assert [m.text for m in answer] == [UNAVAILABLE.format("nl1")]
        assert await device_keys(services, newcomer) == [], "no device row is left behind"
        # the command the bot gave up on still lands: the node holds a peer nobody owns
        await until(lambda: len(live_peers(node)) == 2, 10, "the cut-off change lands")
        await until(lambda: not running(node, lambda c, a: c in ("wg", "flock")), 10, "idle")
        (orphan,) = set(live_peers(node)) - {kept}

        result = await services.reconcile.reconcile(nl1)

        assert result.error is None and result.plan is not None
        assert (result.plan.add, result.plan.update, result.plan.remove) == ((), (), (orphan,))
        assert live_peers(node) == await wanted_peers(services, nl1.id)
        await services.wireguard.saved()
        assert saved_peers(node) == [kept]

        # the user simply asks again, and the node and the database agree
        config = document(await app.say(newcomer, "/get_config"))
        assert f"Endpoint = {node.ip}:51820" in config
        assert live_peers(node) == await wanted_peers(services, nl1.id)
        assert len(live_peers(node)) == 2


async def test_ssh_cut_during_the_save_the_user_is_served_and_one_reconcile_saves(
    lab: Lab, telegram: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The cut comes while the save after a new device waits for its lock: the user has the
    config already (the peer was live before the save began), the failed save is logged once,
    and one reconcile pass writes the saved config again, though no peer had to change."""
    node = lab.add_node("cut-save", wg_subnet="10.71.0.1/24", authorized_key=bot_key(tmp_path))
    stay, newcomer = 7101, 7102
    async with live_app(tmp_path, telegram) as app:
        services = app.services
        nl1 = await adopt(services, node, "nl1")
        await with_access(services, [stay, newcomer])
        document(await app.say(stay, "/get_config"))
        await services.wireguard.saved()

        with stalled(node, "save") as waiting:
            config = document(await asyncio.wait_for(app.say(newcomer, "/get_config"), 10))
            await until(waiting, 10, "the save waits for its lock")
            signal_all(sshd_sessions(node), signal.SIGKILL)  # the connection is cut
            await asyncio.wait_for(services.wireguard.saved(), 10)

        assert f"Endpoint = {node.ip}:51820" in config
        assert live_peers(node) == await wanted_peers(services, nl1.id)
        failed = [r.getMessage() for r in caplog.records if "config save failed" in r.getMessage()]
        assert len(failed) == 1 and failed[0].startswith("node nl1: config save failed")
        await until(lambda: not running(node, lambda c, a: c in ("wg", "flock")), 25, "idle")

        result = await services.reconcile.reconcile(nl1)

        assert result.error is None and result.plan is not None and not result.plan.changed
        assert (
            saved_peers(node)
            == sorted(live_peers(node))
            == sorted(await device_keys(services, stay) + await device_keys(services, newcomer))
        )


# --- 2. a node that hangs ---------------------------------------------------------------------


async def test_a_hanging_node_answers_within_the_timeouts_and_the_other_node_keeps_working(
    lab: Lab, telegram: FakeTelegram, tmp_path: Path
) -> None:
    """Every sshd process of hang1 is stopped (SIGSTOP): the kernel still accepts TCP, nothing
    answers SSH, and the pooled connection goes silent in the middle of its session."""
    key = bot_key(tmp_path)
    good = lab.add_node("ok", wg_subnet="10.72.1.1/24", authorized_key=key)
    stuck = lab.add_node("hang", wg_subnet="10.72.2.1/24", authorized_key=key)
    on_ok, on_hung, newcomer = 7201, 7202, 7203
    async with live_app(tmp_path, telegram) as app:
        services = app.services
        ok1, hang1 = await adopt(services, good, "ok1"), await adopt(services, stuck, "hang1")
        await with_access(services, [on_ok], ok1)
        await with_access(services, [on_hung, newcomer], hang1)
        document(await app.say(on_ok, "/get_config"))
        hung_config = document(await app.say(on_hung, "/get_config"))

        frozen = [pid for pid, comm, _ in processes(stuck) if comm.startswith("sshd")]
        signal_all(frozen, signal.SIGSTOP)
        try:
            began = time.monotonic()
            asked = asyncio.create_task(app.say(newcomer, "/get_config"))
            await asyncio.sleep(0.3)
            asked_status = time.monotonic()
            status = await app.say(on_ok, "/status")  # another user, another node, meanwhile
            status_took = time.monotonic() - asked_status
            assert not asked.done()
            assert status_took < 1.0, f"/status waited {status_took:.1f} s for the hung node"
            assert "ok1" in (status[-1].text or "")
            assert "не отвечает" not in (status[-1].text or "")
            # a config already made comes from the database: no SSH, no wait
            assert document(await app.say(on_hung, "/get_config")) == hung_config

            refusal = await asyncio.wait_for(asked, 30)
            refused_in = time.monotonic() - began
            assert refused_in < NODE_TIMEOUT + 3, f"/get_config took {refused_in:.1f} s"
            (message,) = refusal
            assert message.text == UNAVAILABLE.format("hang1")
            (button,) = message.buttons  # the other server, to pick instead
            assert "ok1" in button["text"]
            assert await device_keys(services, newcomer) == []
            moved = document(await app.press(newcomer, message, button["callback_data"]))
            assert f"Endpoint = {good.ip}:51820" in moved

            # a new connection: TCP is accepted, the SSH greeting never comes
            services.pool.drop("hang1")
            began = time.monotonic()
            outcomes = {o.node: o for o in await services.health.probe_all()}
            took = time.monotonic() - began
            assert took < NODE_TIMEOUT + 3, f"the probe took {took:.1f} s"
            assert outcomes["ok1"].probe is not None and outcomes["hang1"].probe is None
            assert "timed out" in (outcomes["hang1"].error or "")
            # /status tells it from the stored probe, without SSH
            began = time.monotonic()
            status = await app.say(on_hung, "/status")
            assert time.monotonic() - began < 1.0, "/status waited for the hung node"
            assert "Сервер сейчас не отвечает" in (status[-1].text or "")
            print(
                f"\nhung node: /get_config refused in {refused_in:.1f} s, /status elsewhere "
                f"{status_took:.2f} s, probe over a new connection {took:.1f} s"
            )
        finally:
            signal_all(frozen, signal.SIGCONT)


# --- 6. kill -9 during /migrate ---------------------------------------------------------------


MOVERS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def text_in(telegram: FakeTelegram, chat_id: int, fragment: str, timeout: float) -> Sent:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in reversed(telegram.sent_to(chat_id)):
            if fragment in (message.text or ""):
                return message
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {fragment!r} in chat {chat_id}")


async def test_kill_9_during_migrate_then_restart_puts_every_device_on_one_node(
    lab: Lab, telegram: FakeTelegram, tmp_path: Path
) -> None:
    """/migrate nl1 de1 of 30 users: the devices are reassigned in one transaction, de1 gets
    the peers, and the bot is killed while it reads nl1 to take them off (nl1's WireGuard is
    stopped, so that read waits). Every peer is then on both nodes. After the restart, the
    reconcile that follows the first connection to each node leaves every device on exactly
    one node, with both nodes' peers (live and saved) equal to the database."""
    data_dir = tmp_path / "data"
    key = bot_key(tmp_path)
    source = lab.add_node("mig-src", wg_subnet="10.73.1.1/24", authorized_key=key)
    target = lab.add_node("mig-dst", wg_subnet="10.73.2.1/24", authorized_key=key)
    settings = load_settings(
        _env_file=None,
        bot_token=telegram.token,
        telegram_api_url=telegram.base_url,
        data_dir=data_dir,
        admin_ids=str(ADMIN),
    )
    users = list(range(7301, 7301 + MOVERS))
    for user_id in users:
        telegram.user(user_id)  # they started the bot, so Telegram lets it write to them
    services = await open_services(settings)
    try:
        nl1, de1 = await adopt(services, source, "nl1"), await adopt(services, target, "de1")
        await with_access(services, users, nl1)
        await asyncio.gather(*(services.devices.add(user_id) for user_id in users))
    finally:
        await services.close()
    assert len(live_peers(source)) == MOVERS

    operator = Operator(data_dir, telegram.base_url, telegram.token, WEB_PORT=str(free_port()))
    logs = [tmp_path / "bot1.log", tmp_path / "bot2.log"]
    bot = operator.start_bot(logs[0])
    stalled = wireguard_go(source)
    try:
        await telegram.wait_for(lambda call: call.method == "deleteWebhook", timeout=60)
        # the probe at start connects to both nodes, and each connection reconciles its node in
        # the background: let both finish before nl1's WireGuard is stopped
        await until(lambda: probed(data_dir) == 2, 60, "the first probe of both nodes")
        await settled(source, 2.0)
        signal_all(stalled, signal.SIGSTOP)
        telegram.send_text(telegram.user(ADMIN), "/migrate nl1 de1")
        await until(lambda: len(live_peers(target)) == MOVERS, 30, "de1 gets the peers")
        await until(lambda: running(source, lambda c, a: c == "wg"), 10, "nl1 is being read")
        bot.send_signal(signal.SIGKILL)
        assert bot.wait(timeout=10) == -signal.SIGKILL
        signal_all(stalled, signal.SIGCONT)

        assert set(live_peers(source)) == set(live_peers(target)), "every peer on both nodes"
        assert not [m for m in telegram.sent_to(ADMIN) if "перенесено" in (m.text or "")]
        assert not [u for u in users for m in telegram.sent_to(u) if "перенесли" in (m.text or "")]

        operator.env["HEALTH_INTERVAL"] = "2"  # the first probe connects: reconcile at once
        bot = operator.start_bot(logs[1])
        await telegram.wait_for(lambda call: call.method == "deleteWebhook", timeout=60)
        await until(lambda: live_peers(source) == {}, 30, "nl1 loses the moved peers")
        fixed = f"nl1 сверен с базой: добавлено 0, удалено {MOVERS}, исправлено 0"
        await text_in(telegram, ADMIN, fixed, 10)  # and the operator is told

        services = await open_services(settings)  # read the database as the bot left it
        try:
            async with services.sessions() as session:
                devices = (await session.scalars(select(Device))).all()
            assert sorted(d.user_id for d in devices) == users, "nothing lost or doubled"
            assert {d.node_id for d in devices} == {de1.id}
            assert len({d.address4 for d in devices}) == MOVERS
            assert live_peers(target) == await wanted_peers(services, de1.id)
            assert await wanted_peers(services, nl1.id) == {}
        finally:
            await services.close()
        await until(lambda: saved_peers(source) == [], 10, "nl1's saved config is empty")
        assert len(saved_peers(target)) == MOVERS

        # nobody was told before the kill; after the restart every moved user is told once
        for user_id in users:
            await text_in(telegram, user_id, "перенесли", 30)
        telegram.send_text(telegram.user(users[0]), "/get_config")
        doc = await text_in(telegram, users[0], "de1", 30)  # the file's caption names it
        assert doc.document is not None
        assert f"Endpoint = {target.ip}:51820" in doc.document.content.decode()
        notices = [m for u in users for m in telegram.sent_to(u) if "перенесли" in (m.text or "")]
        assert len(notices) == MOVERS

        for log in logs:  # read before the stop: see "SIGTERM during a job" in docs/faults.md
            assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(timeout=30) == 0
    finally:
        signal_all(stalled, signal.SIGCONT)
        if bot.poll() is None:
            bot.kill()
            bot.wait()
