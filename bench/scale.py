"""Figures at scale: `python -m bench.scale --users 100000` seeds a database (bench.seed), then a
fresh bot process on it reports its start-up, /users, /find and /stats through the dispatcher
(as an admin, against the fake Bot API), the reminder and expiry sweep, and its peak RSS."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ADMIN = 1000
SPAWNED_AT = "BENCH_SCALE_SPAWNED_AT"


async def _measure(data_dir: Path, database_url: str) -> dict[str, Any]:
    """In the fresh process: open the bot on the seeded database and time what it serves."""
    from aiogram.types import Update

    from bench.stats import median, p95
    from bot.app import create_bot, create_dispatcher
    from bot.container import open_services
    from bot.settings import load_settings
    from tests.fakes.telegram_api import FakeTelegram

    telegram = FakeTelegram()
    await telegram.start()
    settings = load_settings(
        _env_file=None,
        bot_token=telegram.token,
        telegram_api_url=telegram.base_url,
        data_dir=data_dir,
        database_url=database_url,
        admin_ids=str(ADMIN),
    )
    services = await open_services(settings)
    bot = create_bot(settings)
    dispatcher = create_dispatcher(services, bot)
    figures: dict[str, Any] = {"startup_s": time.time() - float(os.environ[SPAWNED_AT])}

    async def tap(text: str, times: int) -> list[float]:
        took = []
        for _ in range(times):
            update = telegram.send_text(telegram.user(ADMIN), text)
            started = time.perf_counter()
            await dispatcher.feed_update(bot, Update.model_validate(update, context={"bot": bot}))
            took.append((time.perf_counter() - started) * 1000)
        return took

    try:
        await tap("/start", 1)
        for name, text, times in (
            ("users", "/users", 30),
            ("find", "/find User 4242", 30),
            ("stats", "/stats", 5),
        ):
            took = await tap(text, times)
            figures[f"{name}_median_ms"], figures[f"{name}_p95_ms"] = median(took), p95(took)
        sweeps = []
        for _ in range(3):
            started = time.perf_counter()
            await services.reminders.run()
            sweeps.append(time.perf_counter() - started)
        figures["sweep_s"] = median(sweeps)
        figures["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        figures["answers"] = len(telegram.sent_to(ADMIN))
    finally:
        await bot.session.close()
        await services.close()
        await telegram.close()
    return figures


async def _seed(data_dir: Path, database_url: str, users: int, nodes: int) -> str:
    from bench.seed import seed
    from bot.container import cipher_of, open_services
    from bot.settings import load_settings

    settings = load_settings(
        _env_file=None, bot_token="123456:ABCDEFGHIJ", data_dir=data_dir, database_url=database_url
    )
    services = await open_services(settings)
    cipher = cipher_of(settings, create=False)
    assert cipher is not None
    try:
        done = await seed(services, cipher, users, nodes, datetime.now(UTC))
    finally:
        await services.close()
    return f"{done.devices} devices, {done.payments} payments, seeded in {done.seconds:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--database-url", default="", help="PostgreSQL; else SQLite in a temp dir")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(_measure(args.measure, args.database_url))))
        return
    with tempfile.TemporaryDirectory(prefix="vpnservice-scale-") as tmp:
        data_dir = Path(tmp) / "data"
        seeded = asyncio.run(_seed(data_dir, args.database_url, args.users, args.nodes))
        print(f"{args.users} users: {seeded}", file=sys.stderr, flush=True)
        env = dict(os.environ, **{SPAWNED_AT: repr(time.time())})
        child = [sys.executable, "-m", "bench.scale", "--measure", str(data_dir)]
        child += ["--database-url", args.database_url] if args.database_url else []
        out = subprocess.run(child, env=env, capture_output=True, text=True, check=True).stdout
    figures = json.loads(out.splitlines()[-1])
    print(f"$ uv run python -m bench.scale --users {args.users}   ({os.cpu_count()} CPUs)")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
