"""Reading what a node prints as hostile input: bounded lines, numbers, times, keys, addresses.

Every helper returns a checked value or raises OutputError (a ValueError) whose message names
what was wrong and never quotes the output: it may hold a private key, or anything at all."""

from __future__ import annotations

import ipaddress
import re
import socket
from datetime import UTC, datetime

from nodes.keys import is_valid_key

BYTES_LIMIT = 2**63  # counters are stored as signed 64-bit numbers
# A handshake time outside these years means the node's clock or its `wg` is broken: its whole
# output is refused (a NodeError for that node), rather than read as "no handshake".
HANDSHAKE_EARLIEST = int(datetime(2015, 1, 1, tzinfo=UTC).timestamp())  # WireGuard's first year
HANDSHAKE_LATEST = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp())
_DIGITS = re.compile(r"[0-9]{1,20}")
_DECIMAL = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,9})?")
_PORT = re.compile(r"[0-9]{1,5}")
_ENDPOINT = re.compile(r"[0-9A-Za-z.:%\[\]_-]{1,64}")
_NETWORK = re.compile(r"[0-9A-Fa-f.:]{2,39}/[0-9]{1,3}")
# The forms `wg` prints, matched whole without the ipaddress module (a dump holds tens of
# thousands); anything else still goes the slow, general way.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_IPV4_NETWORK = re.compile(rf"{_IPV4}/(?:3[0-2]|[12][0-9]|[0-9])")
_IPV4_ENDPOINT = re.compile(rf"{_IPV4}:([1-9][0-9]{{0,4}})")
_IPV6_NETWORK = re.compile(r"([0-9a-f:]{2,39})/(12[0-8]|1[01][0-9]|[1-9][0-9]|[0-9])")


class OutputError(ValueError):
    """A node printed something other than what was expected; never quotes the output."""


def bounded_lines(text: str, *, most: int, width: int, what: str) -> list[str]:
    """The text's lines ("\\n" only, a trailing one dropped), at most `most` of at most `width`
    characters each, printable apart from tabs."""
    if len(text) > most * (width + 1):
        raise OutputError(f"{what}: too long")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) > most:
        raise OutputError(f"{what}: more than {most} lines")
    for number, line in enumerate(lines, 1):
        if len(line) > width:
            raise OutputError(f"{what} line {number}: longer than {width} characters")
        if not line.replace("\t", " ").isprintable():
            raise OutputError(f"{what} line {number}: unprintable characters")
    return lines


def whole(text: str, *, below: int, what: str, least: int = 0) -> int:
    """A whole number in ASCII digits (no sign, space or underscore), least ≤ n < below."""
    if not _DIGITS.fullmatch(text):
        raise OutputError(f"{what}: not a whole number")
    number = int(text)
    if not least <= number < below:
        raise OutputError(f"{what}: out of range")
    return number


def decimal(text: str, *, below: float, what: str) -> float:
    """A plain decimal like 0.42 (no sign, exponent, inf or nan), 0 ≤ x < below."""
    if not _DECIMAL.fullmatch(text):
        raise OutputError(f"{what}: not a decimal number")
    number = float(text)
    if not number < below:
        raise OutputError(f"{what}: out of range")
    return number


def handshake(text: str, what: str) -> datetime | None:
    """A handshake time in Unix seconds: None for 0 (never), else within the sane years."""
    seconds = whole(text, below=2**64, what=what)
    if seconds == 0:
        return None
    if not HANDSHAKE_EARLIEST <= seconds < HANDSHAKE_LATEST:
        raise OutputError(f"{what}: handshake time out of range (is the node's clock right?)")
    return datetime.fromtimestamp(seconds, UTC)


def key(text: str, what: str) -> str:
    """A WireGuard key (32 bytes, base64)."""
    if not is_valid_key(text):
        raise OutputError(f"{what}: not a WireGuard key")
    return text


def port(text: str, what: str, *, least: int = 1) -> int:
    if not _PORT.fullmatch(text):
        raise OutputError(f"{what}: not a port")
    return whole(text, below=65536, least=least, what=what)


def endpoint(text: str, what: str) -> str:
    """IPv4:PORT or [IPv6]:PORT (a link-local one may carry its %scope), as `wg` prints it."""
    fast = _IPV4_ENDPOINT.fullmatch(text)
    if fast is not None and int(fast[1]) < 65536:
        return text
    if not _ENDPOINT.fullmatch(text):
        raise OutputError(f"{what}: not an endpoint")
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise OutputError(f"{what}: not an endpoint")
        number = rest[1:]
    else:
        host, colon, number = text.rpartition(":")
        if not colon or ":" in host:
            raise OutputError(f"{what}: not an endpoint")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise OutputError(f"{what}: not an endpoint") from None
    if (address.version == 6) != text.startswith("["):
        raise OutputError(f"{what}: not an endpoint")
    port(number, what)
    return text


def networks(text: str, *, most: int, what: str) -> tuple[str, ...]:
    """Comma-separated networks with their prefix (10.8.0.2/32,fd00::2/128), at most `most`."""
    items = text.split(",")
    if len(items) > most:
        raise OutputError(f"{what}: more than {most} allowed IPs")
    for item in items:
        if _IPV4_NETWORK.fullmatch(item) or _ipv6_network(item):
            continue
        if not _NETWORK.fullmatch(item):
            raise OutputError(f"{what}: not a network")
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise OutputError(f"{what}: not a network") from None
    return tuple(items)


def _ipv6_network(text: str) -> bool:
    """True for an IPv6 network as `wg` prints it (lower case, with its prefix), checked by
    the C parser; False sends it the general way."""
    match = _IPV6_NETWORK.fullmatch(text)
    if match is None:
        return False
    try:
        socket.inet_pton(socket.AF_INET6, match[1])
    except OSError:
        return False
    return True
