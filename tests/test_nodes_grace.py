"""The grace firewall's node side: the nft file, the commands, the plan, and the listing parser fed
a real nft listing, hostile variants and Hypothesis-made ones (it only ever raises OutputError)."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import ipaddress
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nodes.firewall import Action, apply_command, plan_grace, read_command, render
from nodes.grace_layout import GraceSets, rule_comments, table_name
from nodes.grace_listing import MAX_OUTPUT, NodeGrace, parse_grace
from nodes.output import OutputError

LISTING = (Path(__file__).parent / "listings" / "grace-nft-1.0.6.txt").read_text()
# what tests/listings/grace-nft-1.0.6.txt holds: written by render(), listed by real nft 1.0.6
LISTED = GraceSets.build(
    grace=["10.8.0.2", "10.8.0.3", "fd08::2"],
    allowed=["91.108.4.0/22", "91.108.8.0/22", "149.154.160.0/20", "203.0.113.7", "2001:67c:4e8::/48"],
    dns=["1.1.1.1", "1.0.0.1", "2606:4700:4700::1111"],
)  # fmt: skip


def listing_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(LISTING.partition("\n")[2])
    return doc


def listed(doc: dict[str, Any], head: str = "persisted none") -> str:
    return head + "\n" + json.dumps(doc) + "\n"


def test_sets_are_checked_and_canonical() -> None:
    sets = GraceSets.build(
        grace=["10.8.0.3", " 10.8.0.2/32", "fd08::2"],
        allowed=["91.108.12.0/22", "91.108.8.0/22", "2001:b28:f23c::/48", "2001:b28:f23d::/48"],
        dns=["1.1.1.1"],
    )
    assert [str(a) for a in sets.grace4] == ["10.8.0.2", "10.8.0.3"]
    assert [str(n) for n in sets.allow4] == ["91.108.8.0/21"]  # adjacent networks merged
    assert [str(n) for n in sets.allow6] == ["2001:b28:f23c::/47"]
    assert sets.in_grace == 3
    for bad in ("10.8.0.0/24", "224.0.0.1", "127.0.0.1", "fe80::1%eth0", "10.8.0.2; reboot"):
        with pytest.raises(ValueError, match="grace address"):
            GraceSets.build(grace=[bad], allowed=[], dns=[])
    for bad in ("0.0.0.0/0", "::/0", "10.0.0.1/8", "x"):
        with pytest.raises(ValueError, match="allowed network"):
            GraceSets.build(grace=[], allowed=[bad], dns=[])


@pytest.mark.parametrize("iface", ["wg=0", "wg+", "", "a" * 16, 'w"g', "wg 0"])
def test_interface_names_nft_cannot_take_are_refused(iface: str) -> None:
    with pytest.raises(ValueError, match="interface name"):
        table_name(iface)


def test_file_is_deterministic_and_ends_with_its_digest() -> None:
    text = render("wg0", LISTED)
    assert text == render("wg0", GraceSets.build(grace=["fd08::2", "10.8.0.3", "10.8.0.2"],
        allowed=[str(n) for n in (*LISTED.allow6, *LISTED.allow4)], dns=["1.0.0.1", "1.1.1.1",
        "2606:4700:4700::1111"]))  # fmt: skip
    body, _, end = text.rstrip("\n").rpartition("\n")
    assert end == "# vpnservice-grace end " + hashlib.sha256((body + "\n").encode()).hexdigest()
    assert "add element inet vpnservice-grace-wg0 grace4 { 10.8.0.2, 10.8.0.3 }" in text
    assert "grace4 {" not in render("wg0", GraceSets()).split("}\n", 7)[-1]  # nothing to add


def test_apply_refuses_stdin_cut_short_before_nft_runs(tmp_path: Path) -> None:
    """A stdin that stops after a flush would leave grace users unlimited: the command checks
    the end line first; a fake nft records whether it ran."""
    command, stdin = apply_command("wg0", render("wg0", LISTED))
    assert command.count(stdin.rstrip("\n").rsplit("\n", 1)[-1]) == 1
    with pytest.raises(ValueError, match="no end line"):
        apply_command("wg0", "flush set inet vpnservice-grace-wg0 grace4\n")
    ran = tmp_path / "nft-ran"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nft").write_text(f"#!/bin/sh\ntouch {ran}\n")
    (bin_dir / "nft").chmod(0o755)
    (bin_dir / "flock").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "flock").chmod(0o755)
    state = tmp_path / "state"
    locks = tmp_path / "locks"
    locks.mkdir(mode=0o700)
    script = command.replace("/etc/vpnservice", str(state)).replace("/run/vpnservice", str(locks))
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    cut = stdin[: stdin.index("add element")]
    proc = subprocess.run(["sh", "-c", script], input=cut, text=True, env=env, capture_output=True)
    assert proc.returncode == 5, proc.stderr
    assert not ran.exists()
    assert not (state / "grace-wg0.nft").exists()
    proc = subprocess.run(
        ["sh", "-c", script], input=stdin, text=True, env=env, capture_output=True
    )
    assert proc.returncode == 0, proc.stderr
    assert ran.exists()
    assert (state / "grace-wg0.nft").read_text() == stdin


def test_real_listing_parses_to_what_was_written() -> None:
    node = parse_grace(LISTING, "wg0")
    assert node.installed and node.present and node.problems == () and node.persisted is None
    assert node.sets == LISTED
    digest = hashlib.sha256(render("wg0", LISTED).encode()).hexdigest()
    assert plan_grace(LISTED, digest, node).action is Action.UPDATE  # no kept file yet
    kept = parse_grace(LISTING.replace("persisted none", f"persisted {digest}", 1), "wg0")
    assert plan_grace(LISTED, digest, kept).action is Action.NONE
    paid = GraceSets.build(grace=["10.8.0.3", "fd08::2"], allowed=["91.108.4.0/22",
        "91.108.8.0/22", "149.154.160.0/20", "203.0.113.7", "2001:67c:4e8::/48"],
        dns=["1.1.1.1", "1.0.0.1", "2606:4700:4700::1111"])  # fmt: skip
    plan = plan_grace(paid, digest, kept)
    assert (plan.action, plan.summary()) == (Action.UPDATE, "update (grace4 +0 -1)")


def test_nft_missing_and_table_absent() -> None:
    assert parse_grace("nft missing\n", "wg0") == NodeGrace(installed=False)
    absent = parse_grace("persisted none\ntable absent\n", "wg0")
    assert (absent.installed, absent.present) == (True, False)
    assert plan_grace(LISTED, "0" * 64, absent).summary() == "update (table absent)"
    assert plan_grace(LISTED, "0" * 64, NodeGrace(installed=False)).action is Action.NONE


def drift(change: Any) -> tuple[str, ...]:
    doc = listing_doc()
    change(doc["nftables"])
    return parse_grace(listed(doc), "wg0").problems


def test_tables_changed_by_hand_are_rebuilt_not_refused() -> None:
    """A well-formed table that is not exactly ours plans a rebuild (delete and make again)."""

    def rule_gone(items: list[Any]) -> None:
        items.pop(
            next(i for i, x in enumerate(items) if "rule" in x and x["rule"]["chain"] == "limit4")
        )

    def other_priority(items: list[Any]) -> None:
        next(x for x in items if x.get("chain", {}).get("name") == "forward")["chain"]["prio"] = 0

    def other_flags(items: list[Any]) -> None:
        next(x for x in items if x.get("set", {}).get("name") == "grace4")["set"]["flags"] = [
            "interval"
        ]

    def extra_set(items: list[Any]) -> None:
        items.append({"set": {"family": "inet", "name": "x", "table": "vpnservice-grace-wg0",
                              "type": "ipv4_addr", "handle": 99}})  # fmt: skip

    for change in (rule_gone, other_priority, other_flags, extra_set):
        problems = drift(change)
        assert problems, change.__name__
        node = parse_grace(listed(_changed(change)), "wg0")
        assert plan_grace(LISTED, "0" * 64, node).action is Action.RECREATE
    assert rule_comments("wg0") != rule_comments("wg1")


def _changed(change: Any) -> dict[str, Any]:
    doc = listing_doc()
    change(doc["nftables"])
    return doc


@pytest.mark.parametrize(
    "text",
    [
        "",
        "persisted none",  # no newline
        "persisted NONE\ntable absent\n",
        "persisted " + "g" * 64 + "\ntable absent\n",
        "persisted none\ntable absent\nmore\n",
        "persisted none\n{}\n",
        "persisted none\n[]\n",
        'persisted none\n{"nftables": [], "nftables": []}\n',
        'persisted none\n{"nftables": [NaN]}\n',
        "persisted none\n" + "[" * 100_000 + "]" * 100_000 + "\n",
        'persisted none\n{"nftables": [' + "1" * 5000 + "]}\n",
        "persisted none\n" + json.dumps({"nftables": [{"metainfo": {}}] * 65}) + "\n",
        "x" * (MAX_OUTPUT + 1),
    ],
)
def test_malformed_output_raises_output_error(text: str) -> None:
    with pytest.raises(OutputError):
        parse_grace(text, "wg0")


def _set(items: list[Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(x for x in items if x.get("set", {}).get("name") == name)["set"]
    return found


@pytest.mark.parametrize(
    ("name", "elem"),
    [
        ("grace4", ["10.8.0.2", "10.8.0.2"]),  # twice
        ("grace4", ["fd08::2"]),  # another family
        ("grace4", [{"prefix": {"addr": "10.8.0.0", "len": 24}}]),  # a network in a host set
        ("grace4", ["10.8.0.2%eth0"]),
        ("grace4", [True]),
        ("grace4", [{"elem": {"val": "10.8.0.2", "timeout": 5}}]),
        ("allow4", [{"prefix": {"addr": "91.108.4.1", "len": 22}}]),  # host bits
        ("allow4", [{"prefix": {"addr": "91.108.4.0", "len": True}}]),  # a bool for a number
        ("allow4", [{"prefix": {"addr": "91.108.4.0", "len": 33}}]),
        ("allow4", [{"range": ["10.0.0.9", "10.0.0.1"]}]),  # backwards
        ("allow4", [{"range": ["10.0.0.1"]}]),
        ("allow4", [{"set": ["10.0.0.1"]}]),
        ("dns4", ["1.1.1.1"] * 17),  # more than MAX_DNS
        ("dns4", "1.1.1.1"),
    ],
)
def test_bad_elements_raise(name: str, elem: Any) -> None:
    doc = listing_doc()
    _set(doc["nftables"], name)["elem"] = elem
    with pytest.raises(OutputError):
        parse_grace(listed(doc), "wg0")


def test_the_listing_of_another_table_or_family_raises() -> None:
    for path, value in ((("table", "name"), "vpnservice-grace-wg1"), (("table", "family"), "ip")):
        doc = listing_doc()
        table = next(x for x in doc["nftables"] if path[0] in x)[path[0]]
        table[path[1]] = value
        with pytest.raises(OutputError):
            parse_grace(listed(doc), "wg0")


def test_newer_nft_element_wrappers_and_ranges_are_read() -> None:
    doc = listing_doc()
    _set(doc["nftables"], "grace4")["elem"] = [{"elem": {"val": "10.8.0.3"}}, "10.8.0.2"]
    _set(doc["nftables"], "allow4")["elem"] = [{"range": ["91.108.4.0", "91.108.15.255"]},
        {"prefix": {"addr": "149.154.160.0", "len": 20}}, "203.0.113.7"]  # fmt: skip
    node = parse_grace(listed(doc), "wg0")
    assert [str(a) for a in node.sets.grace4] == ["10.8.0.2", "10.8.0.3"]
    assert [str(n) for n in node.sets.allow4] == [
        "91.108.4.0/22", "91.108.8.0/21", "149.154.160.0/20", "203.0.113.7/32"]  # fmt: skip
    assert node.sets.allow4 != LISTED.allow4  # 91.108.12.0/22 is more than was written
    assert plan_grace(LISTED, "0" * 64, node).action is Action.UPDATE


# Values a hostile node could put anywhere in its JSON.
junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for key, inner in value.items():
            out += _paths(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            out += _paths(inner, (*path, index))
    return out


PATHS = [path for path in _paths(listing_doc()) if path]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), junk)
def test_any_value_anywhere_parses_or_raises_output_error(
    path: tuple[Any, ...], value: Any
) -> None:
    """Replace one value of the real listing with anything: the parser either reads a table
    (then it also plans) or raises OutputError; nothing else escapes."""
    doc = copy.deepcopy(listing_doc())
    parent: Any = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    try:
        node = parse_grace(listed(doc), "wg0")
    except OutputError:
        return
    plan_grace(LISTED, "0" * 64, node)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_cut_or_corrupted_text_parses_or_raises_output_error(data: st.DataObject) -> None:
    text = LISTING
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, min(len(text), start + 40)))
    text = text[:start] + data.draw(st.text(max_size=40)) + text[end:]
    with contextlib.suppress(OutputError):
        parse_grace(text, "wg0")


hosts4 = st.integers(1, 2**24 - 2).map(lambda n: ipaddress.IPv4Address((10 << 24) + n))
hosts6 = st.integers(1, 2**64).map(lambda n: ipaddress.IPv6Address((0xFD08 << 112) + n))
nets4 = st.tuples(st.integers(0, 2**32 - 1), st.integers(1, 32)).map(
    lambda t: ipaddress.IPv4Network((t[0] >> (32 - t[1]) << (32 - t[1]), t[1]))
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(hosts4, max_size=30, unique=True),
    st.lists(hosts6, max_size=10, unique=True),
    st.lists(nets4, min_size=1, max_size=20),
)
def test_any_sets_listed_as_nft_lists_them_read_back_equal(
    grace4: list[Any], grace6: list[Any], allow4: list[Any]
) -> None:
    sets = GraceSets.build(
        grace=[str(a) for a in (*grace4, *grace6)],
        allowed=[str(n) for n in allow4],
        dns=["1.1.1.1"],
    )
    doc = listing_doc()
    items = doc["nftables"]
    _set(items, "grace4")["elem"] = [str(a) for a in sets.grace4]
    _set(items, "grace6")["elem"] = [str(a) for a in sets.grace6]
    _set(items, "allow4")["elem"] = [
        str(n.network_address) if n.prefixlen == 32
        else {"prefix": {"addr": str(n.network_address), "len": n.prefixlen}}
        for n in sets.allow4
    ]  # fmt: skip
    _set(items, "allow6")["elem"] = []
    _set(items, "dns4")["elem"] = ["1.1.1.1"]
    _set(items, "dns6").pop("elem")
    node = parse_grace(listed(doc), "wg0")
    assert node.sets == sets
    digest = hashlib.sha256(render("wg0", sets).encode()).hexdigest()
    head = f"persisted {digest}"
    assert plan_grace(sets, digest, parse_grace(listed(doc, head), "wg0")).action is Action.NONE


def test_read_command_quotes_nothing_it_was_not_given() -> None:
    command = read_command("wg0")
    assert "vpnservice-grace-wg0" in command and "/etc/vpnservice/grace-wg0.nft" in command
    with pytest.raises(ValueError, match="interface name"):
        read_command("wg0;reboot")
