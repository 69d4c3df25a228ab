"""The grace routes on a node's Xray: the rule list Xray answers read as untrusted protobuf, and
the rules the bot sends written by Xray's field numbers."""

from __future__ import annotations

import contextlib
import ipaddress
import json

from hypothesis import given
from hypothesis import strategies as st

from nodes import protowire as pb
from nodes.reality import RealityInbound, generate_private_key, server_config
from nodes.xray_grace import (
    BLACKHOLE,
    DIRECT,
    GRACE_USERS,
    ROUTER_CONFIG,
    GraceRoutes,
    is_grace_name,
    parse_rules,
    with_grace,
)


def item(outbound: str, tag: str) -> bytes:
    return pb.blob(1, pb.text(1, outbound) + pb.text(2, tag))


def test_the_listed_rules_are_read_in_order() -> None:
    routes = GraceRoutes.build(["149.154.160.0/20", "2001:67c:4e8::/48"])
    answer = b"".join(item(outbound, tag) for outbound, tag in routes.listing)
    assert parse_rules(answer) == routes.listing
    assert parse_rules(b"") == []
    assert parse_rules(item("x", "")) == [("x", "")]


@given(st.binary(max_size=200))
def test_any_bytes_give_rules_or_a_wire_error(data: bytes) -> None:
    with contextlib.suppress(pb.WireError):
        parse_rules(data)


def test_the_request_replaces_every_rule_with_the_grace_ones() -> None:
    routes = GraceRoutes.build(["149.154.160.0/20", "2001:67c:4e8::/48"])
    [(_, config)] = pb.fields(routes.request())
    assert isinstance(config, bytes)
    assert pb.one_text(config, 1, most=100, what="type") == ROUTER_CONFIG
    router = pb.fields(config)[1][1]
    assert isinstance(router, bytes)
    assert pb.one_number(router, 1, what="domain strategy") == 3  # IpOnDemand
    allow, block = pb.many(router, 2, what="rules")
    assert pb.one_text(allow, 1, most=50, what="outbound") == DIRECT
    assert pb.one_text(block, 1, most=50, what="outbound") == BLACKHOLE
    assert pb.one_text(allow, 7, most=50, what="user") == GRACE_USERS
    assert pb.one_text(block, 7, most=50, what="user") == GRACE_USERS
    networks = []
    for rule in pb.many(allow, 10, what="ip"):
        cidr = pb.many(pb.many(rule, 2, what="custom")[0], 1, what="cidr")[0]
        raw = pb.fields(cidr)[0][1]
        assert isinstance(raw, bytes)
        address = ipaddress.ip_address(raw)
        networks.append(f"{address}/{pb.one_number(cidr, 2, what='prefix')}")
    assert tuple(networks) == routes.networks
    assert pb.many(block, 10, what="ip") == []
    tags = [pb.one_text(rule, 19, most=50, what="tag") for rule in (allow, block)]
    assert tags == [tag for _, tag in routes.listing]


def test_the_config_file_gets_the_rules_the_blackhole_and_the_routing_api() -> None:
    inbound = RealityInbound(
        generate_private_key(), ("ab12",), "www.example.com:443", "www.example.com"
    )
    routes = GraceRoutes.build(["91.108.4.0/22"])
    once = with_grace(server_config(inbound, []), routes)
    assert with_grace(once, routes) == once  # written again, the same file
    config = json.loads(once)
    assert config["api"]["services"] == ["HandlerService", "StatsService", "RoutingService"]
    assert [out["tag"] for out in config["outbounds"]] == [DIRECT, BLACKHOLE]
    assert [rule["ruleTag"] for rule in config["routing"]["rules"]] == [
        tag for _, tag in routes.listing
    ]


def test_grace_names_are_g_and_a_number() -> None:
    assert is_grace_name("g12") and not is_grace_name("v12") and not is_grace_name("g")
    assert not is_grace_name("g1x") and not is_grace_name("xg1")
