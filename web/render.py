"""Templates (Jinja2, autoescaped) and the words they are filled with, in the reader's language."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from db.models import Device
from locales import Translator, pick_language, translator_for
from locales.format import format_ago, format_bytes, format_date, format_price, plan_title
from services.payments import STARS_CURRENCY
from services.plans import Plan

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
TELEGRAM_SCRIPT = "https://telegram.org/js/telegram-web-app.js"

ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(WEB_DIR / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)


@dataclass(frozen=True, slots=True)
class Asset:
    """A static file of the page, kept in memory; `version` changes with its content."""

    body: bytes
    content_type: str
    version: str


def load_assets() -> dict[str, Asset]:
    types = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
    return {
        path.name: Asset(
            path.read_bytes(),
            types[path.suffix],
            hashlib.sha256(path.read_bytes()).hexdigest()[:10],
        )
        for path in sorted(STATIC_DIR.iterdir())
        if path.suffix in types
    }


ASSETS = load_assets()


class Texts:
    """The translator with what templates need to show values: dates, plans, prices, ages."""

    def __init__(self, t: Translator) -> None:
        self._t = t
        self.language = t.language

    def __call__(self, key: str, /, **args: Any) -> str:
        return self._t(key, **args)

    def date(self, moment: datetime) -> str:
        return format_date(moment)

    def plan(self, plan: Plan) -> str:
        return plan_title(self._t, plan)

    def price(self, amount: int, currency: str) -> str:
        """As the chat shows it, but with ★ for Stars: the page shows no emoji."""
        if currency == STARS_CURRENCY:
            return self.stars(amount)
        return format_price(self._t, amount, currency)

    def stars(self, count: int) -> str:
        return self._t("page-stars", stars=count)

    def traffic(self, plan: Plan) -> str:
        if plan.traffic_gb:
            return self._t("plan-traffic", gb=plan.traffic_gb)
        return self._t("plan-unlimited")

    def ago(self, moment: datetime, now: datetime) -> str:
        return format_ago(self._t, max((now - moment).total_seconds(), 0.0))

    def size(self, count: int) -> str:
        return format_bytes(self._t, count)

    def device_name(self, device: Device, number: int) -> str:
        return device.name or self._t("devices-default-name", number=str(number))


def reader_language(request: web.Request) -> str:
    """The language of a reader not yet known: their browser's first choice."""
    first = request.headers.get("Accept-Language", "").split(",")[0].split(";")[0].strip()
    return pick_language(first[:35] or None)


def texts_for(language: str) -> Texts:
    return Texts(translator_for(language))


def render(
    name: str, texts: Texts, *, status: int = 200, telegram: bool = False, **context: Any
) -> web.Response:
    """A page from templates/`name`; `telegram` adds Telegram's Mini App script."""
    html = ENVIRONMENT.get_template(name).render(
        t=texts,
        telegram=telegram,
        telegram_script=TELEGRAM_SCRIPT,
        assets={key: asset.version for key, asset in ASSETS.items()},
        **context,
    )
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def message(texts: Texts, title: str, text: str, *, status: int, **context: Any) -> web.Response:
    """A short page with one message (a refusal, a limit), in the reader's language."""
    return render("message.html", texts, status=status, title=title, text=text, **context)
