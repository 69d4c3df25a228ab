"""Fixtures for the personal page: a bot that sells plans, with its web server serving the page
on loopback, and Telegram's side of a Mini App (initData signed as Telegram signs it)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from bot import yookassa_webhook
from bot.page import register_page
from bot.web import create_web_app, start_web
from tests.conftest import App, open_app
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.yookassa_api import FakeYooKassa
from tests.money_support import Shop
from web.context import DEPS
from web.limits import Limits

PUBLIC_URL = "https://vpn.example"
PAGE_USER = 5005


def sign_init_data(bot_token: str, fields: dict[str, str]) -> str:
    """initData as Telegram makes it: the fields, and `hash`, the HMAC-SHA256 of
    "key=value" lines sorted by key, keyed with HMAC-SHA256("WebAppData", bot token)."""
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    check = "\n".join(f"{key}={value}" for key, value in sorted(fields.items()))
    digest = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": digest})


@dataclass
class Site:
    """The bot with its page on http://127.0.0.1:PORT (PUBLIC_URL is https://vpn.example)."""

    shop: Shop
    base: str
    web: web.Application

    @property
    def limits(self) -> Limits:
        return self.web[DEPS].limits

    @property
    def app(self) -> App:
        return self.shop.app

    def init_data(
        self,
        user_id: int = PAGE_USER,
        *,
        age: float = 5,
        first_name: str = "Анна",
        language_code: str = "ru",
        token: str | None = None,
    ) -> str:
        """initData for the user, signed `age` seconds ago (by the bot's token unless given)."""
        user = {"id": user_id, "first_name": first_name, "language_code": language_code}
        fields = {
            "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
            "user": json.dumps(user, ensure_ascii=False, separators=(",", ":")),
            "auth_date": str(int(self.app.clock().timestamp() - age)),
            "signature": "ZmFrZS1lZDI1NTE5LXNpZ25hdHVyZQ",
        }
        return sign_init_data(token or self.app.telegram.token, fields)

    def client(self, address: str | None = None) -> aiohttp.ClientSession:
        """A browser-like client: keeps cookies (Secure ones too, on loopback), never follows
        redirects by itself; `address` is where it seems to come from (via X-Forwarded-For)."""
        jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[URL(self.base)])
        headers = {"X-Forwarded-For": address} if address else {}
        return aiohttp.ClientSession(self.base, cookie_jar=jar, headers=headers)

    async def personal_link(self, user_id: int = PAGE_USER, language: str = "ru") -> str:
        """The user's personal link as /link shows it in the chat, on this site's address."""
        (answer,) = await self.app.say(user_id, "/link", language)
        link = re.search(r"https://vpn\.example(/u/\S+)", answer.text or "")
        assert link, answer.text
        return link.group(1)


def csrf_of(html: str) -> str:
    token = re.search(r'name="csrf" value="([^"]+)"', html)
    assert token, "the page has no form token"
    return token.group(1)


async def open_site(
    tmp_path: Path,
    telegram: FakeTelegram,
    yookassa: FakeYooKassa,
    database_url: str | None,
    **overrides: Any,
) -> tuple[Site, web.AppRunner]:
    settings: dict[str, Any] = {
        "yookassa_shop_id": yookassa.shop_id,
        "yookassa_secret_key": yookassa.secret_key,
        "yookassa_api_url": yookassa.base_url,
        "yookassa_allowed_ips": "185.71.76.0/27",
        "web_trusted_proxies": "127.0.0.1",
        "yookassa_timeout": 1.0,
        "stars_enabled": True,
        "public_url": PUBLIC_URL,
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
    register_page(web_app, app.services, app.bot)
    runner = await start_web(web_app, "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    base = f"http://{host}:{port}"
    return Site(Shop(app, yookassa, f"{base}{yookassa_webhook.PATH}"), base, web_app), runner


@pytest.fixture
async def site(
    tmp_path: Path, telegram: FakeTelegram, yookassa: FakeYooKassa, database_url: str | None
) -> AsyncIterator[Site]:
    world, runner = await open_site(tmp_path, telegram, yookassa, database_url)
    yield world
    await runner.cleanup()
    await world.app.close()
