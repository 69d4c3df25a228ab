"""vless:// links and the subscription list, in the forms v2rayNG, Hiddify, Streisand, Happ
and the sing-box apps import.

Every query value is percent-encoded, so each parameter has exactly one "=" (v2rayNG splits
on "&" and "="); an IPv6 host is bracketed; the name after "#" is UTF-8, percent-encoded."""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass
from urllib.parse import quote

FLOW = "xtls-rprx-vision"
FINGERPRINT = "chrome"


@dataclass(frozen=True, slots=True)
class VlessLink:
    """What a client needs to reach a node's Reality inbound as one user."""

    user_id: str
    host: str
    port: int
    server_name: str
    public_key: str
    short_id: str
    name: str

    def __str__(self) -> str:
        try:
            host = f"[{self.host}]" if ipaddress.ip_address(self.host).version == 6 else self.host
        except ValueError:
            host = self.host
        params = {
            "type": "tcp",
            "encryption": "none",
            "security": "reality",
            "flow": FLOW,
            "sni": self.server_name,
            "fp": FINGERPRINT,
            "pbk": self.public_key,
            "sid": self.short_id,
            "spx": "/",
        }
        query = "&".join(f"{key}={quote(value, safe='')}" for key, value in params.items())
        return f"vless://{self.user_id}@{host}:{self.port}?{query}#{quote(self.name, safe='')}"


def subscription_body(links: list[str]) -> str:
    """The subscription list: base64 of the links, one a line (what the apps fetch)."""
    return base64.b64encode("\n".join(links).encode()).decode()
