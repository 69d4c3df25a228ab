"""Fixtures for paying: a fake YooKassa, a bot with card and Stars payments, its web server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from bot import yookassa_webhook
from bot.web import create_web_app, start_web
from db.models import AccessKind, Payment, User
from tests.conftest import App, open_app
from tests.fakes.telegram_api import FakeTelegram, Sent
from tests.fakes.yookassa_api import FakeYooKassa

PAYER = 4242


@dataclass
class Shop:
    """A bot that sells plans, the fake YooKassa behind it and its webhook address."""

    app: App
    yookassa: FakeYooKassa
    webhook_url: str

    async def notify(
        self,
        payment_id: str,
        *,
        forwarded_for: str | None = None,
        event: str = "payment.succeeded",
    ) -> int:
        """POST YooKassa's notification about the payment as it is now; the HTTP status."""
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        body = self.yookassa.notification(payment_id, event)
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.webhook_url, json=body, headers=headers) as answer,
        ):
            return answer.status

    async def payments(self, user_id: int = PAYER) -> list[Payment]:
        async with self.app.services.sessions() as session:
            query = select(Payment).where(Payment.user_id == user_id).order_by(Payment.id)
            return list((await session.scalars(query)).all())

    async def choose_plan(self, user_id: int, plan_code: str = "1m") -> Sent:
        """/subscribe, then the plan's button: the message with the ways to pay."""
        (plans,) = await self.app.say(user_id, "/subscribe")
        button = next(b for b in plans.buttons if b["callback_data"] == f"plan:{plan_code}")
        (methods,) = await self.app.press(user_id, plans, button["callback_data"])
        assert isinstance(methods, Sent)
        return methods

    async def card_link(self, user_id: int, plan_code: str = "1m", auto: bool = False) -> str:
        """Choose the plan and pay by card: the confirmation URL from the button."""
        methods = await self.choose_plan(user_id, plan_code)
        data = f"pay:{plan_code}:{'auto' if auto else 'card'}"
        (link,) = await self.app.press(user_id, methods, data)
        return str(link.buttons[0]["url"])

    def payment_id_of(self, url: str) -> str:
        return next(
            str(p["id"])
            for p in self.yookassa.payments.values()
            if p["confirmation"]["confirmation_url"] == url
        )

    async def stars_invoice(self, user_id: int, plan_code: str = "1m") -> tuple[str, int]:
        """Choose the plan and Stars: the invoice's payload and amount as Telegram got them."""
        methods = await self.choose_plan(user_id, plan_code)
        await self.app.press(user_id, methods, f"pay:{plan_code}:stars")
        call = next(c for c in reversed(self.app.telegram.calls) if c.method == "sendInvoice")
        return str(call.params["payload"]), int(call.params["prices"][0]["amount"])

    async def give_access(self, user_id: int, days: int) -> None:
        """An invite for `days` from the test clock's now (to start from a known end)."""
        now = self.app.clock()
        async with self.app.services.sessions.begin() as session:
            user = await session.get(User, user_id)
            assert user is not None
            user.access_kind, user.access_until = AccessKind.INVITE, now + timedelta(days=days)


async def open_shop(
    tmp_path: Path,
    telegram: FakeTelegram,
    yookassa: FakeYooKassa,
    database_url: str | None,
    **overrides: Any,
) -> tuple[Shop, web.AppRunner]:
    settings: dict[str, Any] = {
        "yookassa_shop_id": yookassa.shop_id,
        "yookassa_secret_key": yookassa.secret_key,
        "yookassa_api_url": yookassa.base_url,
        "yookassa_allowed_ips": "185.71.76.0/27",
        "web_trusted_proxies": "127.0.0.1",
        "yookassa_timeout": 1.0,
        "stars_enabled": True,
    }
    settings.update(overrides)
    app = await open_app(tmp_path, telegram, database_url, **settings)
    web_app = create_web_app(app.services.engine)
    yookassa_webhook.register(
        web_app,
        app.services.payments,
        app.settings.yookassa_allowed_ips,
        app.settings.web_trusted_proxies,
    )
    runner = await start_web(web_app, "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    return Shop(app, yookassa, f"http://{host}:{port}{yookassa_webhook.PATH}"), runner


@pytest.fixture
async def yookassa() -> AsyncIterator[FakeYooKassa]:
    async with FakeYooKassa() as fake:
        yield fake


@pytest.fixture
async def open_other_shop(
    tmp_path: Path, telegram: FakeTelegram, yookassa: FakeYooKassa
) -> AsyncIterator[Callable[..., Awaitable[Shop]]]:
    """Open a shop over SQLite with settings changed: `await open_other_shop(**settings)`."""
    opened: list[tuple[Shop, web.AppRunner]] = []

    async def opening(**settings: Any) -> Shop:
        world, runner = await open_shop(tmp_path, telegram, yookassa, None, **settings)
        opened.append((world, runner))
        return world

    yield opening
    for world, runner in opened:
        await runner.cleanup()
        await world.app.close()


@pytest.fixture
async def shop(
    tmp_path: Path, telegram: FakeTelegram, yookassa: FakeYooKassa, database_url: str | None
) -> AsyncIterator[Shop]:
    world, runner = await open_shop(tmp_path, telegram, yookassa, database_url)
    yield world
    await runner.cleanup()
    await world.app.close()


YOOKASSA_ADDRESS = "185.71.76.5"  # inside YooKassa's published range the shop allows
