"""Users: who talked to the bot, their language, role and access."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import AccessKind, AuditEntry, Role, User
from services.audit import OPERATOR, AuditAction, record
from services.clock import Clock, system_clock
from services.errors import InvalidInput, UserNotFound
from services.notifier import GrantButtons, Notifier

log = logging.getLogger(__name__)

MAX_GRANT_DAYS = 3650
ROLE_RANK = (Role.USER, Role.SUPPORT, Role.ADMIN)
ROLE_ARROW = "->"
UNGIVEN_NOTE = "copied from the settings by an older version, never given"
ACCESS_REQUEST_INTERVAL = timedelta(hours=12)
TELEGRAM_ID_MAX = 2**52
SEEN_PRECISION = timedelta(minutes=1)  # last seen is written at most once a minute per user


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

    async def touch(self, visitor: Visitor, read: User | None = None) -> User:
        """Create or refresh the user behind an update and return them; `read` is their row
        as this update read it already, which spares a second read when nothing changed."""
        try:
            return await self._touch(visitor, read)
        except IntegrityError:  # PostgreSQL: their other update inserted them just now
            return await self._touch(visitor, None)

    async def _touch(self, visitor: Visitor, read: User | None) -> User:
        now = self.clock()
        known = read or await self.get(visitor.id)  # a read: most updates change nothing
        if known is not None and self._up_to_date(known, visitor, now):
            return known
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
            if visitor.id in self._admin_ids and user.access_kind is AccessKind.NONE:
                user.access_kind, user.access_until = AccessKind.INVITE, None
            user.last_seen_at = now
            user.bot_blocked_at = None  # writing to the bot means it is not blocked
        return user

    def _up_to_date(self, user: User, visitor: Visitor, now: datetime) -> bool:
        """Nothing to write: the same name, username and language, not blocked, and seen less
        than SEEN_PRECISION ago (so a burst of taps takes no write lock)."""
        return (
            user.first_name == visitor.first_name[:128]
            and user.username == (visitor.username[:64] if visitor.username else None)
            and (user.language_chosen or user.language == visitor.language)
            and not (visitor.id in self._admin_ids and user.access_kind is AccessKind.NONE)
            and user.bot_blocked_at is None
            and user.last_seen_at is not None
            and now - user.last_seen_at < SEEN_PRECISION
        )

    def is_admin(self, user: User) -> bool:
        return self.role_of(user) is Role.ADMIN

    def role_of(self, user: User) -> Role:
        """The role in effect: the higher of the one ADMIN_IDS or SUPPORT_IDS give now and the
        one given in the chat or by the CLI (a stored role without its giver counts for nothing)."""
        from_settings = self.role_from_settings(user.id) or Role.USER
        given = user.role if user.role_granted_by is not None else Role.USER
        return max(from_settings, given, key=ROLE_RANK.index)

    def role_from_settings(self, user_id: int) -> Role | None:
        """The role the settings give, which no chat command can change."""
        if user_id in self._admin_ids:
            return Role.ADMIN
        return Role.SUPPORT if user_id in self._support_ids else None

    async def admins(self) -> Sequence[User]:
        """Admins who have talked to the bot (only they can be sent a message)."""
        given = (User.role == Role.ADMIN) & User.role_granted_by.is_not(None)
        async with self._sessions() as session:
            query = select(User).where(given | User.id.in_(self._admin_ids))
            return (await session.scalars(query.order_by(User.id))).all()

    async def staff(self) -> Sequence[User]:
        """Admins and support who have talked to the bot and not blocked it."""
        given = User.role.in_((Role.ADMIN, Role.SUPPORT)) & User.role_granted_by.is_not(None)
        from_settings = User.id.in_(self._admin_ids | self._support_ids)
        async with self._sessions() as session:
            query = select(User).where(given | from_settings, User.bot_blocked_at.is_(None))
            found = (await session.scalars(query.order_by(User.id))).all()
        return [user for user in found if self.role_of(user) is not Role.USER]

    async def settle_roles(self) -> list[tuple[int, Role, Role]]:
        """At start: every stored role must have been given. A role the audit log shows given
        (by /role, or an admin added by `user add` from the CLI) is kept with its giver; any other
        was copied from ADMIN_IDS by an older version and goes back to a lower role last given
        (user when none), audited as the operator's, so the settings alone decide it from now
        on. Returns (user id, role before, role now) of each role taken."""
        taken: list[tuple[int, Role, Role]] = []
        async with self._sessions.begin() as session:
            unproven = (
                await session.scalars(
                    select(User)
                    .where(User.role != Role.USER, User.role_granted_by.is_(None))
                    .with_for_update()
                )
            ).all()
            if not unproven:
                return taken
            given, cli_added = await _role_history(session, [user.id for user in unproven])
            for user in unproven:
                grant = given.get(user.id)
                if user.role is Role.ADMIN and user.id in cli_added:
                    grant = RoleGrant(Role.ADMIN, OPERATOR)
                if grant is not None and grant.role is user.role:
                    user.role_granted_by = grant.actor_id
                    continue
                fallback = RoleGrant(Role.USER, OPERATOR)
                if grant is not None and ROLE_RANK.index(grant.role) < ROLE_RANK.index(user.role):
                    fallback = grant  # a role given before the copy over it (never a higher one)
                taken.append((user.id, user.role, fallback.role))
                details = f"{role_change(user.role, fallback.role)}: {UNGIVEN_NOTE}"
                give_role(user, fallback.role, fallback.actor_id)
                record(session, self.clock, OPERATOR, AuditAction.ROLE, user.id, details)
        for user_id, before, after in taken:
            log.warning(
                "user %s: role %s was copied from the settings, never given: now %s",
                user_id,
                before.value,
                after.value,
            )
        return taken

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
                buttons=GrantButtons(user.id),
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

    async def make_admin(self, user_id: int, actor_id: int = OPERATOR) -> None:
        """The admin role, given by `actor_id` (audited): it stays whatever ADMIN_IDS says."""
        async with self._sessions.begin() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise UserNotFound(user_id=user_id)
            before = user.role
            give_role(user, Role.ADMIN, actor_id)
            details = role_change(before, Role.ADMIN)
            record(session, self.clock, actor_id, AuditAction.ROLE, user_id, details)


def extend_access(user: User, days: int | None, now: datetime) -> None:
    """Invite access for `days` more (None: without end) from the later of now and its end;
    access without an end date stays without one (days added to "forever" are no limit)."""
    granted = user.access_kind is not AccessKind.NONE
    if days is None:
        user.access_until = None
    elif not granted:
        user.access_until = now + timedelta(days=days)
    elif user.access_until is not None:
        user.access_until = max(now, user.access_until) + timedelta(days=days)
    if user.access_kind is AccessKind.NONE or days is None:
        user.access_kind = AccessKind.INVITE


def add_free_days(user: User, days: int, now: datetime) -> None:
    """Bonus days (a referral, a promo code): paid access that runs keeps its kind and gets
    them on its end; any other access gets them as invite access (an end date stays unset)."""
    if user.access_kind is AccessKind.PAID and user.access_running(now):
        user.access_until = (user.access_until or now) + timedelta(days=days)
    else:
        extend_access(user, days, now)


def extend_paid(user: User, days: int, plan_code: str, now: datetime) -> None:
    """A plan's days, bought or given: added to the later of now and the current end, the plan
    and a fresh traffic period set; access without an end date stays so."""
    if not (user.access_kind is AccessKind.INVITE and user.access_until is None):
        running = user.access_running(now) and user.access_until is not None
        start = user.access_until if running and user.access_until else now
        user.access_until = max(start, now) + timedelta(days=days)
        user.access_kind = AccessKind.PAID
    # a payment starts a fresh traffic period (the traffic service sets its base)
    user.traffic_period_start, user.traffic_blocked_until = None, None
    user.plan_code = plan_code


def give_role(user: User, role: Role, actor_id: int) -> None:
    """Store a role given in the chat or by the CLI, with who gave it."""
    user.role = role
    user.role_granted_by = None if role is Role.USER else actor_id


def role_change(before: Role, after: Role) -> str:
    """The audit details of a role change: "user -> admin"."""
    return f"{before.value} {ROLE_ARROW} {after.value}"


def given_role(details: str) -> Role | None:
    """The role an audit entry's `role_change` details gave; None for any other text."""
    _, arrow, rest = details.partition(ROLE_ARROW)
    words = rest.split(maxsplit=1)
    if not arrow or not words:
        return None
    try:
        return Role(words[0].rstrip(":"))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class RoleGrant:
    """What the audit log says a user's role should be, and who gave it."""

    role: Role
    actor_id: int


async def _role_history(
    session: AsyncSession, user_ids: Sequence[int]
) -> tuple[dict[int, RoleGrant], set[int]]:
    """For each user, the role their latest role entry gave; and the users the operator added
    with `user add` after their latest role entry (an older `user add --admin` wrote none)."""
    entries = await session.execute(
        select(AuditEntry.target, AuditEntry.action, AuditEntry.actor_id, AuditEntry.details)
        .where(AuditEntry.target.in_([str(user_id) for user_id in user_ids]))
        .where(AuditEntry.action.in_([AuditAction.ROLE.value, AuditAction.ADD_USER.value]))
        .order_by(AuditEntry.id)
    )
    given: dict[int, RoleGrant] = {}
    cli_added: set[int] = set()
    for target, action, actor_id, details in entries.all():
        user_id = int(target)
        if action == AuditAction.ADD_USER.value:
            if actor_id == OPERATOR:
                cli_added.add(user_id)
            continue
        cli_added.discard(user_id)
        role = given_role(details)
        if role is not None:
            given[user_id] = RoleGrant(role, actor_id)
    return given, cli_added
