"""Authenticated encryption of secrets at rest (client private and preshared keys)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1"


class CipherError(Exception):
    """A stored secret could not be decrypted (wrong key or tampered data)."""


class SecretCipher:
    """AES-256-GCM with a random nonce; `purpose` is bound as associated data."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("encryption key must be 32 bytes")
        self._key = key
        self._aead = AESGCM(key)

    def derive_key(self, purpose: str) -> bytes:
        """A 32-byte key for another use (signing links, sessions), bound to `purpose` (HKDF):
        knowing it tells nothing about this key or a key of another purpose."""
        return HKDF(algorithm=SHA256(), length=32, salt=None, info=purpose.encode()).derive(
            self._key
        )

    def encrypt(self, plaintext: str, purpose: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), purpose.encode())
        return f"{_VERSION}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, purpose: str) -> str:
        version, _, payload = token.partition(":")
        if version != _VERSION:
            raise CipherError("unknown secret format")
        try:
            raw = base64.b64decode(payload, validate=True)
            return self._aead.decrypt(raw[:12], raw[12:], purpose.encode()).decode()
        except (InvalidTag, ValueError) as error:
            raise CipherError("stored secret cannot be decrypted with this key") from error

    def __repr__(self) -> str:
        return "SecretCipher(<hidden>)"


def load_cipher(configured: str | None, key_file: Path, *, create: bool) -> SecretCipher | None:
    """The cipher of the key in the settings (URL-safe base64) when one is given, else of the
    key kept in `key_file`, which is made (mode 0600) when `create` and it is missing; None
    when there is no key and none may be made."""
    if configured:
        return SecretCipher(base64.urlsafe_b64decode(configured))
    if not key_file.exists() and not create:
        return None
    return SecretCipher(load_or_create_key(key_file))


def load_or_create_key(path: Path) -> bytes:
    """The 32-byte key kept at `path`, created (mode 0600) on first run."""
    if path.exists():
        raw = base64.urlsafe_b64decode(path.read_text().strip())
        if len(raw) != 32:
            raise ValueError(f"{path} does not hold a 32-byte key")
        return raw
    path.parent.mkdir(parents=True, exist_ok=True)
    key = AESGCM.generate_key(bit_length=256)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(base64.urlsafe_b64encode(key).decode() + "\n")
    return key
