"""The aiohttp server next to the bot: /healthz for the process, /metrics for Prometheus."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.metrics import REGISTRY

log = logging.getLogger(__name__)


def create_web_app(
    engine: AsyncEngine, refresh: Callable[[], Awaitable[None]] | None = None
) -> web.Application:
    """/healthz, and /metrics, which first awaits `refresh` (the totals read from the
    database); the other metrics are still served when that fails."""

    async def healthz(_: web.Request) -> web.Response:
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:  # any database failure means unhealthy
            return web.json_response({"status": "database unavailable"}, status=503)
        return web.json_response({"status": "ok"})

    async def metrics(_: web.Request) -> web.Response:
        if refresh is not None:
            try:
                await refresh()
            except Exception as error:  # the database is away: the rest is still worth a scrape
                log.warning("metrics: the database totals were not read (%s)", type(error).__name__)
        body = generate_latest(REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


async def start_web(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Serve `app` on host:port; OSError (the port taken, say) leaves nothing running."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError:
        await runner.cleanup()
        raise
    return runner
