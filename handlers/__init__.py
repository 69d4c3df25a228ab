"""aiogram routers, in the order they are tried, and the error handlers."""

from __future__ import annotations

from aiogram import Dispatcher, Router
from aiogram.filters import ExceptionTypeFilter

from handlers import (
    admin,
    admin_nodes,
    audit,
    backups,
    broadcast,
    campaigns,
    checkout,
    console,
    devices,
    errors,
    fallback,
    gifts,
    invites,
    link,
    promos,
    refunds,
    roles,
    server,
    start,
    stats,
    status,
    subscribe,
    support,
    support_desk,
    vless,
)
from services.errors import ServiceError

ROUTERS = (
    support_desk.router,  # first: the support forum's messages, and staff replies to users
    devices.router,  # its rename state lets go on any command or button
    invites.router,  # before start: it takes /start inv_<code>
    gifts.router,  # before start: it takes /start gift_<code>
    start.router,
    server.router,
    vless.router,
    status.router,
    subscribe.router,
    checkout.router,
    promos.router,
    campaigns.router,
    link.router,
    refunds.router,
    admin.router,
    admin_nodes.router,
    backups.router,
    stats.router,
    console.router,
    roles.router,
    audit.router,
    broadcast.router,
    support.router,  # after every flow that takes text: in support, other text goes to staff
    fallback.router,
)


def setup(dispatcher: Dispatcher) -> None:
    for router in ROUTERS:
        _detach(router)
    dispatcher.include_routers(*ROUTERS)
    dispatcher.errors.register(errors.service_error, ExceptionTypeFilter(ServiceError))
    dispatcher.errors.register(errors.unexpected_error)


def _detach(router: Router) -> None:
    """Free a module's router from an earlier Dispatcher (tests build one per test)."""
    parent = router.parent_router
    if parent is not None:
        parent.sub_routers.remove(router)
        router._parent_router = None
