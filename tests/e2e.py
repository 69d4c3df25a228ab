"""Shared by the end-to-end tests: the operator's CLI and bot process, the fake Bot API, chats."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.fakes.telegram_api import FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
ADMIN = 9001


class Operator:
    """Runs `python main.py ...` the way the README tells an operator to."""

    def __init__(self, data_dir: Path, api_url: str, token: str, **settings: str) -> None:
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/root"),
            "BOT_TOKEN": token,
            "ADMIN_IDS": str(ADMIN),
            "DATA_DIR": str(data_dir),
            "TELEGRAM_API_URL": api_url,
            "NODE_CONNECT_TIMEOUT": "5",
            "WEB_PORT": "0",
            **settings,
        }

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(ROOT / "main.py"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )

    def start_bot(self, log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            return subprocess.Popen(
                [sys.executable, str(ROOT / "main.py")],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )


def button(message: Any, contains: str) -> str:
    for row in message.reply_markup["inline_keyboard"]:
        for item in row:
            if contains in item["text"]:
                return str(item["callback_data"])
    raise AssertionError(f"no button with {contains!r} in {message.reply_markup}")


async def config_messages(
    telegram: FakeTelegram, chat_id: int, timeout: float = 30
) -> tuple[str, bytes]:
    """Wait for the next document and photo in the chat; return the .conf text and the QR PNG."""
    document = photo = None
    deadline = asyncio.get_running_loop().time() + timeout
    while document is None or photo is None:
        remaining = deadline - asyncio.get_running_loop().time()
        assert remaining > 0, "the bot sent no config"
        for message in await telegram.wait_sent(chat_id, 1, timeout=remaining):
            if message.method == "sendDocument":
                document = message
            elif message.method == "sendPhoto":
                photo = message
    return document.document.content.decode(), photo.photo.content
