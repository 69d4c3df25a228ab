"""Grace: for GRACE_DAYS after access runs out, a user's devices stay on their nodes but reach
only Telegram, the personal page and the node's DNS servers, so a user whose ISP blocks Telegram
can still renew; a payment ends it at once, and after it the devices go as without grace. A
WireGuard peer is limited by the node's firewall (nodes.firewall), a VLESS device by its Xray's
routing (nodes.xray_grace)."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from db.models import AccessKind, User
from nodes.grace_layout import MAX_ALLOWED, host, network
from nodes.xray_grace import GraceRoutes

log = logging.getLogger(__name__)

# Telegram's published ranges, https://core.telegram.org/resources/cidr.txt, in its order
# (unchanged between the 2024-04-26 and 2024-08-23 copies of it, Last-Modified 2021-10-01).
# Lists that add 95.161.64.0/20 or 5.28.192.0/21 do not have them from Telegram.
TELEGRAM_NETWORKS: tuple[str, ...] = (
    "91.108.56.0/22",
    "91.108.4.0/22",
    "91.108.8.0/22",
    "91.108.16.0/22",
    "91.108.12.0/22",
    "149.154.160.0/20",
    "91.105.192.0/23",
    "91.108.20.0/22",
    "185.76.151.0/24",
    "2001:b28:f23d::/48",
    "2001:b28:f23f::/48",
    "2001:67c:4e8::/48",
    "2001:b28:f23c::/48",
    "2a0a:f280::/32",
)
RESOLVE_TIMEOUT = 5.0
RESOLVED_FOR = 300.0  # seconds the page's addresses are reused before they are asked again
UNRESOLVED_FOR = 60.0  # after a failed lookup: the last good addresses meanwhile

Resolver = Callable[[str], Awaitable[Sequence[str]]]


def parse_ranges(text: str) -> tuple[str, ...]:
    """GRACE_RANGES: comma-separated networks or addresses, none of them everything (/0)."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise ValueError("name at least one network, e.g. 91.108.4.0/22, 2001:67c:4e8::/48")
    if len(items) > MAX_ALLOWED:
        raise ValueError(f"at most {MAX_ALLOWED} networks")
    out = []
    for item in items:
        try:
            out.append(str(network(item, "network")))
        except ValueError:
            raise ValueError(
                f"{item[:50]!r} is not a network without host bits (e.g. 91.108.4.0/22), "
                "or it is 0.0.0.0/0 or ::/0, which would open everything"
            ) from None
    return tuple(out)


def dns_servers(text: str) -> tuple[str, ...]:
    """The node's DNS servers (as its clients' configs carry them) that a rule can name."""
    out = []
    for item in text.split(","):
        try:
            out.append(str(host(item, "DNS server")))
        except ValueError:
            continue
    return tuple(out)


async def resolve_host(name: str) -> tuple[str, ...]:
    """The addresses `name` resolves to here; OSError or TimeoutError when it does not."""
    async with asyncio.timeout(RESOLVE_TIMEOUT):
        infos = await asyncio.get_running_loop().getaddrinfo(name, 443, type=socket.SOCK_STREAM)
    return tuple(sorted({str(info[4][0]) for info in infos}))


class Grace:
    """Who is in grace and until when, and where their devices may go meanwhile."""

    def __init__(
        self,
        days: int,
        ranges: Iterable[str] = TELEGRAM_NETWORKS,
        page_url: str | None = None,
        resolve: Resolver = resolve_host,
    ) -> None:
        self.days = days
        self._ranges = tuple(ranges)
        self._page_host = urlsplit(page_url).hostname if page_url else None
        self._resolve = resolve
        self._page: tuple[str, ...] = ()
        self._page_due = 0.0  # time.monotonic() when the page's host is to be asked again

    @property
    def period(self) -> timedelta:
        return timedelta(days=self.days)

    def until(self, user: User) -> datetime | None:
        """When grace ends for access that runs or ran out at its end date; None for access
        without an end, none at all, taken away (revoked) or a banned user, or grace off."""
        if (
            self.days == 0
            or user.banned
            or user.access_kind is AccessKind.NONE
            or user.access_until is None
        ):
            return None
        return user.access_until + self.period

    def holds(self, user: User, now: datetime) -> bool:
        """The user's access ran out and their grace has not."""
        end = self.until(user)
        return end is not None and user.access_until is not None and user.access_until <= now < end

    async def allowed(self) -> tuple[str, ...]:
        """GRACE_RANGES and the addresses of the personal page's host (asked every few
        minutes; while a lookup fails, the last addresses it gave)."""
        if self._page_host is not None and time.monotonic() >= self._page_due:
            try:
                found = await self._resolve(self._page_host)
            except (OSError, TimeoutError) as error:
                log.warning("grace: cannot resolve %s: %s", self._page_host, type(error).__name__)
                self._page_due = time.monotonic() + UNRESOLVED_FOR
            else:
                self._page = tuple(_usable(found))
                self._page_due = time.monotonic() + RESOLVED_FOR
        return self._ranges + self._page

    async def routes(self, node_dns: str) -> GraceRoutes:
        """Where a VLESS device in grace on a node may go: allowed() and the node's DNS
        servers, as its Xray routes them (nodes.xray_grace)."""
        return GraceRoutes.build((*await self.allowed(), *dns_servers(node_dns)))


def _usable(addresses: Iterable[str]) -> Iterable[str]:
    """Addresses a rule can name (a link-local one with its %scope cannot)."""
    for address in addresses:
        try:
            yield str(network(address, "page address"))
        except ValueError:
            continue
