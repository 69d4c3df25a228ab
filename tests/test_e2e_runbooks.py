"""The runbooks in docs/ end to end, each timed: rotating the bot's SSH key on live nodes
(docs/runbook-rotate-ssh-key.md), restoring the database from a backup
(docs/runbook-restore-database.md), and giving a blocked node a new address
(docs/runbook-blocked-address.md). `python main.py` against the fake Bot API, real sshd and
WireGuard in network namespaces, users' configs brought up with wg-quick."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest

from bot.notifier import TelegramNotifier
from db.engine import create_engine
from db.migrate import upgrade
from nodes import NodeError, NodeTarget, SshPool, public_key
from nodes.keyrotation import ADD_SCRIPT, REMOVE_SCRIPT, check_login
from services.backups import BackupError, restore_sqlite
from services.endpoints import EndpointReport, EndpointService
from services.errors import InvalidInput, NodeNotFound
from tests.conftest import ADMIN_ID, App
from tests.e2e import ADMIN, Operator, config_messages
from tests.fakes.telegram_api import FakeTelegram
from tests.netlab import Lab, LabNode, require_root_lab

OPERATOR_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq9xq1Hn0uTQ7tM3UuWk7oQy2wq3y2QyQnYQ1a2b3c4 "
    "operator@laptop"
)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    require_root_lab()
    with Lab() as lab:
        yield lab


# --- the authorized_keys scripts, run here as the node's shell runs them ------------------------


def _script(script: str, home: Path, line: str) -> str:
    done = subprocess.run(
        ["sh", "-c", script],
        input=line + "\n",
        env={"HOME": str(home), "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    return done.stdout.strip()


def _key_line(comment: str = "vpnservice") -> str:
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    return key.export_public_key("openssh").decode().strip()


def test_authorized_keys_scripts_touch_only_the_bots_line(tmp_path: Path) -> None:
    """In the login user's home (a sudo user's own, not root's), idempotent, other keys kept,
    a last line without a newline not glued to the new one."""
    home = tmp_path / "home" / "deploy"
    home.mkdir(parents=True)
    keys = home / ".ssh" / "authorized_keys"
    old, new = _key_line(), _key_line()
    lookalike = f'from="10.0.0.1" {_key_line()} vpnservice'  # same comment, another key
    assert _script(ADD_SCRIPT, home, old) == f"added {keys}"
    assert keys.parent.stat().st_mode & 0o777 == 0o700
    keys.write_text(f"{OPERATOR_KEY}\n{old}\n{lookalike}")  # no newline at the end
    assert _script(ADD_SCRIPT, home, old) == f"present {keys}"
    assert _script(ADD_SCRIPT, home, new) == f"added {keys}"
    assert _script(ADD_SCRIPT, home, new) == f"present {keys}"
    assert keys.read_text() == f"{OPERATOR_KEY}\n{old}\n{lookalike}\n{new}\n"
    assert _script(REMOVE_SCRIPT, home, old) == f"removed {keys}"
    assert _script(REMOVE_SCRIPT, home, old) == f"absent {keys}"
    assert keys.read_text() == f"{OPERATOR_KEY}\n{lookalike}\n{new}\n"
    assert keys.stat().st_mode & 0o077 == 0
    assert list(keys.parent.iterdir()) == [keys], "no temporary file left"


# --- rotating the bot's SSH key -----------------------------------------------------------------


def home_authorized_keys(node: LabNode, key: str) -> Path:
    """Make the node's sshd read root's ~/.ssh/authorized_keys, as a stock sshd does (the lab's
    default is a file outside any home), with root's home in the node's own directory."""
    home = node.dir / "root-home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    keys = home / ".ssh" / "authorized_keys"
    keys.write_text(f"{OPERATOR_KEY}\n{key}\n")
    config = node.dir / "sshd_config"
    lines = config.read_text().splitlines()
    lines = [
        "AuthorizedKeysFile .ssh/authorized_keys" if ln.startswith("AuthorizedKeysFile") else ln
        for ln in lines
    ]
    config.write_text("\n".join(lines) + "\n")
    node.use_plain_root_home(home)  # restarts sshd
    return keys


def target(node: LabNode) -> NodeTarget:
    return NodeTarget(node.name, node.ip, host_key=node.host_key, interface=node.interface)


async def last_text(
    telegram: FakeTelegram, chat_id: int, contains: str, timeout: float = 30
) -> str:
    """Wait until a message in the chat (new or edited) contains `contains`; return its text."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in reversed(telegram.sent_to(chat_id)):
            if message.text and contains in message.text:
                return message.text
        await asyncio.sleep(0.05)
    texts = [m.text for m in telegram.sent_to(chat_id)][-5:]
    raise AssertionError(f"no message with {contains!r} in chat {chat_id}: {texts}")


async def started_polling(telegram: FakeTelegram) -> None:
    """Wait until the bot is about to poll: updates sent from now on reach it. (The first
    getUpdates is recorded only when its long poll ends, seconds later.)"""
    await telegram.wait_for(lambda call: call.method == "deleteWebhook", timeout=30)


async def cli(operator: Operator, *args: str) -> subprocess.CompletedProcess[str]:
    """`python main.py ARGS` without blocking the loop that serves the fake Bot API."""
    return await asyncio.to_thread(operator.cli, *args)


async def stop(bot: subprocess.Popen[bytes], log: Path) -> None:
    """SIGTERM, as systemd stops the bot; the log holds no secret and no traceback."""
    if bot.poll() is None:
        bot.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(bot.wait, 30)
        except subprocess.TimeoutExpired:
            bot.kill()
            bot.wait()
    text = log.read_text()
    assert "PrivateKey" not in text and "PresharedKey" not in text
    assert "BEGIN OPENSSH PRIVATE KEY" not in text
    assert "Traceback" not in text, text[-3000:]


async def test_rotate_ssh_key_while_the_bot_runs(
    lab: Lab, telegram: FakeTelegram, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    operator = Operator(data_dir, telegram.base_url, telegram.token, NODE_CONNECT_TIMEOUT="3")
    key_path = data_dir / "ssh_ed25519"
    old_line = SshPool.ensure_client_key(key_path)
    old_copy = tmp_path / "old_key"
    shutil.copy(key_path, old_copy)
    nodes = [
        lab.add_node("nl1", wg_subnet="10.71.1.1/24", listen_port=51871, authorized_key=old_line),
        lab.add_node("de1", wg_subnet="10.71.2.1/24", listen_port=51872, authorized_key=old_line),
    ]
    keys = {node.name: home_authorized_keys(node, old_line) for node in nodes}
    for node in nodes:
        added = await cli(
            operator,
            "node",
            "add",
            node.name,
            f"ssh://root@{node.ip}",
            "--interface",
            node.interface,
        )
        assert added.returncode == 0, added.stderr

    # A node that does not answer stops the rotation before anything changes.
    nodes[1].stop_sshd()
    files_before = {p.name: p.read_bytes() for p in data_dir.glob("ssh_ed25519*")}
    refused = await cli(operator, "ssh-key", "rotate")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "de1: FAILED, connection refused" in refused.stdout
    assert "stopped at step check: de1 (connection refused)" in refused.stderr
    assert "Nothing was changed" in refused.stderr
    assert {p.name: p.read_bytes() for p in data_dir.glob("ssh_ed25519*")} == files_before
    assert keys["nl1"].read_text() == f"{OPERATOR_KEY}\n{old_line}\n"
    nodes[1].start_sshd()

    log = tmp_path / "bot.log"
    bot = operator.start_bot(log)
    try:
        await started_polling(telegram)
        admin = telegram.user(ADMIN, first_name="Owner")
        telegram.send_text(admin, "/nodes")
        await last_text(telegram, ADMIN, "🟢 de1")

        # The rotation, with the bot running and connected to both nodes.
        started = time.monotonic()
        rotated = await cli(operator, "ssh-key", "rotate")
        seconds = time.monotonic() - started
        assert rotated.returncode == 0, rotated.stdout + rotated.stderr
        out = rotated.stdout
        for name in ("nl1", "de1"):
            assert f"{name}: answers (" in out
            assert f"{name}: new key added to {keys[name]} (" in out
            assert f"{name}: logs in with the new key (" in out
            assert f"{name}: old key removed from {keys[name]} (" in out
        assert "BEGIN OPENSSH PRIVATE KEY" not in out + rotated.stderr
        assert sorted(p.name for p in data_dir.glob("ssh_ed25519*")) == ["ssh_ed25519"]
        new_line = SshPool.ensure_client_key(key_path)
        assert new_line != old_line
        assert key_path.stat().st_mode & 0o077 == 0
        for node in nodes:
            assert keys[node.name].read_text() == f"{OPERATOR_KEY}\n{new_line}\n"
            with pytest.raises(NodeError, match="authentication failed"):
                await check_login(old_copy, target(node), connect_timeout=3, command_timeout=5)
            await check_login(key_path, target(node), connect_timeout=3, command_timeout=5)
        internal = re.search(r"rotated in ([\d.]+) s", out)
        assert internal is not None
        print(f"\nssh-key rotate, 2 nodes: {seconds:.1f} s (the rotation itself {internal[1]} s)")

        # The running bot's connections go (sshd restarted): it logs in again with the new key.
        for node in nodes:
            node.stop_sshd()
            node.start_sshd()
        for _ in range(3):  # a probe racing the cut may still see the dead connection once
            telegram.mark(ADMIN)
            telegram.send_text(admin, "/nodes")
            answer = (await telegram.wait_sent(ADMIN, 1))[-1].text or ""
            if "🔴" not in answer:
                break
        assert "🟢 nl1" in answer and "🟢 de1" in answer, answer
        telegram.send_text(admin, "/reconcile de1")
        await last_text(telegram, ADMIN, "de1 совпадает с базой")

        # A rotation stopped after the swap (the old key still on nl1) is finished by a rerun.
        shutil.copy(old_copy, data_dir / "ssh_ed25519.old")
        keys["nl1"].write_text(f"{OPERATOR_KEY}\n{old_line}\n{new_line}\n")
        finished = await cli(operator, "ssh-key", "rotate")
        assert finished.returncode == 0, finished.stdout + finished.stderr
        assert "the keys were swapped by an earlier run" in finished.stdout
        assert f"nl1: old key removed from {keys['nl1']}" in finished.stdout
        assert f"de1: old key was not in {keys['de1']}" in finished.stdout
        assert keys["nl1"].read_text() == f"{OPERATOR_KEY}\n{new_line}\n"
        assert not (data_dir / "ssh_ed25519.old").exists()
    finally:
        await stop(bot, log)


# --- restoring the database from a backup -------------------------------------------------------

ANNA, BORIS, DORA = 5201, 5202, 5204


def peer_keys(node: LabNode) -> set[str]:
    """Public keys of the peers WireGuard serves on the node now."""
    return {line.split("\t")[0] for line in node.wg_dump().splitlines()[1:]}


def key_of(conf: str) -> str:
    """The public key of a client config's private key."""
    found = re.search(r"^PrivateKey = (\S+)$", conf, re.MULTILINE)
    assert found is not None
    return public_key(found[1])


async def remove_device(telegram: FakeTelegram, user_id: int) -> None:
    """The user opens /devices and removes their only device, as in the chat."""
    user = telegram.user(user_id)
    telegram.send_text(user, "/devices")
    screen = (await telegram.wait_sent(user_id, 1))[-1]
    for button in ("📱 ", "🗑 Удалить", "Да, удалить"):
        telegram.press_button(user, screen, button)
        screen = (await telegram.wait_sent(user_id, 1))[-1]
    assert "удалено" in (screen.text or "")


async def test_restore_database_and_the_node_follows(
    lab: Lab, telegram: FakeTelegram, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    operator = Operator(data_dir, telegram.base_url, telegram.token)
    bot_key = SshPool.ensure_client_key(data_dir / "ssh_ed25519")
    fi1 = lab.add_node("fi1", wg_subnet="10.72.1.1/24", listen_port=51873, authorized_key=bot_key)
    added = await cli(
        operator, "node", "add", "fi1", f"ssh://root@{fi1.ip}", "--interface", fi1.interface
    )
    assert added.returncode == 0, added.stderr
    for user_id in (ANNA, BORIS):
        assert (await cli(operator, "user", "add", str(user_id))).returncode == 0

    configs: dict[int, str] = {}
    log = tmp_path / "bot.log"
    bot = operator.start_bot(log)
    try:
        await started_polling(telegram)
        for user_id in (ANNA, BORIS):
            telegram.send_text(telegram.user(user_id), "/get_config")
            configs[user_id], _ = await config_messages(telegram, user_id)
        backup = await cli(operator, "db", "backup")
        assert backup.returncode == 0, backup.stderr
        path = Path(backup.stdout.split()[-1])

        # After the backup: Anna adds a second device, Boris removes his only one.
        anna = telegram.user(ANNA)
        telegram.send_text(anna, "/devices")
        screen = (await telegram.wait_sent(ANNA, 1))[-1]
        telegram.press_button(anna, screen, "Добавить устройство")
        second, _ = await config_messages(telegram, ANNA)
        await remove_device(telegram, BORIS)
        assert peer_keys(fi1) == {key_of(configs[ANNA]), key_of(second)}
    finally:
        await stop(bot, log)

    # The runbook: the bot is stopped; restore; start; reconcile.
    started = time.monotonic()
    restored = await cli(operator, "db", "restore", str(path), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert f"database restored from {path}" in restored.stdout
    log = tmp_path / "bot-restored.log"
    bot = operator.start_bot(log)
    try:
        await started_polling(telegram)
        telegram.send_text(telegram.user(ADMIN, first_name="Owner"), "/reconcile fi1")
        wanted = {key_of(configs[ANNA]), key_of(configs[BORIS])}
        while peer_keys(fi1) != wanted:
            assert time.monotonic() - started < 60, peer_keys(fi1)
            await asyncio.sleep(0.1)
        seconds = time.monotonic() - started
        print(f"\ndb restore, start and the node converged: {seconds:.1f} s")
        await last_text(telegram, ADMIN, "fi1")
        reports = [m.text or "" for m in telegram.sent_to(ADMIN)]
        assert any("fi1 сверен с базой: добавлено 1, удалено 1" in text for text in reports)

        # Boris's config from before the backup carries traffic again (Anna's second device's
        # peer is gone: the node serves exactly `wanted`).
        lab.client.up(configs[BORIS])
        assert lab.client.fetch_source_ip() == fi1.ip
        lab.client.down()
    finally:
        await stop(bot, log)


async def test_restore_refuses_its_own_before_restore_copy(tmp_path: Path) -> None:
    """The runbook's undo restores a copy: restoring `*.before-restore` itself would overwrite
    it before reading it."""
    database = tmp_path / "vpnservice.db"
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    kept = tmp_path / "vpnservice.db.before-restore"
    shutil.copy(database, kept)
    before = kept.read_bytes()
    with pytest.raises(BackupError, match="copy it elsewhere"):
        restore_sqlite(kept, database)
    assert kept.read_bytes() == before
    undo = tmp_path / "undo.db"
    shutil.copy(kept, undo)
    assert restore_sqlite(undo, database) == kept


# --- a node's address is blocked: a new endpoint ------------------------------------------------


async def test_blocked_address_new_endpoint_reaches_users(
    lab: Lab, telegram: FakeTelegram, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    operator = Operator(data_dir, telegram.base_url, telegram.token)
    bot_key = SshPool.ensure_client_key(data_dir / "ssh_ed25519")
    se1 = lab.add_node("se1", wg_subnet="10.73.1.1/24", listen_port=51874, authorized_key=bot_key)
    added = await cli(
        operator, "node", "add", "se1", f"ssh://root@{se1.ip}", "--interface", se1.interface
    )
    assert added.returncode == 0, added.stderr
    assert (await cli(operator, "user", "add", str(DORA))).returncode == 0

    log = tmp_path / "bot.log"
    bot = operator.start_bot(log)
    block = [("OUTPUT", "-d"), ("INPUT", "-s")]
    try:
        await started_polling(telegram)
        telegram.send_text(telegram.user(DORA), "/get_config")
        old, _ = await config_messages(telegram, DORA)
        assert f"Endpoint = {se1.ip}:51874" in old

        # The user's network blocks the node's address: the config connects no more.
        for chain, side in block:
            lab.client.exec("iptables", "-A", chain, side, se1.ip, "-j", "DROP")
        lab.client.up(old)
        assert lab.client.fetch_source_ip(timeout=1.5) is None
        lab.client.down()

        # The operator gives the node a second address, then runs the runbook's command.
        new_ip = lab.ip(200)
        assert se1.exec("ip", "addr", "add", f"{new_ip}/24", "dev", "eth0").returncode == 0
        lab.client.exec("ip", "route", "add", f"{new_ip}/32", "dev", "eth0")
        started = time.monotonic()
        changed = await cli(operator, "node", "set-endpoint", "se1", f"{new_ip}:51874")
        assert changed.returncode == 0, changed.stderr
        assert (
            f"node se1: endpoint {se1.ip}:51874 -> {new_ip}:51874; new config sent for 1 "
            "devices, not delivered 0" in changed.stdout
        )
        new, _ = await config_messages(telegram, DORA)
        assert f"Endpoint = {new_ip}:51874" in new
        assert key_of(new) == key_of(old), "the same keys: only the address changed"
        lab.client.up(new)
        assert lab.client.fetch_source_ip() == se1.ip
        lab.client.down()
        print(
            f"\nnode set-endpoint until the user's new config carries traffic: "
            f"{time.monotonic() - started:.1f} s"
        )
        notice = await last_text(telegram, DORA, "новый адрес")
        assert "se1" in notice
    finally:
        for chain, side in block:
            lab.client.exec("iptables", "-D", chain, side, se1.ip, "-j", "DROP")
        await stop(bot, log)


async def test_new_endpoint_goes_to_users_with_access_once(app: App) -> None:
    """Through the real Bot against the fake Bot API, with in-memory nodes: a user whose access
    ended gets nothing, a bad address or node is refused, the same address twice sends nothing."""
    await app.add_node("nl1")
    for user_id, days in ((6001, 30), (6002, 90)):
        await app.services.users.grant(user_id, days, create=True)
        await app.say(user_id, "/get_config")
    app.clock.advance(days=40)
    notifier = TelegramNotifier(app.bot, app.services.users, None, app.services.qr)
    endpoints = EndpointService(app.services.sessions, app.services.configs, app.clock, notifier)
    for bad in ("198.51.100.7", "198.51.100.7:0", "a b:51820", "198.51.100.7:51820:1"):
        with pytest.raises(InvalidInput):
            await endpoints.change(ADMIN_ID, "nl1", bad)
    with pytest.raises(NodeNotFound):
        await endpoints.change(ADMIN_ID, "xx1", "198.51.100.7:51820")
    before = {user_id: len(app.telegram.sent_to(user_id)) for user_id in (6001, 6002)}

    report = await endpoints.change(ADMIN_ID, "nl1", "198.51.100.7:51820")
    assert report == EndpointReport("nl1", "nl1.example:51820", "198.51.100.7:51820", 1, 1, 0)
    assert len(app.telegram.sent_to(6001)) == before[6001]
    sent = app.telegram.sent_to(6002)[before[6002] :]
    assert [m.method for m in sent] == ["sendMessage", "sendDocument", "sendPhoto"]
    assert "новый адрес" in (sent[0].text or "")
    assert sent[1].document is not None
    assert "Endpoint = 198.51.100.7:51820" in sent[1].document.content.decode()

    again = await endpoints.change(ADMIN_ID, "nl1", "198.51.100.7:51820")
    assert (again.devices, again.delivered) == (0, 0)
    assert len(app.telegram.sent_to(6002)) == before[6002] + 3
    assert (await endpoints.change(ADMIN_ID, "nl1", "[2001:db8::7]:51820")).delivered == 1
