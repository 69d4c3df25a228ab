"""Start-up and outages speak one clear line: `python main.py` as the operator runs it. What
waiting cannot mend (a refused token, a taken port, a DATA_DIR it cannot write) is one line
on stderr and exit code 2; Telegram or the database away, at start or while running, is one
line, a retry with backoff and one more line when it is back, in polling and webhook modes.
TELEGRAM_PROXY takes the bot's Bot API calls through an HTTP or SOCKS5 proxy."""

from __future__ import annotations

import asyncio
import errno
import getpass
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.container import cipher_of, ssh_public_key
from bot.settings import SettingsError, load_settings
from tests.fakes.telegram_api import FakeTelegram
from tests.relay import ConnectProxy, Relay, Socks5Proxy
from tests.test_webhook import (
    ROOT,
    SECRET,
    URL,
    BotProcess,
    deliver,
    environment,
    free_port,
)

START_TIMEOUT = 180  # importing aiogram alone takes seconds on a busy machine
GREETING = "Привет"
APOLOGY = "Что-то пошло не так. Попробуйте ещё раз чуть позже."
TELEGRAM_ADVICE = "check the network, DNS, a firewall or TELEGRAM_PROXY; retrying with backoff"


def keys_made(tmp_path: Path) -> None:
    """DATA_DIR with the bot's keys already there, so a first start has nothing else to say."""
    settings = load_settings(
        _env_file=None, bot_token="123456:TEST-token", data_dir=tmp_path / "data"
    )
    ssh_public_key(settings)
    cipher_of(settings, create=True)


def run_bot(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py")],
        cwd=tmp_path,
        env=environment(tmp_path, **settings),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


async def logged(process: BotProcess, text: str, timeout: float = START_TIMEOUT) -> list[str]:
    """The log's lines once one of them contains `text`."""
    deadline = time.monotonic() + timeout
    while True:
        lines = process.log.read_text().splitlines()
        if any(text in line for line in lines):
            return lines
        state = process.process.poll()
        assert state is None, f"exited with {state}:\n" + "\n".join(lines[-30:])
        assert time.monotonic() < deadline, f"no {text!r} in the log:\n" + "\n".join(lines[-30:])
        await asyncio.sleep(0.2)


def containing(lines: list[str], text: str) -> list[str]:
    return [line for line in lines if text in line]


async def stopped(process: BotProcess) -> int:
    """SIGTERM and its exit code, waited for in a thread: the fake Bot API and the relays the
    bot closes its connections through answer from this event loop meanwhile."""
    return await asyncio.to_thread(process.stop)


async def greeted(telegram: FakeTelegram, user_id: int, timeout: float = 60) -> str:
    (message,) = await telegram.wait_sent(user_id, 1, timeout=timeout)
    return message.text or ""


# --- what waiting cannot mend: one line, exit code 2 -----------------------------------------


async def test_a_refused_token_is_one_line_and_exit_2(
    tmp_path: Path, telegram: FakeTelegram
) -> None:
    keys_made(tmp_path)
    result = await asyncio.to_thread(  # the fake Bot API answers from this event loop
        run_bot,
        tmp_path,
        BOT_TOKEN="123456:REFUSED-by-telegram",
        TELEGRAM_API_URL=telegram.base_url,
        WEB_PORT=str(free_port()),
    )
    assert one_line(result) == (
        "error: BOT_TOKEN: Telegram refuses this token (401 Unauthorized): copy it again from "
        "@BotFather (/mybots, API Token); a revoked token stops working at once"
    )
    assert "REFUSED-by-telegram" not in result.stderr


async def test_a_taken_web_port_is_one_line_and_exit_2(
    tmp_path: Path, telegram: FakeTelegram
) -> None:
    keys_made(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = await asyncio.to_thread(
            run_bot,
            tmp_path,
            BOT_TOKEN=telegram.token,
            TELEGRAM_API_URL=telegram.base_url,
            WEB_PORT=str(port),
        )
    assert one_line(result) == (
        f"error: WEB_PORT: 127.0.0.1:{port} is already in use (another program, or the bot "
        "already running): stop it, or set WEB_PORT to a free port"
    )
    assert telegram.calls == [], "it stops before asking Telegram anything"


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A folder nobody may write to, root included (a read-only tmpfs); its errno."""
    folder = tmp_path / "data"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder, errno.EACCES
        folder.chmod(0o755)
        return
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)], check=True)
    try:
        yield folder, errno.EROFS
    finally:
        subprocess.run(["umount", str(folder)], check=False)


async def test_a_data_dir_it_cannot_write_is_one_line_and_exit_2(
    tmp_path: Path, telegram: FakeTelegram, read_only_folder: tuple[Path, int]
) -> None:
    folder, code = read_only_folder
    result = await asyncio.to_thread(
        run_bot, tmp_path, BOT_TOKEN=telegram.token, TELEGRAM_API_URL=telegram.base_url
    )
    assert one_line(result) == (
        f"error: DATA_DIR: cannot write to {folder} ({os.strerror(code)}): make it writable for "
        f"the user the bot runs as ({getpass.getuser()}), or set DATA_DIR to a folder that is"
    )


# --- Telegram away: one line, backoff, one line when it answers --------------------------------


async def test_telegram_away_at_start_and_while_polling_is_one_line_each_way(
    tmp_path: Path, telegram: FakeTelegram
) -> None:
    keys_made(tmp_path)
    relay = Relay("127.0.0.1", int(telegram.base_url.rsplit(":", 1)[1]))  # down at first
    api = f"http://127.0.0.1:{relay.port}"
    process = BotProcess(tmp_path, telegram, TELEGRAM_API_URL=api)
    unreachable = (
        f"WARNING bot.telegram_calls: Telegram Bot API at {api} unreachable (ClientConnectorError:"
        f" Cannot connect to host 127.0.0.1:{relay.port} ssl:default [Connect call failed "
        f"('127.0.0.1', {relay.port})]): {TELEGRAM_ADVICE}"
    )
    try:
        await logged(process, "unreachable")
        await asyncio.sleep(4)  # retries meanwhile, quietly
        await relay.start()
        await telegram.wait_for(lambda call: call.method == "deleteWebhook", timeout=60)
        telegram.send_text(telegram.user(7301), "/start")
        assert GREETING in await greeted(telegram, 7301)

        await relay.stop()  # while polling: the long poll is cut
        await _second(process, "unreachable")
        await asyncio.sleep(3)
        telegram.send_text(telegram.user(7302), "/start")
        await relay.start()
        assert GREETING in await greeted(telegram, 7302)
        assert await stopped(process) == 0
    finally:
        process.kill()
        await relay.stop()
    lines = process.log.read_text().splitlines()
    outages = containing(lines, "unreachable")
    assert len(outages) == 2, lines
    assert outages[0].endswith(unreachable), outages[0]
    assert len(containing(lines, "Telegram Bot API answers again after")) == 2, lines
    assert containing(lines, "Failed to fetch updates") == [], "aiogram's own lines stay quiet"
    assert "Traceback" not in "\n".join(lines)


async def _second(process: BotProcess, text: str) -> None:
    deadline = time.monotonic() + 60
    while len(containing(lines := process.log.read_text().splitlines(), text)) < 2:
        assert time.monotonic() < deadline, "\n".join(lines[-20:])
        await asyncio.sleep(0.2)


async def test_no_dns_at_start_is_one_line_and_a_stop_is_prompt(tmp_path: Path) -> None:
    keys_made(tmp_path)
    telegram = FakeTelegram()  # never started: nothing answers there
    process = BotProcess(tmp_path, telegram, TELEGRAM_API_URL="http://api.telegram.invalid")
    try:
        await logged(process, "unreachable")
        await asyncio.sleep(8)  # several retries: 1, 2, 4 s
        lines = process.log.read_text().splitlines()
        (line,) = containing(lines, "unreachable")
        assert "Telegram Bot API at http://api.telegram.invalid unreachable (" in line
        assert line.endswith(TELEGRAM_ADVICE)
        began = time.monotonic()
        assert await stopped(process) == 0
        assert time.monotonic() - began < 10
    finally:
        process.kill()
    assert "Traceback" not in process.log.read_text()


async def test_telegram_away_in_webhook_mode_the_answer_waits_for_it(
    tmp_path: Path, telegram: FakeTelegram
) -> None:
    keys_made(tmp_path)
    relay = Relay("127.0.0.1", int(telegram.base_url.rsplit(":", 1)[1]))
    await relay.start()
    process = BotProcess(
        tmp_path,
        telegram,
        TELEGRAM_API_URL=f"http://127.0.0.1:{relay.port}",
        BOT_MODE="webhook",
        WEBHOOK_URL=URL,
        WEBHOOK_SECRET=SECRET,
    )
    try:
        await telegram.wait_for(lambda call: call.method == "setWebhook", timeout=START_TIMEOUT)
        await relay.stop()
        update = telegram.text_update(telegram.user(7303), "/start")
        assert await deliver(telegram, process.webhook, update) == 200
        await logged(process, "unreachable", timeout=30)
        await relay.start()
        assert GREETING in await greeted(telegram, 7303, timeout=60)
        assert await stopped(process) == 0
    finally:
        process.kill()
        await relay.stop()
    lines = process.log.read_text().splitlines()
    assert len(containing(lines, "unreachable")) == 1, lines
    assert len(containing(lines, "Telegram Bot API answers again after")) == 1, lines
    assert "Traceback" not in "\n".join(lines)


# --- the database away: one line, backoff, one line when it answers --------------------------


def through(relay: Relay, url: str) -> str:
    return make_url(url).set(host="127.0.0.1", port=relay.port).render_as_string(False)


async def test_the_database_away_at_start_is_one_line_then_the_bot_starts(
    tmp_path: Path, telegram: FakeTelegram, postgres_url: str
) -> None:
    keys_made(tmp_path)
    server = make_url(postgres_url)
    relay = Relay(str(server.host), int(server.port or 5432))  # down at first
    process = BotProcess(tmp_path, telegram, DATABASE_URL=through(relay, postgres_url))
    shown = make_url(through(relay, postgres_url)).render_as_string(hide_password=True)
    try:
        await logged(process, "cannot open")
        await asyncio.sleep(4)
        await relay.start()
        await telegram.wait_for(lambda call: call.method == "deleteWebhook", timeout=60)
        telegram.send_text(telegram.user(7304), "/start")
        assert GREETING in await greeted(telegram, 7304)
        assert await stopped(process) == 0
    finally:
        process.kill()
        await relay.stop()
    lines = process.log.read_text().splitlines()
    (line,) = containing(lines, "cannot open")
    assert line.endswith(
        f"WARNING bot.app: DATABASE_URL: cannot open {shown} (ConnectionRefusedError): check "
        "that the database server runs and this host reaches it; retrying with backoff"
    ), line
    assert len(containing(lines, "database answers after")) == 1, lines
    assert server.password not in "\n".join(lines)
    assert "Traceback" not in "\n".join(lines)


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_the_database_away_while_running_is_one_line_and_nothing_lost(
    tmp_path: Path, telegram: FakeTelegram, postgres_url: str, mode: str
) -> None:
    """The update that meets the outage gets the apology; those after it wait (polling leaves
    them with Telegram, a webhook answers 503 so Telegram delivers them again) and are
    answered once the database is back."""
    keys_made(tmp_path)
    server = make_url(postgres_url)
    relay = Relay(str(server.host), int(server.port or 5432))
    await relay.start()
    webhook = {"BOT_MODE": "webhook", "WEBHOOK_URL": URL, "WEBHOOK_SECRET": SECRET}
    process = BotProcess(
        tmp_path,
        telegram,
        DATABASE_URL=through(relay, postgres_url),
        **(webhook if mode == "webhook" else {}),
    )

    async def say(user_id: int) -> int:
        update = telegram.text_update(telegram.user(user_id), "/start")
        if mode == "polling":
            telegram.add_update(update)
            return 200
        return await telegram.post_update(process.webhook, update, SECRET)

    try:
        await logged(process, "bot started")
        assert await say(7305) == 200
        assert GREETING in await greeted(telegram, 7305)

        await relay.stop()
        assert await say(7306) == 200
        assert await greeted(telegram, 7306) == APOLOGY
        await logged(process, "unreachable", timeout=30)
        waiting = await say(7307)
        assert waiting == (503 if mode == "webhook" else 200)
        await asyncio.sleep(3)
        assert telegram.sent_to(7307) == [], "it waits for the database"
        await relay.start()
        await logged(process, "database answers again", timeout=60)
        if mode == "webhook":
            assert await say(7307) == 200  # Telegram's delivery again
        assert GREETING in await greeted(telegram, 7307)
        assert await stopped(process) == 0
    finally:
        process.kill()
        await relay.stop()
    lines = process.log.read_text().splitlines()
    (line,) = containing(lines, "unreachable")
    assert "(ConnectionRefusedError): check that its server runs and this host reaches it" in line
    assert len(containing(lines, "database answers again after")) == 1, lines
    assert "Traceback" not in "\n".join(lines)


# --- TELEGRAM_PROXY --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["http", "socks5"])
async def test_the_bot_api_calls_go_through_telegram_proxy(
    tmp_path: Path, telegram: FakeTelegram, kind: str
) -> None:
    """The Bot API's host name resolves nowhere here but in the proxy, so every answer the
    bot gets came through it; the proxy's password is never logged."""
    keys_made(tmp_path)
    port = int(telegram.base_url.rsplit(":", 1)[1])
    proxy_class = ConnectProxy if kind == "http" else Socks5Proxy
    proxy = proxy_class({"telegram.invalid": "127.0.0.1"}, "bot", "Proxy-S3cret")
    await proxy.start()
    process = BotProcess(
        tmp_path,
        telegram,
        TELEGRAM_API_URL=f"http://telegram.invalid:{port}",
        TELEGRAM_PROXY=f"{kind}://bot:Proxy-S3cret@127.0.0.1:{proxy.port}",
    )
    try:
        await telegram.wait_for(lambda call: call.method == "deleteWebhook", timeout=START_TIMEOUT)
        telegram.send_text(telegram.user(7308), "/start")
        assert GREETING in await greeted(telegram, 7308)
        assert await stopped(process) == 0
    finally:
        process.kill()
        await proxy.close()
    assert set(proxy.seen) == {f"telegram.invalid:{port}"}
    log = process.log.read_text()
    assert f"Telegram through the proxy {kind}://127.0.0.1:{proxy.port}" in log
    assert "Proxy-S3cret" not in log
    assert "Traceback" not in log


@pytest.mark.parametrize(
    "proxy",
    [
        "ftp://user:Hunter2-pw@127.0.0.1:21",
        "http://user:Hunter2-pw@127.0.0.1",  # no port
        "socks5://user:Hunter2-pw@:1080",  # no host
        "http://user:Hunter2-pw@127.0.0.1:3128/path",
        "socks5://user:Hunter2-pw@127.0.0.1:99999",
    ],
)
def test_a_bad_telegram_proxy_is_named_and_its_password_never_shown(proxy: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None, bot_token="123456:TEST-token", telegram_proxy=proxy)
    assert str(raised.value) == (
        "TELEGRAM_PROXY: must look like http://[USER:PASSWORD@]HOST:PORT or "
        "socks5://[USER:PASSWORD@]HOST:PORT"
    )
    assert "Hunter2" not in str(raised.value)


def test_a_good_telegram_proxy_is_kept_secret() -> None:
    settings = load_settings(
        _env_file=None,
        bot_token="123456:TEST-token",
        telegram_proxy="socks5://user:Hunter2-pw@[::1]:1080",
    )
    assert settings.telegram_proxy_shown == "socks5://[::1]:1080"
    assert "Hunter2" not in repr(settings)
