"""Filters shared by handlers: who is an admin, and which commands are theirs."""

from __future__ import annotations

from aiogram.filters import Filter

ADMIN_COMMANDS = (
    "add_user",
    "users",
    "nodes",
    "add_node",
    "reconcile",
    "restore_node",
    "migrate",
    "drain",
)


class IsAdmin(Filter):
    async def __call__(self, event: object, is_admin: bool) -> bool:
        return is_admin
