"""A node's address pool: its size, the addresses foreign peers hold, the free ones, IPv6 twins."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable, Iterator
from ipaddress import IPv4Address, IPv4Interface, IPv6Interface


def pool_size(server_address4: str) -> int:
    """Addresses the node's IPv4 subnet has for devices: its hosts but the server's own."""
    return IPv4Interface(server_address4).network.num_addresses - 3


def reserved_addresses(
    networks: Iterable[str], server_address4: str, server_address6: str | None
) -> set[str]:
    """The pool's device addresses that foreign peers' allowed IPs hold: every address of a
    network inside the pool, and the IPv4 twin of every address of a smaller network inside
    the node's IPv6 subnet. A network as big as the pool or bigger (a gateway's route) holds
    none."""
    server = IPv4Interface(server_address4)
    pool4 = server.network
    pool6 = IPv6Interface(server_address6).network if server_address6 else None
    held: set[str] = set()
    for text in networks:
        try:
            network = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            continue
        if network.version == 4 and network != pool4 and network.subnet_of(pool4):
            held.update(str(address) for address in network)
        elif (
            pool6 is not None
            and network.version == 6
            and network.subnet_of(pool6)
            and network.num_addresses < pool4.num_addresses
        ):
            start = int(network.network_address) - int(pool6.network_address)
            for offset in range(start, start + network.num_addresses):
                if offset < pool4.num_addresses:
                    held.add(str(pool4.network_address + offset))
    return held - {str(pool4.network_address), str(pool4.broadcast_address), str(server.ip)}


def free_addresses(server_address4: str, used: Collection[str]) -> Iterator[str]:
    """Addresses of the server's subnet held by neither the server nor `used`, lowest first."""
    interface = IPv4Interface(server_address4)
    taken = {IPv4Address(address) for address in used}
    taken.add(interface.ip)
    return (str(host) for host in interface.network.hosts() if host not in taken)


def twin_address6(server_address6: str | None, address4: str, server_address4: str) -> str | None:
    """The IPv6 address holding the same host number in the node's v6 subnet, if it has one."""
    if server_address6 is None:
        return None
    network4 = IPv4Interface(server_address4).network
    network6 = IPv6Interface(server_address6).network
    offset = int(IPv4Address(address4)) - int(network4.network_address)
    return str(network6.network_address + offset)
