"""The admin console's rules: user filters and search, the user card, and its audited changes."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    true,
)
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import (
    USER_SEARCH_TABLE,
    AccessKind,
    Device,
    Node,
    Payment,
    PaymentStatus,
    Role,
    SupportThread,
    User,
    VlessDevice,
)
from services.audit import AuditAction, record
from services.errors import InvalidInput, ServiceError, UserNotFound
from services.health import LastProbe, last_probes
from services.notifier import Notifier
from services.reconcile import ReconcileResult, ReconcileService
from services.traffic import count_removed
from services.users import TELEGRAM_ID_MAX, UserService, give_role, role_change

SEARCH_MAX = 64
SEARCH_LIMIT = 20
CARD_PAYMENTS = 5
LIKE_ESCAPE = "\\"
TRIGRAM = 3  # the shortest substring a trigram index finds
FTS_CANDIDATES_MAX = 2_000

Change = Callable[[User], str]


class ProtectedUser(ServiceError):
    """Admins cannot be revoked, banned or reset from the chat (nor can you do it to yourself)."""

    key = "console-protected"


class RoleFromSettings(ServiceError):
    """ADMIN_IDS and SUPPORT_IDS are set by the operator, not in the chat."""

    key = "role-from-settings"


class SearchTooLong(ServiceError):
    key = "find-too-long"


class UserFilter(enum.StrEnum):
    ALL = "all"
    ACTIVE = "act"
    EXPIRED = "exp"
    NO_ACCESS = "no"
    TRIAL = "tri"
    PAID = "paid"
    BLOCKED = "blk"
    BANNED = "ban"


@dataclass(frozen=True, slots=True)
class CardDevice:
    """A device, its node, and that node's latest probe (what its handshake and traffic
    figures are as of)."""

    device: Device
    node: Node
    probe: LastProbe


@dataclass(frozen=True, slots=True)
class UserRow:
    """A line of the staff's user list: one user and all their devices, oldest first."""

    user: User
    devices: Sequence[CardDevice]


@dataclass(frozen=True, slots=True)
class UserCard:
    user: User
    role: Role
    devices: Sequence[CardDevice]
    payments: Sequence[Payment] = ()
    referrer: User | None = None
    support: SupportThread | None = None  # their conversation with support, if they wrote


@dataclass(frozen=True, slots=True)
class Applied:
    """A change made in the database, the nodes that could not take it yet (a reconcile
    applies it when they answer again), and whether the user was told of it."""

    user: User
    unreachable: Sequence[str]
    told: bool = False


def filter_clause(kind: UserFilter, now: datetime) -> ColumnElement[bool]:
    has_kind = User.access_kind != AccessKind.NONE
    not_banned = User.banned.is_(False)
    match kind:
        case UserFilter.ACTIVE:
            running = or_(User.access_until.is_(None), User.access_until > now)
            return and_(not_banned, has_kind, running)
        case UserFilter.EXPIRED:
            return and_(not_banned, has_kind, User.access_until <= now)
        case UserFilter.NO_ACCESS:
            return and_(not_banned, User.access_kind == AccessKind.NONE)
        case UserFilter.TRIAL:
            return and_(not_banned, User.access_kind == AccessKind.TRIAL)
        case UserFilter.PAID:
            return and_(not_banned, User.access_kind == AccessKind.PAID)
        case UserFilter.BLOCKED:
            return User.bot_blocked_at.is_not(None)
        case UserFilter.BANNED:
            return User.banned.is_(True)
    return true()


def _fts_candidates(needle: str, username_only: bool) -> Select[tuple[int]]:
    """The ids of users whose name or username (or only username) holds `needle`'s every
    trigram in sequence, from SQLite's FTS5 table: a superset of the LIKE matches."""
    phrase = '"' + needle.replace('"', '""') + '"'
    expression = f"username : {phrase}" if username_only else phrase
    fts = table(USER_SEARCH_TABLE, column("rowid"))
    return select(fts.c.rowid).where(literal_column(USER_SEARCH_TABLE).op("MATCH")(expression))


def like_pattern(text: str) -> str:
    """`%text%` for LIKE, with the wildcards and the escape character in `text` taken literally."""
    for char in (LIKE_ESCAPE, "%", "_"):
        text = text.replace(char, LIKE_ESCAPE + char)
    return f"%{text}%"


async def _devices_of(session: AsyncSession, user_ids: list[int]) -> dict[int, list[CardDevice]]:
    """Each user's devices, oldest first, with their nodes and those nodes' latest probes."""
    rows = (
        await session.execute(
            select(Device, Node)
            .join(Node, Node.id == Device.node_id)
            .where(Device.user_id.in_(user_ids))
            .order_by(Device.id)
        )
    ).all()
    probes = await last_probes(session, {node.id for _, node in rows})
    devices: dict[int, list[CardDevice]] = {user_id: [] for user_id in user_ids}
    for device, node in rows:
        devices[device.user_id].append(CardDevice(device, node, probes[node.id]))
    return devices


def _unreachable(results: Iterable[ReconcileResult]) -> list[str]:
    return [result.node for result in results if result.error is not None]


class ConsoleService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        users: UserService,
        reconcile: ReconcileService,
        notifier: Notifier | None = None,
    ) -> None:
        self._sessions = sessions
        self._users = users
        self._reconcile = reconcile
        self.notifier = notifier

    def now(self) -> datetime:
        return self._users.clock()

    async def count(self, kind: UserFilter = UserFilter.ALL) -> int:
        async with self._sessions() as session:
            query = select(func.count()).select_from(User).where(filter_clause(kind, self.now()))
            return int(await session.scalar(query) or 0)

    async def page(self, kind: UserFilter, offset: int, limit: int) -> Sequence[UserRow]:
        """`limit` users of one filter from `offset`, newest first, each with their devices."""
        async with self._sessions() as session:
            users = (
                await session.scalars(
                    select(User)
                    .where(filter_clause(kind, self.now()))
                    .order_by(User.created_at.desc(), User.id.desc())
                    .offset(offset)
                    .limit(limit)
                )
            ).all()
            devices = await _devices_of(session, [user.id for user in users])
        return [UserRow(user, devices[user.id]) for user in users]

    async def search(self, text: str) -> tuple[Sequence[User], bool]:
        """Users by id, @username or name (case-insensitive substring), newest first, and
        whether there were more than shown. A substring of 3 characters or more is looked up
        in the trigram index of names (migration 0020) instead of reading every user; a
        shorter one reads them all, as does an id's exact match need no index."""
        query = " ".join(text.split())
        if not query:
            raise InvalidInput()
        if len(query) > SEARCH_MAX:
            raise SearchTooLong(most=SEARCH_MAX)
        by_username = query.startswith("@")
        needle = query.removeprefix("@").lower()
        pattern = like_pattern(needle)
        names: list[ColumnElement[bool]] = [
            func.lower(User.username).like(pattern, escape=LIKE_ESCAPE)
        ]
        if not by_username:
            names.append(func.lower(User.first_name).like(pattern, escape=LIKE_ESCAPE))
        async with self._sessions() as session:
            matched = or_(*names)
            dialect = session.get_bind().dialect.name
            if dialect == "postgresql":
                # planned for this very pattern: a plan cached for any pattern (after five
                # runs) walks users newest first, reading all of them for a rare name
                await session.execute(sql("SET LOCAL plan_cache_mode = force_custom_plan"))
            if len(needle) >= TRIGRAM and dialect == "sqlite":
                # PostgreSQL's pg_trgm indexes serve the LIKE itself. SQLite's FTS5 table
                # narrows the users to those holding every trigram, LIKE decides as before;
                # when most users hold them, reading users newest first finds enough sooner.
                candidates = (
                    await session.scalars(
                        _fts_candidates(needle, by_username).limit(FTS_CANDIDATES_MAX + 1)
                    )
                ).all()
                if len(candidates) <= FTS_CANDIDATES_MAX:
                    matched = and_(User.id.in_(candidates), matched)
            conditions = [matched]
            numeric = not by_username and query.isascii() and query.isdigit()
            if numeric and int(query) < TELEGRAM_ID_MAX:
                conditions.append(User.id == int(query))
            found = await session.scalars(
                select(User)
                .where(or_(*conditions))
                .order_by(User.created_at.desc(), User.id.desc())
                .limit(SEARCH_LIMIT + 1)
            )
            users = found.all()
        return users[:SEARCH_LIMIT], len(users) > SEARCH_LIMIT

    async def card(self, user_id: int) -> UserCard:
        async with self._sessions() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise UserNotFound(user_id=user_id)
            devices = (await _devices_of(session, [user_id]))[user_id]
            payments = (
                await session.scalars(
                    select(Payment)
                    .where(Payment.user_id == user_id, Payment.status != PaymentStatus.PENDING)
                    .order_by(Payment.id.desc())
                    .limit(CARD_PAYMENTS)
                )
            ).all()
            referrer = await session.get(User, user.referred_by_id) if user.referred_by_id else None
            support = await session.get(SupportThread, user_id)
        return UserCard(user, self._users.role_of(user), devices, payments, referrer, support)

    async def grant(
        self,
        actor_id: int,
        user_id: int,
        days: int | None,
        action: AuditAction = AuditAction.GRANT,
        *,
        create: bool = False,
    ) -> Applied:
        """Give or extend access (audited), put the user's peers back on their nodes, and tell
        the user when they have started the bot."""
        user = await self._users.grant(
            user_id, days, create=create, actor_id=actor_id, action=action
        )
        unreachable = _unreachable(await self._reconcile.reconcile_user(user_id))
        told = False
        if user.started and self.notifier is not None:
            key = (
                "user-access-granted-until" if user.access_until else "user-access-granted-forever"
            )
            told = await self.notifier.to_user(user.id, key, until=user.access_until)
        return Applied(user, unreachable, told)

    async def revoke(self, actor_id: int, user_id: int) -> Applied:
        """No access from now on; the devices stay in the database (renewal brings back the
        same config) and leave the nodes at once."""

        def change(user: User) -> str:
            until = user.access_until.isoformat(timespec="minutes") if user.access_until else "-"
            before = f"was {user.access_kind.value} until {until}"
            user.access_kind, user.access_until = AccessKind.NONE, None
            return before

        return await self._change(actor_id, user_id, AuditAction.REVOKE, change)

    async def ban(self, actor_id: int, user_id: int) -> Applied:
        """No access and no bot while banned; access itself is kept for an unban."""

        def change(user: User) -> str:
            user.banned = True
            return ""

        return await self._change(actor_id, user_id, AuditAction.BAN, change)

    async def unban(self, actor_id: int, user_id: int) -> Applied:
        def change(user: User) -> str:
            user.banned = False
            return ""

        return await self._change(actor_id, user_id, AuditAction.UNBAN, change, protect=False)

    async def reset_devices(self, actor_id: int, user_id: int) -> Applied:
        """Delete the user's devices (WireGuard and VLESS) and take them off the nodes now; the
        bytes they carried stay in the user's traffic."""
        async with self._sessions.begin() as session:
            user = await self._target(session, actor_id, user_id)
            devices = (await session.scalars(select(Device).where(Device.user_id == user_id))).all()
            vless = (
                await session.scalars(select(VlessDevice).where(VlessDevice.user_id == user_id))
            ).all()
            gone: list[Device | VlessDevice] = [*devices, *vless]
            node_ids = {device.node_id for device in gone}
            count_removed(user, gone)
            for device in gone:
                await session.delete(device)
            record(
                session,
                self._users.clock,
                actor_id,
                AuditAction.RESET_DEVICES,
                user_id,
                f"devices={len(devices) + len(vless)}",
            )
        results = await self._reconcile.reconcile_user(user_id, also=node_ids)
        return Applied(user, _unreachable(results))

    async def set_role(self, actor_id: int, user_id: int, role: Role) -> tuple[User, Role]:
        """Give a user a role in the chat; returns them and the role they had before."""
        if self._users.role_from_settings(user_id) is not None:
            raise RoleFromSettings(user_id=user_id)
        async with self._sessions.begin() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise UserNotFound(user_id=user_id)
            before = self._users.role_of(user)
            give_role(user, role, actor_id)
            details = role_change(before, role)
            record(session, self._users.clock, actor_id, AuditAction.ROLE, user_id, details)
        return user, before

    async def message(self, actor_id: int, user_id: int, text: str) -> bool:
        """Send a staff member's text to a user as the bot; whether it was delivered. The audit
        entry keeps its length and fate, never the text."""
        delivered = self.notifier is not None and await self.notifier.to_user(
            user_id, "message-to-user", text=text
        )
        length = len(text)
        async with self._sessions.begin() as session:
            record(
                session,
                self._users.clock,
                actor_id,
                AuditAction.MESSAGE,
                user_id,
                f"chars={length} delivered={'yes' if delivered else 'no'}",
            )
        return delivered

    async def _change(
        self,
        actor_id: int,
        user_id: int,
        action: AuditAction,
        change: Change,
        *,
        protect: bool = True,
    ) -> Applied:
        async with self._sessions.begin() as session:
            if protect:
                user = await self._target(session, actor_id, user_id)
            else:
                found = await session.get(User, user_id)
                if found is None:
                    raise UserNotFound(user_id=user_id)
                user = found
            details = change(user)
            record(session, self._users.clock, actor_id, action, user_id, details)
        results = await self._reconcile.reconcile_user(user_id)
        return Applied(user, _unreachable(results))

    async def _target(self, session: AsyncSession, actor_id: int, user_id: int) -> User:
        """The user a restrictive change is aimed at: not an admin, not the actor."""
        user = await session.get(User, user_id, with_for_update=True)
        if user is None:
            raise UserNotFound(user_id=user_id)
        if user_id == actor_id or self._users.role_of(user) is Role.ADMIN:
            raise ProtectedUser(user_id=user_id)
        return user
