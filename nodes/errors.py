"""The one error type every node operation raises."""

from __future__ import annotations


class NodeError(Exception):
    """A node could not be reached or refused a command; never carries secrets."""

    def __init__(self, node: str, reason: str) -> None:
        super().__init__(f"{node}: {reason}")
        self.node = node
        self.reason = reason
