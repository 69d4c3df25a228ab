"""Fixtures shared by the node tests: the bot's key, the lab's first node, a recording pool.
Each test module defines its own module-scoped `lab` fixture with the nodes it needs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nodes import NodeTarget, SshPool
from tests.netlab import Lab, LabNode


class RecordingPool(SshPool):
    """An SshPool that remembers every command string and stdin it sent."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.commands: list[str] = []
        self.stdins: list[str | None] = []

    async def run(
        self,
        target: NodeTarget,
        command: str,
        *,
        stdin: str | None = None,
        timeout: float | None = None,
    ) -> str:
        self.commands.append(command)
        self.stdins.append(stdin)
        return await super().run(target, command, stdin=stdin, timeout=timeout)


def target_of(node: LabNode, username: str = "root") -> NodeTarget:
    return NodeTarget(
        node.name, node.ip, username=username, host_key=node.host_key, interface=node.interface
    )


@pytest.fixture(scope="module")
def key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("botkey") / "id_ed25519"


@pytest.fixture
def node(lab: Lab) -> LabNode:
    return lab.nodes[0]


@pytest.fixture
def target(node: LabNode) -> NodeTarget:
    return target_of(node)


@pytest.fixture
async def pool(key_path: Path) -> AsyncIterator[RecordingPool]:
    pool = RecordingPool(key_path, connect_timeout=2, command_timeout=20)
    yield pool
    await pool.close()
