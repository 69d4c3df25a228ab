"""Every parser of node output against hostile text (Hypothesis): for any text, and for
mutations of valid output, a parser returns checked values or raises ValueError, which the
caller turns into a NodeError for that node; nothing else, ever, and never quoting a key.

Each property runs EXAMPLES examples (PARSER_EXAMPLES in the environment runs more) and the
test asserts it did: README's fault table gives these counts."""

from __future__ import annotations

import base64
import ipaddress
import math
import os
import random
import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nodes.amnezia import AmneziaParams, generate
from nodes.bootstrap import parse_step
from nodes.keyrotation import KeyChange, parse_key_change
from nodes.keys import is_valid_key
from nodes.output import BYTES_LIMIT, HANDSHAKE_EARLIEST, HANDSHAKE_LATEST
from nodes.peers import MAX_ALLOWED_IPS, PeerState, parse_dump
from nodes.probe import MAX_CPUS, MAX_LOAD, MAX_MEMORY_KB, Probe, parse_probe
from nodes.wireguard import (
    MAX_ADDRESSES,
    InterfaceInfo,
    parse_interface,
    parse_obfuscation,
    parse_private_key,
)

EXAMPLES = int(os.environ.get("PARSER_EXAMPLES", "800"))
KEY = re.compile(r"[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=")
# What a hostile node might slip into a field: the edges of every bound and of every type.
ODD = [
    "",
    "\t",
    "\n",
    "\r",
    "\x00",
    " ",
    "-1",
    "+1",
    "0",
    "1_000",
    "٣",
    "1e309",
    "nan",
    "inf",
    "(none)",
    "off",
    str(2**63),
    str(2**63 - 1),
    str(2**64),
    str(2**64 - 1),
    "253402300800",  # the first second of year 10000
    "99999999999999999999999",
    "9" * 5000,
    "[::1]:0",
    "[fe80::1%eth0]:51820",
    "10.0.0.1:65536",
    "1.2.3.4/33",
    "::/129",
    "10.8.0.2/32," * 200,
    "A" * 43 + "=",
    "\u202e",
    "é",
]


def key() -> st.SearchStrategy[str]:
    return st.binary(min_size=32, max_size=32).map(lambda raw: base64.b64encode(raw).decode())


def run_property(
    check: Callable[[str], None], texts: st.SearchStrategy[str], examples: int = EXAMPLES
) -> int:
    """`check` as a Hypothesis property over `texts`, `examples` examples; how many ran."""
    ran = 0

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(texts)
    def prop(text: str) -> None:
        nonlocal ran
        ran += 1
        check(text)

    prop()
    return ran


def parsed_or_refused(parse: Callable[[str], object], text: str) -> tuple[bool, object]:
    """(True, what parse returns), or (False, None) when it refuses the text with a short
    ValueError that quotes no key found in the text; any other exception fails the test."""
    try:
        return True, parse(text)
    except ValueError as error:
        message = str(error)
        assert not any(secret in message for secret in KEY.findall(text)), message
        assert len(message) < 200 and message.isprintable(), message
        return False, None


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[str]) -> str:
    """Valid output with one to four edits: a field replaced, text inserted or cut."""
    text = draw(valid)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["field", "insert", "delete", "line"]))
        payload = draw(st.one_of(st.sampled_from(ODD), st.text(max_size=40)))
        if kind == "field":
            parts = re.split(r"([\t\n ,:])", text)
            fields = [i for i, part in enumerate(parts) if part and part not in "\t\n ,:"]
            if fields:
                parts[draw(st.sampled_from(fields))] = payload
            text = "".join(parts)
        elif kind == "insert":
            at = draw(st.integers(0, len(text)))
            text = text[:at] + payload + text[at:]
        elif kind == "delete" and text:
            at = draw(st.integers(0, len(text) - 1))
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        else:
            lines = text.split("\n")
            at = draw(st.integers(0, len(lines) - 1))
            lines.insert(at, draw(st.sampled_from([lines[at], payload])))
            text = "\n".join(lines)
    return text


# --- valid output, as `wg`, /proc and the scripts print it ------------------------------------


@st.composite
def endpoints(draw: st.DrawFn) -> str:
    port = draw(st.integers(1, 65535))
    if draw(st.booleans()):
        return f"{ipaddress.IPv4Address(draw(st.integers(0, 2**32 - 1)))}:{port}"
    return f"[{ipaddress.IPv6Address(draw(st.integers(0, 2**128 - 1)))}]:{port}"


@st.composite
def networks(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        address = ipaddress.IPv4Address(draw(st.integers(0, 2**32 - 1)))
        return str(ipaddress.ip_network(f"{address}/{draw(st.integers(0, 32))}", strict=False))
    address6 = ipaddress.IPv6Address(draw(st.integers(0, 2**128 - 1)))
    return str(ipaddress.ip_network(f"{address6}/{draw(st.integers(0, 128))}", strict=False))


@st.composite
def peer_lines(draw: st.DrawFn) -> str:
    handshake = draw(st.one_of(st.just(0), st.integers(HANDSHAKE_EARLIEST, HANDSHAKE_LATEST - 1)))
    allowed = draw(st.lists(networks(), max_size=4))
    keepalive = draw(st.one_of(st.just("off"), st.integers(1, 65535).map(str)))
    return "\t".join(
        [
            draw(key()),
            draw(st.one_of(st.just("(none)"), key())),
            draw(st.one_of(st.just("(none)"), endpoints())),
            ",".join(allowed) or "(none)",
            str(handshake),
            str(draw(st.integers(0, BYTES_LIMIT - 1))),
            str(draw(st.integers(0, BYTES_LIMIT - 1))),
            keepalive,
        ]
    )


@st.composite
def dumps(draw: st.DrawFn) -> str:
    interface = "\t".join([draw(key()), draw(key()), str(draw(st.integers(0, 65535))), "off"])
    peers = draw(st.lists(peer_lines(), max_size=5, unique_by=lambda line: line.split("\t")[0]))
    return "\n".join([interface, *peers]) + "\n"


@st.composite
def probes(draw: st.DrawFn) -> str:
    load = f"{draw(st.integers(0, 999))}.{draw(st.integers(0, 99)):02d}"
    total = draw(st.integers(1, 2**36))
    available = draw(st.integers(0, total))
    head = (
        f"{load} 0.30 0.10 1/123 4567\n{draw(st.integers(1, 512))}\n"
        f"MemTotal:       {total} kB\nMemAvailable:   {available} kB\n"
    )
    if draw(st.booleans()):
        return head + "--vpnservice-down--\n"
    return head + "--vpnservice-wg--\n" + draw(dumps())


@st.composite
def interfaces(draw: st.DrawFn) -> str:
    lines = [draw(key()), str(draw(st.integers(1, 65535)))]
    for number, net in enumerate(draw(st.lists(networks(), max_size=3)), 4):
        family = "inet6" if ":" in net else "inet"
        address = net.split("/")[0] + "/" + net.split("/")[1]
        lines.append(
            f"{number}: wg0    {family} {address} scope global wg0\\       valid_lft forever"
        )
    return "\n".join(lines) + "\n"


@st.composite
def obfuscations(draw: st.DrawFn) -> str:
    version = draw(st.sampled_from(["1.0", "1.5", "2.0"]))
    params = generate(version, rng=random.Random(draw(st.integers(0, 2**32))))
    return "\n".join(params.lines()) + "\n"


PATH_TEXT = st.text(
    st.characters(categories=["L", "N", "P"], include_characters=" "), min_size=1, max_size=40
)


@st.composite
def key_changes(draw: st.DrawFn) -> str:
    word = draw(st.sampled_from(["added", "present", "absent"]))
    return f"{word} /home/{draw(PATH_TEXT)}/.ssh/authorized_keys\n"


@st.composite
def step_outputs(draw: st.DrawFn) -> str:
    lines = draw(st.lists(PATH_TEXT, max_size=5))
    return "\n".join([*lines, "ok nat"]) + "\n"


# --- what a parsed value must satisfy -----------------------------------------------------------


def valid_peer(peer: PeerState) -> None:
    assert is_valid_key(peer.public_key)
    assert peer.preshared_key is None or is_valid_key(peer.preshared_key)
    if peer.endpoint is not None:
        host, _, port = peer.endpoint.rpartition(":")
        ipaddress.ip_address(host.strip("[]"))
        assert 1 <= int(port) <= 65535
    assert len(peer.allowed_ips) <= MAX_ALLOWED_IPS
    for net in peer.allowed_ips:
        ipaddress.ip_network(net, strict=False)
    if peer.latest_handshake is not None:
        seconds = peer.latest_handshake.timestamp()
        assert HANDSHAKE_EARLIEST <= seconds < HANDSHAKE_LATEST
        assert peer.latest_handshake.tzinfo is UTC
    assert 0 <= peer.rx_bytes < BYTES_LIMIT and 0 <= peer.tx_bytes < BYTES_LIMIT


def valid_dump(peers: object) -> None:
    assert isinstance(peers, list)
    for peer in peers:
        valid_peer(peer)
    assert len({peer.public_key for peer in peers}) == len(peers)


def valid_probe(result: object) -> None:
    assert isinstance(result, Probe)
    assert math.isfinite(result.load1) and 0 <= result.load1 < MAX_LOAD
    assert 1 <= result.cpus <= MAX_CPUS
    assert 0 < result.mem_total_bytes <= MAX_MEMORY_KB * 1024
    assert 0 <= result.mem_available_bytes <= result.mem_total_bytes
    valid_dump(list(result.peers))
    assert result.recent_handshakes(datetime.now(UTC)) <= len(result.peers)
    assert 0 <= result.rx_bytes < BYTES_LIMIT * max(len(result.peers), 1)


def valid_interface(info: object) -> None:
    assert isinstance(info, InterfaceInfo)
    assert is_valid_key(info.public_key)
    assert 1 <= info.listen_port <= 65535
    assert len(info.addresses) <= MAX_ADDRESSES * 8


def valid_private_key(result: object) -> None:
    assert isinstance(result, str) and is_valid_key(result)


def valid_obfuscation(result: object) -> None:
    assert isinstance(result, AmneziaParams)
    AmneziaParams.from_json(result.to_json())  # every field within AmneziaWG's rules


def valid_key_change(result: object) -> None:
    assert isinstance(result, KeyChange)
    assert result.file.startswith("/") and result.file.replace("\t", "").isprintable()


def valid_step(result: object) -> None:
    assert result is None


PARSERS: dict[
    str, tuple[Callable[[str], object], Callable[[object], None], st.SearchStrategy[str]]
] = {
    "dump": (parse_dump, valid_dump, dumps()),  # nodes/peers.py
    "probe": (lambda text: parse_probe(text, 0.01), valid_probe, probes()),  # nodes/probe.py
    "interface": (parse_interface, valid_interface, interfaces()),  # nodes/wireguard.py
    "private-key": (parse_private_key, valid_private_key, key().map(lambda k: k + "\n")),
    "amneziawg": (parse_obfuscation, valid_obfuscation, obfuscations()),  # nodes/wireguard.py
    "key-change": (  # nodes/keyrotation.py
        lambda text: parse_key_change(text, "added"),
        valid_key_change,
        key_changes(),
    ),
    "setup-step": (lambda text: parse_step(text, "nat"), valid_step, step_outputs()),
}


def checked(name: str) -> Callable[[str], None]:
    parse, valid, _ = PARSERS[name]

    def check(text: str) -> None:
        ok, result = parsed_or_refused(parse, text)
        if ok:
            valid(result)

    return check


@pytest.mark.parametrize("name", PARSERS)
def test_parser_accepts_valid_output(name: str) -> None:
    """Valid output, with values up to the edges of the bounds, parses: not too strict."""
    parse, valid, valid_output = PARSERS[name]
    ran = run_property(lambda text: valid(parse(text)), valid_output, EXAMPLES // 4)
    assert ran == EXAMPLES // 4


@pytest.mark.parametrize("name", PARSERS)
def test_parser_survives_any_text(name: str) -> None:
    ran = run_property(checked(name), st.text(max_size=1000))
    assert ran == EXAMPLES
    print(f"{name}: any text, {ran} examples")


@pytest.mark.parametrize("name", PARSERS)
def test_parser_survives_mutated_output(name: str) -> None:
    ran = run_property(checked(name), mutated(PARSERS[name][2]))
    assert ran == EXAMPLES
    print(f"{name}: mutated output, {ran} examples")
