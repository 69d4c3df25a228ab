"""POST /webhooks/yookassa: notifications from YooKassa's addresses, acted on once re-fetched."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Sequence

from aiohttp import StreamReader, web

from payments.base import BadNotification, ProviderError
from payments.sources import address_allowed, parse_networks
from payments.yookassa import parse_notification
from services.payments import PaymentService

log = logging.getLogger(__name__)

PATH = "/webhooks/yookassa"
MAX_BODY = 64 * 1024
BODY_SECONDS = 10.0  # a body dripped slower than this is cut off (YooKassa sends it again)


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
            async with asyncio.timeout(BODY_SECONDS):
                body = await read_bounded(request.content, MAX_BODY)
        except BodyTooLarge:
            log.warning("YooKassa notification over %d bytes refused", MAX_BODY)
            return web.Response(status=413)
        except TimeoutError:
            log.warning("YooKassa notification body not read within %.0f s", BODY_SECONDS)
            return web.Response(status=408)
        try:
            event = parse_notification(body)
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


class BodyTooLarge(Exception):
    """A request body longer than the bound."""


async def read_bounded(stream: StreamReader, limit: int) -> bytes:
    """The whole body, however it is chunked; BodyTooLarge as soon as it passes `limit`."""
    body = bytearray()
    while chunk := await stream.read(limit + 1 - len(body)):
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge()
    return bytes(body)


def _masked(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return "an odd address"
