"""One-round-trip health probe of a node: load, memory, interface state and peers."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from nodes.commands import PROBE_DOWN, PROBE_MARK, probe_command
from nodes.errors import NodeError
from nodes.peers import PeerState, parse_dump
from nodes.ssh import SshPool
from nodes.target import NodeTarget

PROBE_TIMEOUT = 15.0
RECENT = timedelta(seconds=180)


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
    """A Probe from the probe command's output; ValueError if it is not what was expected."""
    head, mark, dump = out.partition(f"{PROBE_MARK}\n")
    if not mark:
        head, mark, _ = out.partition(PROBE_DOWN)
        if not mark:
            raise ValueError("probe output has no interface marker")
    lines = head.splitlines()
    try:
        load1 = float(lines[0].split()[0])
        cpus = int(lines[1].strip())
        mem = {}
        for line in lines[2:]:
            name, value = line.split(":", 1)
            number, unit = value.split()
            if unit != "kB":
                raise ValueError("unexpected meminfo unit")
            mem[name] = int(number) * 1024
        total, available = mem["MemTotal"], mem["MemAvailable"]
    except (IndexError, KeyError, ValueError):
        raise ValueError("unexpected load or memory output") from None
    peers = tuple(parse_dump(dump)) if dump else ()
    return Probe(bool(dump), load1, cpus, total, available, peers, latency)


async def probe(pool: SshPool, target: NodeTarget) -> Probe:
    """Probe the node in one SSH command; a missing or down interface is not an error."""
    started = time.monotonic()
    out = await pool.run(target, probe_command(target), timeout=PROBE_TIMEOUT)
    latency = time.monotonic() - started
    try:
        return parse_probe(out, latency)
    except ValueError as exc:
        raise NodeError(target.name, f"probe: {exc}") from None
