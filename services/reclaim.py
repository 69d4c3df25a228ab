"""Addresses of users long without access go back to their node's pool; when access returns,
each such device gets a new address and its owner the new config, to import again."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import joinedload

from db.models import AccessKind, Device, User
from services.clientconfig import DeviceConfigs
from services.clock import Clock, system_clock
from services.notifier import Notifier
from services.placement import Placement

log = logging.getLogger(__name__)

DEFAULT_RECLAIM_DAYS = 30


class AddressReclaim:
    """After `days` without access a user's devices give their addresses back (rows and keys
    stay); `restore` gives them new ones when access returns."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        placement: Placement,
        configs: DeviceConfigs,
        *,
        days: int = DEFAULT_RECLAIM_DAYS,
        clock: Clock = system_clock,
        notifier: Notifier | None = None,
    ) -> None:
        self._sessions = sessions
        self._placement = placement
        self._configs = configs
        self.days = days
        self._clock = clock
        self.notifier = notifier

    async def run(self) -> int:
        """Take the addresses of users without access for `days` (banned, revoked or ended);
        returns how many devices gave theirs back. Since when a user is without access is the
        end of their access when it ran out, else when this pass first saw them without it."""
        now = self._clock()
        lacking = or_(
            User.banned.is_(True),
            User.access_kind == AccessKind.NONE,
            and_(User.access_until.is_not(None), User.access_until <= now),
        )
        addressed = select(Device.user_id).where(Device.address4.is_not(None))
        async with self._sessions.begin() as session:
            users = (
                await session.scalars(
                    select(User)
                    .where(User.id.in_(addressed))
                    .where(or_(lacking, User.no_access_since.is_not(None)))
                    .with_for_update()
                )
            ).all()
            due = []
            for user in users:
                if not user.banned and user.access_running(now):
                    user.no_access_since = None
                    continue
                if user.no_access_since is None:
                    ran_out = user.access_kind is not AccessKind.NONE and not user.banned
                    user.no_access_since = user.access_until if ran_out else now
                assert user.no_access_since is not None
                if user.no_access_since <= now - timedelta(days=self.days):
                    due.append(user.id)
            if not due:
                return 0
            given = await session.execute(
                update(Device)
                .where(Device.user_id.in_(due), Device.address4.is_not(None))
                .values(address4=None, address6=None)
            )
        count = int(given.rowcount)  # type: ignore[attr-defined]
        log.info("addresses of %d devices of %d users given back", count, len(due))
        return count

    async def restore(self, user_id: int) -> int:
        """A user with access again: each of their devices without an address gets one, and
        the user its new config with the word to import it again. Returns how many; a device
        that finds no room stays without one (/get_config tries again and says why)."""
        async with self._sessions() as session:
            user = await session.get(User, user_id)
        if user is None or not user.has_access(self._clock()):
            return 0
        if user.no_access_since is not None:
            async with self._sessions.begin() as session:
                await session.execute(
                    update(User).where(User.id == user_id).values(no_access_since=None)
                )
        trial = user.access_kind is AccessKind.TRIAL
        device_ids, _ = await self._placement.readdress(user_id, trial=trial)
        for device_id in device_ids:
            async with self._sessions() as session:
                device = await session.get_one(Device, device_id, options=[joinedload(Device.node)])
            if self.notifier is not None:
                await self.notifier.send_config(
                    user_id,
                    self._configs.config(device),
                    "readdressed-notice",
                    node=device.node.name,
                )
        return len(device_ids)
