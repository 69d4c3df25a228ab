"""The bot starts without the modules only some taps need (charts, VLESS nodes' gRPC) and
never imports the test tools (a browser driver, pytest, the fakes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_AT_START = {"PIL", "grpc", "playwright", "selenium", "pytest", "tests", "hypothesis"}


def test_starting_the_bot_imports_no_charts_grpc_or_test_tools() -> None:
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, main, bot.app; print(' '.join({m.split('.')[0] for m in sys.modules}))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split()
    assert "aiogram" in shown and "sqlalchemy" in shown
    assert NOT_AT_START.isdisjoint(shown), sorted(NOT_AT_START & set(shown))
