"""QR codes from the drawing process: the same PNG as drawn in the bot's own process, and a
code still comes when that process dies, hangs, answers garbage or is left mid-answer."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator

import pytest

from services.qr import qr_png
from services.qrdrawer import QrDrawer
from tests.netlab import decode_qr
from tests.test_qr import CONFIG

TEXTS = [CONFIG, "vless://id@203.0.113.10:443?security=reality#nl1", "Привет, мир"]


@pytest.fixture
async def drawer() -> AsyncIterator[QrDrawer]:
    drawer = QrDrawer()
    yield drawer
    await drawer.close()


def child(script: str) -> tuple[str, ...]:
    """A stand-in for the drawing process that runs `script`."""
    return (sys.executable, "-c", script)


async def test_codes_are_those_drawn_in_process_and_one_child_draws_them_all(
    drawer: QrDrawer,
) -> None:
    drawn = await asyncio.gather(*(drawer.png(text) for text in TEXTS * 4))
    assert drawn == [qr_png(text) for text in TEXTS * 4]
    assert decode_qr(drawn[0]) == CONFIG
    assert drawer.started == 1


async def test_a_killed_child_is_replaced_and_the_code_still_comes(drawer: QrDrawer) -> None:
    await drawer.start()
    first = drawer._child
    assert first is not None
    first.kill()
    await first.wait()
    assert await drawer.png(CONFIG) == qr_png(CONFIG)
    assert drawer.started == 2


@pytest.mark.parametrize(
    "script",
    [
        "import sys; sys.stdin.buffer.read(4); sys.stdout.buffer.write(b'garbage!'*9); "
        "sys.stdout.flush(); import time; time.sleep(30)",
        "import sys; sys.stdin.buffer.read(4); sys.stdout.buffer.write(b'\\x00\\xff\\xff\\xff\\xff');"
        " sys.stdout.flush(); import time; time.sleep(30)",
        "import time; time.sleep(30)",
        "import sys; sys.exit(3)",
    ],
    ids=["garbage", "huge-length", "hangs", "exits"],
)
async def test_a_child_that_fails_gives_way_to_drawing_in_a_thread_for_a_while(
    script: str, caplog: pytest.LogCaptureFixture
) -> None:
    drawer = QrDrawer(child(script), timeout=1.0)
    try:
        with caplog.at_level(logging.WARNING, logger="services.qrdrawer"):
            assert await drawer.png(CONFIG) == qr_png(CONFIG)
        assert "QR drawing process failed" in caplog.text
        assert drawer._child is None  # killed
        async with asyncio.timeout(0.5):  # no second wait: codes are drawn here for a while
            assert await drawer.png(TEXTS[1]) == qr_png(TEXTS[1])
        assert drawer.started == 1 and caplog.text.count("QR drawing process failed") == 1
    finally:
        await drawer.close()


async def test_a_text_too_long_for_a_code_raises_as_in_process_and_the_child_stays(
    drawer: QrDrawer,
) -> None:
    with pytest.raises(ValueError, match="Invalid version"):
        qr_png("x" * 2954)  # a byte more than a code holds
    with pytest.raises(ValueError, match="Invalid version"):
        await drawer.png("x" * 2954)
    assert await drawer.png(CONFIG) == qr_png(CONFIG)
    assert drawer.started == 1


async def test_a_code_abandoned_mid_answer_does_not_answer_the_next(drawer: QrDrawer) -> None:
    await drawer.start()
    abandoned = asyncio.create_task(drawer.png(TEXTS[1]))
    await asyncio.sleep(0)  # its request is written; the answer is not read yet
    abandoned.cancel()
    with pytest.raises(asyncio.CancelledError):
        await abandoned
    assert await drawer.png(CONFIG) == qr_png(CONFIG)


async def test_close_ends_the_child() -> None:
    drawer = QrDrawer()
    await drawer.png(CONFIG)
    running = drawer._child
    assert running is not None
    await drawer.close()
    assert running.returncode == 0
