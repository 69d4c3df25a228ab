"""Copy a SQLite database into PostgreSQL: every table, ids kept, in one target transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, inspect, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db.engine import async_url, create_engine, safe_url
from db.migrate import MigrationError, upgrade
from db.models import USER_SEARCH_TABLES, Base

log = logging.getLogger(__name__)

BATCH_ROWS = 1000
# the target has its own version, at head too, and its own search index (migration 0020)
SKIPPED_TABLES = frozenset({"alembic_version"}) | USER_SEARCH_TABLES
ASCII_ONLY_CTYPES = frozenset({"C", "POSIX"})


class CopyError(Exception):
    """Why the copy did not happen; the target has no copied rows."""


@dataclass
class CopyResult:
    """Rows copied per table, in the order they were copied, and what the operator should know."""

    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


async def copy_sqlite_to_postgres(
    sqlite_file: Path,
    postgres_url: str,
    *,
    replace: bool = False,
    batch: int = BATCH_ROWS,
) -> CopyResult:
    """Migrate both databases to head, then copy every table in dependency order in batches,
    keeping ids, and move PostgreSQL's id sequences past them. A target that already holds
    rows is refused unless `replace`, which deletes them in the same transaction."""
    target_url = async_url(postgres_url)
    if target_url.get_backend_name() != "postgresql":
        raise CopyError(f"not a PostgreSQL URL: {safe_url(postgres_url)}")
    source = create_engine(_sqlite_url(sqlite_file))
    target = create_engine(target_url.render_as_string(hide_password=False))
    try:
        await _check_source(source, sqlite_file)
        await _migrate(source, str(sqlite_file))  # as the bot does on start
        await _migrate(target, safe_url(postgres_url))
        result = CopyResult()
        async with source.connect() as reading, target.begin() as writing:
            await _make_room(writing, replace)
            for table in Base.metadata.sorted_tables:
                result.counts[table.name] = await _copy_table(reading, writing, table, batch)
            await _move_sequences(writing)
            await _verify(writing, result.counts)
            result.warnings.extend(await _warnings(writing))
    finally:
        await source.dispose()
        await target.dispose()
    return result


def _sqlite_url(path: Path) -> str:
    """The URL of an existing file: SQLite would create a missing one, empty."""
    if not path.is_file():
        raise CopyError(f"no such file: {path}")
    return f"sqlite+aiosqlite:///{path.resolve()}"


async def _migrate(engine: AsyncEngine, name: str) -> None:
    try:
        await upgrade(engine)
    except MigrationError as error:  # e.g. a revision newer than this code knows
        raise CopyError(f"{name}: {error}") from None
    except DBAPIError as error:
        raise CopyError(f"{name}: cannot open ({_reason(error)})") from None
    except OSError as error:  # the server does not answer
        raise CopyError(f"{name}: cannot connect ({type(error).__name__}: {error})") from None


async def _check_source(source: AsyncEngine, path: Path) -> None:
    """A database of this project (it has a revision), with no table this code does not know."""
    try:
        async with source.connect() as reading:
            names = await reading.run_sync(lambda sync: inspect(sync).get_table_names())
    except DBAPIError as error:
        raise CopyError(f"{path}: not a SQLite database ({_reason(error)})") from None
    if "alembic_version" not in names:
        raise CopyError(f"{path}: not a database of this bot (no alembic_version table)")
    unknown = sorted(set(names) - set(Base.metadata.tables) - SKIPPED_TABLES)
    if unknown:
        raise CopyError(f"{path}: tables this code does not know: {', '.join(unknown)}")


async def _make_room(writing: AsyncConnection, replace: bool) -> None:
    filled = {}
    for table in Base.metadata.sorted_tables:
        rows = int(await writing.scalar(select(func.count()).select_from(table)) or 0)
        if rows:
            filled[table.name] = rows
    if not filled:
        return
    if not replace:
        listed = ", ".join(f"{name} {rows}" for name, rows in filled.items())
        raise CopyError(
            f"the PostgreSQL database already has rows ({listed}): "
            "run again with --yes to replace them"
        )
    for table in reversed(Base.metadata.sorted_tables):
        await writing.execute(table.delete())
    log.info("rows of the target deleted: %s", filled)


async def _copy_table(
    reading: AsyncConnection, writing: AsyncConnection, table: Table, batch: int
) -> int:
    """Copy one table in primary-key order; a column that points into its own table (a
    referral) is filled in once every row is there."""
    own = [
        column.name
        for column in table.columns
        if any(key.column.table is table for key in column.foreign_keys)
    ]
    primary = [column.name for column in table.primary_key.columns]
    fixes: dict[str, list[dict[str, Any]]] = {name: [] for name in own}
    count = 0
    rows = await reading.stream(select(table).order_by(*table.primary_key.columns))
    async for chunk in rows.partitions(batch):
        values = [dict(row._mapping) for row in chunk]
        for row in values:
            for name in own:
                if row[name] is not None:
                    key = {f"copy_pk_{column}": row[column] for column in primary}
                    fixes[name].append({**key, "copy_value": row[name]})
                    row[name] = None
        try:
            await writing.execute(insert(table), values)
        except DBAPIError as error:
            raise CopyError(f"table {table.name}: {_reason(error)}") from None
        count += len(values)
    for name, pointers in fixes.items():
        if pointers:
            statement = (
                update(table)
                .where(*(table.c[column] == bindparam(f"copy_pk_{column}") for column in primary))
                .values({name: bindparam("copy_value")})
            )
            await writing.execute(statement, pointers)
    return count


async def _move_sequences(writing: AsyncConnection) -> None:
    """Each id sequence continues after the largest id copied, so new rows get fresh ids."""
    for table in Base.metadata.sorted_tables:
        for column in table.primary_key.columns:
            sequence = await writing.scalar(
                text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": table.name, "column": column.name},
            )
            if sequence is None:
                continue
            largest = await writing.scalar(select(func.max(column)))
            await writing.execute(
                text("SELECT setval(:sequence, :next, false)"),
                {"sequence": sequence, "next": int(largest or 0) + 1},
            )


async def _verify(writing: AsyncConnection, counts: dict[str, int]) -> None:
    for table in Base.metadata.sorted_tables:
        rows = int(await writing.scalar(select(func.count()).select_from(table)) or 0)
        if rows != counts[table.name]:
            raise CopyError(f"table {table.name}: {rows} rows arrived of {counts[table.name]}")


async def _warnings(writing: AsyncConnection) -> list[str]:
    ctype = await writing.scalar(
        text("SELECT datctype FROM pg_database WHERE datname = current_database()")
    )
    if str(ctype) in ASCII_ONLY_CTYPES:
        return [
            f"the database's LC_CTYPE is {ctype}: /find matches Cyrillic names only in the exact "
            "case; create it with LC_CTYPE C.UTF-8 (or another UTF-8 locale) to fix that"
        ]
    return []


def _reason(error: DBAPIError) -> str:
    """The driver's one-line reason, without the statement and its parameters."""
    original = error.orig if error.orig is not None else error
    message = str(original).strip().splitlines()
    return f"{type(original).__name__}: {message[0]}" if message else type(original).__name__
