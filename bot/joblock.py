"""One runner per scheduled job across bot processes: a PostgreSQL advisory lock per job name
while it runs, and a claim of its interval in the database so it runs once per interval."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import named_lock

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

log = logging.getLogger(__name__)

Job = Callable[..., Awaitable[Any]]
JOB_PREFIX = "job:"
# A run claims its interval when the last run (in any process) started at least this share of
# the interval ago: each process's timer may fire a little late, and one that fires more than
# a tenth of the interval late only skips that turn, which the next one makes up.
CLAIM_SHARE = 0.9
# PostgreSQL's clock decides, so the processes' clocks need not agree; one statement, so two
# processes claiming at once are ordered by the row lock and the second finds the claim made.
CLAIM = text(
    "INSERT INTO job_runs (job, started_at, runs) VALUES (:job, now(), 1) "
    "ON CONFLICT (job) DO UPDATE SET started_at = now(), runs = job_runs.runs + 1 "
    "WHERE job_runs.started_at <= now() - make_interval(secs => :gap) "
    "RETURNING runs"
)


def uses_locks(engine: AsyncEngine) -> bool:
    """Only PostgreSQL serves several bot processes; SQLite is one process by design."""
    return engine.dialect.name == "postgresql"


async def claim_interval(engine: AsyncEngine, name: str, every: timedelta) -> bool:
    """Claim this turn of the job `name` that runs `every` so long; False when a run in any
    process started less than `CLAIM_SHARE` of it ago. The claim is committed at once: a run
    that fails still used its turn, and the next interval tries again."""
    gap = every.total_seconds() * CLAIM_SHARE
    async with engine.begin() as connection:
        runs = await connection.scalar(CLAIM, {"job": name, "gap": gap})
    return runs is not None


async def run_exclusive(
    engine: AsyncEngine,
    name: str,
    job: Callable[[], Awaitable[Any]],
    every: timedelta | None = None,
) -> bool:
    """Run `job` unless another process runs the job `name` now or, for a job that runs
    `every` so long, has run it this interval; True when it ran here.

    The lock is held on a connection of its own while the job runs (see `named_lock`)."""
    async with named_lock(engine, JOB_PREFIX + name) as alone:
        if not alone:
            log.debug("job %s runs in another process: skipped here", name)
            return False
        if every is not None and not await claim_interval(engine, name, every):
            log.debug("job %s ran this interval already: skipped here", name)
            return False
        await job()
    return True


def exclusive(engine: AsyncEngine, name: str, job: Job, every: timedelta | None = None) -> Job:
    """`job` as the scheduler should run it: skipped while another process runs `name` and,
    given `every`, when any process has run it in the last interval."""
    if not uses_locks(engine):
        return job

    @functools.wraps(job)
    async def run(*args: Any, **kwargs: Any) -> None:
        await run_exclusive(engine, name, functools.partial(job, *args, **kwargs), every)

    return run


def exclusive_jobs(scheduler: BaseScheduler, engine: AsyncEngine) -> None:
    """Make every job added to `scheduler` so far exclusive, locked by its job id; an
    interval job also runs once per interval across processes. A job without an interval
    (once at start) runs once in each process, one process at a time."""
    if not uses_locks(engine):
        return
    for job in scheduler.get_jobs():
        every = job.trigger.interval if isinstance(job.trigger, IntervalTrigger) else None
        job.modify(func=exclusive(engine, job.id, job.func, every))
