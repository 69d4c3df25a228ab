"""The async engine, session factory and named locks. SQLite gets WAL and a busy timeout; a
write transaction (`sessions.begin()`) opens with BEGIN IMMEDIATE, a read (`sessions()`) with a
plain BEGIN that takes no write lock. On PostgreSQL services lock the rows they read to change."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util.concurrency import await_, in_greenlet

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio.session import _AsyncSessionContextManager

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 15_000
PRIVATE_FILE = 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
APPLICATION_NAME = "vpnservice"
POSTGRES_SCHEMES = ("postgresql", "postgres")
LOCK_NAMESPACE = "vpnservice:"
WRITES = "vpnservice_writes"  # execution option of the connections of `sessions.begin()`
TURN = "vpnservice_write_turn"  # in a connection's info while it holds this process's write turn


def async_url(url: str) -> URL:
    """`url` parsed; a bare postgresql:// or postgres:// URL gets the asyncpg driver."""
    parsed = make_url(url)
    if parsed.drivername in POSTGRES_SCHEMES:
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed


def create_engine(url: str) -> AsyncEngine:
    """An engine for `url`; on SQLite a write transaction takes the write lock up front, and a
    read runs on a snapshot beside the writer (WAL) without waiting for it."""
    parsed = async_url(url)
    if parsed.get_backend_name() == "postgresql":
        return create_async_engine(
            parsed,
            pool_pre_ping=True,
            connect_args={"server_settings": {"application_name": APPLICATION_NAME}},
        )
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(parsed, pool_pre_ping=True)

    engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        # SQLite's lower() knows only ASCII; searches lower Cyrillic names too, as PostgreSQL does.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)

    turns = WriterTurns()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        if not connection.get_execution_options().get(WRITES, False):
            connection.exec_driver_sql("BEGIN")
            return
        turns.wait(connection.connection.info)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            turns.done(connection.connection.info)
            raise

    for pool_event in ("checkin", "invalidate"):  # the transaction ended with the checkout

        @event.listens_for(engine.sync_engine.pool, pool_event)
        def _on_end(_dbapi_connection: Any, record: Any, *_: Any) -> None:
            turns.done(record.info)

    return engine


class WriterTurns:
    """SQLite: this process's writers take the write lock in turn, in the order they asked,
    each with its connection already in hand (waiting for a connection while holding a turn
    would stall the writers behind it). SQLite's own busy handler sleeps up to 100 ms a try
    while the lock is free again within a millisecond: 200 first configs at once spent 86 s
    summed in BEGIN IMMEDIATE. A turn not given within the busy timeout (a holder that never
    returned its connection) is gone without, to SQLite's own waiting."""

    def __init__(self) -> None:
        self._locks: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            WeakKeyDictionary()
        )

    def wait(self, info: dict[str, Any]) -> None:
        """Wait for the turn, from inside SQLAlchemy's greenlet."""
        if TURN in info or not in_greenlet():  # its turn already, or SQLite waits alone
            return
        loop = asyncio.get_running_loop()
        lock = self._locks.setdefault(loop, asyncio.Lock())
        if await_(_acquire(lock, SQLITE_BUSY_TIMEOUT_MS / 1000)):
            info[TURN] = (loop, lock)
        else:
            log.warning("a write waited %d ms for its turn: going on without it",
                        SQLITE_BUSY_TIMEOUT_MS)  # fmt: skip

    @staticmethod
    def done(info: dict[str, Any]) -> None:
        """Give the turn back, on its event loop's thread (a connection the garbage collector
        returns may come back on another)."""
        turn = info.pop(TURN, None)
        if turn is None:
            return
        loop, lock = turn
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is loop:
            lock.release()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(lock.release)


async def _acquire(lock: asyncio.Lock, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            await lock.acquire()
    except TimeoutError:
        return False
    return True


def keep_sqlite_private(url: str) -> None:
    """SQLite: the database file made empty with mode 0600 before SQLite creates it (SQLite
    gives its -wal and -shm files the database's mode), and an existing one, with those files,
    taken back to 0600 when an older version left it readable by others."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    database = Path(str(parsed.database))
    os.close(os.open(database, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    for path in (database, *(Path(f"{database}{suffix}") for suffix in SQLITE_SIDE_FILES)):
        with contextlib.suppress(FileNotFoundError):
            if stat.S_IMODE(path.stat().st_mode) & 0o077:
                try:
                    path.chmod(PRIVATE_FILE)
                except PermissionError:
                    log.warning("%s is readable by others and not ours to change", path)


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


class Sessions(async_sessionmaker[AsyncSession]):
    """`sessions()` for reading: SQLite lets it run beside a writer, it never commits;
    `sessions.begin()` for writing (and reading what is about to change): SQLite gives it the
    write lock before its first statement, so two writers never deadlock half-way."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine, expire_on_commit=False)
        self._writer = async_sessionmaker(
            engine, expire_on_commit=False, execution_options={WRITES: True}
        )

    def begin(self) -> _AsyncSessionContextManager[AsyncSession]:
        return self._writer.begin()


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return Sessions(engine)


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for the lock `name`: the same in every process and release."""
    digest = hashlib.sha256((LOCK_NAMESPACE + name).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.asynccontextmanager
async def named_lock(engine: AsyncEngine, name: str) -> AsyncIterator[bool]:
    """Try to hold the lock `name` across processes for the block; yields whether we have it.

    PostgreSQL: a transaction-level advisory lock on a connection of its own, released when
    the block ends, also by an error, a cancellation or a dropped connection. SQLite serves
    one process by design: always True."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    async with engine.connect() as connection, connection.begin():
        # The lock lives as long as this idle transaction: no server timeout may end it early.
        await connection.execute(text("SET LOCAL idle_in_transaction_session_timeout = 0"))
        acquired = await connection.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": lock_key(name)}
        )
        yield bool(acquired)


async def serialize(session: AsyncSession, name: str) -> None:
    """Make the session's transactions that pass here with `name` run one at a time, until
    they end. PostgreSQL: a transaction-level advisory lock (released at commit or rollback);
    SQLite's BEGIN IMMEDIATE holds the whole database already."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(name)})
