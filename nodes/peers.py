"""Peers: what to put on a node (PeerSpec) and what a node reports (`wg show dump` parsed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

PEER_FIELDS = 8


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


def _peer(fields: list[str], lineno: int) -> PeerState:
    # public-key, preshared-key, endpoint, allowed-ips, latest-handshake, rx, tx, keepalive
    if len(fields) != PEER_FIELDS or not fields[0]:
        raise ValueError(f"wg dump line {lineno}: expected {PEER_FIELDS} fields")
    public_key, psk, endpoint, allowed, handshake, rx, tx, _keepalive = fields
    try:
        stamp = int(handshake)
        rx_bytes = int(rx)
        tx_bytes = int(tx)
    except ValueError:
        raise ValueError(f"wg dump line {lineno}: bad number") from None
    if stamp < 0 or rx_bytes < 0 or tx_bytes < 0:
        raise ValueError(f"wg dump line {lineno}: negative number")
    return PeerState(
        public_key=public_key,
        endpoint=None if endpoint == "(none)" else endpoint,
        allowed_ips=() if allowed in ("(none)", "") else tuple(allowed.split(",")),
        latest_handshake=datetime.fromtimestamp(stamp, UTC) if stamp else None,
        rx_bytes=rx_bytes,
        tx_bytes=tx_bytes,
        preshared_key=None if psk in ("(none)", "") else psk,
    )


def parse_dump(text: str) -> list[PeerState]:
    """Peers from a dump; the first (interface) line is skipped. Errors never quote lines."""
    lines = text.splitlines()
    return [_peer(line.split("\t"), n) for n, line in enumerate(lines[1:], 2) if line.strip()]
