"""Talking to nodes: SSH pool, WireGuard commands, dump parsing and key material."""

from nodes.dump import PeerState, parse_dump
from nodes.errors import NodeError
from nodes.keys import generate_preshared_key, generate_private_key, is_valid_key, public_key
from nodes.ssh import SshPool
from nodes.target import NodeTarget
from nodes.wireguard import InterfaceInfo, NodeLoad, PeerSpec, WireGuard

__all__ = [
    "InterfaceInfo",
    "NodeError",
    "NodeLoad",
    "NodeTarget",
    "PeerSpec",
    "PeerState",
    "SshPool",
    "WireGuard",
    "generate_preshared_key",
    "generate_private_key",
    "is_valid_key",
    "parse_dump",
    "public_key",
]
