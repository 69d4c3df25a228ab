"""Alembic migrations run programmatically (on start-up and from tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database up to `revision`."""
    async with engine.connect() as connection:
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
        await connection.commit()


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Take the database down to `revision` ("base" removes every table)."""
    async with engine.connect() as connection:
        await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), revision))
        await connection.commit()
