"""VLESS with Reality on Xray: key pairs, short ids, users and the node's server config.

Keys are X25519 like WireGuard's but written as Xray writes them: 32 bytes in URL-safe
base64 without padding (43 characters), the private key clamped as `xray x25519` does, so the
same key gives the same public key ("password") on the node. Short ids are 1–8 random bytes in
hex. Users are VLESS clients keyed by an email Xray uses for the API and the traffic counters;
the config lists every user with access, so a restarted Xray serves exactly them."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

FLOW = "xtls-rprx-vision"
INBOUND_TAG = "vless-in"
API_PORT = 10085  # Xray's API on the node's loopback, reached through the SSH connection
DEFAULT_PORT = 443
SHORT_ID_BYTES = 8
_SHORT_ID = re.compile(r"(?:[0-9a-f]{2}){1,8}")
_EMAIL = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
_KEY = re.compile(r"[A-Za-z0-9_-]{43}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")


class RealityError(ValueError):
    """A Reality setting or user outside what Xray accepts; the message names it."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _key_bytes(text: str) -> bytes:
    if not _KEY.fullmatch(text):
        raise RealityError("not a Reality key")
    try:
        raw = base64.urlsafe_b64decode(text + "=")
    except (binascii.Error, ValueError):
        raise RealityError("not a Reality key") from None
    if len(raw) != 32 or _b64(raw) != text:
        raise RealityError("not a Reality key")
    return raw


def is_key(text: str) -> bool:
    try:
        _key_bytes(text)
    except RealityError:
        return False
    return True


def generate_private_key() -> str:
    raw = bytearray(secrets.token_bytes(32))
    raw[0] &= 248
    raw[31] &= 127
    raw[31] |= 64
    return _b64(bytes(raw))


def public_key(private_key: str) -> str:
    """The public key clients put in the link (`pbk`) for a node's private key."""
    private = X25519PrivateKey.from_private_bytes(_key_bytes(private_key))
    return _b64(private.public_key().public_bytes_raw())


def generate_short_id() -> str:
    return secrets.token_hex(SHORT_ID_BYTES)


def short_id(text: str) -> str:
    """A short id checked: 2–16 lowercase hex digits, an even number of them."""
    if not _SHORT_ID.fullmatch(text):
        raise RealityError("a short id is 2–16 lowercase hex digits, an even number of them")
    return text


def server_name(text: str) -> str:
    """A DNS name clients send as SNI; the handshake target must serve it."""
    if not _HOST.fullmatch(text) or text.replace(".", "").isdigit():
        raise RealityError("the server name must be a DNS name, e.g. www.example.com")
    return text.lower()


def handshake_target(text: str) -> str:
    """HOST:PORT (or [IPv6]:PORT) of the real TLS site Reality borrows its handshake from."""
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or not 0 < int(port) < 65536 or port != str(int(port)):
        raise RealityError("the handshake target must be HOST:PORT, e.g. www.example.com:443")
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise RealityError("the handshake target's address is not valid") from None
        return text
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        server_name(host)
    return text


def user_id(text: str) -> str:
    """A VLESS user id: a UUID in its canonical lowercase form."""
    try:
        value = uuid.UUID(text)
    except (ValueError, AttributeError, TypeError):
        raise RealityError("not a UUID") from None
    if str(value) != text:
        raise RealityError("not a UUID in canonical form")
    return text


def email(text: str) -> str:
    """The name Xray knows a user by: lowercase letters, digits and ._@-, at most 64."""
    if not _EMAIL.fullmatch(text):
        raise RealityError("not a user name Xray accepts")
    return text


@dataclass(frozen=True, slots=True)
class XrayUser:
    """One VLESS client on a node: its name there (email) and its id (UUID)."""

    email: str
    id: str

    def __post_init__(self) -> None:
        email(self.email)
        user_id(self.id)


@dataclass(frozen=True, slots=True)
class RealityInbound:
    """A node's VLESS + Reality + Vision inbound, every value checked."""

    private_key: str
    short_ids: tuple[str, ...]
    target: str
    server_name: str
    port: int = DEFAULT_PORT

    def __post_init__(self) -> None:
        _key_bytes(self.private_key)
        if not 1 <= len(self.short_ids) <= 8:
            raise RealityError("a node has 1–8 short ids")
        for value in self.short_ids:
            short_id(value)
        handshake_target(self.target)
        server_name(self.server_name)
        if not 0 < self.port < 65536:
            raise RealityError("the port must be 1–65535")

    @property
    def public_key(self) -> str:
        return public_key(self.private_key)


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """How the node's Xray runs apart from the inbound: its API port, logs, and private
    networks its users may reach (Xray blocks private targets by default; the lab's
    "internet" host is one)."""

    api_port: int = API_PORT
    loglevel: str = "warning"
    access_log: str = "none"
    error_log: str = ""
    allow_networks: tuple[str, ...] = field(default=())


def server_config(
    inbound: RealityInbound, users: Iterable[XrayUser], options: ServerOptions | None = None
) -> str:
    """The node's whole Xray config as JSON: the inbound with every user, per-user traffic
    counters and online addresses, and the API on loopback."""
    opts = options or ServerOptions()
    clients = sorted(users, key=lambda user: user.email)
    if len({user.email for user in clients}) != len(clients):
        raise RealityError("two users share a name")
    freedom: dict[str, object] = {}
    if opts.allow_networks:
        nets = [str(ipaddress.ip_network(net)) for net in opts.allow_networks]
        freedom = {"finalRules": [{"action": "allow", "ip": nets}]}
    log: dict[str, str] = {"loglevel": opts.loglevel, "access": opts.access_log}
    if opts.error_log:
        log["error"] = opts.error_log
    config = {
        "log": log,
        "stats": {},
        "policy": {
            "levels": {
                "0": {"statsUserUplink": True, "statsUserDownlink": True, "statsUserOnline": True}
            }
        },
        "api": {
            "tag": "api",
            "listen": f"127.0.0.1:{opts.api_port}",
            "services": ["HandlerService", "StatsService"],
        },
        "inbounds": [
            {
                "tag": INBOUND_TAG,
                "port": inbound.port,
                "protocol": "vless",
                "settings": {
                    "clients": [{"id": u.id, "email": u.email, "flow": FLOW} for u in clients],
                    "decryption": "none",
                },
                "streamSettings": {
                    "network": "raw",
                    "security": "reality",
                    "realitySettings": {
                        "target": inbound.target,
                        "serverNames": [inbound.server_name],
                        "privateKey": inbound.private_key,
                        "shortIds": list(inbound.short_ids),
                    },
                },
            }
        ],
        "outbounds": [{"protocol": "freedom", "tag": "direct", "settings": freedom}],
    }
    return json.dumps(config, indent=2, ensure_ascii=True) + "\n"
