"""A node's own Xray config joined to the bot's: foreign inbounds and what they need kept,
clashes refused, the file read as hostile input."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodes.reality import (
    INBOUND_TAG,
    RealityInbound,
    XrayUser,
    generate_private_key,
    generate_short_id,
    server_config,
)
from nodes.xray_grace import GraceRoutes, grace_name, with_grace
from nodes.xrayforeign import (
    OUR_OUTBOUND,
    ForeignConfigError,
    ForeignXray,
    clash,
    foreign_part,
    merge,
    parse_config,
    summary,
)

UID = "a56df51b-1538-4282-a2da-c453400a6e7e"
HAND_MADE = """{
  // made by hand before the bot came
  "log": {"loglevel": "info", "access": "/var/log/xray/access.log"},
  "api": {"tag": "api", "services": ["StatsService", "LoggerService"]},
  "inbounds": [
    {"tag": "api", "listen": "127.0.0.1", "port": 10085, "protocol": "dokodemo-door",
     "settings": {"address": "127.0.0.1"}},
    {"tag": "friends", "port": 8443, "protocol": "vless",
     "settings": {"clients": [{"id": "0badc0de-0000-4000-8000-000000000001", "email": "ann"},
                              {"id": "0badc0de-0000-4000-8000-000000000002", "email": "bob"}],
                  "decryption": "none"}},
    {"tag": "socks", "port": "1080,2000-2001", "protocol": "socks",
     "settings": {"accounts": [{"user": "a", "pass": "b # not a comment"}]}}
  ],
  "outbounds": [{"tag": "warp", "protocol": "wireguard"}, {"tag": "direct", "protocol": "freedom"}],
  /* their rules */
  "routing": {"domainStrategy": "IPIfNonMatch",
              "rules": [{"inboundTag": ["api"], "outboundTag": "api"}]},
  "dns": {"servers": ["1.1.1.1"]}
}
"""


def ours(port: int = 443, users: tuple[XrayUser, ...] = ()) -> str:
    inbound = RealityInbound(
        generate_private_key(), (generate_short_id(),), "www.example.com:443", "www.example.com",
        port,
    )  # fmt: skip
    return server_config(inbound, users)


def test_foreign_inbounds_and_what_they_need_are_kept_and_ours_added() -> None:
    foreign = foreign_part(parse_config(HAND_MADE))
    assert summary(foreign) == ForeignXray(inbounds=2, clients=3)
    assert clash(foreign, 443) is None
    merged = json.loads(merge(ours(users=(XrayUser("v1", UID),)), foreign))
    hand = parse_config(HAND_MADE)
    tags = [inbound["tag"] for inbound in merged["inbounds"]]
    # the API door on the bot's API port gives way to the bot's API, which serves it now
    assert tags == ["friends", "socks", INBOUND_TAG]
    assert merged["inbounds"][:2] == hand["inbounds"][1:]
    assert [o["tag"] for o in merged["outbounds"]] == ["warp", "direct", OUR_OUTBOUND]
    assert merged["routing"]["rules"][0] == {
        "type": "field", "inboundTag": [INBOUND_TAG], "outboundTag": OUR_OUTBOUND,
    }  # fmt: skip
    assert merged["routing"]["rules"][1:] == hand["routing"]["rules"]
    assert merged["routing"]["domainStrategy"] == "IPIfNonMatch"
    assert merged["dns"] == hand["dns"] and merged["log"] == hand["log"]
    assert merged["api"]["tag"] == "api" and merged["api"]["listen"] == "127.0.0.1:10085"
    assert set(merged["api"]["services"]) == {"HandlerService", "StatsService", "LoggerService"}
    assert merged["policy"]["levels"]["0"]["statsUserOnline"] is True
    assert merged["inbounds"][2]["settings"]["clients"][0]["email"] == "v1"


def test_merging_a_merged_config_again_changes_nothing() -> None:
    mine = ours()
    once = merge(mine, foreign_part(parse_config(HAND_MADE)))
    twice = merge(mine, foreign_part(parse_config(once)))
    assert json.loads(twice) == json.loads(once)
    assert summary(foreign_part(parse_config(once))) == ForeignXray(inbounds=2, clients=3)


def test_users_in_grace_are_left_out_where_the_nodes_own_routing_is_kept() -> None:
    routes = GraceRoutes.build(["149.154.160.0/20"])
    users = (XrayUser("v1", UID), XrayUser(grace_name(2), "0badc0de-0000-4000-8000-000000000003"))
    mine = with_grace(ours(users=users), routes)
    alone = json.loads(merge(mine, {}))
    assert [c["email"] for c in alone["inbounds"][0]["settings"]["clients"]] == ["g2", "v1"]
    assert alone["routing"]["rules"] == routes.rules()
    merged = json.loads(merge(mine, foreign_part(parse_config(HAND_MADE))))
    assert [c["email"] for c in merged["inbounds"][2]["settings"]["clients"]] == ["v1"]
    assert merged["routing"]["rules"][1:] == parse_config(HAND_MADE)["routing"]["rules"]


@pytest.mark.parametrize("text", ["", "{}", "  \n", None])
def test_a_config_with_no_foreign_inbound_is_replaced_whole(text: str | None) -> None:
    mine = ours()
    found = foreign_part(parse_config(mine if text is None else text))
    assert found == {} and summary(found) == ForeignXray()
    assert merge(mine, found) == mine


def test_the_bots_port_or_api_port_taken_by_a_foreign_inbound_is_a_clash() -> None:
    foreign = foreign_part(parse_config(HAND_MADE))
    assert clash(foreign, 8443) == "port 8443 is taken by the node's own Xray inbound 'friends'"
    assert clash(foreign, 2001) == "port 2001 is taken by the node's own Xray inbound 'socks'"
    assert clash(foreign, 443, api_port=1080) == (
        "port 1080 (the bot's Xray API) is taken by the node's inbound 'socks'"
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{", "the node's Xray config is not JSON"),
        ("[]", "the node's Xray config is not a JSON object"),
        ('{"inbounds": {}}', "the node's Xray config has inbounds of another shape"),
        (
            '{"routing": {"rules": [1]}}',
            "the node's Xray config has routing rules of another shape",
        ),
    ],
)
def test_a_config_the_bot_cannot_read_is_refused(text: str, reason: str) -> None:
    with pytest.raises(ForeignConfigError, match=f"^{reason}$"):
        parse_config(text)


@given(st.text(max_size=300))
def test_any_text_is_a_config_or_a_refusal(text: str) -> None:
    try:
        config = parse_config(text)
    except ForeignConfigError:
        return
    found = foreign_part(config)
    summary(found)
    clash(found, 443)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
KEYS = st.sampled_from(["inbounds", "outbounds", "routing", "api", "policy", "stats", "log"])
PARTS = st.sampled_from(["tag", "port", "settings", "clients", "rules", "levels", "services"])


@given(
    st.dictionaries(
        KEYS,
        JSON
        | st.lists(st.dictionaries(PARTS, JSON, max_size=4), max_size=3)
        | st.dictionaries(PARTS, JSON, max_size=4),
        max_size=5,
    )
)
def test_any_json_object_is_kept_merged_or_refused(config: dict[str, object]) -> None:
    try:
        found = foreign_part(parse_config(json.dumps(config)))
    except ForeignConfigError:
        return
    summary(found)
    if clash(found, 443) is None:
        json.loads(merge(ours(), found))
