"""Periodic work in the bot's own event loop: node probes, reconcile passes, backups."""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.container import Services
from bot.metrics import record_probes, record_reconciles

log = logging.getLogger(__name__)


def create_scheduler(services: Services) -> AsyncIOScheduler:
    """Jobs only trigger; what is due is read from the database and the nodes each time."""
    settings = services.settings
    scheduler = AsyncIOScheduler(job_defaults={"coalesce": True, "max_instances": 1})

    async def probe_nodes() -> None:
        record_probes(await services.health.probe_all())

    async def reconcile_nodes() -> None:
        record_reconciles(await services.reconcile.reconcile_all())

    scheduler.add_job(probe_nodes, "interval", seconds=settings.health_interval, id="probe")
    scheduler.add_job(
        reconcile_nodes, "interval", seconds=settings.reconcile_interval, id="reconcile"
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
    return scheduler
