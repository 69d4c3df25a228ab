"""A hostile or broken node fails alone: odd output is a NodeError for that node, fleet-wide
passes go on for the others, output is capped, each call has one deadline, and calls to a node
the probes marked down fail at once. Real sshd in the lab where SSH itself is under test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.container import Services
from db.models import Node, NodeHealth
from nodes import NodeError, NodeTarget, SshPool, WireGuard
from nodes.grace_listing import NFT_MISSING
from nodes.keys import generate_private_key, public_key
from services.audit import OPERATOR
from services.fleet import NewNode
from tests.conftest import ADMIN_ID
from tests.fakes.telegram_api import FakeTelegram
from tests.netlab import Lab, LabNode, require_root_lab
from tests.nodes_support import live_app, with_access

PEER = public_key(generate_private_key())
PROBE_HEAD = "0.42 0.30 0.10 1/123 4567\n2\nMemTotal: 2048000 kB\nMemAvailable: 1024000 kB\n"
FAKE_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeHostKeyForTestsOnly0000000000000"


def dump(*peer_lines: str) -> str:
    private, public = generate_private_key(), public_key(generate_private_key())
    return "\n".join([f"{private}\t{public}\t51820\toff", *peer_lines]) + "\n"


def peer_line(handshake: int, key: str = PEER) -> str:
    return f"{key}\t(none)\t203.0.113.9:40001\t10.8.0.2/32\t{handshake}\t100\t200\t25"


YEAR_10000_AND_MORE = 2**63  # far past year 9999: datetime cannot hold it


class ScriptedNodes(SshPool):
    """No SSH at all: each node answers with its `wg show dump` text (probes get the load and
    memory lines in front), or fails as a node that is down does."""

    def __init__(self, dumps: dict[str, str | None]) -> None:
        super().__init__(Path("/nonexistent"))
        self.dumps = dumps
        self.commands: list[tuple[str, str]] = []

    async def run(self, target: NodeTarget, command: str, **options: object) -> str:
        self.commands.append((target.name, command))
        text = self.dumps[target.name]
        if text is None:
            raise NodeError(target.name, "connection refused")
        if command.startswith("cat /proc/loadavg"):
            return PROBE_HEAD + "--vpnservice-wg--\n" + text
        if "command -v nft" in command:  # the grace firewall's read: a node without nft
            return NFT_MISSING + "\n"
        return text if command.endswith(" dump") else ""


async def add_nodes(services: Services, *names: str) -> dict[str, Node]:
    nodes = {}
    async with services.sessions.begin() as session:
        for number, name in enumerate(names, 1):
            nodes[name] = Node(
                name=name,
                ssh_host=f"{name}.example",
                host_key=FAKE_HOST_KEY,
                endpoint=f"{name}.example:51820",
                public_key=public_key(generate_private_key()),
                listen_port=51820,
                server_address4=f"10.{number}.0.1/24",
            )
            session.add(nodes[name])
    return nodes


# --- fleet-wide passes ---------------------------------------------------------------------------


async def test_a_hostile_node_and_a_down_node_leave_the_health_pass_to_the_others(
    tmp_path: Path, telegram: FakeTelegram
) -> None:
    """hostile prints a handshake far past year 9999 (it used to raise OverflowError out of the
    parser and stop the pass for every node); down does not answer. Both are alerted, each
    as itself, and good's probe is stored."""
    pool = ScriptedNodes(
        {
            "good": dump(peer_line(1_700_000_000)),
            "hostile": dump(peer_line(YEAR_10000_AND_MORE)),
            "down": None,
        }
    )
    async with live_app(tmp_path, telegram, WireGuard(pool), health_failures=1) as app:
        await add_nodes(app.services, "down", "good", "hostile")
        await app.say(ADMIN_ID, "/start")
        before = len(app.telegram.sent_to(ADMIN_ID))

        outcomes = {o.node: o for o in await app.services.health.probe_all()}

        assert outcomes["good"].probe is not None and outcomes["good"].error is None
        assert outcomes["down"].error == "connection refused"
        assert outcomes["hostile"].error == (
            "probe: wg dump line 2: handshake time out of range (is the node's clock right?)"
        )
        alerts = sorted(m.text or "" for m in app.telegram.sent_to(ADMIN_ID)[before:])
        assert alerts == [
            "🔴 Сервер down недоступен (1 проверки подряд): connection refused",
            "🔴 Сервер hostile недоступен (1 проверки подряд): probe: wg dump line 2: "
            "handshake time out of range (is the node's clock right?)",
        ]
        async with app.services.sessions() as session:
            rows = await session.execute(select(Node.name, NodeHealth).join(NodeHealth))
            health = {name: row for name, row in rows.all()}
        assert health["good"].up and health["good"].peers == 1
        assert health["good"].rx_bytes == 100 and health["good"].load1 == 0.42
        assert not health["down"].up and not health["hostile"].up


async def test_reconcile_all_goes_on_past_a_node_with_hostile_output(
    tmp_path: Path, telegram: FakeTelegram
) -> None:
    pool = ScriptedNodes({"good": dump(), "hostile": dump(peer_line(YEAR_10000_AND_MORE))})
    async with live_app(tmp_path, telegram, WireGuard(pool)) as app:
        nodes = await add_nodes(app.services, "hostile", "good")
        await with_access(app.services, [7601], nodes["good"])
        await app.services.devices.add(7601)
        await app.services.wireguard.saved()  # the save follows the live change
        assert [name for name, _ in pool.commands] == ["good", "good"]  # the peer, the save
        results = {r.node: r for r in await app.services.reconcile.reconcile_all()}
        assert results["hostile"].error is not None
        assert "handshake time out of range" in results["hostile"].error
        assert results["good"].error is None and results["good"].plan is not None
        assert len(results["good"].plan.add) == 1, "good's missing peer is put back"


# --- the SSH pool against a real node ---------------------------------------------------------


@pytest.fixture(scope="module")
def lab(key_path: Path) -> Iterator[Lab]:
    require_root_lab()
    with Lab() as lab:
        lab.add_node("h1", authorized_key=SshPool.ensure_client_key(key_path))
        yield lab


def sshd_pids(node: LabNode) -> list[int]:
    """Every sshd process of the node: the listener and the sessions it serves."""
    listed = subprocess.run(
        ["ip", "netns", "pids", node.ns], capture_output=True, text=True, check=False
    ).stdout.split()
    pids = []
    for pid in listed:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().startswith("sshd"):
                pids.append(int(pid))
    return pids


@contextlib.contextmanager
def hung(node: LabNode) -> Iterator[None]:
    """The node's sshd stopped: TCP is accepted, SSH never answers."""
    pids = sshd_pids(node)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


async def test_output_is_capped_and_must_be_text(pool: SshPool, target: NodeTarget) -> None:
    """A node that prints without end is cut off at the limit at once; the limit is generous
    (a 10,000-peer dump is about 2 MB) and a call may set its own."""
    assert len(await pool.run(target, "head -c 3000000 /dev/zero | tr '\\0' a")) == 3_000_000
    for endless in ("yes", "yes >&2"):
        started = time.monotonic()
        with pytest.raises(NodeError, match=r"^h1: printed more than \d+ bytes$"):
            await pool.run(target, endless)
        assert time.monotonic() - started < 5, endless
    with pytest.raises(NodeError, match="printed more than 1000 bytes"):
        await pool.run(target, "head -c 1001 /dev/zero", limit=1000)
    assert await pool.run(target, "printf %1000s x", limit=1000) == " " * 999 + "x"
    with pytest.raises(NodeError, match="output is not UTF-8 text"):
        await pool.run(target, "printf '\\377\\376'")
    assert await pool.run(target, "echo still serving") == "still serving\n"


async def test_one_deadline_covers_the_wait_for_a_channel(
    key_path: Path, target: NodeTarget
) -> None:
    pool = SshPool(key_path, connect_timeout=2, command_timeout=20, max_channels=1)
    try:
        busy = asyncio.create_task(pool.run(target, "sleep 3"))
        await asyncio.sleep(0.5)  # it holds the one channel
        started = time.monotonic()
        with pytest.raises(NodeError, match=r"timed out after 1s waiting for a free SSH channel"):
            await pool.run(target, "true", timeout=1)
        assert time.monotonic() - started < 1.5
        await busy
    finally:
        await pool.close()


async def test_one_deadline_covers_the_connection(
    key_path: Path, target: NodeTarget, node: LabNode
) -> None:
    pool = SshPool(key_path, connect_timeout=10)
    try:
        with hung(node):
            started = time.monotonic()
            with pytest.raises(NodeError, match=r"timed out after 1s connecting"):
                await pool.run(target, "true", timeout=1)
            assert time.monotonic() - started < 1.5
    finally:
        await pool.close()


async def test_a_node_marked_down_fails_at_once_and_probes_still_try(
    pool: SshPool, target: NodeTarget
) -> None:
    wg = WireGuard(pool)
    wg.set_down(target.name, "connection refused")
    started = time.monotonic()
    with pytest.raises(NodeError, match=r"^h1: node is down \(connection refused\)$"):
        await wg.peers(target)
    assert time.monotonic() - started < 0.05
    assert (await wg.probe(target)).interface_up, "the probe still goes to the node"
    assert (await wg.reconcile(target, [])).summary() == "add 0, remove 0, update 0"
    wg.set_down(target.name, None)
    assert await wg.peers(target) == []


# --- through the dispatcher: a node the probes marked down answers users at once ------------------


NODE_TIMEOUT = 2.0


async def test_users_of_a_node_marked_down_are_answered_within_milliseconds(
    lab: Lab, telegram: FakeTelegram, tmp_path: Path
) -> None:
    key = SshPool.ensure_client_key(tmp_path / "data" / "ssh_ed25519")
    stuck = lab.add_node("md", wg_subnet="10.74.1.1/24", authorized_key=key)
    good = lab.add_node("mdok", wg_subnet="10.74.2.1/24", authorized_key=key)
    settings = {
        "node_connect_timeout": NODE_TIMEOUT,
        "node_command_timeout": NODE_TIMEOUT,
        "health_failures": 1,
    }
    async with live_app(tmp_path, telegram, None, **settings) as app:
        services = app.services
        hang1 = await services.fleet.add(
            OPERATOR, NewNode("hang1", stuck.ip, interface=stuck.interface)
        )
        await services.fleet.add(OPERATOR, NewNode("ok1", good.ip, interface=good.interface))
        user = 7701
        await with_access(services, [user], hang1)
        await app.say(user, "/get_config")
        with hung(stuck):
            services.pool.drop("hang1")  # the pooled connection would time out only later
            outcomes = {o.node: o for o in await services.health.probe_all()}
            assert outcomes["hang1"].error is not None and outcomes["ok1"].error is None

            started = time.monotonic()
            status = await app.say(user, "/status")
            took = time.monotonic() - started
            assert "Сервер сейчас не отвечает" in (status[-1].text or "")
            assert took < 0.5, f"/status took {took:.2f} s"

            ask = await app.say(user, "/regen")
            started = time.monotonic()
            answer = await app.press(user, ask[-1], ask[-1].buttons[0]["callback_data"])
            took = time.monotonic() - started
            assert answer[-1].text == "Сервер hang1 сейчас недоступен. Попробуйте другой:"
            assert ["ok1" in b["text"] for b in answer[-1].buttons] == [True]
            assert took < 0.5, f"new keys took {took:.2f} s"
        outcomes = {o.node: o for o in await services.health.probe_all()}
        assert outcomes["hang1"].error is None, "the probe still tries, and sees it back"
        assert "не отвечает" not in ((await app.say(user, "/status"))[-1].text or "")
