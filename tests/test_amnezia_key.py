"""AmneziaVPN's vpn:// key: where the app reads each field, the wrapping, and the decoder's limits.

The expected shape is AmneziaVPN's own export (see services/amnezia_key.py for the source files
it was read from); no AmneziaVPN build runs here, so the tests check that shape, not an import."""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import random
import re
import tempfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from services.amnezia_key import (
    MAX_JSON_BYTES,
    MAX_KEY_CHARS,
    amnezia_key,
    decode_amnezia_key,
)

HOST = "nl1.vpn.example.com"
PORT = 51820
DNS = ("1.1.1.1", "1.0.0.1")
PARAMS_1_0 = {
    "Jc": "4",
    "Jmin": "40",
    "Jmax": "70",
    "S1": "52",
    "S2": "131",
    "H1": "1020325451",
    "H2": "3288052141",
    "H3": "1766607858",
    "H4": "2528465083",
}
PARAMS_2_0 = {
    "Jc": "5",
    "Jmin": "10",
    "Jmax": "50",
    "S1": "51",
    "S2": "125",
    "S3": "13",
    "S4": "9",
    "H1": "1443912531-1981073285",
    "H2": "1984025557-2135018048",
    "H3": "2145217268-2146643749",
    "H4": "2146790761-2146860793",
    "I1": "<r 2><b 0x858000010001000000000669636c6f756403636f6d0000010001c00c0001>",
}
ORDER = ("Jc", "Jmin", "Jmax", "S1", "S2", "S3", "S4", "H1", "H2", "H3", "H4")
ORDER_I = ("I1", "I2", "I3", "I4", "I5")
SETTINGS = settings(database=None, deadline=None)
# Hypothesis also caches what it learns of the source; that goes to a temporary folder, not to
# a .hypothesis folder in the repository (the tests run with -p no:cacheprovider for pytest's)
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "vpnservice-hypothesis")


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode("ascii")


def public_of(private: str) -> str:
    key = X25519PrivateKey.from_private_bytes(base64.b64decode(private))
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


class Conf:
    """A client config as services/clientconfig.py writes it, with fresh random keys."""

    def __init__(
        self,
        params: dict[str, str],
        *,
        addresses: str = "10.8.0.5/32",
        endpoint: str = f"{HOST}:{PORT}",
        allowed: str = "0.0.0.0/0, ::/0",
    ) -> None:
        self.private, self.server, self.psk = new_key(), new_key(), new_key()
        self.params = dict(params)
        lines = [f"{name} = {params[name]}" for name in (*ORDER, *ORDER_I) if name in params]
        self.text = "\n".join(
            [
                "[Interface]",
                f"PrivateKey = {self.private}",
                f"Address = {addresses}",
                "DNS = 1.1.1.1, 1.0.0.1",
                "MTU = 1376",
                *lines,
                "",
                "[Peer]",
                f"PublicKey = {self.server}",
                f"PresharedKey = {self.psk}",
                f"Endpoint = {endpoint}",
                f"AllowedIPs = {allowed}",
                "PersistentKeepalive = 25",
                "",
            ]
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.private, self.psk)

    def key(self, **overrides: Any) -> str:
        args: dict[str, Any] = {
            "host": HOST,
            "port": PORT,
            "dns": DNS,
            "description": "Нидерланды · nl1",
            "obfuscation": self.params,
        }
        args.update(overrides)
        return amnezia_key(self.text, **args)


def unwrap(key: str) -> tuple[int, bytes, bytes]:
    """The app's import, step by step: length prefix, zlib stream, JSON bytes."""
    body = key.removeprefix("vpn://")
    packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    return int.from_bytes(packed[:4], "big"), packed[4:], zlib.decompress(packed[4:])


def pack(data: bytes, *, size: int | None = None, level: int = 8) -> str:
    """A key around data: qCompress (with a length prefix, right unless size is given)."""
    prefix = (len(data) if size is None else size).to_bytes(4, "big")
    packed = prefix + zlib.compress(data, level)
    return "vpn://" + base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")


def awg_of(profile: dict[str, object]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The "awg" object of the only container and its parsed last_config."""
    containers = profile["containers"]
    assert isinstance(containers, list) and len(containers) == 1
    awg = containers[0]["awg"]
    return awg, json.loads(awg["last_config"])


def assert_clean(error: BaseException, secrets: tuple[str, ...]) -> None:
    """No secret in the error's text, nor anywhere in its exception chain."""
    seen: BaseException | None = error
    while seen is not None:
        text = f"{seen!s} {seen!r} {seen.args!r}"
        for secret in secrets:
            assert secret not in text
        seen = seen.__cause__ or seen.__context__


# --- where the app reads each field --------------------------------------------------------


def test_amneziawg_1_0_config_lands_where_the_app_reads_it() -> None:
    conf = Conf(PARAMS_1_0)
    profile = decode_amnezia_key(conf.key())

    assert profile == {
        "containers": profile["containers"],
        "defaultContainer": "amnezia-awg",
        "description": "Нидерланды · nl1",
        "dns1": "1.1.1.1",
        "dns2": "1.0.0.1",
        "hostName": HOST,
    }
    assert profile["containers"] == [
        {"container": "amnezia-awg", "awg": profile["containers"][0]["awg"]}
    ]
    awg, last = awg_of(profile)
    assert awg == {
        **PARAMS_1_0,
        "last_config": awg["last_config"],
        "port": "51820",
        "transport_proto": "udp",
    }
    assert last["config"] == conf.text
    client_public = public_of(conf.private)
    assert last == {
        **PARAMS_1_0,
        "config": conf.text,
        "hostName": HOST,
        "port": PORT,
        "client_ip": "10.8.0.5",
        "client_priv_key": conf.private,
        "client_pub_key": client_public,
        "clientId": client_public,
        "server_pub_key": conf.server,
        "psk_key": conf.psk,
        "allowed_ips": ["0.0.0.0/0", "::/0"],
        "mtu": "1376",
        "persistent_keep_alive": "25",
    }
    assert all(isinstance(value, str) for name, value in last.items() if name in PARAMS_1_0)


def test_amneziawg_2_0_config_goes_into_the_awg2_container() -> None:
    conf = Conf(
        PARAMS_2_0, addresses="10.8.0.7/32, fd00:8::7/128", allowed="0.0.0.0/1, 128.0.0.0/1, ::/0"
    )
    dns = ("2606:4700:4700::1111", "9.9.9.9", "2620:fe::fe", "149.112.112.112", "8.8.8.8")
    profile = decode_amnezia_key(conf.key(dns=dns))

    assert profile["defaultContainer"] == "amnezia-awg2"
    assert profile["containers"][0]["container"] == "amnezia-awg2"
    # AmneziaVPN takes only IPv4 DNS servers from a key, and two of them
    assert (profile["dns1"], profile["dns2"]) == ("9.9.9.9", "149.112.112.112")
    awg, last = awg_of(profile)
    assert awg["protocol_version"] == last["protocol_version"] == "2"
    for name, value in PARAMS_2_0.items():
        assert awg[name] == last[name] == value
    assert not {"I2", "I3", "I4", "I5"} & (set(awg) | set(last))
    assert last["config"] == conf.text
    # the desktop client takes client_ip as the tunnel's IPv4 address; IPv6 stays in "config"
    assert last["client_ip"] == "10.8.0.7"
    assert "fd00:8::7/128" in last["config"]
    assert last["allowed_ips"] == ["0.0.0.0/1", "128.0.0.0/1", "::/0"]
    assert (last["hostName"], last["port"], awg["port"]) == (HOST, PORT, "51820")


def test_amneziawg_1_5_stays_in_the_legacy_container_marked_1_5() -> None:
    params = {**PARAMS_1_0, "I1": "<b 0xf6ab3267fa><c><b 0xf6ab><t><r 10>", "I3": "<r 40>"}
    profile = decode_amnezia_key(Conf(params).key())

    assert profile["defaultContainer"] == "amnezia-awg"
    awg, last = awg_of(profile)
    assert awg["protocol_version"] == "1.5"
    assert "protocol_version" not in last
    assert (last["I1"], last["I3"]) == (params["I1"], params["I3"])
    assert not {"S3", "S4", "I2"} & set(last)


def test_optional_peer_fields_are_left_out_when_the_config_has_none() -> None:
    conf = Conf(PARAMS_1_0)
    conf.text = re.sub(r"(PresharedKey|PersistentKeepalive|MTU) = .*\n", "", conf.text)
    _, last = awg_of(decode_amnezia_key(conf.key(dns=())))

    assert not {"psk_key", "persistent_keep_alive", "mtu"} & set(last)
    assert last["config"] == conf.text


def test_an_ipv6_endpoint_is_matched_without_its_brackets() -> None:
    conf = Conf(PARAMS_1_0, endpoint=f"[2001:db8::10]:{PORT}")
    profile = decode_amnezia_key(conf.key(host="[2001:db8::10]"))

    _, last = awg_of(profile)
    assert profile["hostName"] == last["hostName"] == "2001:db8::10"


# --- the wrapping --------------------------------------------------------------------------


def test_the_key_is_qcompress_level_8_in_url_safe_base64_without_padding() -> None:
    key = Conf(PARAMS_2_0).key()

    assert key.startswith("vpn://")
    assert re.fullmatch(r"[A-Za-z0-9_-]+", key.removeprefix("vpn://"))
    assert "=" not in key
    size, compressed, data = unwrap(key)
    assert size == len(data)
    assert compressed == zlib.compress(data, 8)
    # QJsonDocument::toJson(): indented by 4, keys sorted, raw UTF-8, a final newline
    profile = decode_amnezia_key(key)
    assert (
        data == (json.dumps(profile, indent=4, sort_keys=True, ensure_ascii=False) + "\n").encode()
    )
    assert "Нидерланды".encode() in data
    _, last = awg_of(profile)
    assert last == json.loads(profile["containers"][0]["awg"]["last_config"])
    assert profile["containers"][0]["awg"]["last_config"].endswith("}\n")


def test_the_decoder_takes_padding_and_surrounding_whitespace() -> None:
    key = Conf(PARAMS_1_0).key()
    padded = key + "=" * (-len(key.removeprefix("vpn://")) % 4)

    assert decode_amnezia_key(padded) == decode_amnezia_key(f"  {key}\n") == decode_amnezia_key(key)


def test_a_key_too_long_for_the_decoder_is_refused_when_made() -> None:
    rng = random.Random(7)
    networks = [
        f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.0/24"
        for _ in range(10_000)
    ]
    conf = Conf(PARAMS_1_0, allowed=", ".join(networks))

    with pytest.raises(ValueError, match="64 KiB") as error:
        conf.key()
    assert_clean(error.value, conf.secrets)


# --- the decoder refuses garbage -----------------------------------------------------------

GOOD_JSON = b'{"containers": []}\n'


def _garbage() -> list[tuple[str, str]]:
    good = pack(GOOD_JSON)
    packed = base64.urlsafe_b64decode(good.removeprefix("vpn://") + "==")
    bomb = zlib.compress(b"0" * (2 * MAX_JSON_BYTES), 9)
    return [
        ("", "vpn://"),
        ("https://example.com/", "vpn://"),
        ("VPN://" + good.removeprefix("vpn://"), "vpn://"),
        (good.removeprefix("vpn://"), "vpn://"),
        ("vpn://", "too short"),
        ("vpn://AAAA", "too short"),
        ("vpn://AAAAA", "base64"),
        ("vpn://ab+/", "base64"),
        ("vpn://ab cd", "base64"),
        ("vpn://abcd===", "base64"),
        ("vpn://Zm9v=YmFy", "base64"),
        ("vpn://ключ", "base64"),
        (pack(GOOD_JSON, size=len(GOOD_JSON) + 1), "length prefix"),
        (pack(GOOD_JSON, size=len(GOOD_JSON) - 1), "length prefix"),
        (pack(GOOD_JSON, size=0), "zero"),
        (pack(GOOD_JSON, size=MAX_JSON_BYTES + 1), "1 MiB"),
        (pack(GOOD_JSON, size=2**32 - 1), "1 MiB"),
        ("vpn://" + _b64(packed[:4] + b"not zlib at all"), "not zlib"),
        ("vpn://" + _b64(packed[:-3]), "cut short"),
        ("vpn://" + _b64(packed + b"tail"), "after its zlib"),
        ("vpn://" + _b64(MAX_JSON_BYTES.to_bytes(4, "big") + bomb), "length prefix"),
        (pack(b"not json"), "JSON object"),
        (pack(b'["containers"]'), "JSON object"),
        (pack(b'"containers"'), "JSON object"),
        (pack(b'{"a": NaN}'), "JSON object"),
        (pack(b'{"a": 1,}'), "JSON object"),
        (pack(b'{"a": "\xff"}'), "JSON object"),
        (pack(b"[" * 200_000 + b"]" * 200_000), "JSON object"),
        ("vpn://" + "A" * MAX_KEY_CHARS, "64 KiB"),
    ]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@pytest.mark.parametrize(("key", "reason"), _garbage(), ids=lambda value: str(value)[:24])
def test_the_decoder_refuses_garbage_with_a_short_reason(key: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)) as error:
        decode_amnezia_key(key)

    assert len(str(error.value)) < 60
    assert error.value.__cause__ is None
    assert error.value.__context__ is None


def test_the_decoder_refuses_non_text() -> None:
    with pytest.raises(ValueError, match="not text"):
        decode_amnezia_key(b"vpn://AAAA")  # type: ignore[arg-type]


def test_the_largest_allowed_data_still_decodes() -> None:
    data = b'{"x": "' + b"a" * (MAX_JSON_BYTES - 10) + b'"}\n'
    assert len(data) == MAX_JSON_BYTES
    assert decode_amnezia_key(pack(data, level=9)) == {"x": "a" * (MAX_JSON_BYTES - 10)}


# --- the encoder refuses what the app could not use, without leaking keys ------------------


def _broken(conf: Conf) -> list[tuple[dict[str, Any], str]]:
    text = conf.text
    two_peers = text + f"\n[Peer]\nPublicKey = {new_key()}\nAllowedIPs = 10.9.0.0/24\n"
    return [
        ({"obfuscation": {**conf.params, "Jc": "5"}}, "Jc differs"),
        ({"obfuscation": {**conf.params, "S3": "10"}}, "S3 is only in obfuscation"),
        (
            {"obfuscation": {k: v for k, v in conf.params.items() if k != "H4"}},
            "H4 is only in the config",
        ),
        ({"obfuscation": {**conf.params, "Jx": "1"}}, "unknown parameter"),
        ({"obfuscation": {**conf.params, "I1": "<r 2>\n<t>"}}, "one-line"),
        ({"host": "other.example.com"}, "Endpoint does not match"),
        ({"port": 51821}, "Endpoint does not match"),
        ({"port": 0}, "port"),
        ({"port": True}, "port"),
        ({"host": "two words"}, "host"),
        ({"dns": ("1.1.1.1", "dns.google")}, "dns"),
        ({"dns": "1.1.1.1"}, "dns"),
        ({"description": "\ud800"}, "description"),
        ({"text": text.replace(conf.psk, conf.psk[:-2] + "!=")}, "PresharedKey"),
        ({"text": text.replace(conf.private, conf.private[1:])}, "PrivateKey"),
        ({"text": text.replace("Address = 10.8.0.5/32", "Address = fd00:8::5/128")}, "IPv4"),
        ({"text": text.replace("Address = 10.8.0.5/32", "Address = 10.8.0.999/32")}, "Address"),
        (
            {"text": text.replace("AllowedIPs = 0.0.0.0/0, ::/0", "AllowedIPs = everything")},
            "AllowedIPs",
        ),
        ({"text": text.replace(f"Endpoint = {HOST}:{PORT}", f"Endpoint = {HOST}")}, "Endpoint"),
        ({"text": text.replace("MTU = 1376", "MTU = big")}, "MTU"),
        ({"text": text.replace("Jc = 4", "Jc = 4\nJc = 4")}, "twice"),
        ({"text": text.replace("[Peer]", "")}, "[Interface]"),
        ({"text": two_peers}, "[Interface]"),
        ({"text": "PrivateKey = x\n" + text}, "outside"),
        ({"text": text.replace("Jmin = 40", "Jmin = forty")}, "Jmin differs"),
    ]


def test_the_encoder_refuses_broken_input_without_naming_any_key() -> None:
    conf = Conf(PARAMS_1_0)
    for overrides, reason in _broken(conf):
        text = overrides.pop("text", conf.text)
        args: dict[str, Any] = {
            "host": HOST,
            "port": PORT,
            "dns": DNS,
            "description": "nl1",
            "obfuscation": conf.params,
            **overrides,
        }
        with pytest.raises(ValueError, match=re.escape(reason)) as error:
            amnezia_key(text, **args)
        assert_clean(error.value, (*conf.secrets, conf.psk[:-2], conf.private[1:]))


def test_a_header_that_is_neither_a_number_nor_a_range_is_refused() -> None:
    conf = Conf(PARAMS_1_0)
    conf.text = conf.text.replace("H2 = 3288052141", "H2 = 32-88-05")
    with pytest.raises(ValueError, match="H2"):
        conf.key(obfuscation={**PARAMS_1_0, "H2": "32-88-05"})


# --- properties ----------------------------------------------------------------------------


def _decodes_or_refuses(key: str) -> None:
    try:
        result: object = decode_amnezia_key(key)
    except ValueError as error:
        result = error
    if isinstance(result, ValueError):  # a reason of its own, no chained exception holding data
        assert result.__cause__ is None
        assert result.__context__ is None
    else:
        assert isinstance(result, dict)


@SETTINGS
@given(st.text())
def test_any_text_decodes_to_a_dict_or_raises_value_error(text: str) -> None:
    _decodes_or_refuses(text)
    _decodes_or_refuses("vpn://" + text)


@SETTINGS
@given(st.binary(max_size=2048))
def test_any_base64_payload_decodes_to_a_dict_or_raises_value_error(data: bytes) -> None:
    _decodes_or_refuses("vpn://" + _b64(data))
    _decodes_or_refuses("vpn://" + _b64(len(data).to_bytes(4, "big") + zlib.compress(data)))


@SETTINGS
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=20,
    )
)
def test_any_json_value_decodes_only_when_it_is_an_object(value: object) -> None:
    data = json.dumps(value, ensure_ascii=False).encode()
    key = pack(data)
    if isinstance(value, dict):
        assert decode_amnezia_key(key) == value
    else:
        with pytest.raises(ValueError, match="JSON object"):
            decode_amnezia_key(key)


_CONF_1_0 = Conf(PARAMS_1_0)


@SETTINGS
@given(
    description=st.text(max_size=200),
    dns=st.lists(st.ip_addresses().map(str), max_size=4).map(tuple),
)
def test_any_description_and_dns_survive_the_round_trip(
    description: str, dns: tuple[str, ...]
) -> None:
    profile = decode_amnezia_key(_CONF_1_0.key(description=description, dns=dns))

    assert profile["description"] == description
    v4 = [server for server in dns if ipaddress.ip_address(server).version == 4]
    assert [profile.get("dns1"), profile.get("dns2")] == [*v4, None, None][:2]
    _, last = awg_of(profile)
    assert last["config"] == _CONF_1_0.text
