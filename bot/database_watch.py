"""Whether the database answers: an outage is one log line, then a probe with backoff until it
answers, then one more line. Meanwhile polling waits, webhooks answer 503, jobs skip
(no aiogram here: the operator CLI opens the services too)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import types
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.backoff import backoff

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 10.0
_DRIVERS = ("sqlalchemy", "asyncpg", "aiosqlite", "sqlite3")


def is_outage(error: BaseException) -> bool:
    """The database could not be reached or dropped the connection: a connection error raised
    inside the driver, not a bad statement or a locked row."""
    if isinstance(error, DBAPIError):
        return bool(error.connection_invalidated)
    return isinstance(error, OSError | TimeoutError) and _raised_in_driver(error.__traceback__)


def _raised_in_driver(trace: types.TracebackType | None) -> bool:
    while trace is not None:
        module = str(trace.tb_frame.f_globals.get("__name__", ""))
        if module.startswith(_DRIVERS):
            return True
        trace = trace.tb_next
    return False


class DatabaseWatch:
    """Told of a connection error, it checks the database at once: if it answers, nothing
    happened; if not, one line, and a probe with backoff until it answers again."""

    def __init__(self, engine: AsyncEngine, shown_url: str) -> None:
        self._engine = engine
        self._shown_url = shown_url
        self._up = asyncio.Event()
        self._up.set()
        self._probe: asyncio.Task[None] | None = None
        self._on_back: list[Callable[[], Awaitable[object]]] = []

    @property
    def up(self) -> bool:
        return self._up.is_set()

    async def wait_up(self) -> None:
        await self._up.wait()

    def on_back(self, callback: Callable[[], Awaitable[object]]) -> None:
        """Run `callback` each time the database answers again after an outage."""
        self._on_back.append(callback)

    def lost(self, error: BaseException) -> None:
        """A connection error was seen: check, and watch until the database is back."""
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._watch(error), name="database-watch")

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe

    async def _answers(self) -> bool:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT), self._engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:  # whatever the reason, it does not answer
            return False
        return True

    async def _watch(self, error: BaseException) -> None:
        if await self._answers():
            return
        self._up.clear()
        since = time.monotonic()
        log.warning(
            "database %s unreachable (%s): check that its server runs and this host reaches "
            "it; updates wait, retrying with backoff",
            self._shown_url,
            type(error).__name__,
        )
        attempt = 0
        while True:
            attempt += 1
            await asyncio.sleep(backoff(attempt))
            if await self._answers():
                break
        self._up.set()
        log.warning("database answers again after %.0f s", time.monotonic() - since)
        for callback in self._on_back:
            try:
                await callback()
            except Exception:  # one failed follow-up must not stop the others
                log.exception("after the database came back")
