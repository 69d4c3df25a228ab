"""Game round trips for real: a host on the lab's internet stands for a game server that answers
each node's pings after that node's own delay (its kernel's echo replies off, a raw ICMP socket
answering instead: this works on kernels without `sch_netem`), the bot pings it from every node
over SSH, and /server shows the nodes for that game in the right order with the right figures."""

from __future__ import annotations

import json
import subprocess
import sys
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
from tests.netlab import Lab, require_root_lab
from tests.nodes_support import live_app

USER = 5401
DELAYS_MS = {"slow": 120, "fast": 20, "mid": 60}  # added in this order: not the ranked one
SLACK_MS = 25  # what the namespaces, wireguard-go and a loaded machine may add
GAME_HOST = 200  # the game server's host number on the lab's bridge
# Answers ICMP echo requests like a kernel would, but after the delay given for the source.
GAME_SERVER = r"""
import json, socket, struct, sys, threading
delays = json.loads(sys.argv[1])
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)

def checksum(data):
    data += b"\0" * (len(data) % 2)
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF

while True:
    packet, (source, _) = raw.recvfrom(65535)
    icmp = packet[(packet[0] & 0x0F) * 4:]
    if len(icmp) < 8 or icmp[0] != 8 or source not in delays:
        continue
    body = b"\0\0\0\0" + icmp[4:]
    reply = b"\0\0" + struct.pack("!H", checksum(body)) + icmp[4:]
    threading.Timer(delays[source] / 1000, raw.sendto, (reply, (source, 0))).start()
"""


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
    delays: dict[str, int] = {}
    for index, (name, delay) in enumerate(DELAYS_MS.items(), start=1):
        node = lab.add_node(
            name,
            wg_subnet=f"10.69.{index}.1/24",
            listen_port=51850 + index,
            authorized_key=bot_key,
        )
        delays[node.ip] = delay
        added = operator.cli(
            "node", "add", name, f"ssh://root@{node.ip}", "--interface", node.interface
        )
        assert added.returncode == 0, added.stderr

    game_ip, game_ns = lab.ip(GAME_HOST), f"{lab.tag}-game"
    lab.attach(game_ns, game_ip)
    netns = ["ip", "netns", "exec", game_ns]
    subprocess.run([*netns, "sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1"], check=True)
    subprocess.Popen(
        [*netns, sys.executable, "-c", GAME_SERVER, json.dumps(delays)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    games_file = tmp_path / "games.toml"
    games_file.write_text(
        "[games.lab]\n"
        'name = "Lab Arena"\n'
        f'networks = ["{game_ip}/32"]\n'
        f'targets = ["{game_ip}"]\n'
        'sources = ["this test: a host on the lab\'s internet"]\n'
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
