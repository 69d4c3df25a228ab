"""Two `python main.py` in webhook mode on one PostgreSQL behind one address: both serve
updates, a scheduled job runs in one of them at a time (a database lock per job), and a
multi-step flow goes on whichever process takes its next step."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from pathlib import Path

import asyncssh

from bot.container import open_services
from bot.settings import load_settings
from db.models import Node
from tests.fakes.nodes import FakeWireGuard
from tests.fakes.telegram_api import FakeTelegram
from tests.test_webhook import SECRET, URL, BotProcess, deliver, free_port

ENCRYPTION_KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()
HOST_KEY = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()


class SilentNode:
    """A TCP port that takes connections and never says a word: every SSH connection to it
    stays open until the connect timeout, so a probe running in both processes would be seen
    as two connections at once."""

    def __init__(self) -> None:
        self.connections = 0
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            await reader.read()  # until the bot gives up and closes
            writer.close()

        self._server = await asyncio.start_server(hold, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()


async def test_two_webhook_processes_share_the_work_and_run_each_job_once(
    tmp_path: Path, telegram: FakeTelegram, postgres_url: str
) -> None:
    node = SilentNode()
    await node.start()
    settings = {
        "DATABASE_URL": postgres_url,
        "ENCRYPTION_KEY": ENCRYPTION_KEY,
        "BOT_MODE": "webhook",
        "WEBHOOK_URL": URL,
        "WEBHOOK_SECRET": SECRET,
        "HEALTH_INTERVAL": "3600",  # one probe each, at start
        "NODE_CONNECT_TIMEOUT": "20",  # the probe holds its lock this long on the silent node
    }
    services = await open_services(
        load_settings(
            _env_file=None,
            bot_token=telegram.token,
            database_url=postgres_url,
            encryption_key=ENCRYPTION_KEY,
            data_dir=tmp_path / "setup",
        )
    )
    async with services.sessions.begin() as session:
        session.add(
            Node(
                name="nl1",
                ssh_host="127.0.0.1",
                ssh_port=node.port,
                host_key=HOST_KEY,
                endpoint="203.0.113.10:51820",
                public_key="A" * 43 + "=",
                listen_port=51820,
                server_address4="10.8.0.1/24",
            )
        )
    await services.close()

    first, second = (tmp_path / "one", tmp_path / "two")
    first.mkdir()
    second.mkdir()
    processes = [BotProcess(first, telegram, **settings), BotProcess(second, telegram, **settings)]
    try:
        deadline = time.monotonic() + 60
        while sum(c.method == "setWebhook" for c in telegram.calls) < 2:
            assert time.monotonic() < deadline, "both processes should register the webhook"
            await asyncio.sleep(0.2)
        # both are up and both probed at start; only one may be talking to the node
        await asyncio.sleep(3)
        assert node.connections == 1, "the probe ran in both processes at once"

        # Telegram may deliver to either process: both answer, from the one database
        for index, process in enumerate(processes):
            user = telegram.user(7100 + index, first_name=f"U{index}")
            assert (
                await deliver(telegram, process.webhook, telegram.text_update(user, "/start"))
                == 200
            )
            greeting = (await telegram.wait_sent(user.id, 1, timeout=15))[0]
            assert "Привет" in (greeting.text or "")
        assert all(process.stop() == 0 for process in processes)
    finally:
        for process in processes:
            process.kill()
        await node.close()
    for process in processes:
        assert "Traceback" not in process.log.read_text(), process.log.read_text()[-3000:]


async def test_a_rename_whose_steps_reach_different_processes_is_stored_and_shown(
    tmp_path: Path, telegram: FakeTelegram, postgres_url: str
) -> None:
    """/devices and the rename button go to process A, the new name to process B: the
    conversation's state is in the database, so B knows what the text is for."""
    user_id = 7201
    wireguard = FakeWireGuard()
    services = await open_services(
        load_settings(
            _env_file=None,
            bot_token=telegram.token,
            database_url=postgres_url,
            encryption_key=ENCRYPTION_KEY,
            data_dir=tmp_path / "setup",
        ),
        wireguard=wireguard,  # type: ignore[arg-type]
    )
    async with services.sessions.begin() as session:
        session.add(
            Node(
                name="nl1",
                ssh_host="127.0.0.1",
                ssh_port=free_port(),  # nothing listens: the node is shown as unreachable
                host_key=HOST_KEY,
                endpoint="203.0.113.10:51820",
                public_key=wireguard.add_node("nl1", ("10.8.0.1/24",)).public_key,
                listen_port=51820,
                server_address4="10.8.0.1/24",
            )
        )
    await services.users.grant(user_id, None, create=True)
    await services.devices.first(user_id)
    await services.close()

    settings = {
        "DATABASE_URL": postgres_url,
        "ENCRYPTION_KEY": ENCRYPTION_KEY,
        "BOT_MODE": "webhook",
        "WEBHOOK_URL": URL,
        "WEBHOOK_SECRET": SECRET,
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = BotProcess(tmp_path / "a", telegram, **settings)
    b = BotProcess(tmp_path / "b", telegram, **settings)
    user = telegram.user(user_id, first_name="Anna")
    try:
        for _ in (a, b):  # importing aiogram alone takes seconds on a busy machine
            await telegram.wait_for(lambda c: c.method == "setWebhook", timeout=180)

        assert await deliver(telegram, a.webhook, telegram.text_update(user, "/devices")) == 200
        (listing,) = await telegram.wait_sent(user_id, 1, timeout=15)
        assert "1. Устройство 1 · nl1" in (listing.text or "")
        show = telegram.press_button(user, listing, "Устройство 1")
        assert await deliver(telegram, a.webhook, show) == 200
        (card,) = await telegram.wait_sent(user_id, 1, timeout=15)
        rename = telegram.press_button(user, card, "Переименовать")
        assert await deliver(telegram, a.webhook, rename) == 200
        (prompt,) = await telegram.wait_sent(user_id, 1, timeout=15)
        assert "Пришлите новое имя" in (prompt.text or "")

        assert await deliver(telegram, b.webhook, telegram.text_update(user, "Ноутбук")) == 200
        (renamed,) = await telegram.wait_sent(user_id, 1, timeout=15)
        assert "Имя сохранено" in (renamed.text or ""), renamed.text
        assert "📱 Ноутбук" in (renamed.text or "")

        assert await deliver(telegram, a.webhook, telegram.text_update(user, "/devices")) == 200
        (again,) = await telegram.wait_sent(user_id, 1, timeout=15)
        assert "1. Ноутбук · nl1" in (again.text or ""), "process A shows the stored name"
        assert a.stop() == 0 and b.stop() == 0
    finally:
        a.kill()
        b.kill()
    for process in (a, b):
        assert "Traceback" not in process.log.read_text(), process.log.read_text()[-3000:]
