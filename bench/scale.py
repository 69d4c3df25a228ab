"""Figures at scale: `python -m bench.scale --users 100000` seeds a database (bench.seed) on
SQLite and on a throwaway PostgreSQL, then for each: the reminder and expiry sweep and the
auto-renewal sweep (against the loopback fake YooKassa), /find's query with the trigram index
and without it (today's LIKE over every user); and the bot alone as `python main.py`, against
the fake Bot API in this process: its start-up, its RSS, and /users, /find and /stats tapped
by an admin, from the update handed out to the answer received."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select, text

ROOT = Path(__file__).resolve().parents[1]
ADMIN = 1000
TOKEN = "123456:ABCDEFGHIJ"
FIND = "User 4242"  # 11 of 100,000 names hold it (4242, 14242, 42420-42429)
# name, command, taps, then a pause for the rest of the answer (/stats: a chart, a text)
TAPS = (("users", "/users", 30, 0), ("find", f"/find {FIND}", 30, 0), ("stats", "/stats", 5, 2))
BACKENDS = ("sqlite", "postgresql")


def _settings(data_dir: Path, database_url: str, **more: Any) -> Any:
    from bot.settings import load_settings

    return load_settings(
        _env_file=None, bot_token=TOKEN, data_dir=data_dir, database_url=database_url, **more
    )


async def _seed(data_dir: Path, database_url: str, users: int, nodes: int) -> str:
    from bench.seed import seed
    from bot.container import cipher_of, open_services

    settings = _settings(data_dir, database_url)
    services = await open_services(settings)
    cipher = cipher_of(settings, create=False)
    assert cipher is not None
    try:
        done = await seed(services, cipher, users, nodes, datetime.now(UTC))
    finally:
        await services.close()
    return f"{done.devices} devices, {done.payments} payments, seeded in {done.seconds:.1f} s"


async def _timed(times: int, work: Callable[[], Awaitable[object]]) -> list[float]:
    took = []
    for _ in range(times):
        started = time.perf_counter()
        await work()
        took.append((time.perf_counter() - started) * 1000)
    return took


async def _in_process(data_dir: Path, database_url: str) -> dict[str, float]:
    """The sweeps and /find's query, called on the services (no Telegram in between)."""
    from bench.stats import median
    from bot.container import open_services
    from db.models import User
    from services.console import LIKE_ESCAPE, SEARCH_LIMIT, like_pattern
    from tests.fakes.yookassa_api import FakeYooKassa

    figures: dict[str, float] = {}
    async with FakeYooKassa() as yookassa:
        settings = _settings(
            data_dir,
            database_url,
            yookassa_shop_id=yookassa.shop_id,
            yookassa_secret_key=yookassa.secret_key,
            yookassa_api_url=yookassa.base_url,
        )
        services = await open_services(settings)
        try:
            figures["sweep_s"] = median(await _timed(3, services.reminders.run)) / 1000
            renewals = await _timed(3, services.payments.charge_renewals)
            figures["renewal_sweep_s"] = median(renewals) / 1000
            took = await _timed(30, lambda: services.console.search(FIND))
            figures["find_query_ms"] = median(took)
            found, _ = await services.console.search(FIND)
            pattern = like_pattern(FIND.lower())
            naive = (
                select(User)
                .where(
                    or_(
                        func.lower(User.username).like(pattern, escape=LIKE_ESCAPE),
                        func.lower(User.first_name).like(pattern, escape=LIKE_ESCAPE),
                    )
                )
                .order_by(User.created_at.desc(), User.id.desc())
                .limit(SEARCH_LIMIT + 1)
            )

            async def scan() -> None:
                async with services.sessions() as session:
                    if session.get_bind().dialect.name == "postgresql":  # no trigram index
                        await session.execute(text("SET LOCAL enable_bitmapscan = off"))
                    same = [user.id for user in (await session.scalars(naive)).all()]
                    assert same == [user.id for user in found], "the same users, in order"

            figures["find_query_naive_ms"] = median(await _timed(10, scan))
        finally:
            await services.close()
    return figures


def _memory_mb(pid: int) -> dict[str, float]:
    """The process's resident set now and at its peak (VmRSS, VmHWM), in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields


def _compile_bytecode() -> None:
    """Import the bot once with bytecode written, as an install does (uv sync
    --compile-bytecode, the Dockerfile's compileall): start-up then reads, not compiles."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(
        [sys.executable, "-c", "import main, bot.app"], env=env, cwd=ROOT, check=True, timeout=300
    )


async def _bot_process(data_dir: Path, database_url: str, log: Path) -> dict[str, float]:
    """`python main.py` on the seeded database against the fake Bot API in this process."""
    from bench.stats import median, p95
    from tests.fakes.telegram_api import FakeTelegram
    from tests.postgres import free_port

    figures: dict[str, float] = {}
    async with FakeTelegram(token=TOKEN) as telegram:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/root"),
            "BOT_TOKEN": TOKEN,
            "ADMIN_IDS": str(ADMIN),
            "DATA_DIR": str(data_dir),
            "DATABASE_URL": database_url,
            "TELEGRAM_API_URL": telegram.base_url,
            "WEB_PORT": str(free_port()),
        }
        started = time.monotonic()  # the clock the fake stamps each request's arrival with
        with log.open("wb") as out:
            bot = subprocess.Popen(
                [sys.executable, "main.py"], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
            )
        try:
            # A long poll is recorded when it is answered (10 s later with no update): the
            # bot was ready when its first getUpdates arrived.
            first = await telegram.wait_for(lambda call: call.method == "getUpdates", timeout=120)
            figures["startup_s"] = first.at - started
            figures["rss_ready_mb"] = _memory_mb(bot.pid)["VmRSS"]
            admin = telegram.user(ADMIN, first_name="Admin")
            telegram.send_text(admin, "/start")
            await telegram.wait_sent(ADMIN, 1, timeout=60)
            await asyncio.sleep(1)
            for name, command, times, rest in TAPS:
                took = []
                for _ in range(times):
                    telegram.mark(ADMIN)
                    tapped = time.perf_counter()
                    telegram.send_text(admin, command)
                    await telegram.wait_sent(ADMIN, 1, timeout=60)
                    took.append((time.perf_counter() - tapped) * 1000)  # to its first message
                    await asyncio.sleep(rest)
                figures[f"{name}_median_ms"], figures[f"{name}_p95_ms"] = median(took), p95(took)
            figures["rss_peak_mb"] = _memory_mb(bot.pid)["VmHWM"]
        finally:
            bot.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(bot.wait, 30)
            except subprocess.TimeoutExpired:
                bot.kill()
    if "Traceback" in log.read_text(errors="replace"):
        print(f"the bot logged a traceback: {log}", file=sys.stderr)
    return figures


@contextlib.contextmanager
def _database(backend: str, tmp: Path, given: str) -> Iterator[str]:
    """A DATABASE_URL for `backend`: SQLite (empty: DATA_DIR's file), `given`, or a database
    on a throwaway PostgreSQL server from Debian's packages, as the tests start one."""
    if backend == "sqlite" or given:
        yield given if backend == "postgresql" else ""
        return
    from tests.postgres import PostgresServer, debian_binaries, local_server

    binaries = debian_binaries()
    if binaries is None:
        raise SystemExit("PostgreSQL: install Debian's postgresql package or pass --postgres-url")
    with local_server(binaries) as admin:
        server = PostgresServer(admin)
        yield server.url(server.create_database())


def _one_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="vpnservice-scale-") as tmp,
        _database(backend, Path(tmp), args.postgres_url) as database_url,
    ):
        data_dir = Path(tmp) / "data"
        seeded = asyncio.run(_seed(data_dir, database_url, args.users, args.nodes))
        print(f"{backend}, {args.users} users: {seeded}", file=sys.stderr, flush=True)
        figures: dict[str, Any] = asyncio.run(_in_process(data_dir, database_url))
        log = Path(tmp) / "bot.log"
        figures |= asyncio.run(_bot_process(data_dir, database_url, log))
        if args.keep_log:
            args.keep_log.write_bytes(log.read_bytes())
    return figures


ROWS = (
    ("reminder and expiry sweep", "sweep_s", "{:.2f} s"),
    ("auto-renewal sweep (fake YooKassa)", "renewal_sweep_s", "{:.3f} s"),
    ("/users page: median", "users_median_ms", "{:.1f} ms"),
    ("/users page: p95", "users_p95_ms", "{:.1f} ms"),
    ("/find: median", "find_median_ms", "{:.1f} ms"),
    ("/find: p95", "find_p95_ms", "{:.1f} ms"),
    ("/find's query: trigram index", "find_query_ms", "{:.1f} ms"),
    ("/find's query: LIKE over every user", "find_query_naive_ms", "{:.1f} ms"),
    ("/stats: median, to its first message", "stats_median_ms", "{:,.0f} ms"),
    ("start-up: spawn to polling", "startup_s", "{:.2f} s"),
    ("RSS when polling starts", "rss_ready_mb", "{:.0f} MB"),
    ("peak RSS after the taps", "rss_peak_mb", "{:.0f} MB"),
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--backends", default=",".join(BACKENDS), help="sqlite,postgresql")
    parser.add_argument("--postgres-url", default="", help="else a throwaway local server")
    parser.add_argument("--keep-log", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    backends = [name for name in args.backends.split(",") if name]
    _compile_bytecode()
    results = {backend: _one_backend(backend, args) for backend in backends}
    load = os.getloadavg()
    print(
        f"$ uv run python -m bench.scale --users {args.users}   ({os.cpu_count()} CPUs, "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at the end)"
    )
    print("| figure | " + " | ".join(backends) + " |")
    print("| --- |" + " --- |" * len(backends))
    for label, key, shape in ROWS:
        cells = [shape.format(results[b][key]) if key in results[b] else "" for b in backends]
        print(f"| {label} | " + " | ".join(cells) + " |")
    ratio = [
        f"{b}: ×{results[b]['find_query_naive_ms'] / results[b]['find_query_ms']:.0f}"
        for b in backends
    ]
    print("/find's query, LIKE over every user slower by " + ", ".join(ratio))


if __name__ == "__main__":
    main()
