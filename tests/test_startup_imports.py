"""The bot starts without the modules only some taps need (charts, VLESS nodes' gRPC) and
never imports the test tools (a browser driver, pytest, the fakes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_AT_START = {"PIL", "grpc", "playwright", "selenium", "pytest", "tests", "hypothesis"}


def python(script: str) -> str:
    """What `script` prints, run by this Python in the project's folder."""
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout


def test_starting_the_bot_imports_no_charts_grpc_or_test_tools() -> None:
    shown = python(
        "import sys, main; main.bot_app(); print(' '.join({m.split('.')[0] for m in sys.modules}))"
    ).split()
    assert "aiogram" in shown and "sqlalchemy" in shown
    assert NOT_AT_START.isdisjoint(shown), sorted(NOT_AT_START & set(shown))


def test_aiogram_types_are_built_on_first_use_and_every_one_builds() -> None:
    """aiogram builds all its 400-odd types at import; the bot builds one when first used
    (measured by `python -m bench.scale`: start-up and RSS). Each still builds from the
    names aiogram resolves them with, and an update parses whole."""
    script = """
import main
main.bot_app()
from aiogram import types
from pydantic import BaseModel
models = [m for m in vars(types).values() if isinstance(m, type) and issubclass(m, BaseModel)]
print("built at start:", sum(m.__pydantic_complete__ for m in models), "of", len(models))
update = types.Update.model_validate({"update_id": 1, "message": {"message_id": 2, "date": 0,
    "chat": {"id": 7, "type": "private"}, "from": {"id": 7, "is_bot": False, "first_name": "A"},
    "text": "/start", "reply_markup": {"inline_keyboard": [[{"text": "Go", "callback_data": "g"}]]}}})
print("update:", update.message.text, update.message.reply_markup.inline_keyboard[0][0].text)
for model in models:
    model.model_rebuild(raise_errors=True)
print("built now:", sum(m.__pydantic_complete__ for m in models), "of", len(models))
"""
    shown = python(script).splitlines()
    built, _, total = shown[0].removeprefix("built at start:").split()
    assert int(total) > 300 and int(built) < int(total) // 4
    assert shown[1] == "update: /start Go"
    assert shown[2] == f"built now: {total} of {total}"
