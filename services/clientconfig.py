"""The client's WireGuard config text and its QR code."""

from __future__ import annotations

import io
from dataclasses import dataclass

import qrcode
from qrcode.constants import ERROR_CORRECT_L


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Everything a client needs; `text` is what the `.conf` file and the QR code both hold."""

    node_name: str
    private_key: str
    addresses: tuple[str, ...]
    dns: str
    mtu: int
    server_public_key: str
    preshared_key: str
    endpoint: str

    @property
    def text(self) -> str:
        return "\n".join(
            [
                "[Interface]",
                f"PrivateKey = {self.private_key}",
                f"Address = {', '.join(self.addresses)}",
                f"DNS = {self.dns}",
                f"MTU = {self.mtu}",
                "",
                "[Peer]",
                f"PublicKey = {self.server_public_key}",
                f"PresharedKey = {self.preshared_key}",
                f"Endpoint = {self.endpoint}",
                "AllowedIPs = 0.0.0.0/0, ::/0",
                "PersistentKeepalive = 25",
                "",
            ]
        )

    @property
    def filename(self) -> str:
        return f"{self.node_name}.conf"

    def __repr__(self) -> str:
        return f"ClientConfig(node={self.node_name!r}, addresses={self.addresses!r})"


def qr_png(text: str) -> bytes:
    """A PNG QR code of `text`, sized for a phone camera."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_L, box_size=8, border=4)
    code.add_data(text)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer)
    return buffer.getvalue()
