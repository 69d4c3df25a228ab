"""Rate limits of the page: at most so many events per key (an address, a user) in a window."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field


class Window:
    """At most `limit` events per key in any `seconds`; remembers at most `keys` keys (the
    longest idle is forgotten first), so a flood of new addresses cannot grow it."""

    def __init__(
        self,
        limit: int,
        seconds: float,
        *,
        keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.seconds = seconds
        self._keys = keys
        self._clock = clock
        self._events: OrderedDict[Hashable, deque[float]] = OrderedDict()

    def allow(self, key: Hashable) -> bool:
        """Count an event for `key`; False (and not counted) when it is over the limit."""
        if not self.exceeded(key):
            self._events[key].append(self._clock())
            return True
        return False

    def exceeded(self, key: Hashable) -> bool:
        """Whether `key` has used up its events in the window (nothing is counted)."""
        now = self._clock()
        events = self._events.pop(key, None)
        if events is None:
            events = deque()
            if len(self._events) >= self._keys:
                self._events.popitem(last=False)
        while events and events[0] <= now - self.seconds:
            events.popleft()
        self._events[key] = events
        return len(events) >= self.limit


@dataclass
class Limits:
    """The page's limits: requests per address and per user, actions (POST) per user, and
    failed sign-ins (a bad initData or link) per address."""

    per_address: Window = field(default_factory=lambda: Window(300, 60))
    per_user: Window = field(default_factory=lambda: Window(120, 60))
    actions_per_user: Window = field(default_factory=lambda: Window(30, 60))
    failures_per_address: Window = field(default_factory=lambda: Window(20, 600))
