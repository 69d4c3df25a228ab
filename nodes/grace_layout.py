"""The grace firewall's shape on a node: its nft table, sets, chains and rules, and set contents.

One table per WireGuard interface, `table inet vpnservice-grace-<iface>` (node-setup.sh's NAT
tables are `vpnservice_<iface>`, never with a `-`, so the names cannot meet). Packets that come
in on the interface from an address in `grace4`/`grace6` may go only to `allow4`/`allow6`
(networks) and to `dns4`/`dns6` on the DNS ports; the rest is rejected: TCP with a reset, so an
app fails at once instead of hanging, anything else with ICMP admin-prohibited. The base chain
only ever rejects (policy accept): in nftables an accept in one base chain does not stop another
table's chain from dropping, so this table takes nothing from the host's own rules and grants
nothing either, and users outside the grace sets are never touched.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

LAYOUT_VERSION = 1  # bump when the rules change: every node's table is then rebuilt
TABLE_PREFIX = "vpnservice-grace-"
PRIORITY = -10  # before the usual filter chains (0): a refusal costs them nothing
MAX_GRACE = 65_536  # addresses per family (a /16 of tunnel addresses)
MAX_ALLOWED = 8_192  # networks per family
MAX_DNS = 16  # addresses per family

# nodes/commands.py's interface names, less `=` and `+`, which nft identifiers cannot hold
_INTERFACE = re.compile(r"^[a-zA-Z0-9_.-]{1,15}$")
ADDRESS_TEXT = re.compile(r"^[0-9a-fA-F.:]{2,45}$")  # before ipaddress: no zone, no space

SET_NAMES = ("grace4", "grace6", "allow4", "allow6", "dns4", "dns6")
# name -> (nft type, flags): grace and dns are hash sets of addresses (one lookup per packet
# from the interface); allow holds networks, so it is an interval set
SET_DECLS: dict[str, tuple[str, tuple[str, ...]]] = {
    "grace4": ("ipv4_addr", ()),
    "grace6": ("ipv6_addr", ()),
    "allow4": ("ipv4_addr", ("interval",)),
    "allow6": ("ipv6_addr", ("interval",)),
    "dns4": ("ipv4_addr", ()),
    "dns6": ("ipv6_addr", ()),
}
SET_LIMITS = {"grace": MAX_GRACE, "allow": MAX_ALLOWED, "dns": MAX_DNS}
CHAINS = ("forward", "limit4", "limit6")
FORWARD_HOOK = {"type": "filter", "hook": "forward", "prio": PRIORITY, "policy": "accept"}


def table_name(interface: str) -> str:
    """`vpnservice-grace-wg0`; ValueError for a name nft cannot take."""
    if not _INTERFACE.fullmatch(interface):
        raise ValueError("the interface name cannot name a grace firewall table")
    return TABLE_PREFIX + interface


def rules(interface: str) -> tuple[tuple[str, str], ...]:
    """(chain, rule) in order; the name is safe inside quotes once table_name accepts it."""
    table_name(interface)
    out = [
        ("forward", f'iifname "{interface}" ip saddr @grace4 jump limit4'),
        ("forward", f'iifname "{interface}" ip6 saddr @grace6 jump limit6'),
    ]
    for chain, ip, n in (("limit4", "ip", "4"), ("limit6", "ip6", "6")):
        out += [
            (chain, f"{ip} daddr @allow{n} return"),
            (chain, f"{ip} daddr @dns{n} udp dport 53 return"),
            (chain, f"{ip} daddr @dns{n} tcp dport {{ 53, 853 }} return"),
            (chain, "meta l4proto tcp counter reject with tcp reset"),
            (chain, "counter reject with icmpx admin-prohibited"),
        ]
    return tuple(out)


def rule_comments(interface: str) -> dict[str, tuple[str, ...]]:
    """The comment each chain's rules carry, in order: `vpnservice-grace:<tag>:<n>`, where the
    tag names the exact layout, so a listing shows a changed or missing rule by its comments
    alone (rule expressions read back differently between nft versions)."""
    text = f"v{LAYOUT_VERSION}|{PRIORITY}|{SET_DECLS}|{rules(interface)}"
    tag = hashlib.sha256(text.encode()).hexdigest()[:12]
    out: dict[str, list[str]] = {chain: [] for chain in CHAINS}
    for number, (chain, _rule) in enumerate(rules(interface), 1):
        out[chain].append(f"vpnservice-grace:{tag}:{number}")
    return {chain: tuple(comments) for chain, comments in out.items()}


def _text(value: str, what: str) -> str:
    text = value.strip()
    if not ADDRESS_TEXT.fullmatch(text.split("/", 1)[0]):
        raise ValueError(f"invalid {what}")
    return text


def host(value: str, what: str) -> Address:
    """A unicast host address ('10.8.0.2' or '10.8.0.2/32')."""
    try:
        interface = ipaddress.ip_interface(_text(value, what))
    except ValueError:
        raise ValueError(f"invalid {what}") from None
    if interface.network.prefixlen != interface.max_prefixlen:
        raise ValueError(f"{what} must be one address, not a network")
    address = interface.ip
    if address.is_unspecified or address.is_multicast or address.is_loopback:
        raise ValueError(f"{what} is not a unicast address")
    return address


def network(value: str, what: str) -> Network:
    """A network without host bits, never all addresses (/0)."""
    try:
        net = ipaddress.ip_network(_text(value, what))
    except ValueError:
        raise ValueError(f"invalid {what} (host bits set?)") from None
    if net.prefixlen == 0:
        raise ValueError(f"{what} {net} would allow everything")
    return net


def collapse(networks: Iterable[Any]) -> tuple[Any, ...]:
    """Sorted and merged: nft refuses overlapping intervals without auto-merge."""
    return tuple(sorted(ipaddress.collapse_addresses(networks)))


@dataclass(frozen=True, slots=True)
class GraceSets:
    """The six sets' contents, canonical (sorted; networks merged), so equal contents compare
    equal however they were written."""

    grace4: tuple[IPv4Address, ...] = ()
    grace6: tuple[IPv6Address, ...] = ()
    allow4: tuple[IPv4Network, ...] = ()
    allow6: tuple[IPv6Network, ...] = ()
    dns4: tuple[IPv4Address, ...] = ()
    dns6: tuple[IPv6Address, ...] = ()

    @classmethod
    def build(
        cls, *, grace: Iterable[str], allowed: Iterable[str], dns: Iterable[str]
    ) -> GraceSets:
        """Checked and canonical contents; ValueError for a bad value or too many."""
        hosts = [host(value, "grace address") for value in grace]
        nets = [network(value, "allowed network") for value in allowed]
        servers = [host(value, "DNS server") for value in dns]
        values: dict[str, Any] = {}
        for prefix, items in (("grace", hosts), ("allow", nets), ("dns", servers)):
            for version in (4, 6):
                chosen = [item for item in items if item.version == version]
                if len(chosen) > SET_LIMITS[prefix]:
                    raise ValueError(f"too many entries for {prefix}{version}")
                values[f"{prefix}{version}"] = (
                    collapse(chosen) if prefix == "allow" else tuple(sorted(set(chosen)))
                )
        return cls(**values)

    def items(self) -> Iterator[tuple[str, tuple[Address | Network, ...]]]:
        for name in SET_NAMES:
            yield name, getattr(self, name)

    @property
    def in_grace(self) -> int:
        """How many addresses are limited."""
        return len(self.grace4) + len(self.grace6)

    def diff(self, other: GraceSets) -> tuple[str, ...]:
        """Counts only, safe to log: ('grace4 +2 -1', ...) for each set that differs."""
        out = []
        for name, mine in self.items():
            theirs = getattr(other, name)
            if mine != theirs:
                wanted, present = set(mine), set(theirs)
                out.append(f"{name} +{len(wanted - present)} -{len(present - wanted)}")
        return tuple(out)
