"""A device's keys at rest, its peer on the node, and the client config made from them:
everything that needs a device's secrets lives here (services.qr draws the config's QR code)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from db.cipher import SecretCipher
from db.models import Device, Node
from nodes import PeerSpec
from nodes.keys import generate_preshared_key, generate_private_key, public_key
from services.routes import FULL_TUNNEL, RoutePreset, client_allowed_ips
from services.targets import amnezia_of

# What each encrypted value is for, bound into its ciphertext as associated data.
PRIVATE_KEY = "device-private-key"
PRESHARED_KEY = "device-preshared-key"


@dataclass(frozen=True, slots=True)
class DeviceKeys:
    """A device's key pair and preshared key, in the clear (only ever in memory)."""

    private: str = field(repr=False)
    public: str
    preshared: str = field(repr=False)

    @classmethod
    def fresh(cls) -> DeviceKeys:
        private = generate_private_key()
        return cls(private, public_key(private), generate_preshared_key())


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


class DeviceConfigs:
    """Seals a device's keys into its row and opens them again: for the node (the peer) and
    for the user (the config). The route presets decide a config's AllowedIPs."""

    def __init__(
        self, cipher: SecretCipher, presets: Mapping[str, RoutePreset] | None = None
    ) -> None:
        self._cipher = cipher
        self._presets = dict(presets or {})

    def route_presets(self) -> list[RoutePreset]:
        """The split-tunnelling presets a device may choose, in the operator's order."""
        return list(self._presets.values())

    def knows_preset(self, key: str) -> bool:
        return key in self._presets

    def store_keys(self, device: Device, keys: DeviceKeys) -> None:
        device.public_key = keys.public
        device.private_key_enc = self._cipher.encrypt(keys.private, PRIVATE_KEY)
        device.preshared_key_enc = self._cipher.encrypt(keys.preshared, PRESHARED_KEY)

    def peer(self, device: Device) -> PeerSpec:
        """The device as its node's peer."""
        preshared = self._cipher.decrypt(device.preshared_key_enc, PRESHARED_KEY)
        return PeerSpec(device.public_key, preshared, device_addresses(device))

    def config(self, device: Device, node: Node | None = None) -> ClientConfig:
        """The device's config on its node (`device.node` unless given); a preset the operator
        has since removed means the full tunnel."""
        node = node or device.node
        preset = self._presets.get(device.route_preset) if device.route_preset else None
        amnezia = amnezia_of(node)
        return ClientConfig(
            node_name=node.name,
            private_key=self._cipher.decrypt(device.private_key_enc, PRIVATE_KEY),
            addresses=device_addresses(device),
            dns=node.dns,
            mtu=node.mtu,
            server_public_key=node.public_key,
            preshared_key=self._cipher.decrypt(device.preshared_key_enc, PRESHARED_KEY),
            endpoint=node.endpoint,
            allowed_ips=client_allowed_ips(preset, node.dns),
            obfuscation=amnezia.lines() if amnezia is not None else (),
        )


def device_addresses(device: Device) -> tuple[str, ...]:
    """The device's tunnel addresses: a /32 and, on a dual-stack node, a /128. A device that
    gave its address back has neither: asking is a mistake of the caller."""
    if device.address4 is None:
        raise ValueError(f"device {device.id} has no address")
    if device.address6:
        return (f"{device.address4}/32", f"{device.address6}/128")
    return (f"{device.address4}/32",)
