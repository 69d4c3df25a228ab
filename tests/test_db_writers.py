"""SQLite writers of one process take the write lock in the order they asked for it, none lost,
without sleeping in SQLite's busy handler; reads go on beside a writer; a write nested in the
same task still runs, and one kept waiting past the busy timeout fails as SQLite's would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

import db.engine
from db.engine import Sessions, create_engine


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[Sessions]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'writers.db'}")
    factory = Sessions(engine)
    async with factory.begin() as session:
        await session.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        await session.execute(text("INSERT INTO counter VALUES (0)"))
        await session.execute(text("CREATE TABLE entered (i INTEGER NOT NULL)"))
    yield factory
    await engine.dispose()


async def test_200_writers_at_once_each_count_once_in_the_order_they_asked(
    sessions: Sessions,
) -> None:
    async def write(i: int) -> None:
        async with sessions.begin() as session:
            await session.execute(text("INSERT INTO entered VALUES (:i)"), {"i": i})
            n = await session.scalar(text("SELECT n FROM counter"))
            await asyncio.sleep(0)  # another writer would now read the same n
            await session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

    await asyncio.gather(*(write(i) for i in range(200)))
    async with sessions() as session:
        assert await session.scalar(text("SELECT n FROM counter")) == 200
        order = (await session.scalars(text("SELECT i FROM entered ORDER BY rowid"))).all()
    assert list(order) == list(range(200))


async def test_a_read_goes_on_while_a_writer_holds_the_lock(sessions: Sessions) -> None:
    async with sessions.begin() as writer:
        await writer.execute(text("UPDATE counter SET n = 7"))
        async with sessions() as reader:
            assert await reader.scalar(text("SELECT n FROM counter")) == 0  # the last commit


async def test_a_write_nested_in_the_same_task_is_not_queued_behind_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db.engine, "SQLITE_BUSY_TIMEOUT_MS", 500)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'nested.db'}")
    sessions = Sessions(engine)
    try:
        async with sessions.begin() as outer:
            await outer.execute(text("CREATE TABLE t (n INTEGER)"))
            # SQLite itself refuses the second writer (its own connection) after its busy
            # timeout, as it did before the queue: no wait for ever on the queue
            with pytest.raises(OperationalError, match="locked"):
                async with asyncio.timeout(30), sessions.begin() as inner:
                    await inner.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        await engine.dispose()


async def test_a_writer_kept_waiting_past_the_busy_timeout_fails(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db.engine, "SQLITE_BUSY_TIMEOUT_MS", 200)
    held = asyncio.Event()
    release = asyncio.Event()

    async def hold() -> None:
        async with sessions.begin() as session:
            await session.execute(text("UPDATE counter SET n = 1"))
            held.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await held.wait()
    with pytest.raises(OperationalError, match="locked"):
        async with sessions.begin() as session:
            await session.execute(text("UPDATE counter SET n = 2"))
    release.set()
    await holder
    async with sessions() as session:
        assert await session.scalar(text("SELECT n FROM counter")) == 1
