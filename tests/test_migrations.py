"""Alembic: an empty database goes up to head and back down to nothing, on SQLite and on
PostgreSQL, and the schema the migrations build is exactly the models'."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from db.engine import create_engine
from db.migrate import downgrade, upgrade
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
