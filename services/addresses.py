"""Tunnel addresses: free ones in a node's subnet, in order, and their IPv6 twins."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterator

from services.errors import NodeFull


def free_addresses(server_address4: str, used: Collection[str]) -> Iterator[str]:
    """Addresses of the server's subnet held by neither the server nor a device, lowest first."""
    interface = ipaddress.IPv4Interface(server_address4)
    taken = {ipaddress.IPv4Address(address) for address in used}
    taken.add(interface.ip)
    return (str(host) for host in interface.network.hosts() if host not in taken)


def first_free_address(server_address4: str, used: Collection[str]) -> str:
    for address in free_addresses(server_address4, used):
        return address
    raise NodeFull()


def twin_address6(server_address6: str | None, address4: str, server_address4: str) -> str | None:
    """The IPv6 address holding the same host number in the node's v6 subnet, if it has one."""
    if server_address6 is None:
        return None
    network4 = ipaddress.IPv4Interface(server_address4).network
    network6 = ipaddress.IPv6Interface(server_address6).network
    offset = int(ipaddress.IPv4Address(address4)) - int(network4.network_address)
    return str(network6.network_address + offset)
