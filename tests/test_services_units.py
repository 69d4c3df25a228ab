"""Small pure pieces: address allocation, encryption at rest, settings parsing, config text."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings
from db.cipher import CipherError, SecretCipher, load_or_create_key
from services.addresses import free_addresses, pool_size, reserved_addresses, twin_address6
from services.clientconfig import ClientConfig


def test_free_addresses_skip_server_and_used_lowest_first() -> None:
    assert next(free_addresses("10.8.0.1/24", [])) == "10.8.0.2"
    assert next(free_addresses("10.8.0.1/24", ["10.8.0.2", "10.8.0.4"])) == "10.8.0.3"
    assert next(free_addresses("10.8.0.5/29", ["10.8.0.1"])) == "10.8.0.2"


def test_foreign_peers_hold_their_addresses_in_the_pool_and_none_outside_it() -> None:
    held = reserved_addresses(
        [
            "10.8.0.2/32",
            "10.8.0.8/30",  # a small network: all four addresses
            "fd00:8::20/128",  # an IPv6 address: its IPv4 twin
            "10.8.0.0/24",  # the whole pool, or more: a gateway's route, not addresses
            "0.0.0.0/0",
            "192.168.1.5/32",  # outside the pool
            "fd00:8::/120",  # as big as the pool: more than addresses
            "not a network",
        ],
        "10.8.0.1/24",
        "fd00:8::1/64",
    )
    assert held == {"10.8.0.2", "10.8.0.8", "10.8.0.9", "10.8.0.10", "10.8.0.11", "10.8.0.32"}
    assert reserved_addresses(["fd00:8::20/128"], "10.8.0.1/24", None) == set()
    assert pool_size("10.8.0.1/24") == 253 and pool_size("10.8.0.1/20") == 4093


def test_a_full_subnet_has_no_free_address() -> None:
    assert list(free_addresses("10.8.0.1/30", ["10.8.0.2"])) == []


def test_twin_address6_keeps_the_host_number() -> None:
    assert twin_address6("fd00::1/64", "10.8.0.7", "10.8.0.1/24") == "fd00::7"
    assert twin_address6(None, "10.8.0.7", "10.8.0.1/24") is None


def test_cipher_round_trip_and_tamper(tmp_path) -> None:
    key = load_or_create_key(tmp_path / "k")
    assert load_or_create_key(tmp_path / "k") == key
    cipher = SecretCipher(key)
    token = cipher.encrypt("secret-value", "purpose")
    assert "secret-value" not in token
    assert cipher.encrypt("secret-value", "purpose") != token, "nonce must be random"
    assert cipher.decrypt(token, "purpose") == "secret-value"
    with pytest.raises(CipherError):
        cipher.decrypt(token, "other-purpose")
    with pytest.raises(CipherError):
        SecretCipher(bytes(32)).decrypt(token, "purpose")
    assert "secret" not in repr(cipher)


def test_settings_parse_and_hide_the_token() -> None:
    settings = load_settings(_env_file=None, bot_token="123:abcdefghij", admin_ids="1, 2,3")
    assert settings.admin_ids == frozenset({1, 2, 3})
    assert "abcdefghij" not in repr(settings)
    with pytest.raises(SettingsError, match="ADMIN_IDS"):
        load_settings(_env_file=None, bot_token="123:abcdefghij", admin_ids="1;2")


def test_config_text_has_no_comments_and_hides_keys_in_repr() -> None:
    config = ClientConfig("nl1", "PRIV", ("10.8.0.2/32",), "1.1.1.1", 1420, "PUB", "PSK", "h:1")
    assert "#" not in config.text
    assert config.text.startswith("[Interface]\nPrivateKey = PRIV\n")
    assert "PRIV" not in repr(config) and "PSK" not in repr(config)
