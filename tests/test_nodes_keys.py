"""WireGuard key material generated locally."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess

import pytest

from nodes.keys import generate_preshared_key, generate_private_key, is_valid_key, public_key


def test_generated_keys_are_valid_and_distinct() -> None:
    keys = {generate_private_key() for _ in range(20)} | {generate_preshared_key()}
    assert len(keys) == 21
    assert all(is_valid_key(k) and len(k) == 44 for k in keys)
    pub = public_key(generate_private_key())
    assert is_valid_key(pub)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        base64.b64encode(b"x" * 31).decode(),
        base64.b64encode(b"x" * 33).decode(),
        "!" * 43 + "=",
        base64.b64encode(b"x" * 32).decode() + "\n",
        base64.b64encode(b"x" * 32).decode().replace("=", "A"),
    ],
)
def test_invalid_keys(text: str) -> None:
    assert not is_valid_key(text)


def test_public_key_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="not a WireGuard key"):
        public_key("not a key")


@pytest.mark.skipif(
    shutil.which("wg") is None and not os.environ.get("CI"),
    reason="wireguard-tools not installed (CI installs it and runs this)",
)
def test_public_key_matches_wg() -> None:
    for _ in range(3):
        private = generate_private_key()
        wg = subprocess.run(
            ["wg", "pubkey"], input=private, capture_output=True, text=True, check=True
        )
        assert public_key(private) == wg.stdout.strip()
    private = subprocess.run(["wg", "genkey"], capture_output=True, text=True, check=True).stdout
    wg = subprocess.run(["wg", "pubkey"], input=private, capture_output=True, text=True, check=True)
    assert public_key(private.strip()) == wg.stdout.strip()
