"""Game profiles from TOML files: each game's server ranges (its routes) and probe targets."""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from services.routes import (
    GAME_PREFIX,
    Network,
    Place,
    PresetError,
    RoutePreset,
    preset_networks,
    strings_of,
)

GAMES_FILE = Path(__file__).with_name("games.toml")
NAME_MAX = 32
TARGETS_MAX = 8  # per game
ALL_TARGETS_MAX = 64  # every game's targets together: one ping command per node
_KEY = re.compile(r"[a-z0-9_-]{1,24}")  # "game-" + key stays within a preset key's 32
_FIELDS = {"name", "networks", "targets", "sources"}


@dataclass(frozen=True, slots=True)
class Game:
    """A game: its servers' networks (routed through the tunnel on request) and a few of its
    servers' addresses, whose round-trip time from each node ranks the nodes for it."""

    key: str
    name: str
    networks: tuple[Network, ...]
    targets: tuple[str, ...]
    sources: tuple[str, ...]

    @property
    def preset_key(self) -> str:
        """The route preset made of the game's networks (Device.route_preset)."""
        return GAME_PREFIX + self.key

    def preset(self) -> RoutePreset:
        title = f"🎮 {self.name}"
        return RoutePreset(self.preset_key, {"ru": title, "en": title}, self.networks, self.sources)


def load_games(extra: Path | None = None) -> dict[str, Game]:
    """The repository's games, then the operator's file: it may add games or replace one.
    PresetError (a ValueError naming the file, the game and the line) for anything malformed."""
    games = read_games(GAMES_FILE)
    if extra is not None:
        games.update(read_games(extra))
    targets = probe_targets(games.values())
    if len(targets) > ALL_TARGETS_MAX:
        where = extra or GAMES_FILE
        raise PresetError(
            f"{where}: {len(targets)} probe targets in all games, more than {ALL_TARGETS_MAX}"
            " that one ping command per node measures"
        )
    return games


def game_presets(games: dict[str, Game]) -> dict[str, RoutePreset]:
    """Each game's route preset, by preset key."""
    return {game.preset_key: game.preset() for game in games.values()}


def probe_targets(games: Iterable[Game]) -> tuple[str, ...]:
    """Every game's targets once, in file order."""
    seen: dict[str, None] = {}
    for game in games:
        seen.update(dict.fromkeys(game.targets))
    return tuple(seen)


def read_games(path: Path) -> dict[str, Game]:
    """Every game in one TOML file, in file order."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise PresetError(f"{path}: cannot read the games file ({reason})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PresetError(f"{path}: not valid TOML: {error}") from None
    unknown = sorted(set(data) - {"games"})
    if unknown:
        raise PresetError(f"{path}: unknown top-level key {unknown[0]!r}; use [games.KEY]")
    tables = data.get("games")
    if not isinstance(tables, dict) or not tables:
        raise PresetError(f"{path}: no games; add a table such as [games.cs2]")
    lines = text.splitlines()
    return {key: _game(Place(path, lines, key, "games"), table) for key, table in tables.items()}


def _game(place: Place, table: object) -> Game:
    if not _KEY.fullmatch(place.key):
        raise place.error("the key must be 1-24 characters: a-z, 0-9, _ and -")
    if not isinstance(table, dict):
        raise place.error("must be a table with name, networks, targets and sources")
    unknown = sorted(set(table) - _FIELDS)
    if unknown:
        problem = f"unknown field {unknown[0]!r}; expected name, networks, targets, sources"
        raise place.error(problem, needle=unknown[0])
    name = table.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > NAME_MAX:
        raise place.error(f"name must be 1-{NAME_MAX} characters of text", needle="name")
    return Game(
        key=place.key,
        name=name.strip(),
        networks=preset_networks(place, table.get("networks")),
        targets=_targets(place, table.get("targets")),
        sources=strings_of(place, "sources", table.get("sources")),
    )


def _targets(place: Place, value: object) -> tuple[str, ...]:
    texts = strings_of(place, "targets", value)
    if len(texts) > TARGETS_MAX:
        raise place.error(f"at most {TARGETS_MAX} targets per game", needle="targets")
    targets: list[str] = []
    for text in texts:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise place.error(f"{text!r} is not an IP address such as 192.0.2.1", text) from None
        if address.is_loopback or address.is_multicast or address.is_unspecified:
            raise place.error(f"{text} is a loopback, multicast or unspecified address", text)
        if address.is_link_local:
            raise place.error(f"{text} is a link-local address", text)
        if str(address) not in targets:
            targets.append(str(address))
    return tuple(targets)
