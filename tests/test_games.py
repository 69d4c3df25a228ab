"""Game profiles and the ping a node runs for them: the shipped file and an operator's, checked
with the file and game named; ping's output read as untrusted (bounded, property-tested)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.settings import SettingsError, load_settings
from nodes.output import OutputError
from nodes.ping import MAX_ADDRESSES, MAX_RTT_MS, PING_MARK, parse_ping, ping_command
from services.games import ALL_TARGETS_MAX, load_games, probe_targets
from services.routes import PresetError

REPLIED = [
    "--- 192.0.2.1 ping statistics ---",
    "3 packets transmitted, 3 received, 0% packet loss, time 402ms",
    "rtt min/avg/max/mdev = 41.207/42.518/44.003/1.141 ms",
]
SILENT = [
    "",
    "--- 192.0.2.2 ping statistics ---",
    "3 packets transmitted, 0 received, 100% packet loss, time 2046ms",
]
BUSYBOX = [
    "--- 192.0.2.3 ping statistics ---",
    "3 packets transmitted, 2 packets received, 33% packet loss",
    "round-trip min/avg/max = 9.100/9.250/9.400 ms",
]
TOKEN = "1:" + "a" * 35
NO_ROUTE = ["ping: connect: Network is unreachable"]


def output(*blocks: list[str]) -> str:
    lines: list[str] = []
    for index, block in enumerate(blocks):
        lines += [f"{PING_MARK} {index}", *block]
    return "\n".join(lines) + "\n"


def test_ping_output_gives_each_addresss_average_or_none() -> None:
    out = output(REPLIED, SILENT, BUSYBOX, NO_ROUTE)
    assert parse_ping(out, 4) == (42.518, None, 9.25, None)


@pytest.mark.parametrize(
    ("out", "count", "problem"),
    [
        (output(REPLIED), 2, "not one result per address"),
        (output(REPLIED, REPLIED)[len(PING_MARK) + 3 :], 2, "before the first marker"),
        (output(REPLIED).replace(f"{PING_MARK} 0", f"{PING_MARK} 1"), 1, "out of order"),
        (output(NO_ROUTE, SILENT[:1]), 2, "no summary"),
        (
            output([REPLIED[0], REPLIED[1].replace("3 received", "4 received"), REPLIED[2]]),
            1,
            "more replies",
        ),
        (output([*SILENT[1:], REPLIED[2]]), 1, "times without replies"),
        (output(REPLIED[:2]), 1, "replies without times"),
        (output([*REPLIED[:2], "rtt min/avg/max/mdev = 5.0/1.0/9.0/1.0 ms"]), 1, "out of order"),
        (output([*REPLIED[:2], "rtt min/avg/max/mdev = 1/2/99999999/1 ms"]), 1, "out of range"),
        (output([*REPLIED[:2], "rtt min/avg/max/mdev = 1/1.2.3/3/1 ms"]), 1, "not a decimal"),
        (output(REPLIED * 2), 1, "more than 4 lines"),
        ("x" * 100_000, 1, "too long"),
    ],
)
def test_hostile_ping_output_is_refused(out: str, count: int, problem: str) -> None:
    with pytest.raises(OutputError, match=problem):
        parse_ping(out, count)


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(f"{PING_MARK} 0123./\nrtminavgxdes=-kpcr,%"), max_size=600),
    st.integers(min_value=1, max_value=4),
)
def test_any_output_gives_bounded_times_or_an_output_error(out: str, count: int) -> None:
    try:
        times = parse_ping(out, count)
    except OutputError:
        return
    assert len(times) == count
    assert all(rtt is None or 0 <= rtt < MAX_RTT_MS for rtt in times)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(), st.floats(min_value=0, max_value=MAX_RTT_MS - 1, allow_subnormal=False)
        ),
        min_size=1,
        max_size=6,
    )
)
def test_what_ping_prints_is_read_back(averages: list[float | None]) -> None:
    blocks = []
    for average in averages:
        if average is None:
            blocks.append(SILENT)
        else:
            value = f"{average:.3f}"
            blocks.append([*REPLIED[:2], f"rtt min/avg/max/mdev = {value}/{value}/{value}/0 ms"])
    if all(average is None for average in averages):
        blocks[0] = REPLIED
        averages[0] = 42.518
    times = parse_ping(output(*blocks), len(blocks))
    assert times == tuple(None if a is None else float(f"{a:.3f}") for a in averages)


def test_the_command_pings_checked_addresses_only() -> None:
    command = ping_command(["192.0.2.1", "2001:db8::1"])
    assert "ping -n -q -c 3" in command and "192.0.2.1" in command and "2001:db8::1" in command
    for bad in (["192.0.2.1; reboot"], [], ["192.0.2.1"] * (MAX_ADDRESSES + 1)):
        with pytest.raises(ValueError, match=r"address|1-64"):
            ping_command(bad)


def test_the_shipped_games_load_within_one_command() -> None:
    games = load_games()
    assert {"cs2", "dota2", "lol"} <= set(games)
    assert all(game.targets and game.networks and game.sources for game in games.values())
    assert 0 < len(probe_targets(games.values())) <= ALL_TARGETS_MAX
    assert games["cs2"].preset().key == "game-cs2"


def test_an_operators_file_adds_and_replaces_games(tmp_path: Path) -> None:
    extra = tmp_path / "games.toml"
    extra.write_text(
        '[games.cs2]\nname = "CS2 (our relays)"\nnetworks = ["198.51.100.0/24"]\n'
        'targets = ["198.51.100.7"]\nsources = ["our own"]\n\n'
        '[games.tarkov]\nname = "Escape from Tarkov"\nnetworks = ["203.0.113.0/24"]\n'
        'targets = ["203.0.113.9", "203.0.113.9"]\nsources = ["our own"]\n'
    )
    games = load_games(extra)
    assert games["cs2"].name == "CS2 (our relays)" and games["cs2"].targets == ("198.51.100.7",)
    assert games["tarkov"].targets == ("203.0.113.9",), "one target once"
    assert "dota2" in games
    settings = load_settings(_env_file=None, bot_token=TOKEN, games_file=str(extra))
    assert settings.games_file == extra


def game(**fields: str) -> str:
    """One game's table, with `fields` (TOML values) in place of the good defaults."""
    values = {
        "name": '"X"',
        "networks": '["198.51.100.0/24"]',
        "targets": '["198.51.100.1"]',
        "sources": '["s"]',
        **fields,
    }
    key = values.pop("key", "x")
    return f"[games.{key}]\n" + "".join(f"{name} = {value}\n" for name, value in values.items())


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (game(targets='["localhost"]'), "'localhost' is not an IP address"),
        (game(targets='["127.0.0.1"]'), "loopback"),
        (game(targets='["169.254.0.1"]'), "link-local"),
        (game(networks='["0.0.0.0/0"]'), "game 'x', line 3.*full tunnel"),
        (game(key="X"), "the key must be"),
        (game(name='""'), "name must be"),
        (game(port="1"), "unknown field 'port'"),
        ("[games.x\n", "not valid TOML"),
        ('[presets.x]\nname = "X"\n', "unknown top-level key 'presets'"),
    ],
)
def test_a_bad_games_file_is_refused_at_start_naming_it(
    tmp_path: Path, body: str, problem: str
) -> None:
    bad = tmp_path / "games.toml"
    bad.write_text(body)
    with pytest.raises(PresetError, match=problem) as caught:
        load_games(bad)
    assert str(bad) in str(caught.value)
    with pytest.raises(SettingsError, match="GAMES_FILE"):
        load_settings(_env_file=None, bot_token=TOKEN, games_file=str(bad))


def test_too_many_targets_in_all_games_are_refused(tmp_path: Path) -> None:
    tables = [
        f'[games.g{n}]\nname = "G{n}"\nnetworks = ["10.{n}.0.0/16"]\n'
        f"targets = [{', '.join(f'{chr(34)}10.{n}.0.{i}{chr(34)}' for i in range(1, 9))}]\n"
        'sources = ["s"]\n'
        for n in range(9)
    ]
    extra = tmp_path / "games.toml"
    extra.write_text("\n".join(tables))
    with pytest.raises(PresetError, match="probe targets in all games"):
        load_games(extra)


def test_a_game_ping_interval_under_a_minute_is_refused() -> None:
    with pytest.raises(SettingsError, match="GAME_PING_INTERVAL: must be 0"):
        load_settings(_env_file=None, bot_token=TOKEN, game_ping_interval=30)
    assert (
        load_settings(_env_file=None, bot_token=TOKEN, game_ping_interval=0).game_ping_interval == 0
    )
