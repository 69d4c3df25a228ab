"""Reality settings, Xray's API answers read as untrusted bytes, and the links users import."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodes import protowire as pb
from nodes.reality import (
    RealityError,
    RealityInbound,
    ServerOptions,
    XrayUser,
    generate_private_key,
    generate_short_id,
    handshake_target,
    public_key,
    server_config,
)
from nodes.xray import (
    ACCOUNT,
    cut_command,
    parse_online,
    parse_traffic,
    parse_users,
    write_command,
)
from services.vlesslinks import VlessLink, subscription_body

UID = "a56df51b-1538-4282-a2da-c453400a6e7e"


def users_answer(*users: tuple[str, str], kind: str = ACCOUNT) -> bytes:
    out = b""
    for name, uid in users:
        account = pb.typed(kind, pb.text(1, uid) + pb.text(2, "xtls-rprx-vision"))
        out += pb.blob(1, pb.text(2, name) + pb.blob(3, account))
    return out


def stat(name: str, value: int) -> bytes:
    return pb.blob(1, pb.text(1, name) + pb.number(2, value))


def test_a_known_key_pair_matches_xray() -> None:
    # the pair `xray x25519` printed for this private key (the research lab's run)
    assert public_key("iK7ioxBiCEIyrY0pfht2YKr0PgGw8myqBKjKL-GjEXQ") == (
        "2FY2694glN_qvTcYEo4uX5umVteLEYBwXYKrK8TYBB4"
    )


def test_generated_keys_are_clamped_and_short_ids_are_hex() -> None:
    raw = base64.urlsafe_b64decode(generate_private_key() + "=")
    assert len(raw) == 32 and raw[0] & 7 == 0 and raw[31] & 0xC0 == 0x40
    assert len(generate_short_id()) == 16 and int(generate_short_id(), 16) >= 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"private_key": "x" * 42}, "not a Reality key"),
        ({"short_ids": ("ABC",)}, "short id"),
        ({"short_ids": ()}, "1–8 short ids"),
        ({"target": "example.com"}, "HOST:PORT"),
        ({"target": "exa mple.com:443"}, "DNS name"),
        ({"server_name": "10.0.0.1"}, "DNS name"),
        ({"port": 0}, "1–65535"),
    ],
)
def test_bad_reality_settings_are_refused(changes: dict[str, object], message: str) -> None:
    values: dict[str, object] = {
        "private_key": generate_private_key(),
        "short_ids": ("ab",),
        "target": "www.example.com:443",
        "server_name": "www.example.com",
    }
    values.update(changes)
    with pytest.raises(RealityError, match=message):
        RealityInbound(**values)  # type: ignore[arg-type]


def test_targets_by_name_and_address() -> None:
    assert handshake_target("[2001:db8::1]:8443") == "[2001:db8::1]:8443"
    assert handshake_target("10.1.2.3:443") == "10.1.2.3:443"


def test_server_config_lists_every_user_once() -> None:
    inbound = RealityInbound(generate_private_key(), ("ab", "cd12"), "a.example:443", "a.example")
    users = [XrayUser("d2", UID), XrayUser("d1", "5cf8386a-7997-433f-9a4f-fcde40d04315")]
    config = json.loads(server_config(inbound, users, ServerOptions(allow_networks=("10.9.0.7",))))
    vless = config["inbounds"][0]
    assert [c["email"] for c in vless["settings"]["clients"]] == ["d1", "d2"]
    assert {c["flow"] for c in vless["settings"]["clients"]} == {"xtls-rprx-vision"}
    assert vless["streamSettings"]["realitySettings"]["shortIds"] == ["ab", "cd12"]
    assert config["api"]["listen"] == "127.0.0.1:10085"
    assert config["outbounds"][0]["settings"]["finalRules"][0]["ip"] == ["10.9.0.7/32"]
    with pytest.raises(RealityError, match="share a name"):
        server_config(inbound, [XrayUser("d1", UID), XrayUser("d1", UID)])


def test_users_answer_is_read() -> None:
    assert parse_users(users_answer(("d1", UID))) == [XrayUser("d1", UID)]
    assert parse_users(b"") == []


@pytest.mark.parametrize(
    "answer",
    [
        users_answer(("D1", UID)),  # a name we never make
        users_answer(("d1", UID.upper())),
        users_answer(("d1", UID), kind="xray.proxy.vmess.Account"),
        users_answer(("d1", "x" * 1000)),
        b"\x0a\xff",  # a length past the end
        b"\x0f",  # a group
        b"\x08" + b"\xff" * 11,  # a number longer than 64 bits
    ],
)
def test_bad_users_answers_are_refused(answer: bytes) -> None:
    with pytest.raises(pb.WireError):
        parse_users(answer)


def test_traffic_answer_is_read_by_user_and_direction() -> None:
    answer = (
        stat("user>>>d1>>>traffic>>>uplink", 1048596)
        + stat("user>>>d1>>>traffic>>>downlink", 262144)
        + stat("user>>>d2>>>traffic>>>downlink", 0)
        + stat("inbound>>>vless-in>>>traffic>>>uplink", 5)
    )
    assert parse_traffic(answer) == {"d1": (1048596, 262144), "d2": (0, 0)}
    with pytest.raises(pb.WireError, match="out of range"):
        parse_traffic(stat("user>>>d1>>>traffic>>>uplink", 2**63))
    with pytest.raises(pb.WireError, match="direction"):
        parse_traffic(stat("user>>>d1>>>traffic>>>sideways", 1))


def online(name: str, *addresses: str) -> bytes:
    entries = b"".join(pb.blob(2, pb.text(1, ip) + pb.number(2, 1765000000)) for ip in addresses)
    return pb.blob(1, pb.text(1, name) + entries)


def test_online_answer_gives_each_user_their_client_addresses() -> None:
    answer = online("d1", "203.0.113.7", "::ffff:198.51.100.2") + online("d2", "2001:db8::1")
    assert parse_online(answer) == {
        "d1": {"203.0.113.7", "198.51.100.2"},
        "d2": {"2001:db8::1"},
    }
    assert parse_online(b"") == {}
    with pytest.raises(pb.WireError, match="not an IP address"):
        parse_online(online("d1", "203.0.113.7; reboot"))


def test_cut_closes_only_connections_to_the_inbound_from_the_addresses() -> None:
    command = cut_command(443, ["203.0.113.7", "2001:db8::1"])
    assert command == (
        "ss -K -Htn state established '( sport = :443 and ( dst [2001:db8::1] or "
        "dst 203.0.113.7 or dst [::ffff:203.0.113.7] ) )' | wc -l"
    )
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        cut_command(443, ["203.0.113.7 ) or ( sport = :22"])


@given(st.binary(max_size=200))
def test_any_bytes_give_users_or_a_wire_error(data: bytes) -> None:
    try:
        parse_users(data)
        parse_traffic(data)
        parse_online(data)
    except pb.WireError:
        pass


def test_the_config_is_checked_before_it_replaces_the_old_one() -> None:
    command = write_command("/usr/local/etc/xray/config.json")
    assert command.index("xray run -test") < command.index("mv -f")
    assert "umask 077" in command


def test_link_carries_every_reality_parameter_once() -> None:
    link = VlessLink(UID, "203.0.113.5", 443, "www.example.com", "pk_-1", "ab12", "NL-1 Алиса #1")
    parts = urlsplit(str(link))
    assert (parts.scheme, parts.username, parts.hostname, parts.port) == (
        "vless",
        UID,
        "203.0.113.5",
        443,
    )
    query = dict(parse_qsl(parts.query, strict_parsing=True))
    assert query == {
        "type": "tcp",
        "encryption": "none",
        "security": "reality",
        "flow": "xtls-rprx-vision",
        "sni": "www.example.com",
        "fp": "chrome",
        "pbk": "pk_-1",
        "sid": "ab12",
        "spx": "/",
    }
    assert all(item.count("=") == 1 for item in parts.query.split("&"))
    assert parts.fragment == "NL-1%20%D0%90%D0%BB%D0%B8%D1%81%D0%B0%20%231"
    six = VlessLink(UID, "2001:db8::1", 443, "a.example", "pk", "ab", "x")
    assert "@[2001:db8::1]:443?" in str(six)


def test_subscription_is_the_links_in_base64() -> None:
    body = subscription_body(["vless://a", "vless://b"])
    assert base64.b64decode(body).decode().splitlines() == ["vless://a", "vless://b"]
