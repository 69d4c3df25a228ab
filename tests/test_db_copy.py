"""`db migrate-sqlite-to-postgres`: a SQLite database filled by the real services arrives whole
in PostgreSQL, ids kept, and the services go on there with fresh ids."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.container import Services, open_services
from db.copy import CopyError, copy_sqlite_to_postgres
from db.engine import create_engine, safe_url
from db.migrate import upgrade
from db.models import AuditEntry, Base, BroadcastAudience, Device, Invite, Role, User
from services.broadcasts import Audience, BroadcastMessage
from tests.conftest import ADMIN_ID, App, open_app, stored_config
from tests.fakes.telegram_api import FakeTelegram
from tests.test_cli import TOKEN, run_main

ANNA, BORIS, VERA = 5001, 5002, 5003


@pytest.fixture
async def app(tmp_path: Path, telegram: FakeTelegram) -> AsyncIterator[App]:
    """The bot on SQLite, whichever backend other tests run on: the copy's source."""
    source = await open_app(tmp_path, telegram, None)
    yield source
    await source.close()


async def fill(app: App) -> None:
    """Users, nodes, devices, an invite and its use, audit entries and a broadcast queue."""
    nodes = [
        await app.add_node("nl1", region="Amsterdam"),
        await app.add_node("de1", region="Frankfurt", subnet="10.9.0.1/24", v6="fd09::1/64"),
    ]
    await app.say(ADMIN_ID, "/start")
    for user_id, name in ((ANNA, "Анна"), (BORIS, "Boris")):
        await say_as(app, user_id, name, "/start")
        await app.services.console.grant(ADMIN_ID, user_id, 30)
        app.clock.advance(seconds=2)
        await say_as(app, user_id, name, "/get_config")
    boris_on = next(device.node_id for device in await app.devices() if device.user_id == BORIS)
    await app.services.devices.move(BORIS, next(n.id for n in nodes if n.id != boris_on))
    invite = await app.services.invites.create(ADMIN_ID, days=7, uses=2)
    await say_as(app, VERA, "Vera", "/start")
    await app.services.invites.redeem(VERA, invite.code)
    await app.services.console.set_role(ADMIN_ID, BORIS, Role.SUPPORT)
    await app.services.console.ban(ADMIN_ID, VERA)
    await app.services.broadcasts.create(
        ADMIN_ID, BroadcastMessage("Привет"), "Привет", Audience(BroadcastAudience.ALL)
    )
    async with app.services.sessions.begin() as session:  # a referral points up the table
        (await session.get_one(User, ANNA)).referred_by_id = VERA


async def say_as(app: App, user_id: int, name: str, text: str) -> None:
    await app.feed(app.telegram.send_text(app.telegram.user(user_id, first_name=name), text))


async def every_row(services: Services) -> dict[str, list[tuple[Any, ...]]]:
    rows = {}
    async with services.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            result = await connection.execute(select(table).order_by(*table.primary_key.columns))
            rows[table.name] = [tuple(row) for row in result]
    return rows


def sqlite_file(app: App) -> Path:
    return app.settings.data_dir / "vpnservice.db"


async def test_copy_keeps_every_row_and_the_services_go_on(app: App, postgres_url: str) -> None:
    await fill(app)
    before = await every_row(app.services)
    result = await copy_sqlite_to_postgres(sqlite_file(app), postgres_url, batch=2)
    assert result.counts == {table: len(rows) for table, rows in before.items()}
    assert result.counts["users"] == 4 and result.counts["devices"] == 2
    assert result.warnings == []

    settings = app.settings.model_copy(update={"database_url": postgres_url})
    moved = await open_services(settings, clock=app.clock, wireguard=app.wireguard)  # type: ignore[arg-type]
    try:
        assert await every_row(moved) == before, "the same rows, ids and values"
        for device_id, *_ in before["devices"]:
            assert await stored_config(moved, device_id) == (
                await stored_config(app.services, device_id)
            ), "the same keys decrypt to the same config"
        found, _ = await moved.console.search("АННА")
        assert [user.id for user in found] == [ANNA]
        assert (await moved.users.get(ANNA)).referred_by_id == VERA

        invite = await moved.invites.create(ADMIN_ID, days=1, uses=1)
        assert invite.id == max(row[0] for row in before["invites"]) + 1
        await moved.users.grant(5004, None, create=True)
        config = (await moved.devices.add(5004)).config
        async with moved.sessions() as session:
            newest = await session.scalar(select(Device).order_by(Device.id.desc()).limit(1))
            audit = await session.scalars(select(AuditEntry.id).order_by(AuditEntry.id))
            assert [entry for entry, *_ in before["audit_log"]] == list(audit.all())[:-1]
        assert newest.id == max(row[0] for row in before["devices"]) + 1
        assert newest.user_id == 5004 and config.node_name
    finally:
        await moved.close()


async def test_a_target_with_rows_is_refused_unless_replaced(app: App, postgres_url: str) -> None:
    await fill(app)
    first = await copy_sqlite_to_postgres(sqlite_file(app), postgres_url)
    await app.services.invites.create(ADMIN_ID, days=1, uses=1)
    with pytest.raises(CopyError, match=r"already has rows .*--yes"):
        await copy_sqlite_to_postgres(sqlite_file(app), postgres_url)
    again = await copy_sqlite_to_postgres(sqlite_file(app), postgres_url, replace=True)
    added = {table: first.counts[table] + 1 for table in ("invites", "audit_log")}
    assert again.counts == {**first.counts, **added}, "an invite and its audit entry"

    settings = app.settings.model_copy(update={"database_url": postgres_url})
    moved = await open_services(settings, clock=app.clock, wireguard=app.wireguard)  # type: ignore[arg-type]
    try:
        invite = await moved.invites.create(ADMIN_ID, days=1, uses=1)
        assert invite.id == again.counts["invites"] + 1
        async with moved.sessions() as session:
            assert await session.scalar(select(Invite.id).where(Invite.id == invite.id))
    finally:
        await moved.close()


async def test_refusals_change_nothing(tmp_path: Path, postgres_url: str) -> None:
    with pytest.raises(CopyError, match="no such file"):
        await copy_sqlite_to_postgres(tmp_path / "missing.db", postgres_url)
    assert not (tmp_path / "missing.db").exists()
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(CopyError, match="not a SQLite database"):
        await copy_sqlite_to_postgres(garbage, postgres_url)
    with pytest.raises(CopyError, match="not a PostgreSQL URL"):
        await copy_sqlite_to_postgres(garbage, f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
    with pytest.raises(CopyError, match="not a database of this bot"):
        await copy_sqlite_to_postgres(foreign, postgres_url)
    with sqlite3.connect(foreign) as db:
        assert [row[0] for row in db.execute("SELECT name FROM sqlite_master")] == ["notes"]
    ours = tmp_path / "ours.db"
    engine = create_engine(f"sqlite+aiosqlite:///{ours}")
    await upgrade(engine)
    await engine.dispose()
    unreachable = "postgresql://vpn:s3cret-pw@127.0.0.1:1/vpn"
    with pytest.raises(CopyError, match="cannot connect") as refused:
        await copy_sqlite_to_postgres(ours, unreachable)
    assert "s3cret-pw" not in str(refused.value)


async def test_cli_prints_rows_per_table_and_never_the_password(
    app: App, postgres_url: str, tmp_path: Path
) -> None:
    await fill(app)
    password = postgres_url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    assert password and safe_url(postgres_url) != postgres_url
    database = str(sqlite_file(app))
    command = ("db", "migrate-sqlite-to-postgres", database, postgres_url)
    done = run_main(tmp_path, *command, BOT_TOKEN=TOKEN)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "users\t4" in lines and "devices\t2" in lines and "nodes\t2" in lines
    assert lines[-1] == f"copied {sum(int(line.split()[1]) for line in lines[:-1])} rows " + (
        f"from {database} to {safe_url(postgres_url)}"
    )
    refused = run_main(tmp_path, *command, BOT_TOKEN=TOKEN)
    assert refused.returncode == 1 and "--yes" in refused.stderr
    from_settings = run_main(
        tmp_path, *command[:-1], "--yes", BOT_TOKEN=TOKEN, DATABASE_URL=postgres_url
    )
    assert from_settings.returncode == 0, from_settings.stderr
    for output in (done, refused, from_settings):
        assert password not in output.stdout + output.stderr
    listed = run_main(tmp_path, "db", "--help", BOT_TOKEN=TOKEN).stdout
    assert "SQLITE_FILE [POSTGRES_URL] [--yes]" in " ".join(listed.split())
    usage = run_main(tmp_path, "db", "migrate-sqlite-to-postgres", "--help").stdout
    assert " ".join(usage.split()).startswith(
        "usage: python main.py db migrate-sqlite-to-postgres [-h] [--yes] SQLITE_FILE [POSTGRES_URL]"
    )
