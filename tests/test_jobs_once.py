"""Each interval job runs once per interval across bot processes on one PostgreSQL: timers in
two processes fire at different moments, and the run that comes second in an interval finds
it claimed (a row per job in `job_runs`) and skips; when the runner stops, the other takes over."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import text

from bot.joblock import claim_interval, exclusive, run_exclusive
from db.engine import create_engine
from db.migrate import upgrade
from tests.fakes.telegram_api import FakeTelegram
from tests.test_webhook import SECRET, URL, BotProcess

INTERVAL = 4  # HEALTH_INTERVAL: the probe job's interval, seconds
WINDOW = 24  # seconds both processes run side by side, six intervals


async def probe_runs(process: BotProcess) -> int:
    """The probe job's runs in this process, as Prometheus reads them from /metrics."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{process.port}/metrics") as answer,
    ):
        body = await answer.text()
    found = re.search(r'^vpnservice_job_runs_total\{job="probe"\} (\S+)$', body, re.M)
    return int(float(found.group(1))) if found else 0


async def stored_runs(url: str, job: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            runs = await connection.scalar(
                text("SELECT runs FROM job_runs WHERE job = :job"), {"job": job}
            )
    finally:
        await engine.dispose()
    return int(runs or 0)


async def test_two_processes_run_the_probe_once_per_interval_and_one_takes_over(
    tmp_path: Path, telegram: FakeTelegram, postgres_url: str
) -> None:
    settings = {
        "DATABASE_URL": postgres_url,
        "BOT_MODE": "webhook",
        "WEBHOOK_URL": URL,
        "WEBHOOK_SECRET": SECRET,
        "HEALTH_INTERVAL": str(INTERVAL),
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = BotProcess(tmp_path / "a", telegram, **settings)
    processes = [a]
    try:
        await telegram.wait_for(lambda c: c.method == "setWebhook", timeout=180)
        await asyncio.sleep(INTERVAL / 2)  # the second process's timer fires half a turn later
        b = BotProcess(tmp_path / "b", telegram, **settings)
        processes.append(b)
        deadline = time.monotonic() + 180
        while sum(c.method == "setWebhook" for c in telegram.calls) < 2:
            assert time.monotonic() < deadline, "the second process should start"
            await asyncio.sleep(0.2)
        await asyncio.sleep(INTERVAL)  # b's start probe and a's timer both had their turn

        before = [await probe_runs(p) for p in processes]
        await asyncio.sleep(WINDOW)
        after = [await probe_runs(p) for p in processes]
        ran = [end - start for start, end in zip(before, after, strict=True)]
        turns = WINDOW // INTERVAL
        # each process's timer fired about `turns` times: twice that without the claims
        assert turns - 1 <= sum(ran) <= turns + 1, f"probe runs per process in {WINDOW} s: {ran}"
        stored = await stored_runs(postgres_url, "probe")
        later = [await probe_runs(p) for p in processes]  # a turn may come between the reads
        assert sum(after) <= stored <= sum(later), "the database agrees"

        # the process that ran the probe stops: the other one takes the turns over
        runner, other = (a, b) if ran[0] >= ran[1] else (b, a)
        assert runner.stop() == 0
        taken = await probe_runs(other)
        await asyncio.sleep(3 * INTERVAL)
        assert await probe_runs(other) - taken >= 2, "the remaining process runs the probe"
        assert other.stop() == 0
    finally:
        for process in processes:
            process.kill()
    for process in processes:
        assert "Traceback" not in process.log.read_text(), process.log.read_text()[-3000:]


async def test_a_run_claims_its_interval_and_the_next_interval_runs_again(
    postgres_url: str,
) -> None:
    first, second = create_engine(postgres_url), create_engine(postgres_url)  # two processes
    await upgrade(first)
    runs: list[str] = []

    async def job() -> None:
        runs.append("ran")

    try:
        every = timedelta(seconds=1)
        assert await run_exclusive(first, "reminders", job, every) is True
        assert await run_exclusive(second, "reminders", job, every) is False, "claimed"
        assert await claim_interval(second, "probe", every) is True, "each job its own claim"
        await asyncio.sleep(every.total_seconds())
        assert await exclusive(second, "reminders", job, every)() is None
        assert runs == ["ran", "ran"], "the next interval runs, in whichever process"
        assert await stored_runs(postgres_url, "reminders") == 2
        # a job without an interval (once at start) is only kept from running twice at once
        assert await run_exclusive(second, "move_notices", job) is True
        assert await run_exclusive(first, "move_notices", job) is True
    finally:
        await first.dispose()
        await second.dispose()
