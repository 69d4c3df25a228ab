"""The one error type every node operation raises, and the host key refusal that is one."""

from __future__ import annotations


class NodeError(Exception):
    """A node could not be reached or refused a command; never carries secrets."""

    def __init__(self, node: str, reason: str) -> None:
        super().__init__(f"{node}: {reason}")
        self.node = node
        self.reason = reason


class HostKeyChanged(NodeError):
    """The node presented another SSH host key than the pinned one, and was refused; `offered`
    is the key it presented (an OpenSSH public key line), for an admin to accept or not."""

    def __init__(self, node: str, offered: str) -> None:
        super().__init__(node, "host key changed: refused until an admin accepts the new one")
        self.offered = offered
