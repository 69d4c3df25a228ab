"""Nodes as cattle end to end: `python main.py` with its scheduler and web server, an admin
who bootstraps a bare node from the chat, a wiped node restored with users' old configs
working again, an alert and a recovery when sshd stops, and users moved with new configs."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodes import SshPool
from tests.e2e import ADMIN, Operator, config_messages
from tests.fakes.telegram_api import FakeTelegram, Sent
from tests.netlab import Lab, require_root_lab

USER = 5101


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    require_root_lab()
    with Lab() as lab:
        yield lab


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def last_message(
    telegram: FakeTelegram, chat_id: int, contains: str, timeout: float = 60
) -> Sent:
    """Wait until a message in the chat (new or edited) contains `contains`; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in reversed(telegram.sent_to(chat_id)):
            if message.text and contains in message.text:
                return message
        await asyncio.sleep(0.2)
    raise AssertionError(
        f"no message with {contains!r}: {[m.text for m in telegram.sent_to(chat_id)][-5:]}"
    )


async def last_text(
    telegram: FakeTelegram, chat_id: int, contains: str, timeout: float = 60
) -> str:
    """Wait until a message in the chat (new or edited) contains `contains`; return its text."""
    return (await last_message(telegram, chat_id, contains, timeout)).text or ""


async def metrics_after_a_probe(web_port: int, node: str, since: float) -> str:
    """/metrics once the node's last probe is one that started after `since` (Unix time)."""
    line = re.compile(
        rf'^vpnservice_node_last_probe_timestamp_seconds{{node="{node}"}} (\S+)$', re.M
    )

    def fetch() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/metrics", timeout=5) as answer:
            return str(answer.read().decode())

    deadline = time.monotonic() + 30
    while True:
        metrics = await asyncio.to_thread(fetch)
        probed = line.search(metrics)
        if probed and float(probed[1]) > since:
            return metrics
        assert time.monotonic() < deadline, f"no probe of {node} since {since}"
        await asyncio.sleep(0.2)


async def test_bootstrap_restore_alert_and_migrate(
    lab: Lab, telegram: FakeTelegram, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    web_port = free_port()
    operator = Operator(
        data_dir,
        telegram.base_url,
        telegram.token,
        HEALTH_INTERVAL="2",
        HEALTH_FAILURES="2",
        NODE_CONNECT_TIMEOUT="3",
        WEB_PORT=str(web_port),
    )
    bot_key = SshPool.ensure_client_key(data_dir / "ssh_ed25519")
    fi1 = lab.add_bare_node("fi1", authorized_key=bot_key)
    de1 = lab.add_node("de1", wg_subnet="10.67.2.1/24", listen_port=51832, authorized_key=bot_key)
    adopted = operator.cli(
        "node", "add", "de1", f"ssh://root@{de1.ip}", "--interface", de1.interface
    )
    assert adopted.returncode == 0, adopted.stderr
    assert operator.cli("user", "add", str(USER)).returncode == 0

    bot = operator.start_bot(tmp_path / "bot.log")
    try:
        await telegram.wait_for(
            lambda call: call.method == "getUpdates", timeout=90
        )  # a loaded machine
        admin = telegram.user(ADMIN, first_name="Owner")
        user = telegram.user(USER, first_name="Anna")
        telegram.send_text(admin, "/start")
        await telegram.wait_sent(ADMIN, 1)

        # A bare machine becomes a node from the chat: its host key is shown to be checked,
        # then the steps are shown as they run.
        telegram.send_text(
            admin, f"/add_node fi1 ssh://root@{fi1.ip} Helsinki iface={fi1.interface}"
        )
        check = await last_message(telegram, ADMIN, fi1.host_key_fingerprint())
        telegram.press(admin, check, check.button("Ключ верный")["callback_data"])
        added = await last_text(telegram, ADMIN, "добавлен", timeout=120)
        assert f"Точка входа: {fi1.ip}:51820, подсеть: 10.8.0.1/20" in added
        progress = next(m for m in telegram.sent_to(ADMIN) if m.text == added)
        assert progress.edits >= 6, "one edit per bootstrap step, then the result"

        # The user is put on fi1 (chosen from /server) and the config carries traffic.
        telegram.send_text(user, "/server")
        screen = (await telegram.wait_sent(USER, 1))[-1]
        telegram.press(user, screen, screen.button("fi1")["callback_data"])
        original, _ = await config_messages(telegram, USER)
        lab.client.up(original)
        assert lab.client.fetch_source_ip() == fi1.ip
        lab.client.down()

        # The machine is wiped (new host key, no WireGuard): the old config is dead...
        fi1.wipe()
        lab.client.up(original)
        assert lab.client.fetch_source_ip(timeout=3) is None
        lab.client.down()
        # ...and the admin restores it: its new host key is refused until the admin accepts it,
        # then the same config works again, nothing asked of the user.
        telegram.send_text(admin, "/restore_node fi1")
        await last_message(telegram, ADMIN, "предъявил другой SSH-ключ, ничего не изменено")
        alert = await last_message(telegram, ADMIN, "бот с ним больше не работает")
        assert fi1.host_key_fingerprint() in (alert.text or "")
        telegram.press(admin, alert, alert.button("Принять новый ключ")["callback_data"])
        await last_message(telegram, ADMIN, "Новый SSH-ключ сервера fi1 принят")
        started = time.monotonic()
        telegram.send_text(admin, "/restore_node fi1")
        restored = await last_text(telegram, ADMIN, "восстановлен", timeout=120)
        restore_seconds = time.monotonic() - started
        assert "возвращено пиров — 1" in restored
        lab.client.up(original)
        assert lab.client.fetch_source_ip() == fi1.ip
        lab.client.down()
        print(f"\nrestore of a wiped node: {restore_seconds:.1f} s")

        # Metrics show both nodes up after a probe (one that starts from here on).
        since = time.time()
        metrics = await metrics_after_a_probe(web_port, "fi1", since)
        assert 'vpnservice_node_up{node="fi1"} 1.0' in metrics
        assert 'vpnservice_node_peers{node="fi1"} 1.0' in metrics
        health = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{web_port}/healthz", timeout=5).read()
        )
        assert health == b'{"status": "ok"}'

        # sshd stops on de1: exactly one alert; it comes back: exactly one recovery.
        de1.stop_sshd()
        await last_text(telegram, ADMIN, "Сервер de1 недоступен", timeout=30)
        await asyncio.sleep(5)
        de1.start_sshd()
        await last_text(telegram, ADMIN, "Сервер de1 снова в строю", timeout=30)
        await asyncio.sleep(5)
        texts = [m.text or "" for m in telegram.sent_to(ADMIN)]
        assert sum("Сервер de1 недоступен" in text for text in texts) == 1
        assert sum("Сервер de1 снова в строю" in text for text in texts) == 1

        # Everyone on fi1 moves to de1 and gets the new config, which carries traffic via de1.
        started = time.monotonic()
        telegram.send_text(admin, "/migrate fi1 de1")
        report = await last_text(telegram, ADMIN, "перенесено", timeout=60)
        print(f"migrate with the config delivered: {time.monotonic() - started:.1f} s")
        assert report == "✅ fi1 → de1: перенесено 1, конфигурацию получили 1, не доставлено 0."
        moved, _ = await config_messages(telegram, USER)
        assert f"Endpoint = {de1.ip}:51832" in moved
        lab.client.up(moved)
        assert lab.client.fetch_source_ip() == de1.ip
        lab.client.down()
        assert fi1.wg_dump().strip().count("\n") == 0, "fi1 keeps no peer after the move"

        bot.send_signal(signal.SIGTERM)
        assert bot.wait(timeout=30) == 0
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()
        log = (tmp_path / "bot.log").read_text()
        assert "PrivateKey" not in log and "PresharedKey" not in log
        assert "Traceback" not in log, log[-3000:]
