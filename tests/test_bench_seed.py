"""bench.seed: a database at scale holds users in every state with their devices, payments,
reminders and audit entries, and the admin console reads it as it reads a real one."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bench.seed import STATES, seed
from bot.container import cipher_of
from db.models import Device, Payment, PaymentStatus
from services.console import UserFilter
from tests.conftest import App

USERS = 700
NODES = 3


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_seed_fills_every_state_and_the_console_reads_it(app: App) -> None:
    cipher = cipher_of(app.settings, create=False)
    assert cipher is not None
    done = await seed(app.services, cipher, USERS, NODES, app.clock())
    assert done.users == {state: USERS // len(STATES) for state in STATES}
    assert done.devices == USERS * 3 // 2
    console = app.services.console
    assert await console.count(UserFilter.ALL) == USERS
    assert await console.count(UserFilter.BANNED) == USERS // len(STATES)
    assert await console.count(UserFilter.BLOCKED) == USERS // len(STATES)
    assert await console.count(UserFilter.TRIAL) == USERS // len(STATES)
    assert await console.count(UserFilter.EXPIRED) == USERS // len(STATES)
    async with app.services.sessions() as session:
        per_node = (
            await session.execute(select(Device.node_id, func.count()).group_by(Device.node_id))
        ).all()
        succeeded = await session.scalar(
            select(func.count()).where(Payment.status == PaymentStatus.SUCCEEDED)
        )
    assert len(per_node) == NODES and sum(count for _, count in per_node) == done.devices
    assert succeeded == 2 * USERS // len(STATES), "the paid and the expired paid once"
    rows = await console.page(UserFilter.ALL, 0, 10)
    assert len(rows) == 10 and all(row.devices for row in rows)
    found, _ = await console.search("User 12")
    assert "User 12" in {user.first_name for user in found}
    stats = await app.services.stats.collect()
    assert stats.users_total == USERS and len(stats.nodes) == NODES
