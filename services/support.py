"""Support: a user's messages go to the staff (a topic per user in the support forum, or each
staff member's private chat) and the staff's replies come back as the bot's messages. Every
copy is a row written before it is made and retried until Telegram takes it, and topics and
replies are matched to users in the database, so a restart in the middle of a conversation
loses nothing."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import RelayState, SupportMessage, SupportThread, User
from services.alerts import AlertGate
from services.clock import Clock, system_clock
from services.users import UserService

log = logging.getLogger(__name__)

RETRY_AFTER = timedelta(seconds=30)  # a copy still pending this long is the retry job's
GIVE_UP_AFTER = timedelta(days=1)  # a copy Telegram would not take for this long fails
RETRY_BATCH = 200
TOPIC_NAME_MAX = 128
FORUM_ALERT = "support:chat"

T = TypeVar("T")


class RelayProblem(enum.StrEnum):
    SOURCE_GONE = "source_gone"  # the message to copy was deleted, or cannot be copied
    THREAD_GONE = "thread_gone"  # the user's topic was deleted
    REFUSED = "refused"  # the chat refused: the bot blocked, kicked, without rights, no chat
    UNAVAILABLE = "unavailable"  # Telegram did not answer, or said to wait: try again later


class RelayFailed(Exception):
    """A Telegram call of the relay failed; `reason` is Telegram's words, for logs and alerts."""

    def __init__(self, problem: RelayProblem, reason: str = "") -> None:
        super().__init__(f"{problem.value}: {reason}")
        self.problem = problem
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CardButton:
    """Under a user's message in a staff member's chat: that user's card, by name."""

    user_id: int
    name: str


@dataclass(frozen=True, slots=True)
class WriteButton:
    """Under a staff reply that finds the conversation closed: "reply", which opens it again."""

    language: str


class Relay(Protocol):
    """Talks to Telegram for support; every failure is a RelayFailed."""

    async def create_topic(self, chat_id: int, name: str) -> int:
        """A new topic in the forum; its message_thread_id."""
        ...

    async def copy(
        self,
        to_chat_id: int,
        from_chat_id: int,
        message_id: int,
        *,
        thread_id: int | None = None,
        button: CardButton | WriteButton | None = None,
    ) -> int:
        """The message copied as the bot's (into a topic when `thread_id`); the copy's id."""
        ...

    async def say(
        self,
        chat_id: int,
        key: str,
        *,
        language: str | None = None,
        thread_id: int | None = None,
        **args: str,
    ) -> int:
        """A text (a locale key, in `language` or the default one); its message id."""
        ...


class Outcome(enum.StrEnum):
    SENT = "sent"
    QUEUED = "queued"  # Telegram did not take it yet: retried until it does (a day at most)
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Relayed:
    outcome: Outcome
    first: bool = False  # the user's first message since the conversation opened


def topic_link(chat_id: int, topic_id: int) -> str | None:
    """The t.me link that opens a topic of a supergroup for its members."""
    digits = str(chat_id)
    if not digits.startswith("-100") or not digits[4:].isdigit():
        return None
    return f"https://t.me/c/{digits[4:]}/{topic_id}"


def topic_name(user: User) -> str:
    username = f" @{user.username}" if user.username else ""
    return f"{user.first_name or user.id}{username} · {user.id}"[:TOPIC_NAME_MAX]


class SupportService:
    """The conversation of each user with the staff: in SUPPORT_CHAT_ID's topics (`chat_id`)
    or, without it, in each staff member's private chat, where they answer by replying to
    the user's message. One relay at a time per user keeps the order and makes one topic."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        users: UserService,
        chat_id: int | None,
        alerts: AlertGate,
        clock: Clock = system_clock,
    ) -> None:
        self._sessions = sessions
        self._users = users
        self.chat_id = chat_id
        self._alerts = alerts
        self.clock = clock
        self.relay: Relay | None = None  # the bot's, set once a Bot exists
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    # --- the conversation -------------------------------------------------------------------

    async def thread(self, user_id: int) -> SupportThread | None:
        async with self._sessions() as session:
            return await session.get(SupportThread, user_id)

    async def is_open(self, user_id: int) -> bool:
        thread = await self.thread(user_id)
        return thread is not None and thread.open

    async def open(self, user_id: int) -> bool:
        """The user's next messages go to the staff, until they (or the staff) close it.
        False when no one would read them: no forum, and no staff member to write to."""
        if self.chat_id is None and not [s for s in await self._users.staff() if s.id != user_id]:
            return False

        def start(thread: SupportThread) -> None:
            if not thread.open:
                thread.open, thread.opened_at = True, self.clock()

        await self._change(user_id, start)
        return True

    async def close(self, user_id: int) -> bool:
        """The user's messages go to the staff no more; False when it was not open."""

        def end(thread: SupportThread) -> bool:
            was_open = thread.open
            thread.open, thread.closed_at = False, self.clock()
            return was_open

        return await self._change(user_id, end)

    async def close_by_user(self, user_id: int) -> bool:
        """The user ends the conversation; the staff see it in the topic."""
        closed = await self.close(user_id)
        if closed:
            await self._note_in_topic(user_id, "support-topic-closed-by-user")
        return closed

    async def close_by_staff(self, user_id: int) -> bool:
        """A staff member ends the conversation; the user is told so (and how to write again)."""
        closed = await self.close(user_id)
        if closed and self.relay is not None:
            user = await self._users.get(user_id)
            try:
                await self.relay.say(
                    user_id, "support-closed-by-staff", language=user.language if user else None
                )
            except RelayFailed as failure:
                log.info("support: closing note to %s not sent: %s", user_id, failure)
        return closed

    async def _note_in_topic(self, user_id: int, key: str) -> None:
        """A line for the staff in the user's topic (when there is one), such as "closed"."""
        thread = await self.thread(user_id)
        if self.relay is None or thread is None or thread.topic_id is None:
            return
        if thread.chat_id != self.chat_id or self.chat_id is None:
            return
        try:
            await self.relay.say(self.chat_id, key, thread_id=thread.topic_id)
        except RelayFailed as failure:
            log.info("support: note in the topic of %s not sent: %s", user_id, failure)

    async def _change(self, user_id: int, change: Callable[[SupportThread], T]) -> T:
        """`change` applied to the user's thread, made when missing, in one transaction."""
        try:
            return await self._change_once(user_id, change)
        except IntegrityError:  # the user's other update made the row just now
            return await self._change_once(user_id, change)

    async def _change_once(self, user_id: int, change: Callable[[SupportThread], T]) -> T:
        async with self._sessions.begin() as session:
            thread = await session.get(SupportThread, user_id, with_for_update=True)
            if thread is None:
                thread = SupportThread(user_id=user_id, open=False)
                session.add(thread)
            result = change(thread)
        return result

    # --- relaying ---------------------------------------------------------------------------

    async def from_user(self, user_id: int, message_id: int) -> Relayed:
        """A user's message (in their chat with the bot) to the forum or to every staff member."""
        async with self._locks[user_id]:
            now = self.clock()

            def wrote(thread: SupportThread) -> bool:
                first = thread.last_message_at is None or (
                    thread.opened_at is not None and thread.last_message_at < thread.opened_at
                )
                thread.last_message_at = now
                return first

            first = await self._change(user_id, wrote)
            if self.chat_id is not None:
                targets = [self.chat_id]
            else:
                targets = [staff.id for staff in await self._users.staff() if staff.id != user_id]
            rows = [
                SupportMessage(
                    user_id=user_id,
                    from_chat_id=user_id,
                    from_message_id=message_id,
                    to_chat_id=target,
                    with_header=first and self.chat_id is None,
                    state=RelayState.PENDING,
                    attempts=0,
                    created_at=now,
                )
                for target in targets
            ]
            states = await self._send_new(rows)
        return Relayed(_outcome(states), first)

    async def user_of_topic(self, topic_id: int) -> int | None:
        if self.chat_id is None:
            return None
        async with self._sessions() as session:
            return await session.scalar(
                select(SupportThread.user_id).where(
                    SupportThread.chat_id == self.chat_id, SupportThread.topic_id == topic_id
                )
            )

    async def user_of_copy(self, chat_id: int, message_id: int) -> int | None:
        """Whose message this copy (in a staff member's chat) is."""
        async with self._sessions() as session:
            return await session.scalar(
                select(SupportMessage.user_id).where(
                    SupportMessage.to_chat_id == chat_id,
                    SupportMessage.to_message_id == message_id,
                    SupportMessage.staff_id.is_(None),
                )
            )

    async def retry(self) -> int:
        """Copies still pending (a restart, a Telegram outage, a forum the bot could not write
        to) are tried again; those pending for a day fail. How many went this time."""
        now = self.clock()
        async with self._sessions.begin() as session:
            await session.execute(
                update(SupportMessage)
                .where(
                    SupportMessage.state == RelayState.PENDING,
                    SupportMessage.created_at <= now - GIVE_UP_AFTER,
                )
                .values(state=RelayState.FAILED)
                .execution_options(synchronize_session=False)
            )
        async with self._sessions() as session:
            due = (
                await session.execute(
                    select(SupportMessage.id, SupportMessage.user_id)
                    .where(
                        SupportMessage.state == RelayState.PENDING,
                        SupportMessage.created_at <= now - RETRY_AFTER,
                    )
                    .order_by(SupportMessage.id)
                    .limit(RETRY_BATCH)
                )
            ).all()
        sent = 0
        for row_id, user_id in due:
            async with self._locks[user_id]:
                sent += await self._deliver(row_id) is RelayState.SENT
        if due:
            log.info("support: %s of %s pending copies sent", sent, len(due))
        return sent

    async def from_staff(
        self, staff_id: int, user_id: int, chat_id: int, message_id: int
    ) -> Relayed:
        """A staff member's message (in the user's topic, or a reply in their own chat) to
        the user, as the bot's; with a button to answer when the conversation is closed."""
        async with self._locks[user_id]:
            row = SupportMessage(
                user_id=user_id,
                staff_id=staff_id,
                from_chat_id=chat_id,
                from_message_id=message_id,
                to_chat_id=user_id,
                with_header=False,
                state=RelayState.PENDING,
                attempts=0,
                created_at=self.clock(),
            )
            states = await self._send_new([row])
        return Relayed(_outcome(states))

    async def _send_new(self, rows: Sequence[SupportMessage]) -> list[RelayState]:
        """Store the copies to make, then make them."""
        async with self._sessions.begin() as session:
            session.add_all(rows)
        return [await self._deliver(row.id) for row in rows]

    async def _deliver(self, row_id: int) -> RelayState:
        """Make one stored copy, unless it was made meanwhile; called under the user's lock."""
        async with self._sessions() as session:
            row = await session.get(SupportMessage, row_id)
            user = await session.get(User, row.user_id) if row is not None else None
            reader = await session.get(User, row.to_chat_id) if row is not None else None
        if row is None or user is None or row.state is not RelayState.PENDING:
            return row.state if row is not None else RelayState.FAILED
        if self.relay is None:
            return RelayState.PENDING
        try:
            if row.staff_id is not None:
                copy_id = await self._to_user(row, user)
            elif row.to_chat_id == self.chat_id:
                copy_id = await self._to_forum(row, user)
            elif reader is not None and row.to_chat_id > 0:
                copy_id = await self._to_staff(row, user, reader)
            else:  # a forum that is SUPPORT_CHAT_ID no more
                raise RelayFailed(RelayProblem.REFUSED, "not the support chat any more")
        except RelayFailed as failure:
            return await self._failed(row, failure)
        await self._mark(row.id, RelayState.SENT, copy_id)
        return RelayState.SENT

    async def _to_user(self, row: SupportMessage, user: User) -> int:
        assert self.relay is not None
        thread = await self.thread(user.id)
        closed = thread is None or not thread.open
        button = WriteButton(user.language) if closed else None
        return await self.relay.copy(user.id, row.from_chat_id, row.from_message_id, button=button)

    async def _to_staff(self, row: SupportMessage, user: User, reader: User) -> int:
        assert self.relay is not None
        if row.with_header:
            await self.relay.say(
                reader.id,
                "support-staff-header",
                language=reader.language,
                name=user.display_name,
                username=f"@{user.username}" if user.username else "",
                id=str(user.id),
            )
        button = CardButton(user.id, user.display_name)
        return await self.relay.copy(
            reader.id, row.from_chat_id, row.from_message_id, button=button
        )

    async def _to_forum(self, row: SupportMessage, user: User) -> int:
        assert self.relay is not None and self.chat_id is not None
        topic = await self._topic(user, renew=False)
        try:
            return await self.relay.copy(
                self.chat_id, row.from_chat_id, row.from_message_id, thread_id=topic
            )
        except RelayFailed as failure:
            if failure.problem is not RelayProblem.THREAD_GONE:
                raise
        log.info("support: the topic of %s is gone, a new one is made", user.id)
        topic = await self._topic(user, renew=True)
        return await self.relay.copy(
            self.chat_id, row.from_chat_id, row.from_message_id, thread_id=topic
        )

    async def _topic(self, user: User, *, renew: bool) -> int:
        """The user's topic in the forum, made (with a header for the staff) when missing."""
        assert self.relay is not None and self.chat_id is not None
        thread = await self.thread(user.id)
        if (
            not renew
            and thread is not None
            and thread.chat_id == self.chat_id
            and thread.topic_id is not None
        ):
            return thread.topic_id
        topic = await self.relay.create_topic(self.chat_id, topic_name(user))
        chat_id = self.chat_id

        def keep(thread: SupportThread) -> None:
            thread.chat_id, thread.topic_id = chat_id, topic

        await self._change(user.id, keep)
        try:
            await self.relay.say(
                self.chat_id,
                "support-topic-header",
                thread_id=topic,
                name=user.display_name,
                username=f"@{user.username}" if user.username else "",
                id=str(user.id),
                locale=user.language,
            )
        except RelayFailed as failure:  # the header is a courtesy: the message matters
            log.info("support: header of the topic of %s not sent: %s", user.id, failure)
        return topic

    async def _failed(self, row: SupportMessage, failure: RelayFailed) -> RelayState:
        """Telegram's trouble or a forum the bot cannot write to: pending, retried later (and
        the admins told about the forum); anything else: failed for good."""
        to_forum = row.staff_id is None and row.to_chat_id == self.chat_id
        problem = failure.problem
        later = problem is RelayProblem.UNAVAILABLE or (
            to_forum and problem is not RelayProblem.SOURCE_GONE
        )
        log.warning(
            "support: copy %s for %s %s: %s",
            row.id,
            row.user_id,
            "kept for a retry" if later else "failed",
            failure,
        )
        if to_forum and problem is RelayProblem.REFUSED:
            await self._alerts.once_per_hour(
                FORUM_ALERT, "support-chat-refused", reason=failure.reason[:200]
            )
        await self._mark(row.id, RelayState.PENDING if later else RelayState.FAILED, None)
        return RelayState.PENDING if later else RelayState.FAILED

    async def _mark(self, row_id: int, state: RelayState, copy_id: int | None) -> None:
        now = self.clock()
        values: dict[str, object] = {
            "state": state,
            "attempts": SupportMessage.attempts + 1,
        }
        if state is RelayState.SENT:
            values.update(to_message_id=copy_id, sent_at=now)
        async with self._sessions.begin() as session:
            await session.execute(
                update(SupportMessage)
                .where(SupportMessage.id == row_id)
                .values(values)
                .execution_options(synchronize_session=False)
            )


def _outcome(states: Sequence[RelayState]) -> Outcome:
    """One copy sent is enough (private chats: any staff member has it)."""
    if RelayState.SENT in states:
        return Outcome.SENT
    if RelayState.PENDING in states:
        return Outcome.QUEUED
    return Outcome.FAILED
