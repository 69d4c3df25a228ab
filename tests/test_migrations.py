"""Alembic: an empty database goes up to head and back down to nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

from bot.db.engine import create_engine
from bot.db.migrate import downgrade, upgrade
from bot.db.models import Base


async def table_names(engine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_upgrade_to_head_and_down_to_base(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    await upgrade(engine)
    assert set(Base.metadata.tables) <= await table_names(engine)
    await downgrade(engine, "base")
    assert await table_names(engine) == {"alembic_version"}
    await upgrade(engine)
    assert set(Base.metadata.tables) <= await table_names(engine)
    await engine.dispose()
