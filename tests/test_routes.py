"""Route presets: the shipped file, an operator's file, every kind of mistake, AllowedIPs."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings
from db.cipher import SecretCipher
from db.models import Device, Node
from services.clientconfig import ClientConfig, DeviceConfigs, DeviceKeys
from services.qr import qr_png
from services.routes import (
    FULL_TUNNEL,
    PRESETS_FILE,
    PresetError,
    RoutePreset,
    client_allowed_ips,
    load_presets,
    read_presets,
)

TOKEN = "123456:ABCDEFGHIJ"


def _preset(*networks: str) -> RoutePreset:
    return RoutePreset(
        key="t",
        titles={"ru": "Т", "en": "T"},
        networks=tuple(ipaddress.ip_network(n) for n in networks),
        sources=("test",),
    )


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_presets_are_valid_collapsed_and_cite_sources() -> None:
    presets = load_presets()
    assert set(presets) == {"blocked", "telegram", "games"}
    for key, preset in presets.items():
        assert preset.key == key
        assert preset.titles["ru"] and preset.titles["en"]
        assert preset.sources and all("http" in s or "Not covered" in s for s in preset.sources)
        v4 = [n for n in preset.networks if n.version == 4]
        v6 = [n for n in preset.networks if n.version == 6]
        assert list(preset.networks) == [
            *ipaddress.collapse_addresses(v4),
            *ipaddress.collapse_addresses(v6),
        ]
        assert all(n.prefixlen > 0 and n.is_global for n in preset.networks)
    assert presets["games"].titles["en"] == "Games: CS2, Dota 2, Valorant"

    def covers(key: str, address: str) -> bool:
        return any(ipaddress.ip_address(address) in n for n in presets[key].networks)

    assert covers("telegram", "149.154.167.51")  # a Telegram data centre
    assert covers("telegram", "2001:67c:4e8:f004::a")
    assert covers("blocked", "149.154.167.51") and covers("blocked", "157.240.1.35")
    assert covers("games", "155.133.248.34") and covers("games", "104.160.141.3")
    assert not covers("games", "149.154.167.51") and not covers("telegram", "8.8.8.8")


def test_no_preset_is_the_full_tunnel() -> None:
    assert client_allowed_ips(None, "1.1.1.1, 1.0.0.1") == ("0.0.0.0/0", "::/0") == FULL_TUNNEL


def test_allowed_ips_merge_the_preset_with_every_dns_server() -> None:
    preset = _preset("10.1.0.0/25", "10.1.0.128/25", "2001:db8::/33", "2001:db8:8000::/33")
    allowed = client_allowed_ips(preset, "10.1.0.53, 9.9.9.9 ,2620:fe::fe")
    # 10.1.0.53 is already inside 10.1.0.0/24; each family sorted, IPv4 first
    assert allowed == ("9.9.9.9/32", "10.1.0.0/24", "2001:db8::/32", "2620:fe::fe/128")
    assert client_allowed_ips(_preset("192.0.2.0/24"), "192.0.2.1") == ("192.0.2.0/24",)
    for wrong in ("dns.example", "10.0.0.0/8"):
        with pytest.raises(ValueError, match=f"DNS server '{wrong}' is not an IP address"):
            client_allowed_ips(preset, wrong)


def test_shipped_preset_with_dns_gives_a_config_that_fits_a_qr_code() -> None:
    presets = load_presets()
    allowed = client_allowed_ips(presets["blocked"], "1.1.1.1, 1.0.0.1")
    assert allowed[:2] == ("1.0.0.1/32", "1.1.1.1/32")
    assert "2a03:2880::/29" in allowed
    key = "A" * 43 + "="
    config = ClientConfig(
        "nl1", key, ("10.8.0.2/32",), "1.1.1.1, 1.0.0.1", 1420, key, key, "h:1", allowed_ips=allowed
    )
    assert f"\nAllowedIPs = {', '.join(allowed)}\n" in config.text
    assert qr_png(config.text).startswith(b"\x89PNG")


def test_config_defaults_to_the_full_tunnel_and_a_devices_preset_narrows_it() -> None:
    plain = ClientConfig("nl1", "PRIV", ("10.8.0.2/32",), "1.1.1.1", 1420, "PUB", "PSK", "h:1")
    assert "\nAllowedIPs = 0.0.0.0/0, ::/0\n" in plain.text
    presets = load_presets()
    configs = DeviceConfigs(SecretCipher(os.urandom(32)), presets)
    node = Node(name="nl1", dns="1.1.1.1", mtu=1420, public_key="PUB", endpoint="203.0.113.1:51820")
    device = Device(address4="10.8.0.2", address6=None, route_preset="")
    configs.store_keys(device, DeviceKeys.fresh())
    assert configs.config(device, node).allowed_ips == FULL_TUNNEL
    key = next(iter(presets))
    device.route_preset = key
    split = configs.config(device, node)
    assert split.allowed_ips == client_allowed_ips(presets[key], node.dns)
    assert f"\nAllowedIPs = {', '.join(split.allowed_ips)}\n" in split.text
    device.route_preset = "removed-by-the-operator"
    assert configs.config(device, node).allowed_ips == FULL_TUNNEL


def test_operator_file_adds_presets_and_replaces_one_by_key(tmp_path: Path) -> None:
    mine = _write(
        tmp_path,
        """
[presets.telegram]
titles = {ru = "Телеграм (наш)", en = "Telegram (ours)"}
networks = ["149.154.160.0/20"]
sources = ["our own measurements"]

[presets.office]
titles = {ru = "Офис", en = "Office", de = "Büro"}
networks = ["198.51.100.0/24", "2001:db8::/32"]
sources = ["the office network"]
""",
    )
    presets = load_presets(mine)
    assert list(presets) == ["blocked", "telegram", "games", "office"]
    assert [str(n) for n in presets["telegram"].networks] == ["149.154.160.0/20"]
    assert presets["telegram"].sources == ("our own measurements",)
    assert presets["office"].title("de") == "Büro"
    assert presets["office"].title("fr") == "Office"
    assert presets["games"] == load_presets()["games"]
    assert read_presets(PRESETS_FILE) == load_presets()


GOOD = """[presets.x]
titles = {ru = "Икс", en = "X"}
sources = ["s"]
"""

BAD = [
    (
        GOOD + 'networks = [\n    "10.0.0.0/8",\n    "192.168.1.1/24",\n]\n',
        "line 6: \"192.168.1.1/24\",: '192.168.1.1/24' has host bits set; "
        "did you mean 192.168.1.0/24?",
    ),
    (GOOD + 'networks = ["10.0.0.0/33"]\n', "line 4: networks = [\"10.0.0.0/33\"]: '10.0.0.0/33'"),
    (GOOD + 'networks = ["example.com"]\n', "is not a network such as 192.0.2.0/24"),
    (GOOD + 'networks = ["0.0.0.0/0"]\n', "0.0.0.0/0 is the full tunnel"),
    (GOOD + 'networks = ["2001:db8::/32", "::/0"]\n', "::/0 is the full tunnel"),
    (GOOD + 'networks = ["0.0.0.0/1", "128.0.0.0/1"]\n', "add up to the whole internet"),
    (GOOD + 'networks = ["127.0.0.0/8"]\n', "loopback, multicast or link-local"),
    (GOOD + "networks = []\n", "networks must be a non-empty list"),
    (GOOD + 'networks = ["10.0.0.0/8", 7]\n', "networks must hold only non-empty strings"),
    (GOOD, "line 1: [presets.x]: networks must be a non-empty list"),
    (GOOD.replace(', en = "X"', "") + 'networks = ["10.0.0.0/8"]\n', "no 'en' title"),
    (GOOD.replace('en = "X"', 'en = ""') + 'networks = ["10.0.0.0/8"]\n', "'en' title must"),
    (GOOD.replace('sources = ["s"]', "sources = []") + 'networks = ["10.0.0.0/8"]\n', "sources"),
    (
        GOOD + 'networks = ["10.0.0.0/8"]\nnetwork = ["10.1.0.0/16"]\n',
        "line 5: network = [\"10.1.0.0/16\"]: unknown field 'network'",
    ),
    (GOOD.replace("presets.x", "presets.Games") + "networks = []\n", "key must be 1-32"),
    (
        GOOD + "networks = [" + ", ".join(f'"10.{i}.1.0/24"' for i in range(160)) + "]\n",
        "that fit a QR code",  # 160 networks of 12-14 characters
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_malformed_files_name_the_file_preset_and_line(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(PresetError) as error:
        load_presets(path)
    assert str(error.value).startswith(f"{path}, preset ")
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[presets.x\n", "not valid TOML"),
        ("title = 'x'\n", "unknown top-level key 'title'"),
        ("", "no presets"),
        ("presets = 3\n", "no presets"),
    ],
)
def test_malformed_files_without_a_preset_name_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(PresetError, match=message) as error:
        load_presets(path)
    assert str(error.value).startswith(f"{path}: ")


def test_settings_check_the_presets_file_at_start(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(SettingsError, match=r"ROUTE_PRESETS_FILE: .*nope\.toml: cannot read"):
        load_settings(_env_file=None, bot_token=TOKEN, route_presets_file=str(missing))
    bad = _write(tmp_path, GOOD + 'networks = ["10.0.0.1/8"]\n')
    with pytest.raises(SettingsError, match=r"ROUTE_PRESETS_FILE: .*line 4: .*host bits set"):
        load_settings(_env_file=None, bot_token=TOKEN, route_presets_file=str(bad))
    good = _write(tmp_path, GOOD + 'networks = ["10.0.0.0/8"]\n')
    settings = load_settings(_env_file=None, bot_token=TOKEN, route_presets_file=str(good))
    assert settings.route_presets_file == good
    assert load_settings(_env_file=None, bot_token=TOKEN).route_presets_file is None
    blank = load_settings(_env_file=None, bot_token=TOKEN, route_presets_file=" ")
    assert blank.route_presets_file is None
