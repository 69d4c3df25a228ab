"""Split tunnelling: route presets from TOML files and the AllowedIPs they give a client."""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

PRESETS_FILE = Path(__file__).with_name("route_presets.toml")
FULL_TUNNEL = ("0.0.0.0/0", "::/0")
GAME_PREFIX = "game-"  # the keys of the presets made from game profiles (services/games.py)
LANGUAGES = ("ru", "en")  # every preset has a title in each
TITLE_MAX = 64
NETWORKS_MAX_CHARS = 2000  # of "a, b, …": the whole config must still fit one QR code
_KEY = re.compile(r"[a-z0-9_-]{1,32}")
_FIELDS = {"titles", "networks", "sources"}

Network = IPv4Network | IPv6Network


class PresetError(ValueError):
    """A presets file is malformed; the message names the file, the preset and the bad line."""


@dataclass(frozen=True, slots=True)
class RoutePreset:
    """A set of networks a device may send through the tunnel instead of everything."""

    key: str
    titles: dict[str, str]
    networks: tuple[Network, ...]
    sources: tuple[str, ...]

    def title(self, language: str) -> str:
        """The button title in `language`, English when the preset has none in it."""
        return self.titles.get(language) or self.titles["en"]


def load_presets(extra: Path | None = None) -> dict[str, RoutePreset]:
    """The repository's presets, then the operator's file: it may add presets or replace one."""
    presets = read_presets(PRESETS_FILE)
    if extra is not None:
        presets.update(read_presets(extra))
    return presets


def read_presets(path: Path) -> dict[str, RoutePreset]:
    """Every preset in one TOML file, in file order; PresetError for anything malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise PresetError(f"{path}: cannot read the presets file ({reason})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PresetError(f"{path}: not valid TOML: {error}") from None
    tables = data.get("presets")
    unknown = sorted(set(data) - {"presets"})
    if unknown:
        raise PresetError(f"{path}: unknown top-level key {unknown[0]!r}; use [presets.KEY]")
    if not isinstance(tables, dict) or not tables:
        raise PresetError(f"{path}: no presets; add a table such as [presets.games]")
    lines = text.splitlines()
    return {key: _preset(Place(path, lines, key), table) for key, table in tables.items()}


def client_allowed_ips(preset: RoutePreset | None, dns: str) -> tuple[str, ...]:
    """AllowedIPs for a client: the full tunnel, or the preset's networks plus every DNS
    address in `dns` ("1.1.1.1, 1.0.0.1"), merged per family, IPv4 first."""
    if preset is None:
        return FULL_TUNNEL
    networks: list[Network] = list(preset.networks)
    for part in (part.strip() for part in dns.split(",")):
        if part:
            try:
                networks.append(ipaddress.ip_network(ipaddress.ip_address(part)))  # /32, /128
            except ValueError:
                raise ValueError(f"DNS server {part!r} is not an IP address") from None
    return tuple(str(network) for network in _collapse(networks))


def _collapse(networks: list[Network]) -> list[Network]:
    """Merge overlapping and adjacent networks: IPv4 sorted, then IPv6 sorted."""
    v4 = [network for network in networks if isinstance(network, IPv4Network)]
    v6 = [network for network in networks if isinstance(network, IPv6Network)]
    return [*ipaddress.collapse_addresses(v4), *ipaddress.collapse_addresses(v6)]


@dataclass(frozen=True, slots=True)
class Place:
    """Where a preset (or, with table "games", a game profile) lives, to name it and its bad
    line in an error."""

    path: Path
    lines: list[str]
    key: str
    table: str = "presets"

    def error(self, problem: str, needle: str | None = None) -> PresetError:
        kind = "game" if self.table == "games" else "preset"
        where = f"{self.path}, {kind} {self.key!r}"
        line = self._line_of(needle)
        if line is not None:
            text = self.lines[line].strip()
            where += f", line {line + 1}: {text if len(text) <= 100 else text[:99] + '…'}"
        return PresetError(f"{where}: {problem}")

    def _line_of(self, needle: str | None) -> int | None:
        """The first line after the preset's header holding needle; the header without one."""
        key = re.escape(self.key)
        table = re.escape(self.table)
        header = re.compile(rf"""\s*\[\s*{table}\s*\.\s*["']?{key}["']?\s*\]""")
        start = next((i for i, line in enumerate(self.lines) if header.match(line)), None)
        if needle is None:
            return start
        word = re.compile(rf"(?<![\w.:]){re.escape(needle)}(?![\w.:/])")
        for i in range(start or 0, len(self.lines)):
            if word.search(self.lines[i]):
                return i
        return start


def _preset(place: Place, table: object) -> RoutePreset:
    if not _KEY.fullmatch(place.key):
        raise place.error("the key must be 1-32 characters: a-z, 0-9, _ and -")
    if place.key.startswith(GAME_PREFIX):
        raise place.error(f"keys starting with {GAME_PREFIX} belong to the game profiles")
    if not isinstance(table, dict):
        raise place.error("must be a table with titles, networks and sources")
    unknown = sorted(set(table) - _FIELDS)
    if unknown:
        problem = f"unknown field {unknown[0]!r}; expected titles, networks, sources"
        raise place.error(problem, needle=unknown[0])
    return RoutePreset(
        key=place.key,
        titles=_titles(place, table.get("titles")),
        networks=preset_networks(place, table.get("networks")),
        sources=strings_of(place, "sources", table.get("sources")),
    )


def _titles(place: Place, value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise place.error('titles must be a table, e.g. titles = {ru = "…", en = "…"}')
    titles: dict[str, str] = {}
    for language, title in value.items():
        if not isinstance(title, str) or not title.strip() or len(title) > TITLE_MAX:
            problem = f"the {language!r} title must be 1-{TITLE_MAX} characters of text"
            raise place.error(problem, needle="titles")
        titles[language] = title.strip()
    missing = [language for language in LANGUAGES if language not in titles]
    if missing:
        raise place.error(f"no {missing[0]!r} title: every preset needs ru and en")
    return titles


def preset_networks(place: Place, value: object) -> tuple[Network, ...]:
    """The `networks` field: CIDRs, merged; neither the full tunnel nor too long for a QR code."""
    networks: list[Network] = []
    for text in strings_of(place, "networks", value):
        networks.append(_network(place, text))
    collapsed = _collapse(networks)
    if any(network.prefixlen == 0 for network in collapsed):
        raise place.error("the networks add up to the whole internet: that is the full tunnel")
    size = len(", ".join(str(network) for network in collapsed))
    if size > NETWORKS_MAX_CHARS:
        problem = (
            f"the networks take {size} characters in AllowedIPs, more than {NETWORKS_MAX_CHARS}"
            " that fit a QR code with the rest of the config: use wider ranges or two presets"
        )
        raise place.error(problem, needle="networks")
    return tuple(collapsed)


def _network(place: Place, text: str) -> Network:
    needle = text.strip()
    try:
        network = ipaddress.ip_network(text.strip())
    except ValueError:
        try:
            wide = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            raise place.error(f"{text!r} is not a network such as 192.0.2.0/24", needle) from None
        raise place.error(f"{text!r} has host bits set; did you mean {wide}?", needle) from None
    if network.prefixlen == 0:
        raise place.error(f"{text} is the full tunnel, not a preset", needle)
    if network.is_loopback or network.is_multicast or network.is_link_local:
        raise place.error(f"{text} is a loopback, multicast or link-local range", needle)
    return network


def strings_of(place: Place, field: str, value: object) -> tuple[str, ...]:
    """A field that must be a non-empty list of non-empty strings, each stripped."""
    if not isinstance(value, list) or not value:
        raise place.error(f"{field} must be a non-empty list of strings")
    for item in value:
        if not isinstance(item, str) or not item.strip():
            needle = str(item) if not isinstance(item, str) else '""'
            raise place.error(f"{field} must hold only non-empty strings", needle)
    return tuple(item.strip() for item in value)
