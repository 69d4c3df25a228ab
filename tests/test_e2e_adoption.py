"""End to end: adopting a node whose WireGuard already serves a client made by hand. The
client's tunnel (brought up with wg-quick) carries traffic the whole time: through `node add`,
the bot's start-up (its first probe and reconcile), `/reconcile` and 30 new devices, and its
address is never given to a new device."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodes import SshPool
from tests.e2e import ADMIN, Operator, config_messages
from tests.fakes.telegram_api import FakeTelegram
from tests.netlab import Lab, LabNode, require_root_lab

pytestmark = [pytest.mark.root, pytest.mark.timeout(300)]

SUBNET = "10.74.0.1/24"
BY_HAND = "10.74.0.2"  # the client the operator made before the bot
NEWCOMERS = list(range(7401, 7431))


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    require_root_lab()
    with Lab() as lab:
        yield lab


def keypair() -> tuple[str, str]:
    private = subprocess.run(["wg", "genkey"], capture_output=True, text=True, check=True).stdout
    public = subprocess.run(
        ["wg", "pubkey"], input=private, capture_output=True, text=True, check=True
    ).stdout
    return private.strip(), public.strip()


def peer_by_hand(node: LabNode) -> tuple[str, str]:
    """A peer added on the node with `wg set` and saved, as an operator does by hand; returns
    its client config and public key."""
    private, public = keypair()
    psk = subprocess.run(["wg", "genpsk"], capture_output=True, text=True, check=True).stdout
    psk_file = node.dir / "hand.psk"
    psk_file.write_text(psk)
    psk_file.chmod(0o600)
    added = node.exec(
        "wg", "set", node.interface, "peer", public,
        "preshared-key", str(psk_file), "allowed-ips", f"{BY_HAND}/32",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    saved = node.exec("env", "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1",
                      "wg-quick", "save", node.interface)  # fmt: skip
    assert saved.returncode == 0, saved.stderr
    config = (
        "[Interface]\n"
        f"PrivateKey = {private}\nAddress = {BY_HAND}/32\n\n"
        "[Peer]\n"
        f"PublicKey = {node.public_key}\nPresharedKey = {psk.strip()}\n"
        f"Endpoint = {node.endpoint}\nAllowedIPs = 0.0.0.0/0\nPersistentKeepalive = 25\n"
    )
    return config, public


class Watch:
    """Asks the target host for its view of the client's source address, over and over, in
    the background: every answer must be the node's address."""

    def __init__(self, lab: Lab, expected: str) -> None:
        self._lab, self._expected = lab, expected
        self.answers: list[str | None] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.answers.append(await asyncio.to_thread(self._lab.client.fetch_source_ip, 3))
            await asyncio.sleep(0.2)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def check(self, step: str) -> None:
        wrong = [answer for answer in self.answers if answer != self._expected]
        assert self.answers and not wrong, f"{step}: {len(wrong)} of {len(self.answers)} failed"


def probed(data_dir: Path) -> bool:
    with contextlib.closing(sqlite3.connect(data_dir / "vpnservice.db", timeout=5)) as db:
        query = "SELECT count(*) FROM node_health WHERE checked_at IS NOT NULL"
        return bool(db.execute(query).fetchone()[0])


def stored_addresses(data_dir: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(data_dir / "vpnservice.db", timeout=5)) as db:
        return [row[0] for row in db.execute("SELECT address4 FROM devices")]


async def test_adopted_node_keeps_the_client_made_by_hand_through_everything(
    lab: Lab, telegram: FakeTelegram, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    operator = Operator(data_dir, telegram.base_url, telegram.token)
    key = SshPool.ensure_client_key(data_dir / "ssh_ed25519")
    node = lab.add_node("adopt", wg_subnet=SUBNET, listen_port=51874, authorized_key=key)
    config, hand_key = peer_by_hand(node)
    lab.client.up(config)
    assert lab.client.fetch_source_ip() == node.ip, "the client works before the bot"
    watch = Watch(lab, node.ip)
    watch.start()
    bot: subprocess.Popen[bytes] | None = None
    try:
        added = await asyncio.to_thread(
            operator.cli, "node", "add", "nl1", f"ssh://root@{node.ip}",
            "--interface", node.interface,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        assert f"kept 1 peers that were already on {node.interface}" in added.stdout
        watch.check("node add")

        bot = operator.start_bot(tmp_path / "bot.log")
        admin = telegram.user(ADMIN)
        await telegram.wait_for(lambda call: call.method == "getUpdates", timeout=60)
        telegram.send_text(admin, "/start")
        await telegram.wait_sent(ADMIN, 1, timeout=30)
        deadline = time.monotonic() + 60
        while not await asyncio.to_thread(probed, data_dir):
            assert time.monotonic() < deadline, "no first probe"
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)  # the reconcile that follows the first connection
        watch.check("start-up")

        telegram.send_text(admin, "/reconcile nl1")
        (answer,) = await telegram.wait_sent(ADMIN, 1, timeout=30)
        assert answer.text == "✅ nl1 совпадает с базой, ничего менять не пришлось."
        watch.check("/reconcile")

        telegram.send_text(admin, f"/invite 30 {len(NEWCOMERS)}")
        (invite,) = await telegram.wait_sent(ADMIN, 1, timeout=30)
        match = re.search(r"start=(inv_[A-Za-z0-9_-]+)", invite.text or "")
        assert match, invite.text
        for user_id in NEWCOMERS:
            telegram.send_text(telegram.user(user_id), f"/start {match.group(1)}")
        for user_id in NEWCOMERS:
            await telegram.wait_sent(user_id, 1, timeout=60)
        for user_id in NEWCOMERS:
            telegram.send_text(telegram.user(user_id), "/get_config")
        addresses = []
        for user_id in NEWCOMERS:
            text, _ = await config_messages(telegram, user_id, timeout=120)
            (address,) = re.findall(r"^Address = ([0-9.]+)/32$", text, re.MULTILINE)
            addresses.append(address)
        assert BY_HAND not in addresses and len(set(addresses)) == len(NEWCOMERS)
        assert BY_HAND not in stored_addresses(data_dir)
        watch.check("30 new devices")

        dump = node.wg_dump().splitlines()[1:]
        hand = [line.split("\t") for line in dump if line.startswith(hand_key)]
        assert len(hand) == 1 and hand[0][3] == f"{BY_HAND}/32", "kept as it was"
        assert len(dump) == 1 + len(NEWCOMERS)
        assert hand_key in node.config_path.read_text(), "and in the saved config"
        drift = [m for m in telegram.sent_to(ADMIN) if "сверен с базой" in (m.text or "")]
        assert drift == [], "the kept peer is no drift"

        bot.send_signal(signal.SIGTERM)
        assert bot.wait(timeout=30) == 0
    finally:
        await watch.stop()
        lab.client.down()
        if bot is not None and bot.poll() is None:
            bot.kill()
            bot.wait()
    watch.check("the whole run")
    print(f"\nthe hand-made client answered {len(watch.answers)} times, every time through nl1")
    log = (tmp_path / "bot.log").read_text()
    assert "Traceback" not in log, log[-3000:]
