"""Where YooKassa notifications may come from: the published ranges and the address check."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# YooKassa's published list of addresses that send HTTP notifications.
YOOKASSA_NETWORKS: tuple[str, ...] = (
    "185.71.76.0/27",
    "185.71.77.0/27",
    "77.75.153.0/25",
    "77.75.156.11",
    "77.75.156.35",
    "77.75.154.128/25",
    "2a02:5180::/32",
)


def parse_networks(text: str) -> tuple[Network, ...]:
    """Comma-separated addresses and networks ("185.71.76.0/27, 77.75.156.11") as networks."""
    networks: list[Network] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=True))
        except ValueError as error:
            raise ValueError(f"not an IP address or network: {item!r} ({error})") from None
    if not networks:
        raise ValueError("no IP addresses or networks given")
    return tuple(networks)


def address_allowed(address: str, networks: Iterable[Network]) -> bool:
    """Whether `address` (as the socket reports it) lies in one of `networks`; False for garbage."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
    return any(ip in network for network in networks)
