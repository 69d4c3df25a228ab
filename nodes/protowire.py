"""The few protobuf wire-format pieces Xray's gRPC API needs, read as untrusted input.

Xray's API speaks protobuf; its messages here are small and flat, so they are written and
read by field number (from Xray's .proto files) rather than through generated code. Reading
refuses anything malformed with WireError and never quotes the bytes."""

from __future__ import annotations

VARINT, LENGTH = 0, 2
MAX_FIELDS = 100_000  # more fields than this in one message is refused


class WireError(ValueError):
    """Bytes that are not the protobuf message expected; never quotes them."""


def varint(number: int) -> bytes:
    if number < 0:
        raise ValueError("negative numbers are not written")
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        out.append(low | (0x80 if number else 0))
        if not number:
            return bytes(out)


def text(field: int, value: str) -> bytes:
    return blob(field, value.encode())


def blob(field: int, value: bytes) -> bytes:
    return varint(field << 3 | LENGTH) + varint(len(value)) + value


def number(field: int, value: int) -> bytes:
    """A varint field; zero is the default and is not written, as protobuf does."""
    return varint(field << 3 | VARINT) + varint(value) if value else b""


def typed(type_name: str, value: bytes) -> bytes:
    """An xray.common.serial.TypedMessage: type name (1) and serialised message (2)."""
    return text(1, type_name) + blob(2, value)


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if at >= len(data):
            raise WireError("message ends inside a number")
        byte = data[at]
        at += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, at
        shift += 7
        if shift >= 64:
            raise WireError("number longer than 64 bits")


def fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """The (field number, value) pairs of a message: int for varints, bytes for length-
    delimited fields; fixed-width fields are skipped, groups refused."""
    out: list[tuple[int, int | bytes]] = []
    at = 0
    while at < len(data):
        if len(out) >= MAX_FIELDS:
            raise WireError("too many fields")
        key, at = _read_varint(data, at)
        field, kind = key >> 3, key & 7
        if field == 0:
            raise WireError("field number 0")
        if kind == VARINT:
            value, at = _read_varint(data, at)
            out.append((field, value))
        elif kind == LENGTH:
            size, at = _read_varint(data, at)
            if at + size > len(data):
                raise WireError("field longer than the message")
            out.append((field, data[at : at + size]))
            at += size
        elif kind in (1, 5):  # fixed 64 and 32 bits: nothing we read uses them
            at += 8 if kind == 1 else 4
            if at > len(data):
                raise WireError("message ends inside a field")
        else:
            raise WireError("unsupported wire type")
    return out


def one_text(data: bytes, field: int, *, most: int, what: str) -> str:
    """The last value of a string field ("" when absent), UTF-8 of at most `most` bytes."""
    value = b""
    for number_, raw in fields(data):
        if number_ == field:
            if not isinstance(raw, bytes):
                raise WireError(f"{what}: not a string")
            value = raw
    if len(value) > most:
        raise WireError(f"{what}: longer than {most} bytes")
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise WireError(f"{what}: not UTF-8") from None


def one_number(data: bytes, field: int, *, what: str) -> int:
    """The last value of a varint field (0 when absent)."""
    value = 0
    for number_, raw in fields(data):
        if number_ == field:
            if not isinstance(raw, int):
                raise WireError(f"{what}: not a number")
            value = raw
    return value


def many(data: bytes, field: int, *, what: str) -> list[bytes]:
    """Every value of a repeated message field."""
    out = []
    for number_, raw in fields(data):
        if number_ == field:
            if not isinstance(raw, bytes):
                raise WireError(f"{what}: not a message")
            out.append(raw)
    return out
