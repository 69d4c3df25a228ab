"""SSH host keys of nodes, against real sshd: `node add` and /add_node show the fingerprint
(as `ssh-keygen -lf` prints it) before anything changes on the node, and a node that later
presents another key (on reconnect, or when it is restored) is refused, with one alert naming
both fingerprints, until an admin accepts exactly that key (pinned and audited)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db.models import AuditEntry, Node
from nodes import SshPool
from services.audit import OPERATOR
from services.errors import HostKeyMismatch, HostKeyNotAccepted
from services.fleet import NewNode
from tests.conftest import ADMIN_ID, App
from tests.e2e import Operator
from tests.fakes.telegram_api import FakeTelegram
from tests.netlab import Lab, require_root_lab
from tests.nodes_support import live_app, with_access

pytestmark = [pytest.mark.root, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    require_root_lab()
    with Lab() as lab:
        yield lab


def bot_key(data_dir: Path) -> str:
    return SshPool.ensure_client_key(data_dir / "ssh_ed25519")


async def stored(app: App, name: str) -> Node:
    node = await app.services.fleet.named(name)
    assert node is not None
    return node


async def audit(app: App, action: str) -> list[AuditEntry]:
    async with app.services.sessions() as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list((await session.scalars(query)).all())


def button_answer(app: App) -> object:
    """The text of the bot's last answer to a pressed button (shown as a notice)."""
    calls = app.telegram.calls
    return next(c for c in reversed(calls) if c.method == "answerCallbackQuery").params.get("text")


def last_line(text: str) -> str:
    """What the command line said last (log lines come before it)."""
    return text.strip().splitlines()[-1]


def texts(app: App, since: int) -> list[str]:
    return [m.text or "" for m in app.telegram.sent_to(ADMIN_ID)[since:]]


# --- the operator's command line --------------------------------------------------------------


def test_node_add_prints_the_fingerprint_and_host_key_refuses_another(
    lab: Lab, telegram: FakeTelegram, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    operator = Operator(data, telegram.base_url, telegram.token)
    node = lab.add_node("cli1", wg_subnet="10.75.1.1/24", authorized_key=bot_key(data))
    other = lab.add_node("cli2", wg_subnet="10.75.2.1/24", authorized_key=bot_key(data))
    address = ["--interface", node.interface]

    wrong = other.host_key_fingerprint().split()[0]
    refused = operator.cli(
        "node", "add", "n1", f"ssh://root@{node.ip}", *address, "--host-key", wrong
    )
    assert refused.returncode == 1, refused.stderr
    assert refused.stdout.startswith(f"host key of n1: {node.host_key_fingerprint()}\n")
    assert last_line(refused.stderr) == (
        f"node n1: the node presents host key {node.host_key_fingerprint()}, not {wrong}"
    )
    assert "n1" not in operator.cli("node", "list").stdout, "nothing was added"

    added = operator.cli(
        "node", "add", "n1", f"ssh://root@{node.ip}", *address, "--host-key", node.host_key
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith(f"host key of n1: {node.host_key_fingerprint()}\n")
    assert "node n1 added" in added.stdout

    unchecked = operator.cli(
        "node", "add", "n2", f"ssh://root@{other.ip}", "--interface", other.interface
    )
    assert unchecked.returncode == 0, unchecked.stderr
    assert unchecked.stdout.startswith(
        f"host key of n2: {other.host_key_fingerprint()} (trusted as first seen: "
        "--host-key checks it)\n"
    )
    bad = operator.cli("node", "add", "n3", f"ssh://root@{other.ip}", "--host-key", "SHA256:x")
    assert (bad.returncode, last_line(bad.stderr)) == (2, "error: invalid host_key")


def test_a_rebuilt_node_is_restored_only_with_its_new_key_from_the_command_line(
    lab: Lab, telegram: FakeTelegram, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    operator = Operator(data, telegram.base_url, telegram.token)
    node = lab.add_bare_node("cli3", authorized_key=bot_key(data))
    assert (
        operator.cli(
            "node", "add", "n3", f"ssh://root@{node.ip}", "--interface", node.interface
        ).returncode
        == 0
    )
    old = node.host_key_fingerprint()
    node.new_host_key()
    new = node.host_key_fingerprint()

    refused = operator.cli("node", "restore", "n3")
    assert refused.returncode == 1
    assert last_line(refused.stderr) == (
        f"node n3: the node presents another host key: pinned {old}, now {new}. If the machine "
        f"was reinstalled, check the new key on it and run again with --host-key {new.split()[0]}"
    )
    shown = operator.cli("node", "accept-host-key", "n3")
    assert shown.returncode == 2
    assert shown.stdout.strip() == f"node n3: pinned host key {old}, presented {new}"
    wrong = operator.cli("node", "accept-host-key", "n3", "--host-key", old.split()[0])
    assert (
        wrong.returncode == 1 and f"presents host key {new}, not {old.split()[0]}" in wrong.stderr
    )

    restored = operator.cli("node", "restore", "n3", "--host-key", new.split()[0])
    assert restored.returncode == 0, restored.stderr
    assert "node n3 restored" in restored.stdout
    again = operator.cli("node", "accept-host-key", "n3")
    assert again.returncode == 1 and "no new host key" in again.stderr


# --- the chat --------------------------------------------------------------------------------------


async def test_add_node_in_the_chat_shows_the_key_and_changes_nothing_before_the_button(
    lab: Lab, telegram: FakeTelegram, tmp_path: Path
) -> None:
    bare = lab.add_bare_node("chat1", authorized_key=bot_key(tmp_path / "data"))
    async with live_app(tmp_path, telegram, None) as app:
        await app.say(ADMIN_ID, "/start")
        command = f"/add_node c1 ssh://root@{bare.ip} iface={bare.interface}"
        (check,) = await app.say(ADMIN_ID, command)
        confirm = check.buttons[0]["callback_data"]
        assert check.text == (
            f"🔑 Сервер c1 ({bare.ip}:22) предъявляет SSH-ключ:\n{bare.host_key_fingerprint()}\n"
            "Сверьте его с ключом на самом сервере (ssh-keygen -lf "
            "/etc/ssh/ssh_host_ed25519_key.pub). Пока вы не подтвердите, на сервере ничего не "
            "меняется."
        )
        assert [b["text"] for b in check.buttons] == ["✅ Ключ верный, добавить", "Отмена"]
        assert await app.services.fleet.named("c1") is None
        assert not Path(bare.script_path).exists() and not bare.config_path.exists()

        # the machine presents another key before the admin confirms: refused, nothing done
        shown = bare.host_key_fingerprint()
        bare.new_host_key()
        await app.press(ADMIN_ID, check, confirm)
        result = next(m for m in app.telegram.sent_to(ADMIN_ID) if m.message_id == check.message_id)
        assert result.text == (
            f"❌ Сервер c1 предъявляет ключ {bare.host_key_fingerprint()}, а не "
            f"{shown}. Ничего не изменено."
        )
        assert await app.services.fleet.named("c1") is None
        assert not bare.config_path.exists()
        stale = await app.press(ADMIN_ID, check, confirm)  # pressed again: nothing pending
        assert button_answer(app) == "Эта кнопка устарела. Откройте меню заново: /start"
        assert stale == []

        (check,) = await app.say(ADMIN_ID, command)
        await app.press(ADMIN_ID, check, check.buttons[1]["callback_data"])
        assert check.text == "Добавление сервера c1 отменено, на сервере ничего не изменено."
        assert await app.services.fleet.named("c1") is None

        (check,) = await app.say(ADMIN_ID, command)
        await app.press(ADMIN_ID, check, check.buttons[0]["callback_data"])
        done = next(m for m in app.telegram.sent_to(ADMIN_ID) if m.message_id == check.message_id)
        assert (done.text or "").startswith("✅ Сервер c1 добавлен.")
        assert (await stored(app, "c1")).host_key == bare.host_key
        failed, added = await audit(app, "add_node")
        assert (
            failed.details
            == f"failed: host key {bare.host_key_fingerprint()} is not the one expected"
        )
        assert added.actor_id == ADMIN_ID and bare.host_key_fingerprint() in added.details


async def test_a_changed_key_on_reconnect_is_refused_with_one_alert_until_accepted(
    lab: Lab, telegram: FakeTelegram, tmp_path: Path
) -> None:
    machine = lab.add_node(
        "chat2", wg_subnet="10.75.4.1/24", authorized_key=bot_key(tmp_path / "data")
    )
    async with live_app(tmp_path, telegram, None, health_failures=3) as app:
        services = app.services
        node = await services.fleet.add(
            OPERATOR, NewNode("k1", machine.ip, interface=machine.interface)
        )
        await with_access(services, [7801], node)
        await app.say(7801, "/get_config")
        await app.say(ADMIN_ID, "/start")
        old = machine.host_key_fingerprint()
        machine.new_host_key()
        new = machine.host_key_fingerprint()
        services.pool.drop("k1")
        since = len(app.telegram.sent_to(ADMIN_ID))

        for _ in range(3):
            outcomes = await services.health.probe_all()
            assert outcomes[0].host_key_changed
        (alert,) = app.telegram.sent_to(ADMIN_ID)[since:]
        assert alert.text == (
            "🔐 Сервер k1 предъявил другой SSH-ключ — бот с ним больше не работает.\n"
            f"Был: {old}\nТеперь: {new}\n"
            "Если сервер переустанавливали, примите новый ключ кнопкой ниже или командой "
            "/accept_host_key k1. Если нет — проверьте сервер: его могли подменить."
        )
        assert [b["text"] for b in alert.buttons] == ["✅ Принять новый ключ"]
        assert (await stored(app, "k1")).offered_host_key == machine.host_key
        status = await app.say(7801, "/status")
        assert "Сервер сейчас не отвечает" in (status[-1].text or ""), "refused, never trusted"

        # /accept_host_key shows the same offer; a wrong fingerprint is refused
        (offer,) = await app.say(ADMIN_ID, "/accept_host_key k1")
        assert offer.text == (
            f"🔐 Сервер k1 предъявляет новый SSH-ключ.\nБыл: {old}\nТеперь: {new}\nПринять его?"
        )
        accept = alert.buttons[0]["callback_data"]
        (wrong,) = await app.say(ADMIN_ID, f"/accept_host_key k1 {old.split()[0]}")
        assert wrong.text == (
            f"❌ Сервер k1 предъявляет ключ {new}, а не {old.split()[0]}. Ничего не изменено."
        )
        refused = await app.press(7801, alert, accept)
        assert button_answer(app) == "Эта команда только для администраторов."
        assert refused == [] and (await stored(app, "k1")).host_key != machine.host_key

        await app.press(ADMIN_ID, alert, accept)
        accepted = next(
            m for m in app.telegram.sent_to(ADMIN_ID) if m.message_id == alert.message_id
        )
        assert accepted.text == (
            f"✅ Новый SSH-ключ сервера k1 принят: {new}. Бот снова работает с сервером; если его "
            "переустанавливали, восстановите его: /restore_node k1"
        )
        row = await stored(app, "k1")
        assert (row.host_key, row.offered_host_key) == (machine.host_key, None)
        (entry,) = await audit(app, "accept_host_key")
        assert (entry.actor_id, entry.target, entry.details) == (ADMIN_ID, "k1", f"{old} -> {new}")

        outcomes = await services.health.probe_all()
        assert outcomes[0].error is None
        assert texts(app, since)[-1] == "🟢 Сервер k1 снова в строю."
        assert "не отвечает" not in ((await app.say(7801, "/status"))[-1].text or "")
        await app.press(ADMIN_ID, alert, accept)  # the button again: nothing left to accept
        assert alert.text == "У сервера k1 нет нового SSH-ключа, который нужно принять."
        assert (await stored(app, "k1")).host_key == machine.host_key


async def test_restore_node_refuses_a_changed_key_until_it_is_accepted(
    lab: Lab, telegram: FakeTelegram, tmp_path: Path
) -> None:
    """/restore_node used to pin whatever key the machine showed; now the wiped machine's new
    key must be accepted first, and nothing is done on it before."""
    machine = lab.add_bare_node("chat3", authorized_key=bot_key(tmp_path / "data"))
    async with live_app(tmp_path, telegram, None) as app:
        services = app.services
        await services.fleet.add(OPERATOR, NewNode("r1", machine.ip, interface=machine.interface))
        await app.say(ADMIN_ID, "/start")
        old = machine.host_key_fingerprint()
        machine.wipe()
        new = machine.host_key_fingerprint()
        since = len(app.telegram.sent_to(ADMIN_ID))

        await app.say(ADMIN_ID, "/restore_node r1")
        sent = app.telegram.sent_to(ADMIN_ID)[since:]
        refusal = (
            f"🔐 Сервер r1 предъявил другой SSH-ключ, ничего не изменено.\nБыл: {old}\n"
            f"Теперь: {new}\nЕсли это ваш переустановленный сервер, примите ключ "
            "(/accept_host_key r1) и повторите команду."
        )
        assert refusal in [m.text for m in sent]
        alerts = [
            m for m in sent if (m.text or "").startswith("🔐 Сервер r1 предъявил другой SSH-ключ —")
        ]
        assert len(alerts) == 1 and f"Был: {old}\nТеперь: {new}" in (alerts[0].text or "")
        assert not machine.config_path.exists(), "nothing was done on the machine"
        (failed,) = await audit(app, "restore_node")
        assert failed.details == f"failed: the node presents another host key {new}"

        await app.say(ADMIN_ID, "/restore_node r1")  # asked again: the same offer, no new alert
        assert (
            len(
                [
                    t
                    for t in texts(app, since)
                    if t.startswith("🔐 Сервер r1 предъявил другой SSH-ключ —")
                ]
            )
            == 1
        )

        await app.press(ADMIN_ID, alerts[0], alerts[0].buttons[0]["callback_data"])
        await app.say(ADMIN_ID, "/restore_node r1")
        assert any(t.startswith("✅ Сервер r1 восстановлен") for t in texts(app, since))
        assert (await stored(app, "r1")).host_key == machine.host_key
        assert machine.config_path.exists()


async def test_the_service_refuses_a_key_other_than_the_one_given(
    lab: Lab, telegram: FakeTelegram, tmp_path: Path
) -> None:
    machine = lab.add_node(
        "svc1", wg_subnet="10.75.5.1/24", authorized_key=bot_key(tmp_path / "data")
    )
    async with live_app(tmp_path, telegram, None) as app:
        fleet = app.services.fleet
        new = NewNode("s1", machine.ip, interface=machine.interface)
        with pytest.raises(HostKeyMismatch):
            await fleet.add(OPERATOR, new, host_key=f"SHA256:{'A' * 43}")
        assert await fleet.named("s1") is None
        await fleet.add(OPERATOR, new, host_key=machine.host_key_fingerprint().split()[0])
        machine.new_host_key()
        with pytest.raises(HostKeyNotAccepted) as refused:
            await fleet.restore(OPERATOR, "s1")
        args: dict[str, Any] = refused.value.args_for_text
        assert args["offered"] == machine.host_key_fingerprint()
