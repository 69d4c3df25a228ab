"""Alembic migrations run programmatically (on start-up and from tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db.engine import lock_key

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
MIGRATION_LOCK = "migrate"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database up to `revision`."""
    async with engine.connect() as connection:
        await _one_at_a_time(connection)
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
        await connection.commit()


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Take the database down to `revision` ("base" removes every table)."""
    async with engine.connect() as connection:
        await _one_at_a_time(connection)
        await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), revision))
        await connection.commit()


async def _one_at_a_time(connection: AsyncConnection) -> None:
    """PostgreSQL: processes starting together migrate in turn (the lock ends with the
    transaction, which holds the whole migration); SQLite's BEGIN IMMEDIATE does this already."""
    if connection.dialect.name == "postgresql":
        await connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(MIGRATION_LOCK)}
        )
