"""Per-user throttling: too many updates in a window get one warning, then a quiet cooldown."""

from __future__ import annotations

import logging
import math
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import TelegramObject, Update

from locales import Translator
from services.clock import Clock, system_clock

log = logging.getLogger(__name__)

MAX_TRACKED_USERS = 50_000


@dataclass(slots=True)
class _Visits:
    times: deque[datetime] = field(default_factory=deque)
    blocked_until: datetime | None = None
    last: datetime | None = None


class ThrottleMiddleware(BaseMiddleware):
    """More than `rate` messages and button presses in `window` seconds from one user: one
    polite warning, then the user's updates are dropped for `cooldown` seconds (button
    spinners are still stopped). Staff (admins, support) are never throttled. Other update
    kinds (payments, pre-checkout queries) always pass: they must be answered. Users idle for
    longer than the window and the cooldown are forgotten, so memory stays bounded. It runs
    before anything is written, so a flood costs no write; the counts are this process's own
    (sharing them between processes would cost a write per update).
    """

    def __init__(
        self,
        rate: int,
        window: float,
        cooldown: float,
        clock: Clock = system_clock,
        max_users: int = MAX_TRACKED_USERS,
    ) -> None:
        self._rate = rate
        self._window = timedelta(seconds=window)
        self._cooldown = timedelta(seconds=cooldown)
        self._idle = max(self._window, self._cooldown)
        self._clock = clock
        self._max_users = max_users
        self._visits: OrderedDict[int, _Visits] = OrderedDict()

    @property
    def tracked(self) -> int:
        return len(self._visits)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        assert isinstance(event, Update)
        sender = data.get("event_from_user")
        if (
            self._rate <= 0
            or sender is None
            or data.get("is_staff")
            or (event.message is None and event.callback_query is None)
            or (event.message is not None and event.message.successful_payment is not None)
        ):  # money already taken is never dropped; pre-checkout queries are not throttled either
            return await handler(event, data)
        verdict = self._count(sender.id)
        if verdict is None:
            return await handler(event, data)
        await self._refuse(event, data, warn=verdict)
        return None

    def _count(self, user_id: int) -> bool | None:
        """None: serve the update; True: refuse it with the warning; False: drop it quietly."""
        now = self._clock()
        self._forget_idle(now)
        visits = self._visits.get(user_id)
        if visits is None:
            visits = self._visits[user_id] = _Visits()
        self._visits.move_to_end(user_id)
        visits.last = now
        if visits.blocked_until is not None:
            if now < visits.blocked_until:
                return False
            visits.blocked_until = None
        while visits.times and visits.times[0] <= now - self._window:
            visits.times.popleft()
        visits.times.append(now)
        if len(visits.times) <= self._rate:
            return None
        visits.times.clear()
        visits.blocked_until = now + self._cooldown
        log.info("user %s throttled for %.0f s", user_id, self._cooldown.total_seconds())
        return True

    def _forget_idle(self, now: datetime) -> None:
        while self._visits:
            oldest_id, oldest = next(iter(self._visits.items()))
            stale = oldest.last is None or oldest.last <= now - self._idle
            if not stale and len(self._visits) < self._max_users:
                break
            del self._visits[oldest_id]

    async def _refuse(self, event: Update, data: dict[str, Any], *, warn: bool) -> None:
        bot: Bot | None = data.get("bot")
        t: Translator | None = data.get("t")
        if bot is None or t is None:
            return
        text = t("throttle-warning", seconds=str(math.ceil(self._cooldown.total_seconds())))
        try:
            if event.callback_query is not None:
                await bot.answer_callback_query(
                    event.callback_query.id, text=text if warn else None, show_alert=warn
                )
            elif warn and event.message is not None:
                await bot.send_message(event.message.chat.id, text)
        except TelegramAPIError as error:
            log.info("throttle notice not delivered: %s", error.message)
