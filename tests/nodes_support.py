"""Fixtures shared by the node tests: the bot's key, the lab's first node, a recording pool, and
a bot in this process over real nodes. Each test module defines its own module-scoped `lab`
fixture with the nodes it needs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot.app import create_bot, create_dispatcher
from bot.container import Services, open_services
from bot.settings import load_settings
from db.models import AccessKind, Node, Role, User
from nodes import NodeTarget, SshPool, WireGuard
from tests.conftest import ADMIN_ID, App, Clock
from tests.fakes.telegram_api import FakeTelegram
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
        limit: int | None = None,
        even_if_down: bool = False,
    ) -> str:
        self.commands.append(command)
        self.stdins.append(stdin)
        return await super().run(
            target, command, stdin=stdin, timeout=timeout, limit=limit, even_if_down=even_if_down
        )


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


@asynccontextmanager
async def live_app(
    tmp_path: Path, telegram: FakeTelegram, wireguard: WireGuard | None, **settings: object
) -> AsyncIterator[App]:
    """The real Dispatcher and services over `wireguard` (None: the real SSH pool), with the
    bot's key in tmp_path/data."""
    loaded = load_settings(
        _env_file=None,
        bot_token=telegram.token,
        telegram_api_url=telegram.base_url,
        data_dir=tmp_path / "data",
        admin_ids=str(ADMIN_ID),
        **settings,
    )
    clock = Clock()
    services = await open_services(loaded, clock=clock, wireguard=wireguard)
    bot = create_bot(loaded)
    dispatcher = create_dispatcher(services, bot)
    app = App(telegram, services, bot, dispatcher, None, clock, loaded)  # type: ignore[arg-type]
    try:
        yield app
    finally:
        await app.close()


async def with_access(services: Services, user_ids: list[int], node: Node | None = None) -> None:
    """Users who started the bot, with access without an end, choosing `node`."""
    async with services.sessions.begin() as session:
        for user_id in user_ids:
            session.add(
                User(
                    id=user_id,
                    first_name="Test",
                    language="ru",
                    role=Role.USER,
                    access_kind=AccessKind.INVITE,
                    started=True,
                    preferred_node_id=node.id if node else None,
                )
            )
