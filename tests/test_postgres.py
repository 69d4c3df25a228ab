"""PostgreSQL beside SQLite: job locks across processes, and services that change rows they read
stay right when several transactions (or bot processes) run at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import AsyncExitStack
from datetime import timedelta

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import select, text

from bot.container import open_services
from bot.joblock import exclusive, exclusive_jobs, run_exclusive
from db.engine import create_engine, lock_key
from db.migrate import upgrade
from db.models import AccessKind, BroadcastAudience, BroadcastDelivery, DeliveryState, User
from services.broadcasts import Audience, BroadcastMessage, Progress, SendOutcome, SendResult
from services.invites import InviteUsedUp
from services.users import Visitor
from tests.conftest import ADMIN_ID, App


class Gate:
    """A job that counts its runs and, while `hold` is set, waits to be let go."""

    def __init__(self) -> None:
        self.runs = 0
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self) -> None:
        self.runs += 1
        self.started.set()
        await self.release.wait()


async def test_lock_key_is_stable_and_per_name() -> None:
    assert lock_key("job:probe") == lock_key("job:probe")
    assert lock_key("job:probe") != lock_key("job:reconcile")
    assert -(2**63) <= lock_key("job:backup") < 2**63
    assert lock_key("job:probe") == -9110862041342860030, "must not change between releases"


async def test_two_processes_never_run_the_same_job_at_once(postgres_url: str) -> None:
    first, second = create_engine(postgres_url), create_engine(postgres_url)  # two processes
    try:
        job = Gate()
        running = asyncio.create_task(run_exclusive(first, "reconcile", job))
        await asyncio.wait_for(job.started.wait(), 10)
        assert await run_exclusive(second, "reconcile", job) is False, "skipped while it runs"
        assert await run_exclusive(first, "reconcile", job) is False, "also in the same process"
        other = Gate()
        other.release.set()
        assert await run_exclusive(second, "probe", other) is True, "other jobs are not held up"
        assert job.runs == 1
        job.release.set()
        assert await running is True
        assert await run_exclusive(second, "reconcile", job) is True, "runs again once released"
        assert job.runs == 2
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_failed_job_releases_its_lock(postgres_url: str) -> None:
    first, second = create_engine(postgres_url), create_engine(postgres_url)
    try:

        async def broken() -> None:
            raise RuntimeError("job failed")

        with pytest.raises(RuntimeError):
            await run_exclusive(first, "backup", broken)
        job = Gate()
        job.release.set()
        assert await run_exclusive(second, "backup", job) is True
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_dropped_connection_releases_the_lock(postgres_url: str) -> None:
    first, second = create_engine(postgres_url), create_engine(postgres_url)
    try:
        job = Gate()
        running = asyncio.create_task(run_exclusive(first, "probe", job))
        await asyncio.wait_for(job.started.wait(), 10)
        async with second.connect() as connection:  # the first process's connection is cut
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND pid <> pg_backend_pid()"
                )
            )
        job.release.set()
        with pytest.raises(Exception):  # noqa: B017, PT011 (the driver's error for a cut link)
            await running
        other = Gate()
        other.release.set()
        assert await run_exclusive(second, "probe", other) is True
    finally:
        await first.dispose()
        await second.dispose()


async def test_scheduler_jobs_are_locked_by_their_ids(postgres_url: str) -> None:
    first, second = create_engine(postgres_url), create_engine(postgres_url)
    await upgrade(first)  # interval jobs claim their turn in job_runs
    try:
        reconcile, probe = Gate(), Gate()
        probe.release.set()
        scheduler = AsyncIOScheduler()
        scheduler.add_job(reconcile, "interval", seconds=60, id="reconcile")
        scheduler.add_job(probe, "interval", seconds=60, id="probe")
        exclusive_jobs(scheduler, second)
        wrapped = {job.id: job.func for job in scheduler.get_jobs()}
        holder = asyncio.ensure_future(exclusive(first, "reconcile", reconcile)())
        await asyncio.wait_for(reconcile.started.wait(), 10)
        await wrapped["reconcile"]()
        await wrapped["probe"]()
        assert (reconcile.runs, probe.runs) == (1, 1), "reconcile ran elsewhere; probe here"
        reconcile.release.set()
        await holder
        await wrapped["reconcile"]()
        assert reconcile.runs == 2
    finally:
        await first.dispose()
        await second.dispose()


async def test_with_sqlite_a_job_just_runs(tmp_path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}")
    try:
        job = Gate()
        job.release.set()
        scheduler = AsyncIOScheduler()
        scheduler.add_job(job, "interval", seconds=60, id="probe")
        exclusive_jobs(scheduler, engine)
        assert scheduler.get_jobs()[0].func is job, "nothing to lock for one process"
        assert await run_exclusive(engine, "probe", job) is True
        assert job.runs == 1
        assert exclusive(engine, "probe", job) is job
    finally:
        await engine.dispose()


async def test_processes_starting_together_migrate_in_turn(postgres_url: str) -> None:
    engines = [create_engine(postgres_url) for _ in range(3)]
    try:
        await asyncio.gather(*(upgrade(engine) for engine in engines))
        async with engines[0].connect() as connection:
            versions = (await connection.execute(text("SELECT * FROM alembic_version"))).all()
        assert len(versions) == 1
    finally:
        for engine in engines:
            await engine.dispose()


# --- services under concurrent transactions (both backends) -------------------------------


async def test_concurrent_grants_all_count(app: App) -> None:
    await app.services.users.grant(3001, 1, create=True)
    await asyncio.gather(*(app.services.users.grant(3001, 10) for _ in range(8)))
    user = await app.user(3001)
    assert user.access_until == app.clock.now + timedelta(days=81)


async def test_concurrent_first_updates_of_a_new_user(app: App) -> None:
    visitor = Visitor(id=3002, first_name="Анна", username="anna", language="ru")
    users = await asyncio.gather(*(app.services.users.touch(visitor) for _ in range(6)))
    assert {user.id for user in users} == {3002}
    assert await app.count(User) == 1


async def test_concurrent_redemptions_take_exactly_the_uses(app: App) -> None:
    await app.say(ADMIN_ID, "/start")
    invite = await app.services.invites.create(ADMIN_ID, days=30, uses=3)
    people = list(range(3101, 3109))
    for user_id in people:
        await app.services.users.touch(Visitor(user_id, "Test", None, "ru"))
    results = await asyncio.gather(
        *(app.services.invites.redeem(user_id, invite.code) for user_id in people),
        return_exceptions=True,
    )
    assert sum(not isinstance(result, BaseException) for result in results) == 3
    assert all(isinstance(r, InviteUsedUp) for r in results if isinstance(r, BaseException))
    async with app.services.sessions() as session:
        granted = await session.scalars(
            select(User.id).where(User.id.in_(people), User.access_kind == AccessKind.INVITE)
        )
        assert len(granted.all()) == 3


class RecordingSender:
    """Telegram as a broadcast sees it: every message delivered, each recorded."""

    def __init__(self, sent: Counter[int]) -> None:
        self.sent = sent

    async def send(self, chat_id: int, message: BroadcastMessage) -> SendResult:
        self.sent[chat_id] += 1
        await asyncio.sleep(0.05)  # so that some rows are always in flight
        return SendResult(SendOutcome.SENT)

    async def show_progress(self, progress: Progress) -> SendResult:
        return SendResult(SendOutcome.SENT, message_id=progress.message_id or 1)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # SQLite: one process
async def test_two_processes_never_run_one_broadcast_at_once(app: App) -> None:
    """A second process starts (or resumes) a broadcast the first one is sending: it leaves
    it alone, so the first one's rows in flight are not taken for a crash's."""
    users = range(3201, 3281)
    async with app.services.sessions.begin() as session:
        for user_id in users:
            session.add(
                User(
                    id=user_id,
                    started=True,
                    access_kind=AccessKind.NONE,
                    created_at=app.clock.now,
                    last_seen_at=app.clock.now,
                )
            )
    broadcast = await app.services.broadcasts.create(
        ADMIN_ID, BroadcastMessage("Привет"), "Привет", Audience(BroadcastAudience.ALL)
    )
    assert broadcast is not None
    sent: Counter[int] = Counter()
    async with AsyncExitStack() as stack:
        other = await open_services(app.settings, clock=app.clock, wireguard=app.wireguard)  # type: ignore[arg-type]
        stack.push_async_callback(other.close)
        first = app.services.broadcasts.start(broadcast.id, RecordingSender(sent))
        while sum(sent.values()) < 20:
            await asyncio.sleep(0.01)
        second = other.broadcasts.start(broadcast.id, RecordingSender(sent))
        await asyncio.wait_for(second, 10)
        assert not first.done(), "the second process did not run it"
        await asyncio.wait_for(first, 60)
    assert set(sent) == set(users)
    assert set(sent.values()) == {1}, "no one got a second copy"
    async with app.services.sessions() as session:
        states = await session.scalars(
            select(BroadcastDelivery.state).where(BroadcastDelivery.broadcast_id == broadcast.id)
        )
        assert set(states.all()) == {DeliveryState.SENT}
