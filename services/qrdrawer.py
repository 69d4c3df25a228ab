"""QR codes drawn by a child process of their own: the drawing takes another core and never
holds the event loop; drawing in a thread stands in whenever the child cannot answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import sys
import time
from pathlib import Path

from services.qr import qr_png

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CHILD = (sys.executable, "-m", "services.qrdrawer")
LENGTH = struct.Struct(">I")
MAX_TEXT = 8 * 1024  # bytes: far above what a QR code holds (2,953)
MAX_PNG = 4 * 1024 * 1024  # bytes: a version-40 code is about 40 KB
DRAWN, FAILED = b"\x00", b"\x01"
ANSWER_TIMEOUT = 5.0  # seconds for one code; the child is restarted after that
REST = 30.0  # seconds after a failure when codes are drawn in a thread without asking a child


class QrDrawer:
    """`png(text)` as `services.qr.qr_png` gives it. One child draws one code at a time; it
    starts with the bot and again after it died, hung or answered garbage (not within REST of
    that, so a child that keeps failing costs one code a wait, not every one). A text the
    child cannot draw is drawn in a thread, so the same error reaches the caller."""

    def __init__(self, command: tuple[str, ...] = CHILD, timeout: float = ANSWER_TIMEOUT) -> None:
        self._command = command
        self._timeout = timeout
        self._child: asyncio.subprocess.Process | None = None
        self._turn = asyncio.Lock()
        self.started = 0  # children started so far
        self._rest_until = 0.0

    async def start(self) -> None:
        """Start the child now, not with the first code (its start-up takes about 0.2 s)."""
        async with self._turn:
            try:
                await self._running()
            except OSError as error:
                log.warning("QR drawing process not started (%s): drawing in a thread", error)
                self._rest_until = time.monotonic() + REST

    async def png(self, text: str) -> bytes:
        data = text.encode()
        if len(data) <= MAX_TEXT and time.monotonic() >= self._rest_until:
            async with self._turn:
                drawn = await self._ask(data)
            if drawn is not None:
                return drawn
        return await asyncio.to_thread(qr_png, text)

    async def _ask(self, data: bytes) -> bytes | None:
        """The child's PNG, or None when it could not draw this text or failed (then it is
        stopped, to be started again for the next code)."""
        try:
            child = await self._running()
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write(LENGTH.pack(len(data)) + data)
            async with asyncio.timeout(self._timeout):
                await child.stdin.drain()
                status = await child.stdout.readexactly(1)
                (size,) = LENGTH.unpack(await child.stdout.readexactly(LENGTH.size))
                if status not in (DRAWN, FAILED) or size > MAX_PNG:
                    raise ValueError(f"an answer the drawer does not give ({status!r}, {size})")
                answer = await child.stdout.readexactly(size)
        except (OSError, EOFError, asyncio.IncompleteReadError, TimeoutError, ValueError) as error:
            log.warning(
                "QR drawing process failed (%s): drawing in a thread for %.0f s",
                _reason(error),
                REST,
            )
            self._discard()
            self._rest_until = time.monotonic() + REST
            return None
        except asyncio.CancelledError:  # what the child writes next would answer no one
            self._discard()
            raise
        return answer if status == DRAWN else None

    async def _running(self) -> asyncio.subprocess.Process:
        if self._child is None or self._child.returncode is not None:
            self._child = await asyncio.create_subprocess_exec(
                *self._command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                cwd=PROJECT_ROOT,
            )
            self.started += 1
        return self._child

    def _discard(self) -> None:
        """Kill the child; the next code starts another."""
        child, self._child = self._child, None
        if child is not None and child.returncode is None:
            child.kill()

    async def close(self) -> None:
        """End the child: its input closed, killed if it does not exit within a second."""
        child, self._child = self._child, None
        if child is None or child.returncode is not None:
            return
        assert child.stdin is not None
        child.stdin.close()
        try:
            async with asyncio.timeout(1.0):
                await child.wait()
        except TimeoutError:
            child.kill()
            await child.wait()


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "no answer in time"
    if isinstance(error, asyncio.IncompleteReadError | EOFError):
        return "it exited"
    return type(error).__name__ if not str(error) else str(error)


def serve() -> None:
    """The child: reads length-prefixed texts from stdin until it closes, answers each with a
    status byte and a length-prefixed PNG (or the error's text)."""
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while header := source.read(LENGTH.size):
        if len(header) < LENGTH.size:
            return
        (size,) = LENGTH.unpack(header)
        text = source.read(size).decode(errors="replace")
        try:
            status, answer = DRAWN, qr_png(text)
        except Exception as error:  # told to the parent, which draws it itself
            status, answer = FAILED, str(error).encode()[:200]
        sink.write(status + LENGTH.pack(len(answer)) + answer)
        sink.flush()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
        serve()
