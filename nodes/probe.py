"""One-round-trip health probe of a node: load, memory, interface state and peers."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from nodes import output
from nodes.commands import PROBE_DOWN, PROBE_MARK, probe_command
from nodes.errors import NodeError
from nodes.output import OutputError
from nodes.peers import PeerState, parse_dump
from nodes.ssh import SshPool
from nodes.target import NodeTarget

PROBE_TIMEOUT = 15.0
RECENT = timedelta(seconds=180)
MAX_LOAD = 1_000_000.0  # a load average beyond this is no machine's
MAX_CPUS = 65_536
MAX_MEMORY_KB = 2**40  # 1 PiB


@dataclass(frozen=True)
class Probe:
    """What a node looked like at one moment, and how long the SSH round trip took."""

    interface_up: bool
    load1: float
    cpus: int
    mem_total_bytes: int
    mem_available_bytes: int
    peers: tuple[PeerState, ...]
    latency_seconds: float

    def recent_handshakes(self, now: datetime, window: timedelta = RECENT) -> int:
        """Peers whose last handshake is at most window old at now (an aware datetime)."""
        since = now - window
        return sum(
            1 for p in self.peers if p.latest_handshake is not None and p.latest_handshake >= since
        )

    @property
    def rx_bytes(self) -> int:
        """Bytes received from all peers."""
        return sum(p.rx_bytes for p in self.peers)

    @property
    def tx_bytes(self) -> int:
        """Bytes sent to all peers."""
        return sum(p.tx_bytes for p in self.peers)


def parse_probe(out: str, latency: float) -> Probe:
    """A Probe from the probe command's output; OutputError (a ValueError) for anything else:
    four lines (load average, CPUs, MemTotal, MemAvailable), then a marker and the dump."""
    head, mark, dump = out.partition(f"{PROBE_MARK}\n")
    if not mark:
        head, mark, rest = out.partition(PROBE_DOWN)
        if not mark or rest.strip():
            raise OutputError("probe output has no interface marker")
    lines = output.bounded_lines(head, most=4, width=200, what="probe")
    if len(lines) != 4:
        raise OutputError("unexpected load or memory output")
    load1 = output.decimal(lines[0].split(" ", 1)[0], below=MAX_LOAD, what="load average")
    cpus = output.whole(lines[1], least=1, below=MAX_CPUS + 1, what="CPU count")
    total = _meminfo(lines[2], "MemTotal")
    available = _meminfo(lines[3], "MemAvailable")
    if total == 0 or available > total:
        raise OutputError("memory figures out of range")
    up = mark != PROBE_DOWN and bool(dump)
    return Probe(up, load1, cpus, total, available, tuple(parse_dump(dump)), latency)


def _meminfo(line: str, name: str) -> int:
    """Bytes from a /proc/meminfo line such as `MemTotal:   2048000 kB`."""
    label, _, value = line.partition(":")
    words = value.split()
    if label != name or len(words) != 2 or words[1] != "kB":
        raise OutputError("unexpected load or memory output")
    return output.whole(words[0], below=MAX_MEMORY_KB + 1, what=name) * 1024


async def probe(pool: SshPool, target: NodeTarget) -> Probe:
    """Probe the node in one SSH command; a missing or down interface is not an error."""
    started = time.monotonic()
    # a node marked down is still probed: that is how its return is noticed
    out = await pool.run(target, probe_command(target), timeout=PROBE_TIMEOUT, even_if_down=True)
    latency = time.monotonic() - started
    try:
        return parse_probe(out, latency)
    except ValueError as error:
        raise NodeError(target.name, f"probe: {error}") from None
