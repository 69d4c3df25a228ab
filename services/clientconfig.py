"""The client's WireGuard config text and its QR code."""

from __future__ import annotations

import io
from dataclasses import dataclass

import qrcode
from qrcode.constants import ERROR_CORRECT_L

from db.models import Device, Node
from nodes.amnezia import AMNEZIAWG, AmneziaParams
from services.routes import FULL_TUNNEL


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
    allowed_ips: tuple[str, ...] = FULL_TUNNEL  # a route preset's networks: services.routes
    obfuscation: tuple[str, ...] = ()  # AmneziaWG's [Interface] lines, for its node's version

    @property
    def text(self) -> str:
        return "\n".join(
            [
                "[Interface]",
                f"PrivateKey = {self.private_key}",
                f"Address = {', '.join(self.addresses)}",
                f"DNS = {self.dns}",
                f"MTU = {self.mtu}",
                *self.obfuscation,
                "",
                "[Peer]",
                f"PublicKey = {self.server_public_key}",
                f"PresharedKey = {self.preshared_key}",
                f"Endpoint = {self.endpoint}",
                f"AllowedIPs = {', '.join(self.allowed_ips)}",
                "PersistentKeepalive = 25",
                "",
            ]
        )

    @property
    def filename(self) -> str:
        return f"{self.node_name}.conf"

    def __repr__(self) -> str:
        return f"ClientConfig(node={self.node_name!r}, addresses={self.addresses!r})"


def client_config(
    node: Node,
    device: Device,
    private_key: str,
    preshared_key: str,
    *,
    allowed_ips: tuple[str, ...] = FULL_TUNNEL,
) -> ClientConfig:
    """The config of `device` on `node` (keys already decrypted)."""
    return ClientConfig(
        node_name=node.name,
        private_key=private_key,
        addresses=device_addresses(device),
        dns=node.dns,
        mtu=node.mtu,
        server_public_key=node.public_key,
        preshared_key=preshared_key,
        endpoint=node.endpoint,
        allowed_ips=allowed_ips,
        obfuscation=(
            AmneziaParams.from_json(node.obfuscation).lines() if node.protocol == AMNEZIAWG else ()
        ),
    )


def device_addresses(device: Device) -> tuple[str, ...]:
    """The device's tunnel addresses: a /32 and, on a dual-stack node, a /128."""
    if device.address6:
        return (f"{device.address4}/32", f"{device.address6}/128")
    return (f"{device.address4}/32",)


def qr_png(text: str) -> bytes:
    """A PNG QR code of `text`, sized for a phone camera."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_L, box_size=8, border=4)
    code.add_data(text)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer)
    return buffer.getvalue()
