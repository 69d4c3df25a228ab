"""How to reach a node from its database row: its SSH target and which WireGuard it runs."""

from __future__ import annotations

from db.models import Node
from nodes import NodeTarget
from nodes.amnezia import AMNEZIAWG, AmneziaParams


def target_of(node: Node) -> NodeTarget:
    return NodeTarget(
        name=node.name,
        host=node.ssh_host,
        port=node.ssh_port,
        username=node.ssh_user,
        host_key=node.host_key,
        interface=node.interface,
        amnezia=node.protocol == AMNEZIAWG,
    )


def is_amnezia(node: Node) -> bool:
    """Whether the node runs AmneziaWG (its configs need the AmneziaVPN or AmneziaWG app)."""
    return node.protocol == AMNEZIAWG


def amnezia_of(node: Node) -> AmneziaParams | None:
    """The node's AmneziaWG parameters, or None on a plain WireGuard node."""
    return AmneziaParams.from_json(node.obfuscation) if node.protocol == AMNEZIAWG else None
