"""The audit log: who did what to whom and when, written with the change it describes."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import AuditEntry
from services.clock import Clock, system_clock

DETAILS_MAX = 300


class AuditAction(enum.StrEnum):
    ADD_USER = "add_user"
    GRANT = "grant"
    EXTEND = "extend"
    REVOKE = "revoke"
    BAN = "ban"
    UNBAN = "unban"
    RESET_DEVICES = "reset_devices"
    MESSAGE = "message"
    ROLE = "role"
    INVITE = "invite"
    ADD_NODE = "add_node"
    RESTORE_NODE = "restore_node"
    MIGRATE = "migrate"
    DRAIN = "drain"
    RECONCILE = "reconcile"
    BROADCAST = "broadcast"
    BROADCAST_STOP = "broadcast_stop"
    REFUND = "refund"
    SET_ENDPOINT = "set_endpoint"
    SSH_KEY_ROTATE = "ssh_key_rotate"
    DB_RESTORE = "db_restore"
    REMOVE_FOREIGN = "remove_foreign"
    ACCEPT_HOST_KEY = "accept_host_key"
    PROMO_NEW = "promo_new"
    CAMPAIGN_NEW = "campaign_new"
    PROMO_TWICE = "promo_twice"  # a payment credited at a discount another payment took


OPERATOR = 0  # the actor of what the operator does with `python main.py` (the CLI)


def record(
    session: AsyncSession,
    at: Clock,
    actor_id: int,
    action: AuditAction,
    target: object = "",
    details: str = "",
) -> None:
    """Add an entry to the caller's transaction, so it commits or rolls back with the change."""
    session.add(
        AuditEntry(
            at=at(),
            actor_id=actor_id,
            action=action.value,
            target=str(target)[:64],
            details=details[:DETAILS_MAX],
        )
    )


class AuditService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock = system_clock):
        self._sessions = sessions
        self._clock = clock

    async def write(
        self, actor_id: int, action: AuditAction, target: object = "", details: str = ""
    ) -> None:
        """An entry of its own, for actions whose changes another service already committed."""
        async with self._sessions.begin() as session:
            record(session, self._clock, actor_id, action, target, details)

    async def count(self) -> int:
        async with self._sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)

    async def page(self, offset: int, limit: int) -> Sequence[AuditEntry]:
        """Newest first."""
        async with self._sessions() as session:
            query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            return (await session.scalars(query.offset(offset).limit(limit))).all()
