"""VlessService.install, the first half of `node vless`: settings checked before the node is
touched, an install or a port clash that stops it leaves VLESS off in the database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from nodes import NodeError, NodeTarget
from nodes.xray import XrayConfigRefused
from nodes.xrayforeign import ForeignXray
from services.errors import NodeSetupFailed
from services.vless import InvalidReality
from tests.conftest import App
from tests.fakes.xray import FakeXray

SITE = "www.example.com"


class InstallingXray(FakeXray):
    """FakeXray with an install that says `said` (or fails with `failure`) and a node config
    holding `kept`, or clashing with the bot's port with `clash`."""

    def __init__(self) -> None:
        super().__init__()
        self.installed: list[str] = []
        self.failure = ""
        self.clash = ""
        self.kept = ForeignXray()

    async def install(
        self,
        target: NodeTarget,
        *,
        releases: str,
        progress: Callable[[str], Awaitable[None]] | None = None,
    ) -> str:
        if self.failure:
            raise NodeError(target.name, self.failure)
        self.installed.append(target.name)
        return "xray 26.10.10 installed"

    async def foreign(self, target: NodeTarget, port: int) -> ForeignXray:
        if self.clash:
            raise XrayConfigRefused(target.name, self.clash)
        return self.kept


async def xray_port(app: App, name: str) -> int | None:
    node = await app.services.fleet.named(name)
    assert node is not None
    return node.xray_port


@pytest.mark.parametrize(
    ("target", "sni", "reason"),
    [
        (f"{SITE}:443", "example .com", "the server name must be a DNS name, e.g. www.example.com"),
        (SITE, SITE, "the handshake target must be HOST:PORT, e.g. www.example.com:443"),
    ],
)
async def test_settings_xray_would_refuse_stop_it_before_the_node_is_touched(
    app: App, target: str, sni: str, reason: str
) -> None:
    await app.add_node("nl1")
    xray = InstallingXray()
    app.services.vless.xray = xray  # type: ignore[assignment]
    with pytest.raises(InvalidReality) as refused:
        await app.services.vless.install("nl1", target, sni)
    assert refused.value.args_for_text["reason"] == reason
    assert xray.installed == [] and xray.configs == {}
    assert await xray_port(app, "nl1") is None


async def test_a_failed_install_or_a_port_clash_leaves_vless_off(app: App) -> None:
    await app.add_node("nl1")
    xray = InstallingXray()
    app.services.vless.xray = xray  # type: ignore[assignment]
    xray.failure = "xray setup, step install: SHA-256 of Xray-linux-64.zip does not match"
    with pytest.raises(NodeSetupFailed) as failed:
        await app.services.vless.install("nl1", f"{SITE}:443", SITE)
    assert failed.value.reason == xray.failure

    xray.failure = ""
    xray.clash = "port 443 is taken by the node's own Xray inbound 'friends'"
    with pytest.raises(InvalidReality) as clashed:
        await app.services.vless.install("nl1", f"{SITE}:443", SITE)
    assert clashed.value.args_for_text["reason"] == xray.clash
    assert xray.configs == {} and await xray_port(app, "nl1") is None

    xray.clash = ""
    xray.kept = ForeignXray(inbounds=2, clients=14)
    kept = await app.services.vless.install("nl1", f"{SITE}:443", SITE, port=8443)
    assert kept == ForeignXray(inbounds=2, clients=14)
    assert xray.installed == ["nl1", "nl1"]  # the clash is found after the install step
