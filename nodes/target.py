"""Where a node is and how to reach it over SSH."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NodeTarget:
    """Address, pinned host key and WireGuard (or AmneziaWG) interface of one node."""

    name: str
    host: str
    port: int = 22
    username: str = "root"
    host_key: str | None = None
    interface: str = "wg0"
    amnezia: bool = False  # the node runs AmneziaWG: awg and awg-quick instead of wg, wg-quick

    @property
    def wg(self) -> str:
        """The node's `wg` tool: `awg` on an AmneziaWG node."""
        return "awg" if self.amnezia else "wg"

    @property
    def wg_quick(self) -> str:
        """The node's `wg-quick` tool: `awg-quick` on an AmneziaWG node."""
        return f"{self.wg}-quick"
