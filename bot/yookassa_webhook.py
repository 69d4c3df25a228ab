"""POST /webhooks/yookassa: notifications from YooKassa's addresses, acted on once re-fetched."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence

from aiohttp import web

from payments.base import BadNotification, ProviderError
from payments.sources import address_allowed, parse_networks
from payments.yookassa import parse_notification
from services.payments import PaymentService

log = logging.getLogger(__name__)

PATH = "/webhooks/yookassa"
MAX_BODY = 64 * 1024


def client_address(request: web.Request, trusted_proxies: Sequence[str]) -> str:
    """The sender's address: the peer, or, behind a trusted proxy, the last address in
    X-Forwarded-For that is not one of the trusted proxies."""
    peer = request.remote or ""
    proxies = parse_networks(",".join(trusted_proxies)) if trusted_proxies else ()
    if not proxies or not address_allowed(peer, proxies):
        return peer
    forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed([part for part in forwarded if part]):
        if not address_allowed(hop, proxies):
            return hop
    return peer


def register(
    app: web.Application,
    payments: PaymentService,
    allowed: Sequence[str],
    trusted_proxies: Sequence[str],
) -> None:
    networks = parse_networks(",".join(allowed))

    async def notification(request: web.Request) -> web.Response:
        sender = client_address(request, trusted_proxies)
        if not address_allowed(sender, networks):
            log.warning("YooKassa notification refused from %s", _masked(sender))
            return web.Response(status=403)
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.Response(status=413)
        try:
            event = parse_notification(await request.content.read(MAX_BODY + 1))
        except BadNotification as error:
            log.warning("bad YooKassa notification: %s", error)
            return web.Response(status=400)
        try:
            await payments.on_yookassa_notification(event)
        except ProviderError as error:
            log.warning("YooKassa could not be asked about a notification: %s", error)
            return web.Response(status=503)  # YooKassa sends it again later
        return web.Response(status=200)  # only now: the credit (if any) is committed

    app.router.add_post(PATH, notification)


def _masked(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return "an odd address"
