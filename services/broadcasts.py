"""Broadcasts: one message (a text, or a photo, video or document with a caption, and up to
3 buttons) to a group of users, queued in the database, paced, resumable, and stoppable."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    distinct,
    exists,
    false,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import named_lock
from db.models import (
    AccessKind,
    Broadcast,
    BroadcastAudience,
    BroadcastDelivery,
    BroadcastStatus,
    DeliveryState,
    Device,
    Node,
    User,
)
from services.audit import AuditAction, record
from services.clock import Clock, system_clock
from services.errors import ServiceError
from services.pacing import TELEGRAM_RATE_LIMIT, Pacer, Ticket

log = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 4096  # Telegram's limit for a message text, in UTF-16 code units
MAX_CAPTION_LENGTH = 1024  # and for a media's caption
MAX_BUTTONS = 3
BUTTON_TITLE_MAX = 64
BUTTON_URL_MAX = 1024
MAX_EXPIRED_DAYS = 3650
DEFAULT_RATE = 25
MAX_ATTEMPTS = 3  # for transient errors (5xx, connection trouble); a 429 is not an attempt
PROGRESS_INTERVAL = 2.0
STOP_GRACE = 5.0


class BroadcastTextEmpty(ServiceError):
    key = "broadcast-text-empty"


class BroadcastTextTooLong(ServiceError):
    key = "broadcast-text-too-long"


class BroadcastButtonInvalid(ServiceError):
    """A typed button line that is not `Title | https://…`, `Title | config` or `Title | renew`."""

    key = "broadcast-button-invalid"


class BroadcastTooManyButtons(ServiceError):
    key = "broadcast-buttons-too-many"


class AudienceInvalid(ServiceError):
    """An audience whose value does not fit it (days out of range, a node that is gone)."""

    key = "broadcast-audience-invalid"


class MediaKind(enum.StrEnum):
    PHOTO = "photo"
    VIDEO = "video"
    DOCUMENT = "document"


class ButtonKind(enum.StrEnum):
    URL = "url"  # a link
    CONFIG = "config"  # "Get config": the main menu's button
    RENEW = "renew"  # "Renew": the plans


@dataclass(frozen=True, slots=True)
class BroadcastButton:
    title: str
    kind: ButtonKind
    url: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"title": self.title, "kind": self.kind.value, "url": self.url}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> BroadcastButton:
        return cls(str(data["title"]), ButtonKind(data["kind"]), str(data.get("url", "")))


@dataclass(frozen=True, slots=True)
class BroadcastMessage:
    """What every recipient gets: an HTML text, or a photo, video or document (a Telegram
    file id) with the text as its caption; and the buttons under it."""

    text: str
    media: MediaKind | None = None
    file_id: str = ""
    buttons: tuple[BroadcastButton, ...] = ()


@dataclass(frozen=True, slots=True)
class Audience:
    """Who gets a broadcast: a kind and, for some, its value (days for EXPIRED, a node id for
    NODE, a region for REGION, a language code for LANGUAGE)."""

    kind: BroadcastAudience
    value: str = ""


@dataclass(frozen=True, slots=True)
class NodeAudience:
    node_id: int
    name: str
    region: str
    count: int


class SendOutcome(enum.StrEnum):
    SENT = "sent"
    BLOCKED = "blocked"  # the user blocked the bot or deleted the account: never again
    FAILED = "failed"  # refused for good (e.g. chat not found), or maybe delivered: no retry
    RETRY = "retry"  # not delivered, may work later: retried up to MAX_ATTEMPTS
    FLOOD = "flood"  # 429: every send waits retry_after, then this one goes again


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: SendOutcome
    retry_after: float = 0.0
    message_id: int | None = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a broadcast stands, for the one message in the admin's chat that shows it."""

    broadcast_id: int
    admin_id: int
    message_id: int | None
    total: int
    sent: int
    failed: int
    blocked: int
    unknown: int
    left: int
    status: BroadcastStatus
    cancelled: int = 0

    @property
    def finished(self) -> bool:
        """Done, or stopped by an admin (the sends that were in flight may still end)."""
        return self.status is not BroadcastStatus.RUNNING

    @property
    def counts(self) -> tuple[int, ...]:
        return (
            self.sent,
            self.failed,
            self.blocked,
            self.unknown,
            self.left,
            self.cancelled,
            list(BroadcastStatus).index(self.status),
        )


class Sender(Protocol):
    """Talks to Telegram; answers every Telegram error with a SendResult instead of raising."""

    async def send(self, chat_id: int, message: BroadcastMessage) -> SendResult: ...

    async def show_progress(self, progress: Progress) -> SendResult:
        """Edit `progress.message_id`, or send a new message when it is None or gone;
        the result carries the id of the message that shows it."""
        ...


def check_text(text: str, plain: str, media: MediaKind | None = None) -> None:
    """A broadcast text (HTML) and its plain form must fit one Telegram message, or one
    caption; a media's caption may be empty."""
    if media is None and (not plain.strip() or not text.strip()):
        raise BroadcastTextEmpty()
    limit = MAX_TEXT_LENGTH if media is None else MAX_CAPTION_LENGTH
    length = len(plain.encode("utf-16-le")) // 2
    if length > limit:
        raise BroadcastTextTooLong(length=length, limit=limit)


def parse_buttons(text: str) -> list[BroadcastButton]:
    """Buttons an admin typed, one per line: `Title | https://…` (a link), `Title | config`
    ("Get config") or `Title | renew` ("Renew"); BroadcastButtonInvalid names the first line
    that is none of these."""
    buttons = []
    for line in (line.strip() for line in text.splitlines()):
        if not line:
            continue
        title, separator, target = (part.strip() for part in line.rpartition("|"))
        if not separator or not 0 < len(title) <= BUTTON_TITLE_MAX or not title.isprintable():
            raise BroadcastButtonInvalid(line=line[:100])
        if target.lower() in (ButtonKind.CONFIG, ButtonKind.RENEW):
            buttons.append(BroadcastButton(title, ButtonKind(target.lower())))
        elif _https_url(target):
            buttons.append(BroadcastButton(title, ButtonKind.URL, target))
        else:
            raise BroadcastButtonInvalid(line=line[:100])
    if not buttons:
        raise BroadcastButtonInvalid(line=text.strip()[:100])
    return buttons


def check_buttons(buttons: Sequence[BroadcastButton]) -> None:
    if len(buttons) > MAX_BUTTONS:
        raise BroadcastTooManyButtons(most=MAX_BUTTONS)


def _https_url(text: str) -> bool:
    if len(text) > BUTTON_URL_MAX or any(char.isspace() for char in text):
        return False
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (a port out of range raises)
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.hostname)


def check_audience(audience: Audience) -> None:
    """The value an audience needs, in its bounds; AudienceInvalid otherwise."""
    kind, value = audience.kind, audience.value
    if kind is BroadcastAudience.EXPIRED:
        if not (value.isascii() and value.isdigit() and 0 < int(value) <= MAX_EXPIRED_DAYS):
            raise AudienceInvalid(most=MAX_EXPIRED_DAYS)
    elif kind is BroadcastAudience.NODE:
        if not (value.isascii() and value.isdigit() and len(value) < 10):
            raise AudienceInvalid()
    elif kind in (BroadcastAudience.REGION, BroadcastAudience.LANGUAGE):
        if not 0 < len(value) <= 64:
            raise AudienceInvalid()
    elif value:
        raise AudienceInvalid()


def reachable() -> ColumnElement[bool]:
    """Users a broadcast may reach: they started the bot and did not block it or get banned."""
    return and_(User.started.is_(True), User.banned.is_(False), User.bot_blocked_at.is_(None))


def audience_filter(audience: Audience, now: datetime) -> ColumnElement[bool]:
    """Who a broadcast reaches: the audience's users among the reachable ones."""
    return and_(reachable(), _audience_only(audience, now))


def _audience_only(audience: Audience, now: datetime) -> ColumnElement[bool]:
    kind, value = audience.kind, audience.value
    has_access = and_(
        User.access_kind != AccessKind.NONE,
        or_(User.access_until.is_(None), User.access_until > now),
    )
    has_device = exists().where(Device.user_id == User.id)
    match kind:
        case BroadcastAudience.ACCESS:
            return has_access
        case BroadcastAudience.NO_ACCESS:
            return not_(has_access)
        case BroadcastAudience.EXPIRED:
            days = int(value) if value.isdigit() else 0
            return and_(
                User.access_kind != AccessKind.NONE,
                User.access_until <= now,
                User.access_until > now - timedelta(days=days),
            )
        case BroadcastAudience.TRIAL:
            return and_(has_access, User.access_kind == AccessKind.TRIAL)
        case BroadcastAudience.NEVER_CONNECTED:
            connected = exists().where(
                Device.user_id == User.id, Device.last_handshake_at.is_not(None)
            )
            return and_(has_device, not_(connected))
        case BroadcastAudience.NODE:
            node_id = int(value) if value.isdigit() else 0
            return exists().where(Device.user_id == User.id, Device.node_id == node_id)
        case BroadcastAudience.REGION:
            return exists().where(
                Device.user_id == User.id,
                Device.node_id == Node.id,
                Node.region == value,
                Node.region != "",
            )
        case BroadcastAudience.LANGUAGE:
            return User.language == value
        case BroadcastAudience.ALL:
            return true()
    return false()


class BroadcastService:
    """Creates broadcasts and runs them: one runner task per broadcast. Their sends are bulk
    calls of the pacer, which the bot shares with its answers to users; those go first. An
    admin may stop a running one: what was not claimed yet is never sent."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        rate: int = DEFAULT_RATE,
        clock: Clock = system_clock,
        *,
        progress_interval: float = PROGRESS_INTERVAL,
    ) -> None:
        if not 0 < rate <= TELEGRAM_RATE_LIMIT:
            raise ValueError(f"broadcast rate must be within 1..{TELEGRAM_RATE_LIMIT}")
        self._sessions = sessions
        self.clock = clock
        self.pacer = Pacer(TELEGRAM_RATE_LIMIT, bulk_rate=int(rate))  # the bot's, once connected
        self._progress_interval = progress_interval
        self._runners: dict[int, asyncio.Task[None]] = {}
        self.sender: Sender | None = None  # the bot's, set once a Bot exists
        self._writing = asyncio.Lock()
        self._stopping = False
        self.floods = 0  # 429 answers seen by this process

    # --- creating ---------------------------------------------------------------------------

    async def count(self, audience: Audience) -> int:
        check_audience(audience)
        async with self._sessions() as session:
            query = (
                select(func.count())
                .select_from(User)
                .where(audience_filter(audience, self.clock()))
            )
            return int(await session.scalar(query) or 0)

    async def counts_by_node(self) -> list[NodeAudience]:
        """Every node, with how many reachable users have a device on it."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Node.id, Node.name, Node.region, func.count(distinct(User.id)))
                .select_from(Node)
                .outerjoin(Device, Device.node_id == Node.id)
                .outerjoin(User, and_(User.id == Device.user_id, reachable()))
                .group_by(Node.id, Node.name, Node.region)
                .order_by(Node.name)
            )
            return [NodeAudience(id_, name, region, int(n)) for id_, name, region, n in rows.all()]

    async def counts_by_region(self) -> list[tuple[str, int]]:
        """Every region a node is in, with how many reachable users have a device there."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Node.region, func.count(distinct(User.id)))
                .select_from(Node)
                .outerjoin(Device, Device.node_id == Node.id)
                .outerjoin(User, and_(User.id == Device.user_id, reachable()))
                .where(Node.region != "")
                .group_by(Node.region)
                .order_by(Node.region)
            )
            return [(region, int(n)) for region, n in rows.all()]

    async def counts_by_language(self) -> dict[str, int]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(User.language, func.count()).where(reachable()).group_by(User.language)
            )
            return {language: int(n) for language, n in rows.all()}

    async def create(
        self, admin_id: int, message: BroadcastMessage, plain: str, audience: Audience
    ) -> Broadcast | None:
        """The broadcast and one pending delivery per recipient, in one transaction;
        None when the group is empty. `plain` is the text as Telegram shows it (its limits)."""
        check_text(message.text, plain, message.media)
        check_buttons(message.buttons)
        check_audience(audience)
        now = self.clock()
        async with self._write() as session:
            who = audience_filter(audience, now)
            total = int(
                await session.scalar(select(func.count()).select_from(User).where(who)) or 0
            )
            if total == 0:
                return None
            broadcast = Broadcast(
                admin_id=admin_id,
                text=message.text,
                media_kind=message.media.value if message.media else None,
                media_file_id=message.file_id or None,
                buttons=[button.as_dict() for button in message.buttons],
                audience=audience.kind,
                audience_value=audience.value,
                status=BroadcastStatus.RUNNING,
                total=total,
                created_at=now,
            )
            session.add(broadcast)
            await session.flush()
            details = f"{total} recipients, {len(plain)} characters"
            if message.media:
                details += f", {message.media.value}"
            if message.buttons:
                details += f", {len(message.buttons)} buttons"
            target = f"{audience.kind.value}:{audience.value}" if audience.value else audience.kind
            details += f", to {target}"
            record(session, self.clock, admin_id, AuditAction.BROADCAST, broadcast.id, details)
            await session.execute(
                insert(BroadcastDelivery).from_select(
                    ["broadcast_id", "user_id", "state", "attempts"],
                    select(
                        literal(broadcast.id),
                        User.id,
                        literal(DeliveryState.PENDING.value),
                        literal(0),
                    )
                    .where(who)
                    .order_by(User.id),
                )
            )
        log.info("broadcast %s by %s to %s users (%s)", broadcast.id, admin_id, total, audience)
        return broadcast

    async def preview(self, chat_id: int, message: BroadcastMessage) -> SendResult:
        """The message exactly as every recipient will get it, sent to `chat_id` through the
        same sender, as an answer (before any broadcast's sends)."""
        if self.sender is None:
            raise RuntimeError("no sender: the bot is not connected")
        ticket = await self.pacer.acquire(urgent=True)
        try:
            result = await self.sender.send(chat_id, message)
        finally:
            self.pacer.release(ticket)
        if result.outcome is SendOutcome.FLOOD:
            self.pacer.hold(result.retry_after)
        return result

    async def cancel(self, admin_id: int, broadcast_id: int) -> bool:
        """Stop a running broadcast: its rows not claimed yet become `cancelled`, the sends in
        flight finish. False when it is not running (done, stopped already, or unknown)."""
        async with self._write() as session:
            stopped = await session.execute(
                update(Broadcast)
                .where(Broadcast.id == broadcast_id, Broadcast.status == BroadcastStatus.RUNNING)
                .values(status=BroadcastStatus.CANCELLED)
                .execution_options(synchronize_session=False)
            )
            if stopped.rowcount != 1:  # type: ignore[attr-defined]
                return False
            cancelled = await self._cancel_pending(session, broadcast_id)
            details = f"{cancelled} not sent"
            record(session, self.clock, admin_id, AuditAction.BROADCAST_STOP, broadcast_id, details)
        log.info("broadcast %s stopped by %s: %s not sent", broadcast_id, admin_id, cancelled)
        running = self._runners.get(broadcast_id)
        if (running is None or running.done()) and self.sender is not None:
            # No runner here to show the end (one in another process shows it too).
            await self._show(broadcast_id, self.sender, None)
        return True

    # --- running ----------------------------------------------------------------------------

    def start(self, broadcast_id: int, sender: Sender | None = None) -> asyncio.Task[None]:
        """Run the broadcast in the background (once per process), through the bot's sender
        unless another is given."""
        sender = sender or self.sender
        if sender is None:
            raise RuntimeError("no sender: the bot is not connected")
        running = self._runners.get(broadcast_id)
        if running is not None and not running.done():
            return running
        task = asyncio.create_task(
            self._run(broadcast_id, sender), name=f"broadcast-{broadcast_id}"
        )
        self._runners[broadcast_id] = task
        task.add_done_callback(lambda _: self._forget(broadcast_id, task))
        return task

    def runner(self, broadcast_id: int) -> asyncio.Task[None] | None:
        return self._runners.get(broadcast_id)

    async def resume(self, sender: Sender | None = None) -> list[int]:
        """At start-up: go on with every unfinished broadcast (see `_run` for rows a crash
        left `sending`)."""
        async with self._sessions() as session:
            ids = list(
                (
                    await session.scalars(
                        select(Broadcast.id)
                        .where(Broadcast.status == BroadcastStatus.RUNNING)
                        .order_by(Broadcast.id)
                    )
                ).all()
            )
        ids = [bid for bid in ids if bid not in self._runners]
        for broadcast_id in ids:
            log.info("broadcast %s resumed", broadcast_id)
            self.start(broadcast_id, sender)
        return ids

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop claiming rows, let the sends in flight finish (up to `grace` seconds)."""
        self._stopping = True
        tasks = [task for task in self._runners.values() if not task.done()]
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)

    async def progress(self, broadcast_id: int) -> Progress:
        async with self._sessions() as session:
            broadcast = await session.get(Broadcast, broadcast_id)
            if broadcast is None:
                raise LookupError(broadcast_id)
            rows = await session.execute(
                select(BroadcastDelivery.state, func.count())
                .where(BroadcastDelivery.broadcast_id == broadcast_id)
                .group_by(BroadcastDelivery.state)
            )
            counts = {DeliveryState(state): int(number) for state, number in rows.all()}
        return Progress(
            broadcast_id=broadcast.id,
            admin_id=broadcast.admin_id,
            message_id=broadcast.progress_message_id,
            total=broadcast.total,
            sent=counts.get(DeliveryState.SENT, 0),
            failed=counts.get(DeliveryState.FAILED, 0),
            blocked=counts.get(DeliveryState.BLOCKED, 0),
            unknown=counts.get(DeliveryState.UNKNOWN, 0),
            left=counts.get(DeliveryState.PENDING, 0) + counts.get(DeliveryState.SENDING, 0),
            status=broadcast.status,
            cancelled=counts.get(DeliveryState.CANCELLED, 0),
        )

    def _forget(self, broadcast_id: int, task: asyncio.Task[None]) -> None:
        if self._runners.get(broadcast_id) is task:
            del self._runners[broadcast_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("broadcast %s stopped", broadcast_id, exc_info=task.exception())

    async def _run(self, broadcast_id: int, sender: Sender) -> None:
        """One runner per broadcast, across processes too. Rows a dead runner left `sending`
        become `unknown` and are never sent again: a copy may be lost, none is duplicated."""
        async with named_lock(self._sessions.kw["bind"], f"broadcast:{broadcast_id}") as alone:
            if not alone:
                log.info("broadcast %s runs in another process", broadcast_id)
                return
            async with self._write() as session:
                await self._in_flight_unknown(session, broadcast_id)
            await self._run_alone(broadcast_id, sender)

    async def _run_alone(self, broadcast_id: int, sender: Sender) -> None:
        async with self._sessions() as session:
            broadcast = await session.get(Broadcast, broadcast_id)
        if broadcast is None or broadcast.status is not BroadcastStatus.RUNNING:
            return
        message = message_of(broadcast)
        finished = asyncio.Event()
        reporter = asyncio.create_task(self._report(broadcast_id, sender, finished))
        in_flight: set[asyncio.Task[None]] = set()
        try:
            # A row is claimed in its slot, right before its request: a crash can leave unknown
            # only the requests on their way.
            cursor = 0
            while not self._stopping:
                ticket = await self.pacer.acquire()
                claimed = None if self._stopping else await self._claim(broadcast_id, cursor)
                if claimed is None:
                    self.pacer.release(ticket)
                    if self._stopping:
                        break
                    if in_flight:  # their retries come back as pending rows
                        await asyncio.wait(in_flight)
                    elif cursor == 0:
                        break
                    cursor = 0  # one more pass for rows put back (429, transient errors)
                    continue
                cursor, user_id = claimed
                task = asyncio.create_task(self._deliver(cursor, user_id, message, sender, ticket))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            if in_flight:
                await asyncio.wait(in_flight)
            if not self._stopping:
                await self._finish(broadcast_id)
                finished.set()
                await reporter
        finally:
            for task in (*in_flight, reporter):
                task.cancel()
            await asyncio.gather(*in_flight, reporter, return_exceptions=True)

    async def _claim(self, broadcast_id: int, after_id: int) -> tuple[int, int] | None:
        """Mark the next pending row `sending`, committed before its request goes out; none
        once the broadcast was stopped."""
        now = self.clock()
        running = exists().where(
            Broadcast.id == broadcast_id, Broadcast.status == BroadcastStatus.RUNNING
        )
        async with self._write() as session:
            row = (
                await session.execute(
                    select(BroadcastDelivery.id, BroadcastDelivery.user_id)
                    .where(
                        BroadcastDelivery.id > after_id,
                        BroadcastDelivery.broadcast_id == broadcast_id,
                        BroadcastDelivery.state == DeliveryState.PENDING,
                        running,
                    )
                    .order_by(BroadcastDelivery.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
            ).first()
            if row is None:
                return None
            await session.execute(
                update(BroadcastDelivery)
                .where(BroadcastDelivery.id == row.id)
                .values(state=DeliveryState.SENDING, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        return row.id, row.user_id

    async def _deliver(
        self,
        delivery_id: int,
        user_id: int,
        message: BroadcastMessage,
        sender: Sender,
        ticket: Ticket,
    ) -> None:
        try:
            result = await sender.send(user_id, message)
        except Exception as error:  # a bug in the sender: maybe sent, so never again
            log.exception("broadcast delivery %s to %s", delivery_id, user_id)
            result = SendResult(SendOutcome.FAILED, error=type(error).__name__)
        finally:
            self.pacer.release(ticket)
        if result.outcome is SendOutcome.FLOOD:
            self.floods += 1
            self.pacer.hold(result.retry_after)
        await self._record(delivery_id, user_id, result)

    async def _record(self, delivery_id: int, user_id: int, result: SendResult) -> None:
        now = self.clock()
        row = BroadcastDelivery
        values: dict[str, object] = {"updated_at": now}
        outcome = result.outcome
        if outcome is SendOutcome.SENT:
            values["state"] = DeliveryState.SENT
        elif outcome is SendOutcome.BLOCKED:
            values["state"] = DeliveryState.BLOCKED
        elif outcome is SendOutcome.FLOOD:
            values["state"] = DeliveryState.PENDING
        else:
            retry = outcome is SendOutcome.RETRY
            values["attempts"] = row.attempts + 1
            values["error"] = result.error[:200] or None
            values["state"] = (
                case(
                    (row.attempts + 1 < MAX_ATTEMPTS, DeliveryState.PENDING.value),
                    else_=DeliveryState.FAILED.value,
                )
                if retry
                else DeliveryState.FAILED
            )
        async with self._write() as session:
            await session.execute(
                update(row)
                .where(row.id == delivery_id, row.state == DeliveryState.SENDING)
                .values(values)
                .execution_options(synchronize_session=False)
            )
            if outcome is SendOutcome.BLOCKED:
                await session.execute(
                    update(User)
                    .where(User.id == user_id, User.bot_blocked_at.is_(None))
                    .values(bot_blocked_at=now)
                    .execution_options(synchronize_session=False)
                )

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction; this service's writes queue here rather than in SQLite's busy
        handler, whose sleeps would make the sends' timing jitter."""
        async with self._writing, self._sessions.begin() as session:
            yield session

    async def _in_flight_unknown(self, session: AsyncSession, broadcast_id: int) -> None:
        """Rows still `sending` lost their answer (a crash, a failed write): maybe delivered,
        so `unknown`, never sent again."""
        await session.execute(
            update(BroadcastDelivery)
            .where(
                BroadcastDelivery.broadcast_id == broadcast_id,
                BroadcastDelivery.state == DeliveryState.SENDING,
            )
            .values(state=DeliveryState.UNKNOWN, updated_at=self.clock())
            .execution_options(synchronize_session=False)
        )

    async def _cancel_pending(self, session: AsyncSession, broadcast_id: int) -> int:
        """A stopped broadcast's rows still waiting (or put back by a 429) are never sent."""
        result = await session.execute(
            update(BroadcastDelivery)
            .where(
                BroadcastDelivery.broadcast_id == broadcast_id,
                BroadcastDelivery.state == DeliveryState.PENDING,
            )
            .values(state=DeliveryState.CANCELLED, updated_at=self.clock())
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def _finish(self, broadcast_id: int) -> None:
        now = self.clock()
        async with self._write() as session:
            await self._in_flight_unknown(session, broadcast_id)
            broadcast = await session.get(Broadcast, broadcast_id)
            if broadcast is not None:
                if broadcast.status is BroadcastStatus.RUNNING:
                    broadcast.status = BroadcastStatus.DONE
                else:
                    await self._cancel_pending(session, broadcast_id)
                broadcast.finished_at = now
        log.info("broadcast %s finished", broadcast_id)

    async def _report(self, broadcast_id: int, sender: Sender, finished: asyncio.Event) -> None:
        """Show the progress now, then at most every interval while it changes, then the end."""
        shown: tuple[int, ...] | None = None
        while True:
            done = finished.is_set()
            try:
                shown = await self._show(broadcast_id, sender, shown)
            except Exception:  # progress is a courtesy: the broadcast goes on without it
                log.exception("broadcast %s progress", broadcast_id)
            if done:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished.wait(), self._progress_interval)

    async def _show(
        self, broadcast_id: int, sender: Sender, shown: tuple[int, ...] | None
    ) -> tuple[int, ...]:
        progress = await self.progress(broadcast_id)
        if progress.counts == shown and progress.message_id is not None:
            return shown
        ticket = await self.pacer.acquire()
        try:
            result = await sender.show_progress(progress)
        finally:
            self.pacer.release(ticket)
        if result.outcome is SendOutcome.FLOOD:
            self.floods += 1
            self.pacer.hold(result.retry_after)
            return shown or ()
        if result.message_id is not None and result.message_id != progress.message_id:
            async with self._write() as session:
                broadcast = await session.get(Broadcast, broadcast_id)
                if broadcast is not None:
                    broadcast.progress_message_id = result.message_id
        return progress.counts


def message_of(broadcast: Broadcast) -> BroadcastMessage:
    """What a stored broadcast sends."""
    return BroadcastMessage(
        text=broadcast.text,
        media=MediaKind(broadcast.media_kind) if broadcast.media_kind else None,
        file_id=broadcast.media_file_id or "",
        buttons=tuple(BroadcastButton.from_dict(data) for data in broadcast.buttons or ()),
    )
