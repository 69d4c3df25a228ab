"""QR codes as PNG, quickly: `qrcode` lays the symbol out, the mask is chosen by the standard's
penalty rules counted over whole rows at once, and the PNG is written directly."""

from __future__ import annotations

import functools
import itertools
import re
import struct
import zlib
from collections.abc import Callable
from typing import Protocol

MASKS = range(8)
BOX = 8  # pixels a module: one byte of a 1-bit PNG row
BORDER = 4  # modules of quiet zone around the symbol
RUNS = re.compile(r"0{5,}|1{5,}")
# 1:1:3:1:1 with four light modules after or before; neither overlaps itself, so str.count
FINDER_LIKE = ("10111010000", "00001011101")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class SymbolLike(Protocol):
    modules: list[list[bool | None]]

    def add_data(self, data: str) -> None: ...

    def make(self, fit: bool = True) -> None: ...


@functools.cache
def _symbol() -> Callable[..., SymbolLike]:
    """The Symbol class; qrcode (and the Pillow it imports) loads with the first QR code,
    not when the bot starts."""
    import qrcode

    class Symbol(qrcode.QRCode):  # type: ignore[misc]
        """qrcode's QRCode, laid out once instead of once per mask: the eight masks are tried on
        row ints and scored as qrcode scores them, so the very same mask wins."""

        modules: list[list[bool | None]]

        def make(self, fit: bool = True) -> None:
            self.best_fit(start=self.version)
            size = self.version * 4 + 17
            self.makeImpl(True, 0)  # format and version bits blank, as qrcode scores every mask
            masked = _masks(self.version)
            unmasked = [_row_bits(row) ^ masked[0][r] for r, row in enumerate(self.modules)]
            candidates = [
                [bits ^ mask for bits, mask in zip(unmasked, masked[k], strict=True)] for k in MASKS
            ]
            scores = [_penalty(rows, size) for rows in candidates]
            best = scores.index(min(scores))
            self.modules = [
                [bit == "1" for bit in format(bits, f"0{size}b")] for bits in candidates[best]
            ]
            self.setup_type_info(False, best)
            if self.version >= 7:
                self.setup_type_number(False)

    return Symbol


def qr_png(text: str) -> bytes:
    """A PNG QR code of `text` (error correction L, the best mask), 8 pixels a module with a
    4-module quiet zone: sized for a phone camera."""
    from qrcode.constants import ERROR_CORRECT_L

    symbol = _symbol()(error_correction=ERROR_CORRECT_L, border=BORDER)
    symbol.add_data(text)
    symbol.make()
    return _png(symbol.modules)


def _row_bits(row: list[bool | None]) -> int:
    """A row of modules as an int, the first module in the highest bit."""
    return int("".join("1" if module else "0" for module in row), 2)


@functools.cache
def _masks(version: int) -> tuple[tuple[int, ...], ...]:
    """Per mask, per row: the data modules that the mask darkens, as ints like `_row_bits`."""
    import qrcode
    from qrcode.util import mask_func

    size = version * 4 + 17
    blank = qrcode.QRCode(version=version)
    blank.modules_count = size
    blank.modules = [[None] * size for _ in range(size)]
    blank.setup_position_probe_pattern(0, 0)
    blank.setup_position_probe_pattern(size - 7, 0)
    blank.setup_position_probe_pattern(0, size - 7)
    blank.setup_position_adjust_pattern()
    blank.setup_timing_pattern()
    blank.setup_type_info(True, 0)
    if version >= 7:
        blank.setup_type_number(True)
    masks = []
    for pattern in MASKS:
        darkens = mask_func(pattern)
        masks.append(
            tuple(
                _row_bits([blank.modules[r][c] is None and darkens(r, c) for c in range(size)])
                for r in range(size)
            )
        )
    return tuple(masks)


def _penalty(rows: list[int], size: int) -> int:
    """The standard's four penalty scores of a symbol, counted as qrcode counts them."""
    lines = [format(bits, f"0{size}b") for bits in rows]
    lines += ["".join(column) for column in zip(*lines, strict=True)]
    runs = sum(len(run) - 2 for line in lines for run in RUNS.findall(line))
    finders = 40 * sum(line.count(pattern) for line in lines for pattern in FINDER_LIKE)
    pairs = (1 << (size - 1)) - 1
    blocks = 0
    for top, bottom in itertools.pairwise(rows):
        same = ~(top ^ bottom)
        blocks += (same & (same >> 1) & ~(top ^ (top >> 1)) & pairs).bit_count()
    dark = sum(bits.bit_count() for bits in rows) / size**2
    balance = int(abs(dark * 100 - 50) / 5) * 10
    return runs + 3 * blocks + finders + balance


def _png(modules: list[list[bool | None]]) -> bytes:
    """A 1-bit grayscale PNG of the modules: dark black, light white, BOX pixels a module."""
    width = len(modules) + 2 * BORDER
    quiet = b"\x00" + b"\xff" * width  # filter byte, then one byte (8 pixels) a module
    side = b"\xff" * BORDER
    raw = [quiet * (BORDER * BOX)]
    for row in modules:
        line = b"\x00" + side + bytes(0 if module else 0xFF for module in row) + side
        raw.append(line * BOX)
    raw.append(quiet * (BORDER * BOX))
    pixels = width * BOX
    header = struct.pack(">IIBBBBB", pixels, pixels, 1, 0, 0, 0, 0)
    return b"".join(
        (
            PNG_SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(b"".join(raw), 6)),
            _chunk(b"IEND", b""),
        )
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def __getattr__(name: str) -> Callable[..., SymbolLike]:
    """`services.qr.Symbol`, made on first use."""
    if name == "Symbol":
        return _symbol()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
