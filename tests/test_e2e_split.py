"""Split tunnelling for real: a config built from a route preset, brought up with wg-quick,
sends the preset's range and the DNS servers through the node and nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nodes import SshPool
from nodes.keys import generate_preshared_key, generate_private_key, public_key
from services.clientconfig import ClientConfig
from services.routes import client_allowed_ips, load_presets
from tests.netlab import Lab, require_root_lab

DNS = "1.1.1.1, 1.0.0.1"
CLIENT_TUNNEL_IP = "10.77.0.2"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    require_root_lab()
    with Lab() as lab:
        yield lab


def _route_dev(lab: Lab, address: str) -> str:
    """The device the client's kernel would send a packet to `address` out of."""
    out = lab.client.exec("ip", "-o", "route", "get", address)
    assert out.returncode == 0, out.stderr
    words = out.stdout.split()
    return words[words.index("dev") + 1]


def test_only_the_presets_range_goes_through_the_tunnel(lab: Lab, tmp_path: Path) -> None:
    key = SshPool.ensure_client_key(tmp_path / "ssh_ed25519")
    node = lab.add_node("split", wg_subnet="10.77.0.1/24", authorized_key=key)
    direct_ip = lab.add_host(4)  # a second host on the same "internet", not in the preset
    # The client's own way to the internet: everything on-link out of eth0, as a home router
    # would take it. wg-quick must beat this route for the preset's range only.
    assert lab.client.exec("ip", "route", "add", "default", "dev", "eth0").returncode == 0
    assert lab.client.fetch_source_ip() == lab.client.ip  # before the tunnel: direct
    assert lab.client.fetch_source_ip(host=direct_ip) == lab.client.ip

    # The operator's preset: the target host (behind the node) and a documentation range
    # given in two halves, which the bot merges.
    presets_file = tmp_path / "presets.toml"
    presets_file.write_text(
        "[presets.lab]\n"
        'titles = {ru = "Лаборатория", en = "Lab"}\n'
        f'networks = ["{lab.target_ip}/32", "198.51.100.128/25", "198.51.100.0/25"]\n'
        'sources = ["this test"]\n'
    )
    preset = load_presets(presets_file)["lab"]
    allowed = client_allowed_ips(preset, DNS)
    assert allowed == ("1.0.0.1/32", "1.1.1.1/32", f"{lab.target_ip}/32", "198.51.100.0/24")

    private, psk = generate_private_key(), generate_preshared_key()
    psk_file = lab.dir / "split.psk"
    psk_file.write_text(psk)
    psk_file.chmod(0o600)
    added = node.exec(
        "wg", "set", node.interface, "peer", public_key(private), "preshared-key", str(psk_file),
        "allowed-ips", f"{CLIENT_TUNNEL_IP}/32",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    config = ClientConfig(
        node_name=node.name,
        private_key=private,
        addresses=(f"{CLIENT_TUNNEL_IP}/32",),
        dns=DNS,
        mtu=1420,
        server_public_key=node.public_key,
        preshared_key=psk,
        endpoint=node.endpoint,
        allowed_ips=allowed,
    )
    assert f"\nAllowedIPs = {', '.join(allowed)}\n" in config.text
    lab.client.up(config.text)
    try:
        wg = lab.client.interface
        shown = lab.client.exec("wg", "show", wg, "allowed-ips").stdout.split()[1:]
        assert sorted(shown) == sorted(allowed)

        # The listed range: routed into the tunnel, and the target sees the node's address.
        assert _route_dev(lab, lab.target_ip) == wg
        assert _route_dev(lab, "198.51.100.77") == wg
        assert lab.client.fetch_source_ip() == node.ip
        assert lab.client.latest_handshake() > 0
        # The DNS servers always go through the tunnel too.
        assert _route_dev(lab, "1.1.1.1") == wg and _route_dev(lab, "1.0.0.1") == wg

        # Everything else leaves directly: the route says eth0 and the host sees the client.
        assert _route_dev(lab, direct_ip) == "eth0"
        assert _route_dev(lab, "203.0.113.9") == "eth0"
        assert lab.client.fetch_source_ip(host=direct_ip) == lab.client.ip
        # Not a full tunnel: wg-quick installed no fwmark policy rule of its own.
        assert "51820" not in lab.client.exec("ip", "rule", "show").stdout
    finally:
        lab.client.down()
    assert lab.client.fetch_source_ip() == lab.client.ip  # tunnel down: direct again
