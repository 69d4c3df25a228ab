"""Bar charts as PNG with Pillow, sized and lettered to be read on a phone."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Pillow is imported with the first chart: not at start-up
    from PIL import ImageFont

WIDTH, HEIGHT = 1280, 720
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 110, 40, 100, 130
_BACKGROUND, _INK, _GRID, _BAR = "#ffffff", "#222222", "#dddddd", "#2a7de1"
# Fonts with Cyrillic: DejaVu (Debian fonts-dejavu-core), then others; Pillow's own otherwise.
_FONT_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/arial.ttf",
)


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont

    for path in _FONT_PATHS:
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def _nice_step(top: int, ticks: int = 5) -> int:
    """A round step (1, 2, 5, 10, 20, …) giving about `ticks` grid lines up to `top`."""
    raw = max(top / ticks, 1)
    power = 10 ** math.floor(math.log10(raw))
    return int(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


def daily_bars_png(
    days: Sequence[tuple[date, int]], *, title: str, x_label: str, y_label: str
) -> bytes:
    """A bar per day with its count; dates under the bars, counts on the left axis."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (WIDTH, HEIGHT), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    small, normal, big = _font(22), _font(26), _font(34)
    left, right = _MARGIN_LEFT, WIDTH - _MARGIN_RIGHT
    top, bottom = _MARGIN_TOP, HEIGHT - _MARGIN_BOTTOM

    draw.text((WIDTH // 2, 24), title, font=big, fill=_INK, anchor="mt")
    highest = max((count for _, count in days), default=0)
    step = _nice_step(highest)
    axis_top = max(step * math.ceil(highest / step), step)
    for value in range(0, axis_top + 1, step):
        y = bottom - (bottom - top) * value / axis_top
        draw.line((left, y, right, y), fill=_GRID, width=2)
        draw.text((left - 12, y), str(value), font=small, fill=_INK, anchor="rm")

    slot = (right - left) / max(len(days), 1)
    label_every = max(1, math.ceil(len(days) / 10))
    for index, (day, count) in enumerate(days):
        x0 = left + slot * index + slot * 0.15
        x1 = left + slot * (index + 1) - slot * 0.15
        if count:
            y = bottom - (bottom - top) * count / axis_top
            draw.rectangle((x0, y, x1, bottom), fill=_BAR)
            if slot >= 28:
                draw.text(((x0 + x1) / 2, y - 6), str(count), font=small, fill=_INK, anchor="mb")
        last = index == len(days) - 1
        if (len(days) - 1 - index) % label_every == 0 or last:
            draw.line(((x0 + x1) / 2, bottom, (x0 + x1) / 2, bottom + 8), fill=_INK, width=2)
            draw.text(
                ((x0 + x1) / 2, bottom + 14), f"{day:%d.%m}", font=small, fill=_INK, anchor="mt"
            )
    draw.line((left, top, left, bottom), fill=_INK, width=2)
    draw.line((left, bottom, right, bottom), fill=_INK, width=2)
    draw.text(((left + right) // 2, HEIGHT - 30), x_label, font=normal, fill=_INK, anchor="ms")

    label = Image.new("RGB", (bottom - top, 40), _BACKGROUND)
    ImageDraw.Draw(label).text((label.width // 2, 20), y_label, font=normal, fill=_INK, anchor="mm")
    image.paste(label.rotate(90, expand=True), (14, top))

    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
