"""Alembic: an empty database goes up to head and back down to nothing, on SQLite and on
PostgreSQL, and the schema the migrations build is exactly the models'."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from db.engine import create_engine
from db.migrate import MigrationError, alembic_config, code_head, downgrade, upgrade
from db.models import USER_SEARCH_INDEXES, USER_SEARCH_TABLES, Base


async def table_names(engine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


def modelled(obj: object, name: str | None, kind: str, reflected: bool, compared: object) -> bool:
    """Everything but the name search index, which migration 0020 makes outside the models."""
    return name not in (USER_SEARCH_TABLES if kind == "table" else USER_SEARCH_INDEXES)


async def test_upgrade_to_head_and_down_to_base(any_database_url: str) -> None:
    engine = create_engine(any_database_url)
    await upgrade(engine)
    assert set(Base.metadata.tables) <= await table_names(engine)
    await downgrade(engine, "base")
    assert await table_names(engine) == {"alembic_version"}
    await upgrade(engine)
    assert set(Base.metadata.tables) <= await table_names(engine)
    await engine.dispose()


async def test_models_match_the_migrations(any_database_url: str) -> None:
    """Autogenerate finds nothing to do: no table, column, type, index or key differs."""
    engine = create_engine(any_database_url)
    await upgrade(engine)
    async with engine.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(
                    sync, opts={"compare_type": True, "include_object": modelled}
                ),
                Base.metadata,
            )
        )
    await engine.dispose()
    assert differences == []


def test_the_head_read_from_the_files_is_alembics() -> None:
    assert [code_head()] == ScriptDirectory.from_config(alembic_config()).get_heads()


async def test_a_database_at_head_opens_without_loading_alembic(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'at-head.sqlite3'}"
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    script = f"""
import asyncio, sys
from db.engine import create_engine
from db.migrate import upgrade
async def main():
    engine = create_engine({url!r})
    await upgrade(engine)
    await engine.dispose()
asyncio.run(main())
print("alembic loaded:", "alembic" in sys.modules)
"""
    shown = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert shown.strip() == "alembic loaded: False"


async def test_a_revision_this_code_does_not_know_is_refused(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'newer.sqlite3'}")
    await upgrade(engine)
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    with pytest.raises(MigrationError, match="ffff"):
        await upgrade(engine)
    await engine.dispose()
