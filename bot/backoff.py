"""Delays between retries of something that went away: 1, 2, 4, 8, then 16 s each time."""

from __future__ import annotations

FIRST, LONGEST = 1.0, 16.0


def backoff(attempt: int) -> float:
    """Seconds to wait before the `attempt`-th retry (counted from 1)."""
    return float(min(LONGEST, FIRST * 2 ** max(0, attempt - 1)))
