"""A real browser for the page's tests: Debian's headless Chromium driven by Playwright (which
is told where it is: its own browser download is not reachable here)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from playwright.async_api import Browser, BrowserContext, ViewportSize, async_playwright

from tests.netlab import unavailable

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # root: no setuid or user-namespace sandbox
    "--disable-gpu",
    "--disable-dev-shm-usage",  # small /dev/shm in containers
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pings",
    "--disable-quic",
    "--disable-client-side-phishing-detection",
    "--metrics-recording-only",
    "--no-proxy-server",
    # resolve no host name: telegram.org's script fails at once, as where Telegram is blocked
    # (an IP literal is mapped too, hence the exclusions)
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]
PHONE = ViewportSize(width=390, height=844)


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """The browser, or a skip (a failure when CI is set) where Debian's chromium is missing."""
    if shutil.which(CHROMIUM) is None:
        unavailable(f"{CHROMIUM} is missing: apt-get install --no-install-recommends chromium")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            yield browser
        finally:
            await browser.close()


async def phone(browser: Browser, language: str = "ru-RU", **options: object) -> BrowserContext:
    """A context the size of a phone (390×844 CSS pixels, twice as dense), downloads allowed."""
    return await browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale=language,
        accept_downloads=True,
        **options,  # type: ignore[arg-type]
    )
