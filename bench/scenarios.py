"""The measured flows: /get_config one by one and all at once, and /status one by one."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from bench.harness import BotUnderTest
from bench.probe import PROBE, SPLITS
from locales import translator_for

CONFIG_MESSAGES = ["sendDocument", "sendPhoto"]


@dataclass
class Sequential:
    """Per-update latencies (s), their splits, and updates whose answer was wrong."""

    latencies: list[float] = field(default_factory=list)
    splits: list[dict[str, float]] = field(default_factory=list)
    failures: int = 0
    total: float = 0.0
    first_wrong: str = ""

    def wrong(self, app: BotUnderTest, user_id: int) -> None:
        self.failures += 1
        if not self.first_wrong:
            self.first_wrong = " | ".join(app.sent_texts(user_id))[:300]


async def get_config_one_by_one(app: BotUnderTest, user_ids: list[int]) -> Sequential:
    """Each user sends /get_config once; the next update goes in when the last is answered."""
    result = Sequential()
    start = time.perf_counter()
    for user_id in user_ids:
        update = app.update(user_id, "/get_config")
        PROBE.reset()
        elapsed = await app.feed(update)
        split = dict(PROBE.current)
        split["rest"] = elapsed - sum(split[name] for name in SPLITS)
        result.latencies.append(elapsed)
        result.splits.append(split)
        if app.sent_methods(user_id) != CONFIG_MESSAGES:
            result.wrong(app, user_id)
    result.total = time.perf_counter() - start
    return result


@dataclass
class Burst:
    """Seconds until every update was answered, and each split summed over all updates."""

    total: float
    failures: int
    summed: dict[str, float]


async def get_config_all_at_once(app: BotUnderTest, user_ids: list[int]) -> Burst:
    """Every user sends /get_config at the same moment."""
    updates = [app.update(user_id, "/get_config") for user_id in user_ids]
    PROBE.reset()
    start = time.perf_counter()
    await asyncio.gather(*(app.feed(update) for update in updates))
    total = time.perf_counter() - start
    failures = sum(app.sent_methods(user_id) != CONFIG_MESSAGES for user_id in user_ids)
    return Burst(total, failures, dict(PROBE.current))


async def status_one_by_one(app: BotUnderTest, user_ids: list[int], count: int) -> Sequential:
    """`count` /status updates from users who have a device, one at a time."""
    unreachable = translator_for("ru")("status-node-unreachable")
    result = Sequential()
    start = time.perf_counter()
    for i in range(count):
        user_id = user_ids[i % len(user_ids)]
        before = len(app.sent_texts(user_id))
        result.latencies.append(await app.feed(app.update(user_id, "/status")))
        answers = app.sent_texts(user_id)[before:]
        if len(answers) != 1 or unreachable in answers[0]:
            result.wrong(app, user_id)
    result.total = time.perf_counter() - start
    return result
