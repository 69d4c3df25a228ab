"""Where an update's time goes: SSH, QR, Bot API HTTP and SQL, summed per update."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from nodes import NodeTarget, SshPool
from services.qrdrawer import QrDrawer

SPLITS = ("ssh", "qr", "http", "db")


class Probe:
    """Adds up seconds per split; one update at a time (sequential runs) gives exact splits."""

    def __init__(self) -> None:
        self.current: dict[str, float] = dict.fromkeys(SPLITS, 0.0)

    def reset(self) -> None:
        self.current = dict.fromkeys(SPLITS, 0.0)

    def add(self, split: str, seconds: float) -> None:
        self.current[split] += seconds

    @contextmanager
    def timing(self, split: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(split, time.perf_counter() - start)


PROBE = Probe()


class TimedSshPool(SshPool):
    """The project's SshPool, unchanged, with the time spent in `run` recorded."""

    async def run(
        self,
        target: NodeTarget,
        command: str,
        *,
        stdin: str | None = None,
        timeout: float | None = None,
        limit: int | None = None,
        even_if_down: bool = False,
    ) -> str:
        with PROBE.timing("ssh"):
            return await super().run(
                target,
                command,
                stdin=stdin,
                timeout=timeout,
                limit=limit,
                even_if_down=even_if_down,
            )


class HttpTimer(BaseRequestMiddleware):
    """Times each Bot API request (the loopback fake answers in this same process)."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        with PROBE.timing("http"):
            return await make_request(bot, method)


def install_qr_timer() -> None:
    """Time each wait for a QR code (drawn by the drawer's child process, the same code)."""
    drawn = QrDrawer.png

    async def timed(drawer: QrDrawer, text: str) -> bytes:
        with PROBE.timing("qr"):
            return await drawn(drawer, text)

    setattr(QrDrawer, "png", timed)  # noqa: B010 - a method replaced for the whole run


def install_db_timer(engine: AsyncEngine) -> None:
    """Time every SQL statement the engine executes."""

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _before(
        conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: Any
    ) -> None:
        conn.info.setdefault("bench_start", []).append(time.perf_counter())

    @event.listens_for(engine.sync_engine, "after_cursor_execute")
    def _after(
        conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: Any
    ) -> None:
        PROBE.add("db", time.perf_counter() - conn.info["bench_start"].pop())
