"""The quick checks of node output (keys, networks, endpoints without the ipaddress module or a
base64 decode) accept exactly what the general checks accept, for any text: a dump of 10,000
peers is read in a fraction of the time, and nothing a hostile node prints gets further."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from nodes.keys import is_valid_key
from nodes.output import OutputError, endpoint, networks

EXAMPLES = 600
KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=!\n "


def decodes_to_a_key(text: str) -> bool:
    """The general definition: 44 characters, ending "=", strict base64 of 32 bytes."""
    if len(text) != 44 or not text.endswith("="):
        return False
    try:
        return len(base64.b64decode(text, validate=True)) == 32
    except binascii.Error:
        return False


def is_network(text: str) -> bool:
    """What the general way accepts: an address in hex digits, dots and colons, a prefix of
    up to 3 digits, any host bits."""
    if not re.fullmatch(r"[0-9A-Fa-f.:]{2,39}/[0-9]{1,3}", text):
        return False
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def near_keys() -> st.SearchStrategy[str]:
    real = st.binary(min_size=30, max_size=34).map(lambda raw: base64.b64encode(raw).decode())
    return st.one_of(real, st.text(KEY_CHARS, min_size=42, max_size=46))


@settings(max_examples=EXAMPLES, deadline=None)
@given(near_keys())
def test_a_key_is_what_decodes_to_32_bytes(text: str) -> None:
    assert is_valid_key(text) == decodes_to_a_key(text)


def octets() -> st.SearchStrategy[str]:
    """0 to 300, sometimes with a leading zero."""
    return st.one_of(st.integers(0, 300).map(str), st.integers(0, 99).map(lambda n: f"0{n}"))


def near_networks() -> st.SearchStrategy[str]:
    v4 = st.tuples(st.lists(octets(), min_size=3, max_size=5), octets())
    v4_text = v4.map(lambda t: ".".join(t[0]) + f"/{t[1]}")
    v6 = st.tuples(st.integers(0, 2**128 - 1), st.integers(0, 140))
    v6_text = v6.map(lambda t: f"{ipaddress.IPv6Address(t[0])}/{t[1]}")
    odd = st.text("0123456789abcdefABCDEF:./", min_size=2, max_size=44)
    return st.one_of(v4_text, v6_text, odd, v6_text.map(str.upper))


@settings(max_examples=EXAMPLES * 2, deadline=None)
@given(near_networks())
def test_a_network_is_what_ipaddress_reads(text: str) -> None:
    try:
        networks(text, most=1, what="test")
        accepted = True
    except OutputError:
        accepted = False
    assert accepted == is_network(text)


def near_endpoints() -> st.SearchStrategy[str]:
    v4 = st.tuples(st.lists(octets(), min_size=4, max_size=4), st.integers(0, 70000))
    return st.one_of(
        v4.map(lambda t: ".".join(t[0]) + f":{t[1]}"),
        st.text("0123456789.:", min_size=7, max_size=24),
    )


@settings(max_examples=EXAMPLES, deadline=None)
@given(near_endpoints())
def test_an_ipv4_endpoint_is_an_address_and_a_port(text: str) -> None:
    host, colon, port = text.rpartition(":")
    try:
        ipaddress.IPv4Address(host)
        valid = bool(colon) and port.isdigit() and len(port) <= 5 and 1 <= int(port) < 65536
    except ValueError:
        valid = False
    try:
        endpoint(text, "test")
        accepted = True
    except OutputError:
        accepted = False
    assert accepted == valid
