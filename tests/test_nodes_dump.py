"""Parsing `wg show IFACE dump`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nodes.peers import PeerState, parse_dump

PRIV = "YHYfByMDGa73edBouBOoLEdVO3EeDpGiSryr8c8qkXg="
PUB1 = "LHaoB8tvpbuuNOOE2nq6/0p3o0zWbrfM+FC4ROtarW0="
PUB2 = "cz0s2TW9cY+YW0Y8FRJztjfkiWpMixJXbsBrFeaspGA="
PSK = "IVmlDZgQNkQJNHZtjLs4jzZLBeHY6S30ynPiQ7ZB5Xs="

DUMP = (
    f"{PRIV}\tc8sDNBkPEb4ycd6QdewGePn6n24lnfeLzRZU74Ec5RY=\t51820\toff\n"
    f"{PUB1}\t{PSK}\t203.0.113.7:40001\t10.8.0.2/32,fd00::2/128\t1700000000\t1234\t5678\t25\n"
    f"{PUB2}\t(none)\t(none)\t(none)\t0\t0\t0\toff\n"
)


def test_parses_peers_and_skips_interface_line() -> None:
    assert parse_dump(DUMP) == [
        PeerState(
            public_key=PUB1,
            endpoint="203.0.113.7:40001",
            allowed_ips=("10.8.0.2/32", "fd00::2/128"),
            latest_handshake=datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
            rx_bytes=1234,
            tx_bytes=5678,
        ),
        PeerState(PUB2, None, (), None, 0, 0),
    ]


def test_ipv6_endpoint_and_empty_input() -> None:
    line = f"{PUB1}\t(none)\t[2001:db8::1]:51820\t10.8.0.3/32\t1700000005\t1\t2\toff"
    (peer,) = parse_dump(f"{PRIV}\tx\t1\toff\n{line}\n")
    assert peer.endpoint == "[2001:db8::1]:51820"
    assert peer.latest_handshake is not None
    assert peer.latest_handshake.tzinfo is UTC
    assert parse_dump("") == []
    assert parse_dump(f"{PRIV}\tx\t1\toff\n") == []


@pytest.mark.parametrize(
    "line",
    [
        f"{PUB1}\t{PSK}\t(none)\t(none)\t0\t0\t0",  # too few fields
        f"{PUB1}\t{PSK}\t(none)\t(none)\t0\t0\t0\toff\textra",
        f"{PUB1}\t{PSK}\t(none)\t(none)\tsoon\t0\t0\toff",
        f"{PUB1}\t{PSK}\t(none)\t(none)\t0\t-1\t0\toff",
        f"\t{PSK}\t(none)\t(none)\t0\t0\t0\toff",
    ],
)
def test_malformed_line_is_value_error_without_secrets(line: str) -> None:
    with pytest.raises(ValueError, match="line 2") as info:
        parse_dump(f"{PRIV}\tpub\t51820\toff\n{line}\n")
    assert PSK not in str(info.value)
    assert PRIV not in str(info.value)
