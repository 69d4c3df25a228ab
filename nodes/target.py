"""Where a node is and how to reach it over SSH."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NodeTarget:
    """Address, pinned host key and WireGuard interface of one node."""

    name: str
    host: str
    port: int = 22
    username: str = "root"
    host_key: str | None = None
    interface: str = "wg0"
