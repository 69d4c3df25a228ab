"""Backups: made while the bot runs, kept last N, sent to admins; restore brings the same rows."""

from __future__ import annotations

import base64
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

import services.backups
from bot.container import open_services
from bot.scheduler import create_scheduler
from db.cipher import SecretCipher
from db.models import Device, Node, User
from services.backups import (
    BackupError,
    BackupService,
    key_fits,
    pg_command,
    restore_sqlite,
)
from tests.conftest import ADMIN_ID, App, first_config
from tests.test_cli import TOKEN, run_main

SQLITE_MAGIC = b"SQLite format 3\x00"


async def _rows(app_services: Any) -> dict[str, list[tuple[Any, ...]]]:
    async with app_services.sessions() as session:
        return {
            model.__tablename__: [
                tuple(row)
                for row in (await session.execute(select(model.__table__).order_by("id"))).all()
            ]
            for model in (User, Node, Device)
        }


async def _seed(app: App, users: tuple[int, ...]) -> dict[int, str]:
    await app.add_node("nl1")
    await app.say(ADMIN_ID, "/start")
    configs = {}
    for user_id in users:
        await app.services.users.grant(user_id, 30, create=True)
        await app.say(user_id, "/get_config")
        configs[user_id] = (await first_config(app.services, user_id)).text
    return configs


async def test_backup_wipe_restore_gives_the_same_users_devices_and_configs(app: App) -> None:
    users = (7001, 7002, 7003)
    configs = await _seed(app, users)
    before = await _rows(app.services)
    assert len(before["devices"]) == 3

    backup = await app.services.backups.create()
    assert backup.path.parent == app.settings.data_dir / "backups"
    assert backup.path.name == "vpnservice-20261123-120000.db"
    assert backup.path.stat().st_mode & 0o077 == 0
    assert backup.path.read_bytes().startswith(SQLITE_MAGIC)

    assert key_fits(backup.path, SecretCipher(os.urandom(32))) is False
    key = (app.settings.data_dir / "secret.key").read_text().strip()
    assert key_fits(backup.path, SecretCipher(base64.urlsafe_b64decode(key))) is True

    await app.services.close()
    database = app.settings.data_dir / "vpnservice.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    wiped = await open_services(app.settings, clock=app.clock, wireguard=app.wireguard)  # type: ignore[arg-type]
    assert await _rows(wiped) == {"users": [], "nodes": [], "devices": []}
    await wiped.close()

    kept = restore_sqlite(backup.path, database)
    assert kept == database.with_name("vpnservice.db.before-restore")
    assert kept.stat().st_mode & 0o077 == 0
    restored = await open_services(app.settings, clock=app.clock, wireguard=app.wireguard)  # type: ignore[arg-type]
    try:
        assert await _rows(restored) == before
        for user_id in users:
            assert (await first_config(restored, user_id)).text == configs[user_id]
    finally:
        await restored.close()
    app.services = restored  # the fixture closes it again, harmlessly


async def test_scheduled_backups_keep_the_last_n_and_reach_the_admin(app: App) -> None:
    await app.say(ADMIN_ID, "/start")
    backups = BackupService(
        app.settings.effective_database_url, app.settings.data_dir, keep=3, clock=app.clock
    )
    backups.notifier = app.services.health.notifier
    for _ in range(5):
        assert await backups.run_scheduled() is not None
        app.clock.advance(hours=24)
    names = [path.name for path in backups.backups()]
    assert names == [
        "vpnservice-20261125-120000.db",
        "vpnservice-20261126-120000.db",
        "vpnservice-20261127-120000.db",
    ]
    documents = [sent for sent in app.telegram.sent_to(ADMIN_ID) if sent.document]
    assert [sent.document.filename for sent in documents] == [
        f"vpnservice-202611{day}-120000.db" for day in (23, 24, 25, 26, 27)
    ]
    assert "ключ шифрования" in documents[0].text
    assert "НЕТ" in documents[0].text


async def test_a_backup_too_big_for_telegram_is_kept_and_announced(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    await app.say(ADMIN_ID, "/start")
    monkeypatch.setattr(services.backups, "TELEGRAM_UPLOAD_LIMIT", 1000)
    backup = await app.services.backups.run_scheduled()
    assert backup is not None and backup.path.exists()
    last = app.telegram.sent_to(ADMIN_ID)[-1]
    assert last.document is None
    assert "больше 50 МБ" in last.text and str(backup.path) in last.text


async def test_backup_command_sends_a_file_to_admins_only(app: App) -> None:
    await app.say(ADMIN_ID, "/start")
    sent = await app.say(ADMIN_ID, "/backup")
    assert len(sent) == 1 and sent[0].document is not None
    assert sent[0].document.filename.startswith("vpnservice-20261123-")
    assert sent[0].document.content.startswith(SQLITE_MAGIC)
    refused = await app.say(4001, "/backup")
    assert [m.text for m in refused] == ["Эта команда только для администраторов."]
    assert len(app.services.backups.backups()) == 1


def test_restore_refuses_garbage_and_leaves_the_database_alone(tmp_path: Path) -> None:
    database = tmp_path / "vpnservice.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE users (id INTEGER)")
    original = database.read_bytes()
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(BackupError, match="not a SQLite database"):
        restore_sqlite(garbage, database)
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE something (id INTEGER)")
    with pytest.raises(BackupError, match="not a vpnservice database"):
        restore_sqlite(foreign, database)
    with pytest.raises(BackupError, match="no such file"):
        restore_sqlite(tmp_path / "missing.db", database)
    assert database.read_bytes() == original
    assert not database.with_name("vpnservice.db.before-restore").exists()


def test_pg_dump_gets_the_password_in_the_environment_only() -> None:
    url = make_url("postgresql+asyncpg://bot:hunter2@db.example:5433/vpn")
    argv, env = pg_command("/usr/bin/pg_dump", url, "--format=custom", "--file=/tmp/x.dump")
    assert "hunter2" not in " ".join(argv)
    assert env["PGPASSWORD"] == "hunter2"
    assert (env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGDATABASE"]) == (
        "db.example",
        "5433",
        "bot",
        "vpn",
    )


def test_cli_backup_and_restore(tmp_path: Path) -> None:
    env = {"BOT_TOKEN": TOKEN, "DATA_DIR": str(tmp_path / "data")}
    assert run_main(tmp_path, "user", "add", "4242", "--days", "30", **env).returncode == 0
    made = run_main(tmp_path, "db", "backup", **env)
    assert made.returncode == 0, made.stderr
    backup = Path(made.stdout.strip())
    assert backup.parent == tmp_path / "data" / "backups" and backup.exists()
    assert "secret.key" in made.stderr

    assert run_main(tmp_path, "user", "add", "5353", **env).returncode == 0
    unconfirmed = run_main(tmp_path, "db", "restore", str(backup), **env)
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr

    garbage = tmp_path / "garbage.db"
    garbage.write_text("hello")
    refused = run_main(tmp_path, "db", "restore", str(garbage), "--yes", **env)
    assert refused.returncode == 1
    assert "not a SQLite database" in refused.stderr and "Traceback" not in refused.stderr

    restored = run_main(tmp_path, "db", "restore", str(backup), "--yes", **env)
    assert restored.returncode == 0, restored.stderr
    assert "before-restore" in restored.stdout
    with sqlite3.connect(tmp_path / "data" / "vpnservice.db") as db:
        assert [row[0] for row in db.execute("SELECT id FROM users ORDER BY id")] == [4242]
    with sqlite3.connect(tmp_path / "data" / "vpnservice.db.before-restore") as db:
        assert [row[0] for row in db.execute("SELECT id FROM users ORDER BY id")] == [4242, 5353]


async def test_the_backup_job_is_scheduled_unless_turned_off(app: App) -> None:
    job = create_scheduler(app.services).get_job("backup")
    assert job is not None and job.trigger.interval.total_seconds() == 24 * 3600
    assert job.next_run_time == app.clock.now + services.backups.FIRST_BACKUP_DELAY
    app.services.settings.backup_interval_hours = 0
    assert create_scheduler(app.services).get_job("backup") is None
