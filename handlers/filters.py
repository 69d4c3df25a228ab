"""Filters shared by handlers: who is an admin or support, and which commands are theirs."""

from __future__ import annotations

from aiogram.filters import CommandObject, Filter

ADMIN_COMMANDS = (
    "add_user",
    "users",
    "nodes",
    "add_node",
    "reconcile",
    "restore_node",
    "accept_host_key",
    "migrate",
    "drain",
    "set_endpoint",
    "foreign",
    "backup",
    "stats",
    "find",
    "user",
    "refund",
    "promo_new",
    "promos",
    "campaign",
    "invite",
    "role",
    "audit",
    "broadcast",
)
# The part of ADMIN_COMMANDS that support may use too; everything else is for admins only.
STAFF_COMMANDS = ("users", "find", "user")


class IsAdmin(Filter):
    """Admins only."""

    async def __call__(self, event: object, is_admin: bool) -> bool:
        return is_admin


class IsStaff(Filter):
    """Admins and support."""

    async def __call__(self, event: object, is_staff: bool) -> bool:
        return is_staff


class RoleRefuses(Filter):
    """After `Command(*ADMIN_COMMANDS)`: the caller's role may not run this command."""

    async def __call__(
        self, event: object, command: CommandObject, is_admin: bool, is_staff: bool
    ) -> bool:
        if is_admin:
            return False
        return not (is_staff and command.command.lower() in STAFF_COMMANDS)
