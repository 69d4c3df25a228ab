"""End to end as an operator and a user would: `python main.py` against the fake Bot API,
real sshd and WireGuard nodes in network namespaces, the config brought up with wg-quick."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from nodes import SshPool
from tests.e2e import Operator, button, config_messages
from tests.fakes.telegram_api import FakeTelegram
from tests.netlab import Lab, decode_qr, require_root_lab

USER = 5001


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    require_root_lab()
    with Lab() as lab:
        yield lab


async def test_user_gets_a_config_that_carries_traffic(
    lab: Lab, telegram: FakeTelegram, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    operator = Operator(data_dir, telegram.base_url, telegram.token)
    bot_key = SshPool.ensure_client_key(data_dir / "ssh_ed25519")
    nl1 = lab.add_node("nl1", wg_subnet="10.66.1.1/24", listen_port=51821, authorized_key=bot_key)
    de1 = lab.add_node("de1", wg_subnet="10.66.2.1/24", listen_port=51822, authorized_key=bot_key)

    added = operator.cli(
        "node",
        "add",
        "nl1",
        f"ssh://root@{nl1.ip}",
        "--interface",
        nl1.interface,
        "--region",
        "Amsterdam",
    )
    assert added.returncode == 0, added.stderr
    assert f"node nl1 added: endpoint {nl1.ip}:51821, subnet 10.66.1.1/24" in added.stdout
    added = operator.cli(
        "node",
        "add",
        "de1",
        f"ssh://root@{de1.ip}",
        "--interface",
        de1.interface,
        "--region",
        "Frankfurt",
    )
    assert added.returncode == 0, added.stderr
    listed = operator.cli("node", "list")
    assert listed.stdout.count("enabled") == 2
    granted = operator.cli("user", "add", str(USER))
    assert granted.returncode == 0, granted.stderr

    bot = operator.start_bot(tmp_path / "bot.log")
    try:
        await telegram.wait_for(
            lambda call: call.method == "getUpdates", timeout=90
        )  # a loaded machine
        languages = {
            call.params.get("language_code")
            for call in telegram.calls
            if call.method == "setMyCommands"
        }
        assert languages == {None, "en"}
        user = telegram.user(USER, first_name="Anna", language_code="ru")

        # First config, on the least loaded node (de1 before nl1 by name): the file and the QR
        # code hold the same text, and it carries traffic through de1.
        telegram.send_text(user, "/get_config")
        first, qr = await config_messages(telegram, USER)
        assert decode_qr(qr) == first
        assert f"Endpoint = {de1.ip}:51822" in first
        lab.client.up(first)
        assert lab.client.fetch_source_ip() == de1.ip
        lab.client.down()

        # /regen: the old config stops at once, the new one works.
        telegram.send_text(user, "/regen")
        question = (await telegram.wait_sent(USER, 1))[-1]
        telegram.press(user, question, button(question, "новые ключи"))
        second, qr = await config_messages(telegram, USER)
        assert decode_qr(qr) == second
        assert second != first
        lab.client.up(first)
        assert lab.client.fetch_source_ip(timeout=4) is None, "the old config still works"
        lab.client.down()
        lab.client.up(second)
        assert lab.client.fetch_source_ip() == de1.ip
        lab.client.down()

        # /server: move to nl1; the new config goes through nl1 and de1 keeps no peer.
        telegram.send_text(user, "/server")
        screen = (await telegram.wait_sent(USER, 1))[-1]
        telegram.press(user, screen, button(screen, "nl1"))
        third, qr = await config_messages(telegram, USER)
        assert decode_qr(qr) == third
        assert f"Endpoint = {nl1.ip}:51821" in third
        lab.client.up(third)
        assert lab.client.fetch_source_ip() == nl1.ip
        lab.client.down()
        assert de1.wg_dump().strip().count("\n") == 0, "de1 still has a peer"

        # A node that refuses SSH: the user is told and nothing moves.
        de1.stop_sshd()
        telegram.send_text(user, "/server")
        screen = (await telegram.wait_sent(USER, 1))[-1]
        telegram.press(user, screen, button(screen, "de1"))
        refusal = (await telegram.wait_sent(USER, 1, timeout=30))[-1]
        assert "Сервер de1 сейчас недоступен" in refusal.text
        de1.start_sshd()
        engine = create_engine(f"sqlite:///{data_dir / 'vpnservice.db'}")
        with engine.connect() as connection:
            node = connection.execute(
                text("SELECT nodes.name FROM devices JOIN nodes ON nodes.id = devices.node_id")
            ).scalar_one()
        engine.dispose()
        assert node == "nl1"

        bot.send_signal(signal.SIGTERM)
        assert bot.wait(timeout=30) == 0
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()
        log = (tmp_path / "bot.log").read_text()
        for secret in (telegram.token.split(":")[1], "PrivateKey", "PresharedKey"):
            assert secret not in log
        assert "Traceback" not in log, log[-3000:]
