"""Games and nodes: round trips from every node to each game's servers, measured on a
schedule; the nodes ranked for a game; the game's routes on a user's devices in one tap."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import GameRoundTrip, Node, NodeStatus
from nodes import NodeError, WireGuard
from services.clock import Clock, system_clock
from services.devices import DeviceConfig, DeviceService
from services.errors import InvalidInput, NoDevice
from services.games import Game, probe_targets
from services.placement import NodeChoice, Placement
from services.targets import target_of

log = logging.getLogger(__name__)

STALE_AFTER_INTERVALS = 3  # a measurement older than this many intervals is not shown


class UnknownGame(InvalidInput):
    key = "error-game-unknown"


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """One node's round trip to one game (None: none of its targets answered)."""

    node: str
    game: str
    rtt_ms: float | None


@dataclass(frozen=True, slots=True)
class RankedNode:
    """A node that takes devices, with its last round trip to the game (None: unknown)."""

    choice: NodeChoice
    rtt_ms: float | None


class GamePingService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        wireguard: WireGuard,
        placement: Placement,
        devices: DeviceService,
        games: dict[str, Game],
        *,
        interval: int,
        clock: Clock = system_clock,
    ) -> None:
        self._sessions = sessions
        self._wireguard = wireguard
        self._placement = placement
        self._devices = devices
        self._games = dict(games)
        self._clock = clock
        self.interval = interval

    @property
    def enabled(self) -> bool:
        """Whether nodes are measured (GAME_PING_INTERVAL) and there are games to rank them for."""
        return self.interval > 0 and bool(self._games)

    def games(self) -> list[Game]:
        return list(self._games.values())

    def game(self, key: str) -> Game:
        """The game called `key`; UnknownGame for any other (a stale or forged button)."""
        game = self._games.get(key)
        if game is None:
            raise UnknownGame()
        return game

    async def measure_all(self) -> list[RoundTrip]:
        """Ping every game's targets from every enabled node (one command per node, all nodes
        at once) and store each game's best round trip per node. A node that fails keeps its
        last figures until they grow stale; the others go on."""
        targets = probe_targets(self._games.values())
        if not targets:
            return []
        async with self._sessions() as session:
            nodes = (
                await session.scalars(
                    select(Node).where(Node.status == NodeStatus.ENABLED).order_by(Node.name)
                )
            ).all()
        answers = await asyncio.gather(
            *(self._wireguard.ping(target_of(node), targets) for node in nodes),
            return_exceptions=True,
        )
        measured: list[RoundTrip] = []
        for node, answer in zip(nodes, answers, strict=True):
            if isinstance(answer, NodeError):
                log.info("round trips from %s not measured: %s", node.name, answer.reason)
                continue
            if isinstance(answer, BaseException):
                log.error("round trips from %s crashed", node.name, exc_info=answer)
                continue
            times = dict(zip(targets, answer, strict=True))
            trips = [RoundTrip(node.name, game.key, best(game, times)) for game in self.games()]
            await self._store(node.id, trips)
            measured += trips
        return measured

    async def _store(self, node_id: int, trips: list[RoundTrip]) -> None:
        now = self._clock()
        async with self._sessions.begin() as session:
            await session.execute(
                delete(GameRoundTrip).where(
                    GameRoundTrip.node_id == node_id, GameRoundTrip.game.not_in(list(self._games))
                )
            )
            for trip in trips:
                row = await session.get(GameRoundTrip, (node_id, trip.game))
                if row is None:
                    row = GameRoundTrip(node_id=node_id, game=trip.game)
                    session.add(row)
                row.rtt_ms, row.measured_at = trip.rtt_ms, now

    async def ranked(self, key: str) -> list[RankedNode]:
        """The nodes that take devices, by their round trip to the game, fastest first; those
        without a fresh figure last, in the usual order."""
        game = self.game(key)
        choices = await self._placement.choices()
        since = self._clock() - timedelta(seconds=self.interval * STALE_AFTER_INTERVALS)
        async with self._sessions() as session:
            rows = await session.execute(
                select(GameRoundTrip.node_id, GameRoundTrip.rtt_ms).where(
                    GameRoundTrip.game == game.key, GameRoundTrip.measured_at >= since
                )
            )
            times = {node_id: rtt for node_id, rtt in rows.all()}
        ranked = [RankedNode(choice, times.get(choice.id)) for choice in choices]
        return sorted(ranked, key=lambda item: (item.rtt_ms is None, item.rtt_ms or 0.0))

    async def use_routes(self, user_id: int, key: str) -> list[DeviceConfig]:
        """Send only the game's traffic through the tunnel on every device of the user; their
        new configs, oldest device first."""
        game = self.game(key)
        await self._devices.require_access(user_id)
        devices = await self._devices.devices_of(user_id)
        if not devices:
            raise NoDevice()
        return [
            await self._devices.set_routes(user_id, device.id, game.preset_key)
            for device in devices
        ]


def best(game: Game, times: dict[str, float | None]) -> float | None:
    """The game's round trip from a node: the nearest of its targets that answered."""
    answered = [rtt for target in game.targets if (rtt := times.get(target)) is not None]
    return min(answered, default=None)
