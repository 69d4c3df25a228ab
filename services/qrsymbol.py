"""The QR symbol, laid out quickly: `qrcode` places the modules, the mask is chosen by the
standard's penalty rules counted over whole rows at once, and the data bits and error correction
are computed on whole ints and tables (imported on the first QR code: qrcode loads Pillow)."""

from __future__ import annotations

import bisect
import functools
import itertools
import re

import qrcode
from qrcode import base, util
from qrcode.exceptions import DataOverflowError
from qrcode.util import mask_func

MASKS = range(8)
RUNS = re.compile(r"0{5,}|1{5,}")
# 1:1:3:1:1 with four light modules after or before; neither overlaps itself, so str.count
FINDER_LIKE = ("10111010000", "00001011101")


class Symbol(qrcode.QRCode):  # type: ignore[misc]
    """qrcode's QRCode, laid out once instead of once per mask: the eight masks are tried on
    row ints and scored as qrcode scores them, so the very same mask wins. Its data bits and
    error correction are computed on whole ints and tables instead of bit by bit, to the
    very same codewords."""

    modules: list[list[bool | None]]
    data_list: list[util.QRData]

    def best_fit(self, start: int | None = None) -> int:
        """The smallest version from `start` that holds the data, as qrcode finds it."""
        start = start or 1
        util.check_version(start)
        needed = sum(
            4 + util.length_in_bits(d.mode, start) + _payload_bits(d) for d in self.data_list
        )
        self.version = bisect.bisect_left(
            util.BIT_LIMIT_TABLE[self.error_correction], needed, start
        )
        if self.version == 41:
            raise DataOverflowError()
        if util.mode_sizes_for_version(start) is not util.mode_sizes_for_version(self.version):
            self.best_fit(start=self.version)
        return int(self.version)

    def make(self, fit: bool = True) -> None:
        self.best_fit(start=self.version)
        size = self.version * 4 + 17
        self.data_cache = _codewords(self.version, self.error_correction, self.data_list)
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


def _payload_bits(data: util.QRData) -> int:
    """How many bits qrcode's QRData.write puts for the data."""
    n = len(data.data)
    if data.mode == util.MODE_NUMBER:
        return 10 * (n // 3) + (0, 4, 7)[n % 3]
    if data.mode == util.MODE_ALPHA_NUM:
        return 11 * (n // 2) + 6 * (n % 2)
    return 8 * n


def _data_bits(data: util.QRData, version: int) -> str:
    """Mode, length and data bits of one segment, as "0" and "1", as qrcode writes them."""
    raw: bytes = data.data
    parts = [format(data.mode, "04b"), _field(len(raw), util.length_in_bits(data.mode, version))]
    if data.mode == util.MODE_NUMBER:
        for i in range(0, len(raw), 3):
            chunk = raw[i : i + 3]
            parts.append(_field(int(chunk), util.NUMBER_LENGTH[len(chunk)]))
    elif data.mode == util.MODE_ALPHA_NUM:
        for i in range(0, len(raw), 2):
            pair = raw[i : i + 2]
            if len(pair) > 1:
                value = util.ALPHA_NUM.find(pair[0]) * 45 + util.ALPHA_NUM.find(pair[1])
                parts.append(_field(value, 11))
            else:
                parts.append(_field(util.ALPHA_NUM.find(pair), 6))
    elif raw:
        parts.append(format(int.from_bytes(raw, "big"), f"0{8 * len(raw)}b"))
    return "".join(parts)


def _field(value: int, width: int) -> str:
    return format(value & ((1 << width) - 1), f"0{width}b")


def _codewords(version: int, error_correction: int, data_list: list[util.QRData]) -> list[int]:
    """qrcode's util.create_data: the data bits terminated and padded to the version's
    capacity, split into its blocks, each with its Reed-Solomon codewords, interleaved."""
    bits = "".join(_data_bits(data, version) for data in data_list)
    blocks = base.rs_blocks(version, error_correction)
    limit = sum(block.data_count * 8 for block in blocks)
    if len(bits) > limit:
        raise DataOverflowError(
            f"Code length overflow. Data size ({len(bits)}) > size available ({limit})"
        )
    bits += "0" * min(limit - len(bits), 4)
    bits += "0" * (-len(bits) % 8)
    data = list(int(bits, 2).to_bytes(len(bits) // 8, "big")) if bits else []
    data += [(util.PAD0, util.PAD1)[i % 2] for i in range((limit - len(bits)) // 8)]
    dc: list[list[int]] = []
    ec: list[list[int]] = []
    offset = 0
    for block in blocks:
        dc.append(data[offset : offset + block.data_count])
        offset += block.data_count
        ec.append(_reed_solomon(dc[-1], block.total_count - block.data_count))
    out = [row[i] for i in range(max(map(len, dc))) for row in dc if i < len(row)]
    out += [row[i] for i in range(max(map(len, ec))) for row in ec if i < len(row)]
    return out


@functools.cache
def _generator(count: int) -> tuple[int, ...]:
    """The Reed-Solomon generator polynomial of `count` codewords, as logs of its
    coefficients after the leading 1."""
    poly = [1]
    for i in range(count):  # times (x - a^i)
        term = base.gexp(i)
        poly = [
            (poly[j] if j < len(poly) else 0)
            ^ (
                base.EXP_TABLE[(base.LOG_TABLE[poly[j - 1]] + base.LOG_TABLE[term]) % 255]
                if 0 < j <= len(poly) and poly[j - 1]
                else 0
            )
            for j in range(len(poly) + 1)
        ]
    return tuple(base.LOG_TABLE[c] for c in poly[1:])


def _reed_solomon(data: list[int], count: int) -> list[int]:
    """The remainder of data * x^count by the generator: the block's error correction."""
    generator = _generator(count)
    exp, log = base.EXP_TABLE, base.LOG_TABLE
    remainder = [0] * count
    for byte in data:
        factor = byte ^ remainder[0]
        remainder = remainder[1:]
        remainder.append(0)
        if factor:
            shift = log[factor]
            remainder = [
                r ^ exp[(g + shift) % 255] for r, g in zip(remainder, generator, strict=True)
            ]
    return remainder


def _row_bits(row: list[bool | None]) -> int:
    """A row of modules as an int, the first module in the highest bit."""
    return int("".join("1" if module else "0" for module in row), 2)


@functools.cache
def _masks(version: int) -> tuple[tuple[int, ...], ...]:
    """Per mask, per row: the data modules that the mask darkens, as ints like `_row_bits`."""
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
    joined = " ".join(lines)  # no run or pattern spans the space: scored line by line
    found = RUNS.findall(joined)
    runs = sum(map(len, found)) - 2 * len(found)
    finders = 40 * sum(joined.count(pattern) for pattern in FINDER_LIKE)
    pairs = (1 << (size - 1)) - 1
    blocks = 0
    for top, bottom in itertools.pairwise(rows):
        same = ~(top ^ bottom)
        blocks += (same & (same >> 1) & ~(top ^ (top >> 1)) & pairs).bit_count()
    dark = sum(bits.bit_count() for bits in rows) / size**2
    balance = int(abs(dark * 100 - 50) / 5) * 10
    return runs + 3 * blocks + finders + balance
