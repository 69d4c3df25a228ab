"""Peers: what to put on a node (PeerSpec) and what a node reports (`wg show dump` parsed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from nodes import output
from nodes.output import OutputError

PEER_FIELDS = 8
INTERFACE_FIELDS = 4  # private key, public key, port, fwmark; AmneziaWG adds its parameters
MAX_PEERS = 100_000  # far above any node's subnet the bot hands out
MAX_ALLOWED_IPS = 128  # per peer: the bot sets 1 or 2; a hand-made peer may route a few networks
LINE_WIDTH = 32_768  # AmneziaWG's interface line carries its I1–I5 packets


@dataclass(frozen=True, slots=True)
class PeerSpec:
    """A peer to put on a node."""

    public_key: str
    preshared_key: str = field(repr=False)
    allowed_ips: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PeerState:
    """What the node knows about one peer right now."""

    public_key: str
    endpoint: str | None
    allowed_ips: tuple[str, ...]
    latest_handshake: datetime | None
    rx_bytes: int
    tx_bytes: int
    # Compared by plan_reconcile explicitly; kept out of repr and of ==, like a password.
    preshared_key: str | None = field(default=None, repr=False, compare=False)


def _peer(line: str, number: int) -> PeerState:
    # public-key, preshared-key, endpoint, allowed-ips, latest-handshake, rx, tx, keepalive
    what = f"wg dump line {number}"
    fields = line.split("\t")
    if len(fields) != PEER_FIELDS:
        raise OutputError(f"{what}: expected {PEER_FIELDS} fields")
    public_key, psk, endpoint, allowed, handshake, rx, tx, keepalive = fields
    if keepalive != "off":
        output.whole(keepalive, least=1, below=65536, what=what)
    return PeerState(
        public_key=output.key(public_key, what),
        endpoint=None if endpoint == "(none)" else output.endpoint(endpoint, what),
        allowed_ips=()
        if allowed == "(none)"
        else output.networks(allowed, most=MAX_ALLOWED_IPS, what=what),
        latest_handshake=output.handshake(handshake, what),
        rx_bytes=output.whole(rx, below=output.BYTES_LIMIT, what=what),
        tx_bytes=output.whole(tx, below=output.BYTES_LIMIT, what=what),
        preshared_key=None if psk == "(none)" else output.key(psk, what),
    )


def parse_dump(text: str) -> list[PeerState]:
    """Peers from `wg show IFACE dump` (or `awg`); the first line, the interface's, is checked
    for shape only: it holds the private key. OutputError (a ValueError) for anything odd."""
    lines = output.bounded_lines(text, most=MAX_PEERS + 1, width=LINE_WIDTH, what="wg dump")
    if not lines:
        return []
    if len(lines[0].split("\t")) < INTERFACE_FIELDS:
        raise OutputError("wg dump line 1: not an interface line")
    peers = [_peer(line, number) for number, line in enumerate(lines[1:], 2)]
    if len({peer.public_key for peer in peers}) != len(peers):
        raise OutputError("wg dump: a peer appears twice")
    return peers
