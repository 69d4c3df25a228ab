"""Game round trips for real: the lab's internet host stands for a game server, each node's
uplink gets its own delay from `tc netem`, the bot pings it from every node over SSH, and
/server shows the nodes for that game in the right order with the right figures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from sqlalchemy import select

from bot.metrics import REGISTRY, record_game_round_trips
from db.models import GameRoundTrip, Node
from nodes import SshPool
from tests.e2e import Operator
from tests.fakes.telegram_api import FakeTelegram
from tests.netlab import Lab, require_root_lab, unavailable
from tests.nodes_support import live_app

USER = 5401
DELAYS_MS = {"slow": 120, "fast": 20, "mid": 60}  # added in this order: not the ranked one
SLACK_MS = 25  # what the namespaces, wireguard-go and a loaded machine may add


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    require_root_lab()
    with Lab() as lab:
        yield lab


def labels(message: Any) -> list[str]:
    return [button["text"] for button in message.buttons]


async def test_server_ranks_real_nodes_by_their_uplinks_delay_to_the_game(
    lab: Lab, telegram: FakeTelegram, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    bot_key = SshPool.ensure_client_key(data_dir / "ssh_ed25519")
    operator = Operator(data_dir, telegram.base_url, telegram.token)
    for index, (name, delay) in enumerate(DELAYS_MS.items(), start=1):
        node = lab.add_node(
            name,
            wg_subnet=f"10.69.{index}.1/24",
            listen_port=51850 + index,
            authorized_key=bot_key,
        )
        netem = node.exec(
            "tc", "qdisc", "add", "dev", "eth0", "root", "netem", "delay", f"{delay}ms"
        )
        if "qdisc kind is unknown" in netem.stderr:
            unavailable("tc netem: this kernel has no sch_netem (CONFIG_NET_SCH_NETEM)")
        assert netem.returncode == 0, netem.stderr
        added = operator.cli(
            "node", "add", name, f"ssh://root@{node.ip}", "--interface", node.interface
        )
        assert added.returncode == 0, added.stderr

    games_file = tmp_path / "games.toml"
    games_file.write_text(
        "[games.lab]\n"
        'name = "Lab Arena"\n'
        f'networks = ["{lab.target_ip}/32"]\n'
        f'targets = ["{lab.target_ip}"]\n'
        'sources = ["this test: the lab\'s internet host"]\n'
    )
    async with live_app(tmp_path, telegram, None, games_file=str(games_file)) as app:
        await app.services.users.grant(USER, None, create=True)
        await app.say(USER, "/get_config")

        record_game_round_trips(await app.services.game_pings.measure_all())

        async with app.services.sessions() as session:
            rows = await session.execute(
                select(Node.name, GameRoundTrip.rtt_ms)
                .join(GameRoundTrip, GameRoundTrip.node_id == Node.id)
                .where(GameRoundTrip.game == "lab")
            )
            measured = dict(rows.all())
        assert set(measured) == set(DELAYS_MS)
        for name, delay in DELAYS_MS.items():
            rtt = measured[name]
            assert rtt is not None and delay <= rtt < delay + SLACK_MS, (name, rtt)
        metrics = generate_latest(REGISTRY).decode()
        for name in DELAYS_MS:
            assert f'vpnservice_game_round_trip_seconds{{game="lab",node="{name}"}}' in metrics

        screen = (await app.say(USER, "/server"))[0]
        assert (
            await app.press(USER, screen, screen.button("Сервер для игры")["callback_data"]) == []
        )
        games = next(m for m in telegram.sent_to(USER) if m.message_id == screen.message_id)
        assert await app.press(USER, games, games.button("Lab Arena")["callback_data"]) == []
        ranked = next(m for m in telegram.sent_to(USER) if m.message_id == screen.message_id)

        shown = [label.removeprefix("✅ ") for label in labels(ranked)[:3]]
        assert [label.split(" ·")[0] for label in shown] == ["fast", "mid", "slow"]
        for label in shown:
            name = label.split(" ·")[0]
            figure = int(label.rsplit("· ", 1)[1].removesuffix(" мс"))
            assert figure == max(1, round(measured[name] or 0)), label
