"""Broadcasts: one text to a group of users, queued in the database, paced, resumable."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
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
    User,
)
from services.audit import AuditAction, record
from services.clock import Clock, system_clock
from services.errors import ServiceError
from services.pacing import TELEGRAM_RATE_LIMIT, Pacer, Ticket

log = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 4096  # Telegram's limit for a message text, in UTF-16 code units
DEFAULT_RATE = 25
MAX_ATTEMPTS = 3  # for transient errors (5xx, connection trouble); a 429 is not an attempt
PROGRESS_INTERVAL = 2.0
STOP_GRACE = 5.0


class BroadcastTextEmpty(ServiceError):
    key = "broadcast-text-empty"


class BroadcastTextTooLong(ServiceError):
    key = "broadcast-text-too-long"


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
    finished: bool

    @property
    def counts(self) -> tuple[int, ...]:
        return (self.sent, self.failed, self.blocked, self.unknown, self.left, int(self.finished))


class Sender(Protocol):
    """Talks to Telegram; answers every Telegram error with a SendResult instead of raising."""

    async def send(self, chat_id: int, text: str) -> SendResult: ...

    async def show_progress(self, progress: Progress) -> SendResult:
        """Edit `progress.message_id`, or send a new message when it is None or gone;
        the result carries the id of the message that shows it."""
        ...


def check_text(text: str, plain: str) -> None:
    """A broadcast text (HTML) and its plain form must fit one Telegram message."""
    if not plain.strip() or not text.strip():
        raise BroadcastTextEmpty()
    length = len(plain.encode("utf-16-le")) // 2
    if length > MAX_TEXT_LENGTH:
        raise BroadcastTextTooLong(length=length, limit=MAX_TEXT_LENGTH)


def audience_filter(audience: BroadcastAudience, now: datetime) -> ColumnElement[bool]:
    """Who a broadcast reaches: users who started the bot and did not block it or get banned."""
    reachable = and_(User.started.is_(True), User.banned.is_(False), User.bot_blocked_at.is_(None))
    has_access = and_(
        User.access_kind != AccessKind.NONE,
        or_(User.access_until.is_(None), User.access_until > now),
    )
    if audience is BroadcastAudience.ACCESS:
        return and_(reachable, has_access)
    if audience is BroadcastAudience.NO_ACCESS:
        return and_(reachable, not_(has_access))
    return reachable


class BroadcastService:
    """Creates broadcasts and runs them: one runner task per broadcast. Their sends are bulk
    calls of the pacer, which the bot shares with its answers to users; those go first."""

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

    async def count(self, audience: BroadcastAudience) -> int:
        async with self._sessions() as session:
            query = (
                select(func.count())
                .select_from(User)
                .where(audience_filter(audience, self.clock()))
            )
            return int(await session.scalar(query) or 0)

    async def create(
        self, admin_id: int, text: str, plain: str, audience: BroadcastAudience
    ) -> Broadcast | None:
        """The broadcast and one pending delivery per recipient, in one transaction;
        None when the group is empty."""
        check_text(text, plain)
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
                text=text,
                audience=audience,
                status=BroadcastStatus.RUNNING,
                total=total,
                created_at=now,
            )
            session.add(broadcast)
            await session.flush()
            details = f"{total} recipients, {len(plain)} characters"
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
            finished=broadcast.status is BroadcastStatus.DONE,
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
        text = broadcast.text
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
                task = asyncio.create_task(self._deliver(cursor, user_id, text, sender, ticket))
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
        """Mark the next pending row `sending`, committed before its request goes out."""
        now = self.clock()
        async with self._write() as session:
            row = (
                await session.execute(
                    select(BroadcastDelivery.id, BroadcastDelivery.user_id)
                    .where(
                        BroadcastDelivery.id > after_id,
                        BroadcastDelivery.broadcast_id == broadcast_id,
                        BroadcastDelivery.state == DeliveryState.PENDING,
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
        self, delivery_id: int, user_id: int, text: str, sender: Sender, ticket: Ticket
    ) -> None:
        try:
            result = await sender.send(user_id, text)
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

    async def _finish(self, broadcast_id: int) -> None:
        now = self.clock()
        async with self._write() as session:
            await self._in_flight_unknown(session, broadcast_id)
            broadcast = await session.get(Broadcast, broadcast_id)
            if broadcast is not None:
                broadcast.status = BroadcastStatus.DONE
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
