"""QR codes as PNG, quickly: the symbol from services.qrsymbol, the PNG written directly."""

from __future__ import annotations

import struct
import zlib

BOX = 8  # pixels a module: one byte of a 1-bit PNG row
BORDER = 4  # modules of quiet zone around the symbol
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def qr_png(text: str) -> bytes:
    """A PNG QR code of `text` (error correction L, the best mask), 8 pixels a module with a
    4-module quiet zone: sized for a phone camera."""
    from qrcode.constants import ERROR_CORRECT_L  # qrcode and Pillow load with the first code

    from services.qrsymbol import Symbol

    symbol = Symbol(error_correction=ERROR_CORRECT_L, border=BORDER)
    symbol.add_data(text)
    symbol.make()
    return _png(symbol.modules)


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
