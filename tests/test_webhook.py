"""Webhook mode: `python main.py` takes updates Telegram posts to /webhooks/telegram, only with
the secret token; polling stays the default; SIGTERM lets updates in hand finish."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, Router
from aiogram.filters import Command
from aiogram.types import Message
from aiohttp import web

from bot.app import create_bot, run
from bot.settings import SettingsError, load_settings
from bot.telegram_webhook import TelegramWebhook
from bot.web import start_web
from tests.fakes.telegram_api import FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
URL = "https://bot.example.com/webhooks/telegram"
SECRET = "wh-Secret_0123456789abcdefXYZ"
ADMIN = 9001


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    """Only what the test sets: no .env and no variables from the developer's shell."""
    keep = ("PATH", "HOME", "LANG", "SYSTEMROOT")
    return {
        **{name: value for name, value in os.environ.items() if name in keep},
        "DATA_DIR": str(tmp_path / "data"),
        "ADMIN_IDS": str(ADMIN),
        "BACKUP_INTERVAL_HOURS": "0",
        **settings,
    }


def run_main(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py")],
        cwd=tmp_path,
        env=environment(tmp_path, **settings),
        capture_output=True,
        text=True,
        timeout=60,
    )


class BotProcess:
    """`python main.py` as the operator runs it, its log in a file, stopped with SIGTERM."""

    def __init__(self, tmp_path: Path, telegram: FakeTelegram, **settings: str) -> None:
        self.port = free_port()
        self.log = tmp_path / "bot.log"
        given = {
            "BOT_TOKEN": telegram.token,
            "TELEGRAM_API_URL": telegram.base_url,
            "WEB_PORT": str(self.port),
            **settings,  # may replace the three above
        }
        env = environment(tmp_path, **given)
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "main.py")],
                cwd=tmp_path,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.database = tmp_path / "data" / "vpnservice.db"

    @property
    def webhook(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks/telegram"

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def user_ids(self) -> list[int]:
        with contextlib.closing(sqlite3.connect(self.database)) as connection:
            return [row[0] for row in connection.execute("SELECT id FROM users ORDER BY id")]


@pytest.fixture
def bot_process(tmp_path: Path, telegram: FakeTelegram) -> Iterator[BotProcess]:
    telegram.user(ADMIN, first_name="Admin")
    process = BotProcess(
        tmp_path, telegram, BOT_MODE="webhook", WEBHOOK_URL=URL, WEBHOOK_SECRET=SECRET
    )
    yield process
    process.kill()


async def deliver(telegram: FakeTelegram, url: str, update: dict[str, object] | bytes) -> int:
    """Post like Telegram, which delivers again after a 503 (the bot is still starting)."""
    deadline = time.monotonic() + 10
    while True:
        status = await telegram.post_update(url, update, SECRET)
        if status != 503 or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.1)


async def test_webhook_mode_answers_only_telegram(
    bot_process: BotProcess, telegram: FakeTelegram
) -> None:
    try:
        try:
            registered = await telegram.wait_for(lambda c: c.method == "setWebhook", timeout=30)
        except AssertionError:
            state = f"exit code {bot_process.process.poll()}"
            log = bot_process.log.read_text()
            raise AssertionError(f"no setWebhook ({state}); log:\n{log}") from None
        assert registered.params["url"] == URL
        assert registered.params["secret_token"] == SECRET
        assert registered.params["drop_pending_updates"] is False
        assert {"message", "callback_query"} <= set(registered.params["allowed_updates"])

        # Someone who found the address but not the secret: 401, nothing happens.
        intruder = telegram.user(7001, first_name="Eve")
        forged = telegram.text_update(intruder, "/start")
        assert await telegram.post_update(bot_process.webhook, forged, "wrong-secret") == 401
        assert await telegram.post_update(bot_process.webhook, forged, None) == 401

        # A body that is not an update: 400.
        assert await deliver(telegram, bot_process.webhook, b"{not json: GARBAGE-BODY") == 400
        assert await deliver(telegram, bot_process.webhook, b'{"update_id": "x"}') == 400

        # Telegram with the secret: the user gets the greeting.
        anna = telegram.user(7002, first_name="Анна")
        update = telegram.text_update(anna, "/start")
        assert await deliver(telegram, bot_process.webhook, update) == 200
        greeting = (await telegram.wait_sent(anna.id, 1, timeout=10))[0]
        assert "Привет" in (greeting.text or "") and "Анна" in (greeting.text or "")

        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{bot_process.port}/healthz") as health,
        ):
            assert health.status == 200  # the same server serves the webhook and /healthz

        assert telegram.sent_to(intruder.id) == []
        assert anna.id in bot_process.user_ids()
        assert intruder.id not in bot_process.user_ids()
        assert not any(call.method == "getUpdates" for call in telegram.calls)

        assert bot_process.stop() == 0
        assert not any(call.method == "deleteWebhook" for call in telegram.calls)
        assert telegram.webhook is not None and telegram.webhook["url"] == URL
    finally:
        bot_process.kill()
        log = bot_process.log.read_text()
        for secret in (SECRET, telegram.token.split(":")[1], "GARBAGE-BODY"):
            assert secret not in log
        assert "Traceback" not in log, log[-3000:]
    assert "not an update" in log
    assert "no valid secret token" in log


async def test_polling_stays_the_default(tmp_path: Path, telegram: FakeTelegram) -> None:
    telegram.user(ADMIN, first_name="Admin")
    telegram.webhook = {"url": URL}  # left by an earlier run in webhook mode
    port = free_port()
    settings = load_settings(
        _env_file=None,
        bot_token=telegram.token,
        telegram_api_url=telegram.base_url,
        data_dir=tmp_path / "data",
        web_port=port,
        backup_interval_hours=0,
    )
    running = asyncio.create_task(run(settings))  # the real run function, in this process
    try:
        await telegram.wait_for(lambda call: call.method == "deleteWebhook", timeout=30)
        assert telegram.webhook is None
        anna = telegram.user(7002, first_name="Анна")
        telegram.send_text(anna, "/start")  # taken by getUpdates
        greeting = (await telegram.wait_sent(anna.id, 1, timeout=30))[0]
        assert "Привет" in (greeting.text or "")
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"http://127.0.0.1:{port}/webhooks/telegram") as posted,
        ):
            assert posted.status == 404
        os.kill(os.getpid(), signal.SIGTERM)  # run() handles it: stops and returns
        await asyncio.wait_for(running, 30)
        assert not any(call.method == "setWebhook" for call in telegram.calls)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_when_telegram_refuses_the_webhook_the_reason_is_one_line(
    tmp_path: Path, telegram: FakeTelegram
) -> None:
    telegram.webhook_error = "bad webhook: Failed to resolve host: Name or service not known"
    settings = load_settings(
        _env_file=None,
        bot_token=telegram.token,
        telegram_api_url=telegram.base_url,
        data_dir=tmp_path / "data",
        web_port=0,
        backup_interval_hours=0,
        bot_mode="webhook",
        webhook_url=URL,
        webhook_secret=SECRET,
    )
    # main.py prints the ValueError as one line and exits with code 2
    with pytest.raises(ValueError, match=r"^WEBHOOK_URL: Telegram refused it: ") as raised:
        await asyncio.wait_for(run(settings), 30)
    assert str(raised.value).endswith("Failed to resolve host: Name or service not known")


def test_webhook_mode_without_url_and_secret_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run_main(tmp_path, BOT_TOKEN="123456:TEST-token", BOT_MODE="webhook")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        "error: WEBHOOK_URL: required when BOT_MODE=webhook: the https URL Telegram posts "
        "updates to; WEBHOOK_SECRET: required when BOT_MODE=webhook: 1-256 characters: "
        "A-Z, a-z, 0-9, _ and -"
    )


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"webhook_secret": SECRET}, "WEBHOOK_URL: required when BOT_MODE=webhook"),
        ({"webhook_url": URL}, "WEBHOOK_SECRET: required when BOT_MODE=webhook"),
        (
            {"webhook_url": "http://bot.example.com/webhooks/telegram", "webhook_secret": SECRET},
            "WEBHOOK_URL: must be an https URL ending in /webhooks/telegram",
        ),
        (
            {"webhook_url": "https://bot.example.com/", "webhook_secret": SECRET},
            "WEBHOOK_URL: must be an https URL ending in /webhooks/telegram",
        ),
        (
            {"webhook_url": "https://bot.example.com:9000/webhooks/telegram"},
            "on port 443, 80, 88 or 8443",
        ),
        (
            {"webhook_url": URL, "webhook_secret": "hunter2 with spaces!"},
            "WEBHOOK_SECRET: must be 1-256 characters: A-Z, a-z, 0-9, _ and -",
        ),
        ({"webhook_url": URL, "webhook_secret": "x" * 257}, "WEBHOOK_SECRET: must be 1-256"),
        ({"bot_mode": "hooks"}, "BOT_MODE: Input should be 'polling' or 'webhook'"),
    ],
)
def test_webhook_settings_are_checked(settings: dict[str, str], expected: str) -> None:
    values: dict[str, object] = {"bot_token": "123456:TEST-token", "bot_mode": "webhook"}
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None, **{**values, **settings})
    assert expected in str(raised.value)
    assert "hunter2" not in str(raised.value) and SECRET not in str(raised.value)


def test_a_good_webhook_setup_is_accepted() -> None:
    settings = load_settings(
        _env_file=None,
        bot_token="123456:TEST-token",
        bot_mode="webhook",
        webhook_url="https://bot.example.com:8443/vpn/webhooks/telegram",
        webhook_secret=SECRET,
    )
    assert settings.webhook_secret is not None
    assert settings.webhook_secret.get_secret_value() == SECRET
    assert SECRET not in repr(settings)
    assert load_settings(_env_file=None, bot_token="123456:TEST-token").bot_mode == "polling"


# --- in process: the answer does not wait for the handler; stopping lets it finish ------------


@pytest.fixture
async def served(telegram: FakeTelegram, tmp_path: Path) -> AsyncIterator[tuple[str, Slow]]:
    settings = load_settings(
        _env_file=None,
        bot_token=telegram.token,
        telegram_api_url=telegram.base_url,
        data_dir=tmp_path,
    )
    bot = create_bot(settings)
    slow = Slow(bot)
    app = web.Application()
    slow.webhook.register(app)
    runner = await start_web(app, "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    slow.webhook.open()
    yield f"http://{host}:{port}/webhooks/telegram", slow
    await runner.cleanup()
    await bot.session.close()


class Slow:
    """A bot whose /slow handler answers only when the test releases it."""

    def __init__(self, bot: Bot) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        router = Router()

        @router.message(Command("slow"))
        async def slow(message: Message) -> None:
            self.started.set()
            await self.release.wait()
            await message.answer("done")

        dispatcher = Dispatcher()
        dispatcher.include_router(router)
        self.webhook = TelegramWebhook(dispatcher, bot, SECRET)


async def test_the_answer_does_not_wait_and_stopping_lets_the_update_finish(
    served: tuple[str, Slow], telegram: FakeTelegram
) -> None:
    url, slow = served
    user = telegram.user(7003)
    assert await telegram.post_update(url, telegram.text_update(user, "/slow"), SECRET) == 200
    await asyncio.wait_for(slow.started.wait(), 5)
    assert telegram.sent_to(user.id) == []  # answered 200 while the handler still runs

    closing = asyncio.create_task(slow.webhook.close(grace=10))
    await asyncio.sleep(0.1)
    assert not closing.done()  # waits for the update in hand
    later = telegram.text_update(user, "/slow")
    assert await telegram.post_update(url, later, SECRET) == 503  # Telegram delivers it again
    slow.release.set()
    await asyncio.wait_for(closing, 5)
    assert [sent.text for sent in telegram.sent_to(user.id)] == ["done"]


async def test_stopping_is_bounded(served: tuple[str, Slow], telegram: FakeTelegram) -> None:
    url, slow = served
    user = telegram.user(7004)
    assert await telegram.post_update(url, telegram.text_update(user, "/slow"), SECRET) == 200
    await asyncio.wait_for(slow.started.wait(), 5)
    started = time.monotonic()
    await slow.webhook.close(grace=0.2)
    assert time.monotonic() - started < 2
    assert telegram.sent_to(user.id) == []
