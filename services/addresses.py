"""Tunnel addresses: the first free one in a node's subnet, and its IPv6 twin."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection

from services.errors import NodeFull


def first_free_address(server_address4: str, used: Collection[str]) -> str:
    """The lowest host address of the server's subnet that neither the server nor a device holds."""
    interface = ipaddress.IPv4Interface(server_address4)
    taken = {ipaddress.IPv4Address(address) for address in used}
    taken.add(interface.ip)
    for host in interface.network.hosts():
        if host not in taken:
            return str(host)
    raise NodeFull()


def twin_address6(server_address6: str | None, address4: str, server_address4: str) -> str | None:
    """The IPv6 address holding the same host number in the node's v6 subnet, if it has one."""
    if server_address6 is None:
        return None
    network4 = ipaddress.IPv4Interface(server_address4).network
    network6 = ipaddress.IPv6Interface(server_address6).network
    offset = int(ipaddress.IPv4Address(address4)) - int(network4.network_address)
    return str(network6.network_address + offset)
