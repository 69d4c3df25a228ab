"""Users: who talked to the bot, their language, role and access."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import AccessKind, Role, User
from services.audit import AuditAction, record
from services.clock import Clock, system_clock
from services.errors import InvalidInput, UserNotFound
from services.notifier import Notifier

MAX_GRANT_DAYS = 3650
ACCESS_REQUEST_INTERVAL = timedelta(hours=12)
TELEGRAM_ID_MAX = 2**52


@dataclass(frozen=True, slots=True)
class Visitor:
    """What an update tells about its sender."""

    id: int
    first_name: str
    username: str | None
    language: str


class UserService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        admin_ids: frozenset[int],
        clock: Clock = system_clock,
        support_ids: frozenset[int] = frozenset(),
        notifier: Notifier | None = None,
    ) -> None:
        self._sessions = sessions
        self._admin_ids = admin_ids
        self._support_ids = support_ids
        self.clock = clock
        self.notifier = notifier

    async def touch(self, visitor: Visitor) -> User:
        """Create or refresh the user behind an update and return them."""
        try:
            return await self._touch(visitor)
        except IntegrityError:  # PostgreSQL: their other update inserted them just now
            return await self._touch(visitor)

    async def _touch(self, visitor: Visitor) -> User:
        now = self.clock()
        async with self._sessions.begin() as session:
            user = await session.get(User, visitor.id)
            if user is None:
                user = User(
                    id=visitor.id,
                    language=visitor.language,
                    language_chosen=False,
                    role=Role.USER,
                    access_kind=AccessKind.NONE,
                    started=False,
                    created_at=now,
                )
                session.add(user)
            user.first_name = visitor.first_name[:128]
            user.username = visitor.username[:64] if visitor.username else None
            if not user.language_chosen:
                user.language = visitor.language
            if visitor.id in self._admin_ids:
                user.role = Role.ADMIN
                if user.access_kind is AccessKind.NONE:
                    user.access_kind, user.access_until = AccessKind.INVITE, None
            user.last_seen_at = now
            user.bot_blocked_at = None  # writing to the bot means it is not blocked
        return user

    def is_admin(self, user: User) -> bool:
        return user.id in self._admin_ids or user.role is Role.ADMIN

    def role_of(self, user: User) -> Role:
        """The role in effect: ADMIN_IDS and SUPPORT_IDS from the settings outrank the database."""
        if self.is_admin(user):
            return Role.ADMIN
        if user.id in self._support_ids or user.role is Role.SUPPORT:
            return Role.SUPPORT
        return Role.USER

    def role_from_settings(self, user_id: int) -> Role | None:
        """The role the settings give, which no chat command can change."""
        if user_id in self._admin_ids:
            return Role.ADMIN
        return Role.SUPPORT if user_id in self._support_ids else None

    async def admins(self) -> Sequence[User]:
        """Admins who have talked to the bot (only they can be sent a message)."""
        async with self._sessions() as session:
            query = select(User).where((User.role == Role.ADMIN) | User.id.in_(self._admin_ids))
            return (await session.scalars(query.order_by(User.id))).all()

    async def get(self, user_id: int) -> User | None:
        async with self._sessions() as session:
            return await session.get(User, user_id)

    async def mark_started(self, user_id: int) -> None:
        async with self._sessions.begin() as session:
            user = await session.get(User, user_id)
            if user is not None:
                user.started = True

    async def request_access(self, user_id: int) -> bool:
        """Record a request for access and send it to the admins with buttons that grant it;
        False when it was asked less than ACCESS_REQUEST_INTERVAL ago (nothing is sent)."""
        now = self.clock()
        async with self._sessions.begin() as session:
            user = await session.get(User, user_id, with_for_update=True)
            if user is None or user.has_access(now):
                return False
            last = user.access_requested_at
            if last is not None and now - last < ACCESS_REQUEST_INTERVAL:
                return False
            user.access_requested_at = now
        if self.notifier is not None:
            await self.notifier.to_admins(
                "admin-access-request",
                grant_user_id=user.id,
                name=user.display_name,
                username=f"@{user.username}" if user.username else "",
                id=str(user.id),
            )
        return True

    async def set_language(self, user_id: int, language: str) -> None:
        async with self._sessions.begin() as session:
            user = await session.get(User, user_id)
            if user is not None:
                user.language = language
                user.language_chosen = True

    async def grant(
        self,
        user_id: int,
        days: int | None,
        *,
        create: bool = False,
        actor_id: int | None = None,
        action: AuditAction = AuditAction.GRANT,
    ) -> User:
        """Give invite access for `days` (None: without end), counted from the later of now
        and the current end; `create` adds a user who has not talked to the bot yet; an
        `actor_id` writes the audit entry in the same transaction."""
        if not 0 < user_id < TELEGRAM_ID_MAX:
            raise InvalidInput()
        if days is not None and not 0 < days <= MAX_GRANT_DAYS:
            raise InvalidInput()
        now = self.clock()
        async with self._sessions.begin() as session:
            user = await session.get(User, user_id, with_for_update=True)
            if user is None:
                if not create:
                    raise UserNotFound(user_id=user_id)
                user = User(
                    id=user_id,
                    role=Role.USER,
                    access_kind=AccessKind.NONE,
                    language="ru",
                    language_chosen=False,
                    started=False,
                    created_at=now,
                    last_seen_at=now,
                )
                session.add(user)
            extend_access(user, days, now)
            if actor_id is not None:
                until = (
                    user.access_until.isoformat(timespec="minutes") if user.access_until else "-"
                )
                record(session, self.clock, actor_id, action, user_id, f"days={days} until={until}")
            return user

    async def make_admin(self, user_id: int) -> None:
        async with self._sessions.begin() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise UserNotFound(user_id=user_id)
            user.role = Role.ADMIN


def extend_access(user: User, days: int | None, now: datetime) -> None:
    """Invite access for `days` more (None: without end) from the later of now and its end."""
    if days is None:
        user.access_until = None
    else:
        running = user.access_kind is not AccessKind.NONE and (
            user.access_until is None or user.access_until > now
        )
        current = user.access_until if running else None
        user.access_until = max(now, current or now) + timedelta(days=days)
    if user.access_kind is AccessKind.NONE or days is None:
        user.access_kind = AccessKind.INVITE
