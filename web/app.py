"""The personal page on the bot's aiohttp server: its routes, behind the guard."""

from __future__ import annotations

from aiohttp import web

from web.context import DEPS, PageDeps
from web.guard import guard
from web.render import ENVIRONMENT
from web.routes import register
from web.subscription import register as register_subscription


def setup(app: web.Application, deps: PageDeps) -> None:
    """Serve the page on `app`: GET /app, POST /app/auth, GET /u/{token} and the rest, and
    the VLESS subscription GET /sub/{token}."""
    app[DEPS] = deps
    app.middlewares.append(guard)
    register(app)
    register_subscription(app)
    for name in ENVIRONMENT.list_templates():
        ENVIRONMENT.get_template(name)  # compiled now, not on a user's first visit
