"""Roles from ADMIN_IDS and SUPPORT_IDS hold only while the settings say so, at every start;
roles given in the chat (or by `user add --admin`) stay, and every change is audited."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from db.engine import create_engine
from db.migrate import upgrade
from db.models import AuditEntry, Role, User
from services.audit import OPERATOR
from tests.conftest import App, open_app
from tests.fakes.telegram_api import FakeTelegram

OWNER = 1000  # in ADMIN_IDS before and after
FORMER_ADMIN = 1001  # in ADMIN_IDS before the restart only
FORMER_SUPPORT = 3001  # in SUPPORT_IDS before the restart only
CHAT_ADMIN = 2001  # made admin with /role
CHAT_SUPPORT = 2002  # made support with /role
CLI_ADMIN = 2003  # made admin with `user add --admin`
CLI_ADDED_SUPPORT = 2004  # made support with /role, later given access with `user add`
EVERYONE = (OWNER, FORMER_ADMIN, FORMER_SUPPORT, CHAT_ADMIN, CHAT_SUPPORT, CLI_ADMIN)
ADMIN_ONLY = "Эта команда только для администраторов."


def texts(sent: list[Any]) -> list[str]:
    return [message.text or message.caption or "" for message in sent]


async def audit(app: App, target: int) -> list[tuple[int, str]]:
    async with app.services.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "role", AuditEntry.target == str(target))
            .order_by(AuditEntry.id)
        )
        return [(row.actor_id, row.details) for row in rows]


async def test_roles_taken_out_of_the_settings_go_at_the_restart_and_given_ones_stay(
    tmp_path: Path, telegram: FakeTelegram, database_url: str | None
) -> None:
    before = await open_app(
        tmp_path,
        telegram,
        database_url,
        admin_ids=f"{OWNER},{FORMER_ADMIN}",
        support_ids=str(FORMER_SUPPORT),
    )
    for user_id in EVERYONE:
        await before.say(user_id, "/start")
    assert texts(await before.say(FORMER_ADMIN, "/role 2001 admin")) == [
        "✅ Test (id 2001): user → admin."
    ]
    await before.say(OWNER, f"/role {CHAT_SUPPORT} support")
    await before.services.users.make_admin(CLI_ADMIN)  # what `user add 2003 --admin` does
    assert not texts(await before.say(FORMER_SUPPORT, "/users"))[0].startswith(ADMIN_ONLY)
    await before.close()

    after = await open_app(tmp_path, telegram, database_url, admin_ids=str(OWNER))
    try:
        await after.add_node("nl1")
        for user_id in (FORMER_ADMIN, FORMER_SUPPORT):
            after.clock.advance(seconds=5)
            assert texts(await after.say(user_id, "/nodes")) == [ADMIN_ONLY]
            after.clock.advance(seconds=5)
            assert texts(await after.say(user_id, "/users")) == [ADMIN_ONLY]
            card = await after.services.console.card(user_id)
            assert card.role is Role.USER
        assert texts(await after.say(CHAT_ADMIN, "/nodes"))[0].startswith("🟢 nl1")
        assert texts(await after.say(CHAT_SUPPORT, "/users"))[0].startswith("👥 Пользователи")
        assert texts(await after.say(CHAT_SUPPORT, "/nodes")) == [ADMIN_ONLY]

        after.wireguard.nodes["nl1"].up = False
        for _ in range(after.settings.health_failures):
            await after.services.health.probe_all()
        alerted = {
            user_id
            for user_id in EVERYONE
            if any(
                "Сервер nl1 недоступен" in text for text in texts(after.telegram.sent_to(user_id))
            )
        }
        assert alerted == {OWNER, CHAT_ADMIN, CLI_ADMIN}

        backup = await after.services.backups.run_scheduled()
        assert backup is not None and backup.path.is_file()
        backed_up = {
            user_id
            for user_id in EVERYONE
            for message in after.telegram.sent_to(user_id)
            if message.document is not None and message.document.filename == backup.path.name
        }
        assert backed_up == {OWNER, CHAT_ADMIN, CLI_ADMIN}

        admins = [user.id for user in await after.services.users.admins()]
        assert admins == [OWNER, CHAT_ADMIN, CLI_ADMIN]
        assert await audit(after, CHAT_ADMIN) == [(FORMER_ADMIN, "user -> admin")]
        assert await audit(after, CLI_ADMIN) == [(OPERATOR, "user -> admin")]
        assert await audit(after, FORMER_ADMIN) == [], "nothing was stored, nothing to take"
    finally:
        await after.close()


async def test_roles_an_older_version_copied_from_the_settings_are_taken_at_start(
    tmp_path: Path, telegram: FakeTelegram, database_url: str | None
) -> None:
    """A database of the version that wrote ADMIN_IDS into users.role: at the first start,
    the copied roles go (audited by the operator) and the given ones stay with their giver."""
    url = database_url or f"sqlite+aiosqlite:///{tmp_path / 'data' / 'vpnservice.db'}"
    (tmp_path / "data").mkdir(exist_ok=True)
    engine = create_engine(url)
    await upgrade(engine, "0007")
    at = datetime(2026, 11, 1, tzinfo=UTC)
    users = [
        (OWNER, "admin"),  # copied, and still in ADMIN_IDS
        (FORMER_ADMIN, "admin"),  # copied, taken out of ADMIN_IDS since
        (CHAT_ADMIN, "admin"),  # /role 2001 admin
        (CHAT_SUPPORT, "admin"),  # /role 2002 support, then copied from ADMIN_IDS over it
        (CLI_ADMIN, "admin"),  # user add 2003 --admin, which wrote no role entry then
        (CLI_ADDED_SUPPORT, "support"),  # /role 2004 support, then user add 2004 (no --admin)
        (3002, "user"),
    ]
    audit_rows = [
        (OWNER, "role", CHAT_ADMIN, "user -> admin"),
        (OWNER, "role", CHAT_SUPPORT, "user -> support"),
        (OPERATOR, "add_user", CLI_ADMIN, "days=None until=-"),
        (OPERATOR, "add_user", FORMER_ADMIN, "days=None until=-"),
        (OWNER, "role", FORMER_ADMIN, "admin -> user"),
        (OWNER, "role", CLI_ADDED_SUPPORT, "user -> support"),
        (OPERATOR, "add_user", CLI_ADDED_SUPPORT, "days=30 until=2026-12-01T00:00+00:00"),
    ]
    async with engine.begin() as connection:
        for user_id, role in users:
            await connection.execute(
                text(
                    "INSERT INTO users (id, first_name, language, language_chosen, role, "
                    "access_kind, started, banned, created_at, last_seen_at, auto_renew, "
                    "referral_rewarded, traffic_base_bytes) VALUES (:id, 'Old', 'ru', false, "
                    ":role, 'invite', true, false, :at, :at, false, false, 0)"
                ),
                {"id": user_id, "role": role, "at": at},
            )
        for actor, action, target, details in audit_rows:
            await connection.execute(
                text(
                    "INSERT INTO audit_log (at, actor_id, action, target, details) "
                    "VALUES (:at, :actor, :action, :target, :details)"
                ),
                {
                    "at": at,
                    "actor": actor,
                    "action": action,
                    "target": str(target),
                    "details": details,
                },
            )
    await engine.dispose()

    app = await open_app(tmp_path, telegram, database_url, admin_ids=str(OWNER))
    try:
        async with app.services.sessions() as session:
            rows = await session.execute(select(User.id, User.role, User.role_granted_by))
            stored = {user_id: (role, giver) for user_id, role, giver in rows.all()}
        assert stored == {
            OWNER: (Role.USER, None),
            FORMER_ADMIN: (Role.USER, None),
            CHAT_ADMIN: (Role.ADMIN, OWNER),
            CHAT_SUPPORT: (Role.SUPPORT, OWNER),
            CLI_ADMIN: (Role.ADMIN, OPERATOR),
            CLI_ADDED_SUPPORT: (Role.SUPPORT, OWNER),
            3002: (Role.USER, None),
        }
        note = "copied from the settings by an older version, never given"
        assert (await audit(app, FORMER_ADMIN))[-1] == (OPERATOR, f"admin -> user: {note}")
        assert (await audit(app, CHAT_SUPPORT))[-1] == (OPERATOR, f"admin -> support: {note}")
        assert [u.id for u in await app.services.users.admins()] == [OWNER, CHAT_ADMIN, CLI_ADMIN]
        assert texts(await app.say(FORMER_ADMIN, "/nodes")) == [ADMIN_ONLY]
        assert texts(await app.say(OWNER, "/nodes"))[0].startswith("Серверов пока нет")

        count = await app.count(AuditEntry)
        assert await app.services.users.settle_roles() == [], "the next start changes nothing"
        assert await app.count(AuditEntry) == count
    finally:
        await app.close()
