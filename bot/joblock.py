"""One runner per scheduled job across bot processes: a PostgreSQL advisory lock per job name."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import named_lock

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

log = logging.getLogger(__name__)

Job = Callable[..., Awaitable[Any]]
JOB_PREFIX = "job:"


def uses_locks(engine: AsyncEngine) -> bool:
    """Only PostgreSQL serves several bot processes; SQLite is one process by design."""
    return engine.dialect.name == "postgresql"


async def run_exclusive(engine: AsyncEngine, name: str, job: Callable[[], Awaitable[Any]]) -> bool:
    """Run `job` unless another process runs the job `name` now; True when it ran here.

    The lock is held on a connection of its own while the job runs (see `named_lock`)."""
    async with named_lock(engine, JOB_PREFIX + name) as alone:
        if not alone:
            log.debug("job %s runs in another process: skipped here", name)
            return False
        await job()
    return True


def exclusive(engine: AsyncEngine, name: str, job: Job) -> Job:
    """`job` as the scheduler should run it: skipped while another process runs `name`."""
    if not uses_locks(engine):
        return job

    @functools.wraps(job)
    async def run(*args: Any, **kwargs: Any) -> None:
        await run_exclusive(engine, name, functools.partial(job, *args, **kwargs))

    return run


def exclusive_jobs(scheduler: BaseScheduler, engine: AsyncEngine) -> None:
    """Make every job added to `scheduler` so far exclusive, locked by its job id."""
    if not uses_locks(engine):
        return
    for job in scheduler.get_jobs():
        job.modify(func=exclusive(engine, job.id, job.func))
