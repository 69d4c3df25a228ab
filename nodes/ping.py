"""Round-trip times from a node to a set of addresses: one command pings them all at once."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

from nodes import output
from nodes.output import OutputError

PING_MARK = "--vpnservice-ping--"
PING_COUNT = 3
PING_INTERVAL = 0.2  # seconds between echo requests: the least ping allows without root
PING_DEADLINE = 3  # seconds each ping runs at most, so the whole command takes about that long
PING_TIMEOUT = 20.0  # for the SSH command
MAX_ADDRESSES = 64
MAX_RTT_MS = 60_000.0
_LINES_PER_ADDRESS = 3  # ping -q's last lines: its heading, the packet count, the times
_SENT = re.compile(r"([0-9]{1,6}) packets transmitted, ([0-9]{1,6}) (?:packets )?received(?:,.*)?")
_TIMES = re.compile(
    r"(?:rtt|round-trip) min/avg/max(?:/mdev)? = ([0-9.]{1,19})/([0-9.]{1,19})/([0-9.]{1,19})"
    r"(?:/[0-9.]{1,19})? ms"
)


def ping_command(addresses: Sequence[str]) -> str:
    """A script that pings every address in parallel, then prints, for each in order, a marker
    with its index and the last lines of what ping printed. ValueError for a non-address."""
    if not 1 <= len(addresses) <= MAX_ADDRESSES:
        raise ValueError(f"ping takes 1-{MAX_ADDRESSES} addresses")
    checked = [str(ipaddress.ip_address(address)) for address in addresses]  # nothing to quote
    lines = ["d=$(mktemp -d) || exit 1", "trap 'rm -rf \"$d\"' EXIT"]
    for index, address in enumerate(checked):
        lines.append(
            f"LC_ALL=C ping -n -q -c {PING_COUNT} -i {PING_INTERVAL} -W 1 -w {PING_DEADLINE} "
            f'{address} >"$d/{index}" 2>&1 &'
        )
    lines.append("wait")
    for index in range(len(checked)):
        lines.append(f'echo "{PING_MARK} {index}"; tail -n {_LINES_PER_ADDRESS} "$d/{index}"')
    return "\n".join(lines) + "\n"


def parse_ping(out: str, count: int) -> tuple[float | None, ...]:
    """The average round-trip time in milliseconds to each of `count` addresses, None for one
    that did not answer; OutputError (a ValueError) for anything but ping_command's output."""
    if not 1 <= count <= MAX_ADDRESSES:
        raise OutputError("ping: wrong number of addresses")
    lines = output.bounded_lines(out, most=count * (_LINES_PER_ADDRESS + 1), width=200, what="ping")
    blocks: list[list[str]] = []
    for line in lines:
        if line.startswith(PING_MARK):
            if line != f"{PING_MARK} {len(blocks)}":
                raise OutputError("ping: markers out of order")
            blocks.append([])
        elif not blocks:
            raise OutputError("ping: output before the first marker")
        else:
            blocks[-1].append(line)
    if len(blocks) != count:
        raise OutputError("ping: not one result per address")
    results = [_round_trip(block) for block in blocks]
    if not any(summary for summary, _ in results):
        raise OutputError("ping printed no summary: is ping (iputils-ping) installed on the node?")
    return tuple(rtt for _, rtt in results)


def _round_trip(block: list[str]) -> tuple[bool, float | None]:
    """(whether ping printed its packet count, the average time or None without replies); a
    ping that could not send (no route) prints no count."""
    sent = next((match for line in block if (match := _SENT.fullmatch(line))), None)
    if sent is None:
        return False, None
    transmitted, received = int(sent.group(1)), int(sent.group(2))
    if received > transmitted:
        raise OutputError("ping: more replies than requests")
    times = next((match for line in block if (match := _TIMES.fullmatch(line))), None)
    if received == 0:
        if times is not None:
            raise OutputError("ping: times without replies")
        return True, None
    if times is None:
        raise OutputError("ping: replies without times")
    low, average, high = (
        output.decimal(value, below=MAX_RTT_MS, what="round-trip time") for value in times.groups()
    )
    if not low <= average <= high:
        raise OutputError("ping: round-trip times out of order")
    return True, average
