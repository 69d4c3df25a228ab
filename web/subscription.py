"""GET /sub/{token}: a user's VLESS links as the subscription list the apps import and refresh.

The token is the personal link's: replacing that link (/link) replaces this one. An unknown
token gets 404 and nothing else; the answer carries the headers the apps read (title, refresh
interval, traffic used and the access end)."""

from __future__ import annotations

import base64
import logging
from http import HTTPStatus

from aiohttp import web

from web.context import DEPS

log = logging.getLogger(__name__)

REFRESH_HOURS = 12
TITLE = "vpnservice"


async def subscription(request: web.Request) -> web.StreamResponse:
    deps = request.app[DEPS]
    user = await deps.pages.user_by_link(request.match_info["token"])
    if user is None:
        return web.Response(status=HTTPStatus.NOT_FOUND)
    body, up, down = await deps.vless.subscription_of(user.id)
    expire = int(user.access_until.timestamp()) if user.access_until else 0
    headers = {
        "profile-title": "base64:" + base64.b64encode(TITLE.encode()).decode(),
        "profile-update-interval": str(REFRESH_HOURS),
        "subscription-userinfo": f"upload={up}; download={down}; total=0; expire={expire}",
        "Cache-Control": "no-store",
    }
    return web.Response(text=body, content_type="text/plain", headers=headers)


def register(app: web.Application) -> None:
    app.router.add_get("/sub/{token}", subscription, name="vless.subscription")
