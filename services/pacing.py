"""Telegram's flood control for the whole bot: one pacer that answers and broadcasts share."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time

TELEGRAM_RATE_LIMIT = 30  # messages per second a bot may send to different chats
# A call counts against the rate from its start until this long after its answer: by then it
# has surely reached Telegram, so no one-second window there can hold more than `rate` calls,
# whatever the jitter on the way (the extra 5 ms allow for Telegram's clock granularity).
RATE_WINDOW = 1.005


class Ticket:
    """One paced call: when its answer came (None while on its way)."""

    __slots__ = ("answered_at",)

    def __init__(self) -> None:
        self.answered_at: float | None = None


class Pacer:
    """At most `rate` calls in any RATE_WINDOW, counted from start to answer, for the whole
    process. Urgent calls (answers to users) start as soon as there is room, before any bulk
    call; bulk calls (broadcasts) start evenly spaced at `bulk_rate` per second and take only
    what urgent calls leave. A 429 holds every call back for its retry_after."""

    def __init__(self, rate: int = TELEGRAM_RATE_LIMIT, bulk_rate: int | None = None) -> None:
        if not 0 < rate <= TELEGRAM_RATE_LIMIT:
            raise ValueError(f"rate must be within 1..{TELEGRAM_RATE_LIMIT}")
        self.rate = rate
        self.bulk_rate = min(bulk_rate or rate, rate)
        self.interval = 1 / self.bulk_rate
        self._next_bulk = 0.0
        self._held_until = 0.0
        self._calls: list[Ticket] = []
        self._urgent = asyncio.Lock()
        self._bulk = asyncio.Lock()
        self._urgent_waiting = 0
        self._changed = asyncio.Event()

    @property
    def held_for(self) -> float:
        """Seconds left of the hold a 429 put on every call (0: none)."""
        return max(0.0, self._held_until - time.monotonic())

    async def acquire(self, *, urgent: bool = False) -> Ticket:
        """Wait for a free slot; give the ticket back with `release` once the call is answered."""
        if urgent:
            self._urgent_waiting += 1
        try:
            async with self._urgent if urgent else self._bulk:
                while True:
                    wait, until_change = self._wait(time.monotonic(), urgent)
                    if wait == 0.0:
                        return self._grant(time.monotonic(), urgent)
                    if not until_change:
                        await asyncio.sleep(wait)
                        continue
                    changed = self._changed
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(None if math.isinf(wait) else wait):
                            await changed.wait()
        finally:
            if urgent:
                self._urgent_waiting -= 1
                self._notify()

    def release(self, ticket: Ticket) -> None:
        ticket.answered_at = time.monotonic()
        self._notify()

    def hold(self, seconds: float) -> None:
        """Telegram said 429: no call starts for `seconds`."""
        self._held_until = max(self._held_until, time.monotonic() + seconds)
        self._notify()

    def _wait(self, now: float, urgent: bool) -> tuple[float, bool]:
        """How long to wait before looking again (0.0: go now; inf: no limit), and whether a
        change (an answer, an urgent call granted) may end the wait earlier."""
        if self._held_until > now:
            return self._held_until - now, False
        self._calls = [
            call
            for call in self._calls
            if call.answered_at is None or call.answered_at > now - RATE_WINDOW
        ]
        if len(self._calls) >= self.rate:
            answered = [call.answered_at for call in self._calls if call.answered_at is not None]
            return (min(answered) + RATE_WINDOW - now if answered else math.inf), True
        if urgent:
            return 0.0, False
        if self._urgent_waiting:
            return math.inf, True
        return (self._next_bulk - now if self._next_bulk > now else 0.0), False

    def _grant(self, now: float, urgent: bool) -> Ticket:
        if not urgent:
            # Keep to the grid when a little late; never make up for a pause with a burst.
            start = self._next_bulk if now - self._next_bulk < self.interval / 4 else now
            self._next_bulk = start + self.interval
        ticket = Ticket()
        self._calls.append(ticket)
        return ticket

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
