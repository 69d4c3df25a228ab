"""Periodic work in the bot's own event loop: probes, reconcile, backups, money, reminders,
nudges and the round trips to games."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.container import Services
from bot.database_watch import DatabaseWatch, is_outage
from bot.joblock import exclusive_jobs
from bot.metrics import JOB_RUNS, record_game_round_trips, record_probes, record_reconciles

log = logging.getLogger(__name__)


def create_scheduler(services: Services) -> AsyncIOScheduler:
    """Jobs only trigger; what is due is read from the database and the nodes each time."""
    settings = services.settings
    scheduler = AsyncIOScheduler(job_defaults={"coalesce": True, "max_instances": 1})

    async def probe_nodes() -> None:
        record_probes(await services.health.probe_all())
        await services.vless.count_traffic()
        await services.traffic.enforce()  # the probes just refreshed the traffic counters

    async def reconcile_nodes() -> None:
        record_reconciles(await services.reconcile.reconcile_all())

    async def measure_games() -> None:
        record_game_round_trips(await services.game_pings.measure_all())

    # the first probe runs at start: its connections reconcile every node with the database
    scheduler.add_job(
        probe_nodes,
        "interval",
        seconds=settings.health_interval,
        next_run_time=datetime.now(UTC),
        id="probe",
    )
    scheduler.add_job(
        reconcile_nodes, "interval", seconds=settings.reconcile_interval, id="reconcile"
    )
    scheduler.add_job(services.reminders.run, "interval", seconds=60, id="reminders")
    scheduler.add_job(services.reclaim.run, "interval", hours=1, id="reclaim")
    # support copies Telegram did not take (an outage, a restart): from the start, then again
    scheduler.add_job(
        services.support.retry,
        "interval",
        seconds=60,
        next_run_time=datetime.now(UTC),
        id="support_retry",
    )
    scheduler.add_job(services.nudges.run, "interval", minutes=10, id="nudges")
    if services.game_pings.enabled:
        scheduler.add_job(
            measure_games,
            "interval",
            seconds=settings.game_ping_interval,
            next_run_time=datetime.now(UTC) + timedelta(seconds=30),  # after the first probes
            id="game_pings",
        )
    # once at start: users moved by a /migrate or /drain cut short by a crash get their config
    scheduler.add_job(services.moves.send_due_notices, id="move_notices")
    if services.payments.enabled:
        scheduler.add_job(
            services.payments.check_pending, "interval", seconds=180, id="pending_payments"
        )
    if services.payments.yookassa_enabled:
        scheduler.add_job(
            services.payments.charge_renewals, "interval", seconds=900, id="auto_renewal"
        )
    if settings.backup_interval_hours > 0:
        scheduler.add_job(
            services.backups.run_scheduled,
            "interval",
            hours=settings.backup_interval_hours,
            next_run_time=services.backups.next_due(
                timedelta(hours=settings.backup_interval_hours)
            ),
            id="backup",
        )
    for job in scheduler.get_jobs():
        job.modify(func=_counted(job.id, job.func))
    exclusive_jobs(scheduler, services.engine)  # PostgreSQL: one process runs each job a turn
    for job in scheduler.get_jobs():
        job.modify(func=_quiet(job.id, job.func, services.database))
    return scheduler


def _counted(name: str, job: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[Any]]:
    """The job counting its runs in this process (`vpnservice_job_runs_total`)."""

    @functools.wraps(job)
    async def run() -> Any:
        JOB_RUNS.labels(name).inc()
        return await job()

    return run


def _quiet(
    name: str, job: Callable[[], Awaitable[Any]], database: DatabaseWatch
) -> Callable[[], Awaitable[Any]]:
    """A job cut off by the scheduler's shutdown ends with one log line, not a traceback: all
    jobs derive their work from the database, so the next start picks it up. While the
    database is away jobs skip their turn, and one that meets the outage tells the watch,
    which says it once."""

    @functools.wraps(job)
    async def run() -> Any:
        if not database.up:
            log.debug("job %s skipped: the database is away", name)
            return None
        try:
            return await job()
        except asyncio.CancelledError:
            log.info("job %s stopped by the shutdown", name)
            return None
        except Exception as error:
            if not is_outage(error):
                raise
            database.lost(error)
            return None

    return run
