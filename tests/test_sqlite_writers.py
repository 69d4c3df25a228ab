"""SQLite writers of one process take the write lock in turn: all of a burst's writes land,
and a writer that failed or was cancelled mid-transaction gives its turn to the next at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.engine import create_engine, create_session_factory

PROMPTLY = 5.0  # seconds: well under the 15 s a lost turn would make the next writer wait


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'turns.sqlite3'}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        await connection.execute(text("INSERT INTO counter VALUES (0)"))
    yield engine
    await engine.dispose()


async def increment(sessions: async_sessionmaker[AsyncSession], pause: float = 0.0) -> None:
    async with sessions.begin() as session:
        n = await session.scalar(text("SELECT n FROM counter"))
        await asyncio.sleep(pause)  # another writer would run here, were it let in
        await session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})


async def failing_write(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        await session.execute(text("UPDATE counter SET n = 100"))
        raise LookupError("a rule refused the change half-way")


async def count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(text("SELECT n FROM counter")) or 0)


async def test_a_burst_of_writers_all_land_one_after_another(engine: AsyncEngine) -> None:
    sessions = create_session_factory(engine)
    async with asyncio.timeout(30):
        await asyncio.gather(*(increment(sessions, pause=0.001) for _ in range(60)))
    assert await count(sessions) == 60


async def test_a_failed_writer_gives_its_turn_back(engine: AsyncEngine) -> None:
    sessions = create_session_factory(engine)
    with pytest.raises(LookupError):
        await failing_write(sessions)
    async with asyncio.timeout(PROMPTLY):
        await increment(sessions)
    assert await count(sessions) == 1  # the failed write was rolled back


async def test_a_writer_cancelled_mid_transaction_gives_its_turn_back(
    engine: AsyncEngine,
) -> None:
    sessions = create_session_factory(engine)
    stuck = asyncio.create_task(increment(sessions, pause=60))
    await asyncio.sleep(0.2)  # it holds the turn, sleeping inside its transaction
    waiting = asyncio.create_task(increment(sessions))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    stuck.cancel()
    async with asyncio.timeout(PROMPTLY):
        await waiting
    assert await count(sessions) == 1


async def test_a_reader_does_not_wait_for_a_writer(engine: AsyncEngine) -> None:
    sessions = create_session_factory(engine)
    writer = asyncio.create_task(increment(sessions, pause=1.0))
    await asyncio.sleep(0.2)
    async with asyncio.timeout(0.5):
        assert await count(sessions) == 0  # the snapshot before the write
    await writer
    assert await count(sessions) == 1
