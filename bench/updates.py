"""Updates per second through the dispatcher on a plain handler (/help): one webhook process on
SQLite, then one and two `python main.py` on one PostgreSQL behind a round-robin, with the
fake Bot API answering; also the CPU each side spent per update."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import URL as DatabaseUrl

from tests.fakes.telegram_api import FakeTelegram, JsonDict, UploadedFile
from tests.postgres import PostgresServer, debian_binaries, local_server
from tests.test_webhook import SECRET, URL, BotProcess

FIRST_USER = 600_000
TICKS = os.sysconf("SC_CLK_TCK")


class AnsweringTelegram(FakeTelegram):
    """The fake Bot API that also wakes whoever waits for a chat's next message."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting: dict[int, asyncio.Future[None]] = {}

    def _send_message(self, params: JsonDict, files: dict[str, UploadedFile]) -> JsonDict:
        message = super()._send_message(params, files)
        waiter = self.waiting.pop(int(params["chat_id"]), None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return message


def cpu_seconds(pid: int) -> float:
    """User and system CPU of one process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def children_of(parent: int) -> Iterator[int]:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            yield int(stat.parent.name)


@dataclass
class Postgres:
    """The PostgreSQL server's CPU: the postmaster and every backend it forked."""

    data_dir: Path | None = None
    seen: dict[int, float] = field(default_factory=dict)

    def sample(self) -> float:
        if self.data_dir is None:
            return 0.0
        postmaster = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        for pid in (postmaster, *children_of(postmaster)):
            with contextlib.suppress(OSError):  # a backend that ended keeps its last sample
                self.seen[pid] = cpu_seconds(pid)
        return sum(self.seen.values())


async def drive(
    telegram: AnsweringTelegram,
    urls: list[str],
    users: int,
    warmup: float,
    seconds: float,
    mark: Callable[[], None],
) -> tuple[int, float]:
    """`users` chats each send /help, wait for the answer and send again; updates go to the
    processes in turn. `mark` is called when the window starts, after the warm-up. Returns
    the answers counted in the window and its length."""
    turn = itertools.count()
    answered = 0
    counting = False
    stop_at = time.monotonic() + warmup + seconds
    connector = aiohttp.TCPConnector(limit=0)
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
    update_ids = itertools.count(1)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def chat(user_id: int) -> None:
            nonlocal answered
            user = telegram.user(user_id, first_name=f"Bench {user_id}")
            while time.monotonic() < stop_at:
                update = telegram.text_update(user, "/help")
                update["update_id"] = next(update_ids)
                answer = asyncio.get_running_loop().create_future()
                telegram.waiting[user_id] = answer
                url = urls[next(turn) % len(urls)]
                async with session.post(url, data=json.dumps(update), headers=headers) as posted:
                    await posted.read()
                    if posted.status != 200:
                        raise RuntimeError(f"{url} answered {posted.status}")
                await asyncio.wait_for(answer, 60)
                if counting:
                    answered += 1

        chats = [asyncio.create_task(chat(FIRST_USER + index)) for index in range(users)]
        await asyncio.sleep(warmup)
        counting = True
        mark()
        started = time.monotonic()
        await asyncio.gather(*chats)
        return answered, time.monotonic() - started


async def ready(telegram: AnsweringTelegram, processes: list[BotProcess]) -> None:
    """Until every process registered its webhook and answers a /help."""
    deadline = time.monotonic() + 240
    while sum(call.method == "setWebhook" for call in telegram.calls) < len(processes):
        if time.monotonic() > deadline or any(p.process.poll() is not None for p in processes):
            raise RuntimeError("a bot process did not start: see its log")
        await asyncio.sleep(0.2)
    for index, process in enumerate(processes):
        user_id = FIRST_USER - 1 - index
        while True:
            status = await telegram.post_update(
                process.webhook, telegram.text_update(telegram.user(user_id), "/help"), SECRET
            )
            if status == 200:
                break
            await asyncio.sleep(0.2)
        await telegram.wait_sent(user_id, 1, timeout=60)


async def measure(
    name: str, count: int, database_url: str, postgres: Postgres, args: argparse.Namespace
) -> dict[str, Any]:
    telegram = AnsweringTelegram()
    await telegram.start()
    settings = {
        "BOT_MODE": "webhook",
        "WEBHOOK_URL": URL,
        "WEBHOOK_SECRET": SECRET,
        "THROTTLE_RATE": "0",  # one chat sends as fast as it is answered
        "HEALTH_INTERVAL": "3600",
        "LOG_LEVEL": "WARNING",
    }
    if database_url:
        settings["DATABASE_URL"] = database_url
    processes: list[BotProcess] = []
    with tempfile.TemporaryDirectory(prefix=f"bench-updates-{name}-") as scratch:
        try:
            for index in range(count):
                home = Path(scratch) / str(index)
                home.mkdir()
                processes.append(BotProcess(home, telegram, **settings))
            await ready(telegram, processes)
            pids = [p.process.pid for p in processes]
            before: dict[str, float] = {}

            def mark() -> None:
                before["bots"] = sum(cpu_seconds(pid) for pid in pids)
                before["database"] = postgres.sample()
                before["own"] = time.process_time()

            answered, took = await drive(
                telegram,
                [p.webhook for p in processes],
                args.users,
                args.warmup,
                args.seconds,
                mark,
            )
            bots = sum(cpu_seconds(pid) for pid in pids) - before["bots"]
            database = postgres.sample() - before["database"]
            own = time.process_time() - before["own"]
            load = os.getloadavg()[0]  # the machine's other work shares its cores with us
            for process in processes:
                if process.stop() != 0:
                    raise RuntimeError(f"bot process exited badly: {process.log}")
                if "Traceback" in process.log.read_text():
                    raise RuntimeError(f"a traceback in {process.log}")
        finally:
            for process in processes:
                process.kill()
            await telegram.close()
    return {
        "setup": name,
        "processes": count,
        "updates_per_s": answered / took,
        "answered": answered,
        "bot_cpu_ms_per_update": 1000 * bots / answered,
        "bots_cores": bots / took,  # how much CPU the bots got: the rest went to other work
        "database_cpu_ms_per_update": 1000 * database / answered,
        "load_cpu_ms_per_update": 1000 * own / answered,
        "load_average": load,
    }


def _print(rows: list[dict[str, Any]]) -> None:
    one = next((row for row in rows if row["setup"] == "postgresql-1"), None)
    print(
        "| setup | updates/s | vs one on PostgreSQL | CPU ms per update: bots, PostgreSQL, "
        "load generator and fake Bot API | cores the bots got | load average |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        ratio = f"×{row['updates_per_s'] / one['updates_per_s']:.2f}" if one else ""
        print(
            f"| {row['setup']} | {row['updates_per_s']:.1f} | {ratio} | "
            f"{row['bot_cpu_ms_per_update']:.1f}, {row['database_cpu_ms_per_update']:.1f}, "
            f"{row['load_cpu_ms_per_update']:.1f} | {row['bots_cores']:.2f} | "
            f"{row['load_average']:.1f} |"
        )


async def main(args: argparse.Namespace) -> None:
    rows = [await measure("sqlite-1", 1, "", Postgres(), args)]
    binaries = debian_binaries()
    if binaries is None:
        sys.exit("PostgreSQL: install Debian's postgresql package")
    with local_server(binaries) as admin:  # as the tests run it: fsync off
        server = PostgresServer(admin)
        postgres = Postgres(Path(await fetch(admin, "SHOW data_directory")))
        for count in (1, 2):
            database = server.create_database()
            url = server.url(database)
            rows.append(await measure(f"postgresql-{count}", count, url, postgres, args))
    _print(rows)
    print(json.dumps(rows, indent=2))


async def fetch(admin: DatabaseUrl, sql: str) -> Any:
    connection = await asyncpg.connect(
        admin.set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        return await connection.fetchval(sql)
    finally:
        await connection.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30, help="the measured window")
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--users", type=int, default=32, help="chats sending at once")
    asyncio.run(main(parser.parse_args()))
