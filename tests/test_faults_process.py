"""Fault suite, the process and its outside services: a database locked by a long writer while
50 updates arrive, Telegram answering 500 and 429 (a 429 waited out, within bounds), YooKassa
hanging on the re-fetch, and the bot killed with -9 in the middle of a payment credit. The
result table is docs/faults.md."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.telegram_calls import MAX_ATTEMPTS
from db.engine import create_engine, create_session_factory
from db.models import AccessKind, Device, Payment, PaymentStatus, User
from tests.conftest import App, stored_config
from tests.e2e import Operator
from tests.fakes.telegram_api import FakeTelegram, Sent
from tests.fakes.yookassa_api import FakeYooKassa
from tests.money_support import PAYER, YOOKASSA_ADDRESS, Shop
from tests.postgres import BACKENDS

USERS = 50
HOLD_SECONDS = 2.0
GENERIC_ERROR = "Что-то пошло не так. Попробуйте ещё раз чуть позже."
PAID_TEXT = "Оплата получена"
MONTH = timedelta(days=30)
BUYER = 5401


def plain_url(database_url: str) -> str:
    """A SQLAlchemy asyncpg URL as asyncpg itself takes it."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


# --- a database locked by a long writer ------------------------------------------------------


def _sqlite_writer(path: str, seconds: float, held: threading.Event) -> None:
    """Hold SQLite's write lock for `seconds` with a real write in it, then commit."""
    connection = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(
            "INSERT INTO audit_log (at, actor_id, action, target, details) VALUES (?, 1, ?, '', '')",
            (datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"), "fault-writer"),
        )
        held.set()
        time.sleep(seconds)
        connection.execute("COMMIT")
    finally:
        connection.close()


async def _postgres_writer(url: str, seconds: float, held: asyncio.Event) -> None:
    """LOCK TABLE users (nobody reads or writes it) with a real write in the transaction."""
    connection = await asyncpg.connect(plain_url(url))
    try:
        async with connection.transaction():
            await connection.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
            await connection.execute(
                "INSERT INTO audit_log (at, actor_id, action, target, details) "
                "VALUES (now(), 1, 'fault-writer', '', '')"
            )
            held.set()
            await asyncio.sleep(seconds)
    finally:
        await connection.close()


@asynccontextmanager
async def long_writer(
    app: App, database_url: str | None, seconds: float
) -> AsyncIterator[asyncio.Future[None]]:
    """Another connection holds the database's write lock from entry for `seconds`; yields the
    writer, which ends when it has committed."""
    if database_url is None:
        path = make_url(app.settings.effective_database_url).database
        assert path
        held = threading.Event()
        writer: asyncio.Future[None] = asyncio.ensure_future(
            asyncio.to_thread(_sqlite_writer, path, seconds, held)
        )
        while not held.is_set():
            assert not writer.done(), writer.exception()
            await asyncio.sleep(0.01)
    else:
        locked = asyncio.Event()
        writer = asyncio.ensure_future(_postgres_writer(database_url, seconds, locked))
        await asyncio.wait_for(locked.wait(), 10)
    try:
        yield writer
    finally:
        await writer


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
async def test_database_locked_by_a_long_writer_while_50_users_start_gives_0_errors(
    app: App, database_url: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    users = range(6001, 6001 + USERS)
    gaps: list[float] = []

    async def tick() -> None:  # the event loop's longest stall while the updates wait
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.02)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    async with long_writer(app, database_url, HOLD_SECONDS) as writer:
        began = time.monotonic()
        answers = await asyncio.gather(
            *(app.say(user_id, "/start") for user_id in users), return_exceptions=True
        )
        took = time.monotonic() - began
    ticker.cancel()

    assert writer.exception() is None, "the long writer committed"
    assert [a for a in answers if isinstance(a, BaseException)] == [], "0 errors"
    assert took >= HOLD_SECONDS - 0.3, f"the updates did not wait for the lock ({took:.2f} s)"
    for user_id, sent in zip(users, answers, strict=True):
        assert isinstance(sent, list)
        texts = [message.text or "" for message in sent]
        assert texts, f"user {user_id} got no answer"
        assert "Привет" in texts[0], texts
        assert GENERIC_ERROR not in texts
    async with app.services.sessions() as session:
        stored = await session.scalar(
            select(func.count()).select_from(User).where(User.id.in_(list(users)))
        )
    assert stored == USERS
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    assert max(gaps) < 1.0, f"the event loop stalled for {max(gaps):.2f} s"
    print(f"\n{USERS} /start behind a {HOLD_SECONDS:g} s writer: all answered in {took:.2f} s")


# --- Telegram answering 500 and 429 ----------------------------------------------------------


async def user_with_access(app: App, user_id: int) -> None:
    await app.say(user_id, "/start")
    async with app.services.sessions.begin() as session:
        user = await session.get_one(User, user_id)
        user.access_kind, user.access_until = AccessKind.INVITE, None


async def only_device(app: App) -> Device:
    (device,) = await app.devices()
    return device


@pytest.mark.parametrize(("status", "retry_after"), [(500, None)], ids=["500"])
async def test_telegram_failing_the_config_file_tells_the_user_and_get_config_resends_it(
    app: App, status: int, retry_after: int | None, caplog: pytest.LogCaptureFixture
) -> None:
    """A 500 may or may not have sent the file, so the call is not repeated: the handler stops
    at the failed sendDocument and the user is told to try again. The device is made and kept;
    the next /get_config sends the same config, and nothing is made twice."""
    await app.add_node("nl1")
    user_id = 6101
    await user_with_access(app, user_id)
    app.telegram.fail_next("sendDocument", 1, status, retry_after)

    sent = await app.say(user_id, "/get_config")

    refused = [c for c in app.telegram.calls if c.method == "sendDocument" and not c.ok]
    assert [c.status for c in refused] == [status]
    assert [(m.method, m.text) for m in sent] == [("sendMessage", GENERIC_ERROR)]
    assert all("Traceback" not in (m.text or "") for m in app.telegram.sent_to(user_id))
    device = await only_device(app)
    assert list(app.wireguard.nodes["nl1"].peers) == [device.public_key]
    refusals = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"config for {user_id} not delivered" in text for text in refusals), refusals

    again = await app.say(user_id, "/get_config")

    assert [m.method for m in again] == ["sendDocument", "sendPhoto"]
    assert again[0].document is not None
    expected = await stored_config(app.services, device.id)
    assert again[0].document.content.decode() == expected.text
    assert [d.id for d in await app.devices()] == [device.id], "no second device"
    assert list(app.wireguard.nodes["nl1"].peers) == [device.public_key], "no second peer"


async def test_telegram_429_on_the_config_file_is_waited_out_and_holds_every_sender(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    """A 429 means the file was not sent: after retry_after the same call goes again and the
    config arrives, with no apology. Meanwhile every sender waits: another user's answer goes
    out only after the hold."""
    caplog.set_level(logging.INFO, logger="bot.telegram_calls")
    await app.add_node("nl1")
    user_id, other = 6104, 6105
    await user_with_access(app, user_id)
    await app.say(other, "/start")
    app.telegram.fail_next("sendDocument", 1, 429, retry_after=1)

    asking = asyncio.create_task(app.say(user_id, "/get_config"))
    refused = await app.telegram.wait_for(lambda c: c.method == "sendDocument" and not c.ok)
    helped = await app.say(other, "/help")
    sent = await asyncio.wait_for(asking, 10)

    assert [m.method for m in sent] == ["sendDocument", "sendPhoto"], "no apology"
    device = await only_device(app)
    expected = await stored_config(app.services, device.id)
    assert sent[0].document is not None
    assert sent[0].document.content.decode() == expected.text
    calls = [c for c in app.telegram.calls if c.method == "sendDocument"]
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - refused.at >= 1.0, "sent again after retry_after"
    (help_call,) = [c for c in app.telegram.calls if c.params.get("chat_id") == other][-1:]
    assert helped and help_call.ok
    assert help_call.at - refused.at >= 1.0, "the other user's answer waited for the hold too"
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.telegram_calls"]
    assert lines == [
        "Telegram 429 on sendDocument: every sender waits 1 s, then again (attempt 2 of 5)"
    ]


async def test_telegram_429_past_the_bounds_gives_the_apology_and_loses_nothing(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    """Retries are bounded: five 429s in a row (4 s of waiting) end in the apology, and a
    retry_after past MAX_WAIT is not waited at all; then the user sees nothing (the apology
    meets the same hold), no error escapes, and the device stays for the next /get_config."""
    await app.add_node("nl1")
    user_id = 6102
    await user_with_access(app, user_id)
    app.telegram.fail_next("sendDocument", MAX_ATTEMPTS, 429, retry_after=1)

    began = time.monotonic()
    sent = await app.say(user_id, "/get_config")

    assert MAX_ATTEMPTS - 1 <= time.monotonic() - began < MAX_ATTEMPTS + 3
    assert [(m.method, m.text) for m in sent] == [("sendMessage", GENERIC_ERROR)]
    statuses = [c.status for c in app.telegram.calls if c.method == "sendDocument"]
    assert statuses == [429] * MAX_ATTEMPTS
    given_up = [r.getMessage() for r in caplog.records if "given up" in r.getMessage()]
    assert len(given_up) == 1
    assert given_up[0].startswith("Telegram 429 on sendDocument: given up after 5 attempts and ")
    device = await only_device(app)
    again = await app.say(user_id, "/get_config")
    assert [m.method for m in again] == ["sendDocument", "sendPhoto"]
    assert again[0].document is not None
    assert again[0].document.content.decode() == (await stored_config(app.services, device.id)).text

    app.telegram.fail_next("sendDocument", 1, 429, retry_after=600)
    began = time.monotonic()
    assert await app.say(user_id, "/get_config") == []
    assert time.monotonic() - began < 3, "600 s is past MAX_WAIT: not waited"
    assert [c.status for c in app.telegram.calls if c.method == "sendDocument"][-1] == 429
    assert [c.method for c in app.telegram.calls][-1] == "sendDocument", "the apology waits too"
    assert len(await app.devices()) == 1


async def test_get_updates_answering_500_then_429_loses_and_doubles_no_update(app: App) -> None:
    """Long polling backs off and asks again from the same offset: the update waiting behind
    the failures is handled exactly once."""
    user_id = 6103
    app.telegram.fail_next("getUpdates", 1, 500)
    app.telegram.fail_next("getUpdates", 1, 429, retry_after=1)
    app.telegram.send_text(app.telegram.user(user_id), "/start")
    polling = asyncio.create_task(
        app.dispatcher.start_polling(
            app.bot, handle_signals=False, close_bot_session=False, polling_timeout=1
        )
    )
    try:
        (hello,) = await app.telegram.wait_sent(user_id, 1, timeout=15)
        assert "Привет" in (hello.text or "")
        await asyncio.sleep(0.5)
    finally:
        await app.dispatcher.stop_polling()
        await polling
    failed = [c.status for c in app.telegram.calls if c.method == "getUpdates" and not c.ok]
    assert failed == [500, 429]
    assert len(app.telegram.sent_to(user_id)) == 1, "handled once"
    assert await app.user(user_id) is not None


# --- YooKassa hanging on the re-fetch --------------------------------------------------------


async def test_yookassa_hanging_on_the_refetch_answers_503_and_the_redelivery_credits_once(
    shop: Shop,
) -> None:
    """(Hanging while a payment is created: test_money_yookassa.py::
    test_timeout_during_creation_then_retry_reuses_the_idempotency_key.)"""
    app, yookassa = shop.app, shop.yookassa
    await app.say(PAYER, "/start")
    payment_id = shop.payment_id_of(await shop.card_link(PAYER))
    yookassa.succeed(payment_id)
    yookassa.hang_next(1)

    began = time.monotonic()
    assert await shop.notify(payment_id, forwarded_for=YOOKASSA_ADDRESS) == 503
    waited = time.monotonic() - began

    assert waited < app.settings.yookassa_timeout + 2, f"the webhook waited {waited:.1f} s"
    (payment,) = await shop.payments()
    assert payment.status is PaymentStatus.PENDING and payment.credited_at is None
    user = await app.user(PAYER)
    assert user is not None and user.access_kind is not AccessKind.PAID
    assert not [m for m in app.telegram.sent_to(PAYER) if PAID_TEXT in (m.text or "")]

    # YooKassa sends a notification again until it gets 200: now it counts, once
    for _ in range(2):
        assert await shop.notify(payment_id, forwarded_for=YOOKASSA_ADDRESS) == 200
    (payment,) = await shop.payments()
    assert payment.status is PaymentStatus.SUCCEEDED and payment.credited_at == app.clock()
    user = await app.user(PAYER)
    assert user is not None and user.access_until == app.clock() + MONTH
    assert len([m for m in app.telegram.sent_to(PAYER) if PAID_TEXT in (m.text or "")]) == 1


# --- kill -9 during a payment credit ----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def message_with(
    telegram: FakeTelegram, chat_id: int, wanted: Callable[[Sent], bool], timeout: float = 30
) -> Sent:
    """The newest message in the chat (as last edited) that `wanted` accepts, once it exists."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in reversed(telegram.sent_to(chat_id)):
            if wanted(message):
                return message
        await asyncio.sleep(0.05)
    recent = [m.text for m in telegram.sent_to(chat_id)][-4:]
    raise AssertionError(f"chat {chat_id}: no such message within {timeout}s: {recent}")


def with_button(data: str) -> Callable[[Sent], bool]:
    return lambda message: any(b.get("callback_data") == data for b in message.buttons)


def paid_messages(telegram: FakeTelegram) -> int:
    return sum(PAID_TEXT in (m.text or "") for m in telegram.sent_to(BUYER))


class PayingBot:
    """`python main.py` selling by card against the fake YooKassa, and what it stored."""

    def __init__(
        self,
        tmp_path: Path,
        telegram: FakeTelegram,
        yookassa: FakeYooKassa,
        database_url: str | None = None,
    ) -> None:
        self.tmp_path = tmp_path
        self.telegram = telegram
        self.yookassa = yookassa
        self.port = free_port()
        data_dir = tmp_path / "data"
        self.database_url = database_url or f"sqlite+aiosqlite:///{data_dir / 'vpnservice.db'}"
        self.operator = Operator(
            data_dir,
            telegram.base_url,
            telegram.token,
            DATABASE_URL=self.database_url,
            WEB_PORT=str(self.port),
            YOOKASSA_SHOP_ID=yookassa.shop_id,
            YOOKASSA_SECRET_KEY=yookassa.secret_key,
            YOOKASSA_API_URL=yookassa.base_url,
            YOOKASSA_ALLOWED_IPS="127.0.0.1/32",
            YOOKASSA_TIMEOUT="30",
        )
        self.runs = 0
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.runs += 1
        self.process = self.operator.start_bot(self.tmp_path / f"bot{self.runs}.log")
        await self.telegram.wait_for(lambda call: call.method == "deleteWebhook", timeout=60)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        assert self.process.wait(timeout=10) == -signal.SIGKILL

    async def stop(self) -> None:
        """No run (the killed one included) logged a traceback; SIGTERM ends it cleanly."""
        for run in range(1, self.runs + 1):
            log = (self.tmp_path / f"bot{run}.log").read_text()
            assert "Traceback" not in log, log[-3000:]
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(self.process.wait, 30) == 0

    def abandon(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    async def notify(self, payment_id: str) -> int:
        """YooKassa POSTs its notification about the payment; the HTTP status it gets."""
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"http://127.0.0.1:{self.port}/webhooks/yookassa",
                json=self.yookassa.notification(payment_id),
            ) as answer,
        ):
            return answer.status

    async def card_payment(self) -> str:
        """The buyer starts the bot and presses "card" for a month: the YooKassa payment id."""
        telegram = self.telegram
        buyer = telegram.user(BUYER, first_name="Boris")
        telegram.send_text(buyer, "/start")
        await message_with(telegram, BUYER, lambda m: "Привет" in (m.text or ""))
        telegram.send_text(buyer, "/subscribe")
        plans = await message_with(telegram, BUYER, with_button("plan:1m"))
        telegram.press(buyer, plans, "plan:1m")
        methods = await message_with(telegram, BUYER, with_button("pay:1m:card"))
        telegram.press(buyer, methods, "pay:1m:card")
        link = await message_with(telegram, BUYER, lambda m: any("url" in b for b in m.buttons))
        url = next(b["url"] for b in link.buttons if "url" in b)
        (payment_id,) = [
            key
            for key, p in self.yookassa.payments.items()
            if p["confirmation"]["confirmation_url"] == url
        ]
        return str(payment_id)

    async def state(self) -> tuple[list[Payment], User | None]:
        """Every payment and the buyer's row, read as another process would."""
        engine = create_engine(self.database_url)
        try:
            async with create_session_factory(engine)() as session:
                payments = list((await session.scalars(select(Payment))).all())
                return payments, await session.get(User, BUYER)
        finally:
            await engine.dispose()

    async def credited_once(self) -> None:
        """One payment, succeeded; access extended by exactly one month from the credit; the
        buyer told once."""
        (payment,), user = await self.state()
        assert payment.status is PaymentStatus.SUCCEEDED and payment.credited_at is not None
        assert user is not None and user.access_kind is AccessKind.PAID
        assert user.access_until == payment.credited_at + MONTH == payment.access_until
        await message_with(self.telegram, BUYER, lambda m: PAID_TEXT in (m.text or ""))
        await asyncio.sleep(0.1)
        assert paid_messages(self.telegram) == 1

    async def nothing_credited(self) -> None:
        (payment,), user = await self.state()
        assert payment.status is PaymentStatus.PENDING and payment.credited_at is None
        assert payment.access_until is None
        assert user is not None and user.access_kind is not AccessKind.PAID
        assert paid_messages(self.telegram) == 0


@pytest.fixture
async def paying_bot(
    tmp_path: Path, telegram: FakeTelegram, yookassa: FakeYooKassa, database_url: str | None
) -> AsyncIterator[PayingBot]:
    bot = PayingBot(tmp_path, telegram, yookassa, database_url)
    try:
        yield bot
    finally:
        bot.abandon()


async def test_kill_9_while_the_credit_refetches_then_the_redelivery_credits_once(
    paying_bot: PayingBot,
) -> None:
    """Killed while it asks YooKassa about the paid payment (the answer hangs): YooKassa got no
    200, so it sends the notification again, and the restarted bot credits it exactly once."""
    bot, yookassa = paying_bot, paying_bot.yookassa
    await bot.start()
    payment_id = await bot.card_payment()
    yookassa.succeed(payment_id)
    yookassa.hang_next(1)

    delivery = asyncio.create_task(bot.notify(payment_id))
    fetch = f"/v3/payments/{payment_id}"
    while not any(r.method == "GET" and r.path == fetch for r in yookassa.requests):
        assert not delivery.done()
        await asyncio.sleep(0.02)
    bot.kill()

    with pytest.raises(aiohttp.ClientError):
        await delivery  # YooKassa sees no answer: it will deliver again
    await bot.nothing_credited()

    await bot.start()
    assert await bot.notify(payment_id) == 200
    await bot.credited_once()
    assert await bot.notify(payment_id) == 200  # YooKassa may deliver it twice
    await bot.credited_once()
    await bot.stop()


async def backend_blocked_on_lock(connection: asyncpg.Connection) -> int:
    """The bot's database backend that waits for a row lock: its pid, once it waits."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pid = await connection.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'vpnservice' "
            "AND wait_event_type = 'Lock'"
        )
        if pid is not None:
            return int(pid)
        await asyncio.sleep(0.02)
    raise AssertionError("the bot never waited for the buyer's row")


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_kill_9_between_marking_the_payment_paid_and_commit_applies_nothing_then_once(
    paying_bot: PayingBot,
) -> None:
    """The credit is one transaction: the payment is marked succeeded, then the buyer's row is
    locked to extend access. The test holds that row, so the bot stops exactly between the two
    (its UPDATE of the payment done, not committed) and is killed there. Nothing of it stays;
    the redelivered notification credits the payment once."""
    bot, yookassa = paying_bot, paying_bot.yookassa
    await bot.start()
    payment_id = await bot.card_payment()
    yookassa.succeed(payment_id)

    holder = await asyncpg.connect(plain_url(bot.database_url))
    try:
        holding = holder.transaction()
        await holding.start()
        await holder.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", BUYER)
        delivery = asyncio.create_task(bot.notify(payment_id))
        pid = await backend_blocked_on_lock(holder)
        updated = await holder.fetchval(
            "SELECT count(*) FROM pg_locks JOIN pg_class ON pg_class.oid = pg_locks.relation "
            "WHERE pg_locks.pid = $1 AND pg_class.relname = 'payments' "
            "AND pg_locks.mode = 'RowExclusiveLock' AND pg_locks.granted",
            pid,
        )
        assert updated == 1, "the bot's transaction has updated the payment"
        bot.kill()
        await holding.rollback()
        with pytest.raises(aiohttp.ClientError):
            await delivery
        deadline = time.monotonic() + 15
        while await holder.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
            assert time.monotonic() < deadline, "the killed bot's transaction never ended"
            await asyncio.sleep(0.05)
    finally:
        await holder.close()
    await bot.nothing_credited()

    await bot.start()
    assert await bot.notify(payment_id) == 200
    await bot.credited_once()
    assert await bot.notify(payment_id) == 200
    await bot.credited_once()
    await bot.stop()
