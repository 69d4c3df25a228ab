"""Alembic migrations run programmatically (on start-up and from tests). A database at the
head already is seen without loading Alembic (11 MB that would stay for the process's life)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db.engine import lock_key

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
MIGRATION_LOCK = "migrate"
_REVISION_LINE = re.compile(r'^(down_revision|revision)\b[^=]*=\s*"([^"]+)"', re.MULTILINE)


class MigrationError(Exception):
    """Alembic refused to migrate (e.g. the database holds a revision this code does not know)."""


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


@cache
def code_head() -> str | None:
    """The newest revision in migrations/versions, read from the files' `revision` and
    `down_revision` lines; None unless exactly one revision is no other's parent."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for name, value in _REVISION_LINE.findall(path.read_text()):
            (revisions if name == "revision" else parents).add(value)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database up to `revision`; MigrationError when Alembic refuses."""
    if revision == "head" and await _at_head(engine):
        return
    from alembic import command
    from alembic.util import CommandError

    async with engine.connect() as connection:
        await _one_at_a_time(connection)
        try:
            await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
        except CommandError as error:
            raise MigrationError(str(error)) from None
        await connection.commit()


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Take the database down to `revision` ("base" removes every table)."""
    from alembic import command

    async with engine.connect() as connection:
        await _one_at_a_time(connection)
        await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), revision))
        await connection.commit()


async def _at_head(engine: AsyncEngine) -> bool:
    """Whether the database's one revision is the code's head (no table yet: not)."""
    head = code_head()
    if head is None:
        return False
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT version_num FROM alembic_version"))).all()
    except DBAPIError:  # no alembic_version table: a new database
        return False
    return [row[0] for row in rows] == [head]


async def _one_at_a_time(connection: AsyncConnection) -> None:
    """PostgreSQL: processes starting together migrate in turn (the lock ends with the
    transaction, which holds the whole migration); SQLite's BEGIN IMMEDIATE does this already."""
    if connection.dialect.name == "postgresql":
        await connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(MIGRATION_LOCK)}
        )
