"""Broadcast throughput: N users through a fake Bot API that enforces 30 msg/s."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bot.app import create_bot
from bot.broadcast_sender import TelegramBroadcastSender
from bot.container import open_services
from bot.settings import load_settings
from db.models import AccessKind, BroadcastAudience, Role, User
from services.broadcasts import Audience, BroadcastMessage
from tests.fakes.telegram_api import FakeTelegram

COMMAND = "uv run python -m bench.broadcast"
TELEGRAM_LIMIT = 30
ADMIN_ID = 1000
FIRST_USER = 1_000_001
TEXT = "📣 <b>Bench</b>: scheduled maintenance tonight"
PLAIN = "📣 Bench: scheduled maintenance tonight"


async def run(users: int, rate: int, workdir: Path) -> dict[str, float | int]:
    telegram = FakeTelegram(rate_limit=TELEGRAM_LIMIT)
    await telegram.start()
    settings = load_settings(
        _env_file=None,
        bot_token=telegram.token,
        telegram_api_url=telegram.base_url,
        data_dir=workdir / "data",
        admin_ids=str(ADMIN_ID),
        broadcast_rate=rate,
    )
    services = await open_services(settings)
    bot = create_bot(settings)
    try:
        now = datetime.now(UTC)
        ids = range(FIRST_USER, FIRST_USER + users)
        telegram.user(ADMIN_ID)
        async with services.sessions.begin() as session:
            for user_id in ids:
                telegram.user(user_id)
                session.add(
                    User(
                        id=user_id,
                        first_name="Bench",
                        language="ru",
                        role=Role.USER,
                        access_kind=AccessKind.INVITE,
                        started=True,
                        created_at=now,
                        last_seen_at=now,
                    )
                )
        broadcast = await services.broadcasts.create(
            ADMIN_ID, BroadcastMessage(TEXT), PLAIN, Audience(BroadcastAudience.ALL)
        )
        assert broadcast is not None and broadcast.total == users
        started = time.monotonic()
        await services.broadcasts.start(broadcast.id, TelegramBroadcastSender(bot, services.users))
        elapsed = time.monotonic() - started
        delivered = [
            call
            for call in telegram.calls
            if call.method == "sendMessage" and call.ok and call.params.get("chat_id") in ids
        ]
        copies = Counter(call.params["chat_id"] for call in delivered)
        span = max(call.at for call in delivered) - started if delivered else elapsed
        achieved = len(delivered) / span if span > 0 else 0.0
        progress = services.broadcasts.progress
        final = await progress(broadcast.id)
        return {
            "users": users,
            "rate": rate,
            "seconds": round(elapsed, 2),
            "achieved_per_second": round(achieved, 3),
            "achieved_fraction": round(achieved / rate, 4),
            "too_many_requests": telegram.too_many_requests,
            "delivered": len(delivered),
            "lost": users - len(copies),
            "duplicates": sum(count - 1 for count in copies.values()),
            "failed": final.failed,
            "progress_edits": sum(1 for call in telegram.calls if call.method == "editMessageText"),
        }
    finally:
        await bot.session.close()
        await services.close()
        await telegram.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=TELEGRAM_LIMIT, help="BROADCAST_RATE, 1..30")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-broadcast-") as workdir:
        figures = asyncio.run(run(args.users, args.rate, Path(workdir)))
    print(
        f"broadcast to {figures['users']} users at BROADCAST_RATE={figures['rate']} against a "
        f"Bot API enforcing {TELEGRAM_LIMIT} msg/s: {figures['seconds']} s, "
        f"{figures['achieved_per_second']} msg/s = {figures['achieved_fraction']:.1%} of the rate "
        f"(goal >= 95%), 429 answers: {figures['too_many_requests']} (goal 0), "
        f"lost {figures['lost']}, duplicates {figures['duplicates']}, "
        f"progress edits {figures['progress_edits']}"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
