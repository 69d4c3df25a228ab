"""WireGuard key material generated locally, in the base64 form `wg` uses."""

from __future__ import annotations

import base64
import binascii
import re
import secrets

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

KEY_BYTES = 32
# 43 base64 characters and one "=": exactly the texts that decode to 32 bytes (what
# `b64decode(validate=True)` accepts at that length), checked without decoding
KEY_TEXT = re.compile(r"[A-Za-z0-9+/]{43}=")


def _decode(text: str) -> bytes:
    if len(text) != 44 or not text.endswith("="):
        raise ValueError("not a WireGuard key")
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError("not a WireGuard key") from None
    if len(raw) != KEY_BYTES:
        raise ValueError("not a WireGuard key")
    return raw


def is_valid_key(text: str) -> bool:
    """True when text is 32 bytes in standard base64 (44 characters)."""
    return isinstance(text, str) and KEY_TEXT.fullmatch(text) is not None


def generate_private_key() -> str:
    """A new private key, like `wg genkey`."""
    raw = X25519PrivateKey.generate().private_bytes_raw()
    return base64.b64encode(raw).decode("ascii")


def public_key(private_key: str) -> str:
    """The public key of a private key, like `wg pubkey`."""
    key = X25519PrivateKey.from_private_bytes(_decode(private_key))
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def generate_preshared_key() -> str:
    """A new preshared key, like `wg genpsk`."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")
