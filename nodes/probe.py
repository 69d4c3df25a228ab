"""One-round-trip health probe of a node: load, memory, interface state and peers."""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from nodes.dump import PeerState, parse_dump
from nodes.errors import NodeError
from nodes.ssh import SshPool
from nodes.target import NodeTarget
from nodes.wireguard import _iface

PROBE_TIMEOUT = 15.0
_MARK = "--vpnservice-wg--"
_DOWN = "--vpnservice-down--"
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


def _command(iface: str, wg: str = "wg") -> str:
    quoted = shlex.quote(iface)
    return (
        "cat /proc/loadavg && nproc && grep -E '^(MemTotal|MemAvailable):' /proc/meminfo && "
        f"if ip -o link show dev {quoted} 2>/dev/null | grep -q '[<,]UP[,>]'; "
        f"then echo {_MARK} && {wg} show {quoted} dump; else echo {_DOWN}; fi"
    )


def parse_probe(out: str, latency: float) -> Probe:
    """A Probe from the probe command's output; ValueError if it is not what was expected."""
    head, mark, dump = out.partition(f"{_MARK}\n")
    if not mark:
        head, mark, _ = out.partition(_DOWN)
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
    command = _command(_iface(target), target.wg)
    started = time.monotonic()
    out = await pool.run(target, command, timeout=PROBE_TIMEOUT)
    latency = time.monotonic() - started
    try:
        return parse_probe(out, latency)
    except ValueError as exc:
        raise NodeError(target.name, f"probe: {exc}") from None
