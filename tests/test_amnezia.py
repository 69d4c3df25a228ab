"""AmneziaWG: parameter rules, configs and QR per version, awg on the node, the one-tap switch.

No AmneziaWG binary can be installed here (Debian 12 has no amneziawg packages and PyPI has no
AmneziaWG implementation), so these tests stop at the node's command lines, the setup script's
files and the bot's messages; nothing brings an AmneziaWG tunnel up end to end."""

from __future__ import annotations

import configparser
import itertools
import os
import random
import re
import shutil
import subprocess
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from sqlalchemy import select

from db.cipher import SecretCipher
from db.models import Device, Node, NodeStatus
from main import node_add, parse_args
from nodes import NodeTarget, PeerSpec, WireGuard
from nodes.amnezia import (
    AMNEZIAWG,
    FIELDS_1_0,
    HEADER_MAX,
    MAX_S4,
    AmneziaError,
    AmneziaParams,
    from_fields,
    generate,
    packet_size,
    parse_lines,
    transport_headroom,
)
from nodes.bootstrap import SCRIPT_SOURCE, InterfacePlan, bootstrap, step_command
from nodes.commands import lock_file
from nodes.keys import generate_preshared_key, generate_private_key, public_key
from nodes.reconcile import ReconcilePlan, apply_reconcile
from services.clientconfig import DeviceConfigs, DeviceKeys
from services.errors import InvalidInput, NodeSetupFailed
from services.fleet import NewNode
from services.qr import qr_png
from tests.conftest import ADMIN_ID, App
from tests.netlab import decode_qr, unavailable

USER = 3001
FIELDS = {
    "1.0": list(FIELDS_1_0),
    "1.5": [*FIELDS_1_0, "I1", "I2"],
    "2.0": ["Jc", "Jmin", "Jmax", "S1", "S2", "S3", "S4", "H1", "H2", "H3", "H4", "I1", "I2"],
}
VALID_2_0: dict[str, object] = {
    "Jc": 4,
    "Jmin": 40,
    "Jmax": 700,
    "S1": 20,
    "S2": 30,
    "S3": 40,
    "S4": 10,
    "H1": "100-200",
    "H2": "300-400",
    "H3": "500",
    "H4": "600-70000",
    "I1": "<r 2><b 0x0102><c><t>",
}


def interface_of(text: str) -> dict[str, str]:
    parser = configparser.ConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return dict(parser["Interface"])


# --- parameter rules -----------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.0", "1.5", "2.0"])
def test_generated_parameters_always_keep_the_rules(version: str) -> None:
    for seed in range(400):
        p = generate(version, rng=random.Random(seed))
        assert 1 <= p.jc <= 128
        assert 1 <= p.jmin < p.jmax <= 1280
        assert max(p.s1, p.s2, p.s3) < 1280 and p.s1 + 56 != p.s2
        lows = sorted(p.headers)
        assert all(5 <= low <= high <= 2**31 - 1 for low, high in lows)
        assert all(a[1] < b[0] for a, b in itertools.pairwise(lows)), "no overlap"
        if version == "2.0":
            assert all(low < high for low, high in p.headers), "2.0 uses ranges"
            assert p.s3 + 64 not in (p.s1 + 148, p.s2 + 92)
            assert 1 <= p.s4 <= MAX_S4
        else:
            assert all(low == high for low, high in p.headers)
            assert p.s3 == p.s4 == 0
        if version == "1.0":
            assert p.packets == ("", "", "", "", "")
        else:
            assert all(packet_size(spec, version) <= 1280 for spec in p.packets if spec)
            assert p.packets[0].startswith("<r 2><b 0x0100000100000000000")
        assert [line.split(" = ")[0] for line in p.lines()] == FIELDS[version]
        assert AmneziaParams.from_json(p.to_json()) == p
        assert parse_lines("\n".join(p.lines())) == p


def test_system_randomness_is_the_default_and_differs_per_node() -> None:
    first, second = generate(), generate()
    assert first.version == "2.0"
    assert first.headers != second.headers


def test_s4_fits_the_tunnel_mtu() -> None:
    assert transport_headroom(1420) == 0 and transport_headroom(1376) == 44
    assert all(generate("2.0", mtu=1420, rng=random.Random(s)).s4 == 0 for s in range(50))
    assert max(generate("2.0", mtu=1410, rng=random.Random(s)).s4 for s in range(200)) == 10


def test_i_packet_sizes_and_tags() -> None:
    assert packet_size("<r 2><b 0x0102><c><t>") == 12
    assert packet_size("<rc 5><rd 3>", "2.0") == 8
    with pytest.raises(AmneziaError, match=re.escape("not known to AmneziaWG 1.5")):
        packet_size("<rc 5>", "1.5")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Jc": 0}, "Jc must be from 1 to 128"),
        ({"Jc": 129}, "Jc must be from 1 to 128"),
        ({"Jc": True}, "Jc must be a whole number"),
        ({"Jc": "-3"}, "Jc must be a whole number"),
        ({"Jmin": 700}, "Jmin must be at least 1 and below Jmax"),
        ({"Jmax": 1281}, "Jmax must be at most 1280"),
        ({"S1": 1280}, "S1 must be below 1280"),
        ({"S2": 76}, "S1 \\+ 56 must differ from S2"),
        ({"S3": 104}, "S3 makes the cookie message the size"),
        ({"S3": 58}, "S3 makes the cookie message the size"),
        ({"S4": MAX_S4 + 1}, f"S4 must be at most {MAX_S4}"),
        ({"H1": "4"}, "H1 must be from 5"),
        ({"H1": "300-200"}, "H1 must be from 5 .* low end first"),
        ({"H2": f"300-{HEADER_MAX + 1}"}, "H2 must be from 5"),
        ({"H2": "150-250"}, "H1 and H2 must not overlap"),
        ({"H4": "450-550"}, "H3 and H4 must not overlap"),
        ({"H3": "five"}, "H3 must be a number or a range"),
        ({"I1": "<x 1>"}, "I1: tag <x> is not known"),
        ({"I1": "<b 0x123>"}, "I1: <b> takes hex bytes"),
        ({"I1": "<r 0>"}, "I1: <r> takes a length from 1 to 1000"),
        ({"I1": "<r 1001>"}, "I1: <r> takes a length"),
        ({"I1": "<c 5>"}, "I1: <c> takes no value"),
        ({"I1": "hello<r 2>"}, "I1: unexpected text at position 1"),
        ({"I1": "<r 2>; reboot"}, "I1: unexpected text"),
        ({"I1": "<r 1000><r 1000>"}, "I1 sends 2000 bytes, more than 1280"),
        ({"I1": "", "I2": "<r 4>"}, "I2–I5 need I1"),
        ({"Foo": 1}, "unknown parameter Foo"),
        ({"H4": None}, "H4 is missing"),
    ],
)
def test_parameters_outside_the_rules_are_refused(change: dict[str, object], message: str) -> None:
    values = {**VALID_2_0, **change}
    values = {key: value for key, value in values.items() if value is not None}
    with pytest.raises(AmneziaError, match=message):
        from_fields("2.0", values)


def test_versions_refuse_what_they_do_not_have() -> None:
    assert from_fields("2.0", VALID_2_0).lines()[5:7] == ("S3 = 40", "S4 = 10")
    older = {k: v for k, v in VALID_2_0.items() if k not in ("S3", "S4")}
    with pytest.raises(AmneziaError, match=re.escape("S3 needs AmneziaWG 2.0")):
        from_fields("1.5", {**older, "S3": 40})
    with pytest.raises(AmneziaError, match=re.escape("H1 must be one number before AmneziaWG 2.0")):
        from_fields("1.5", older)
    singles = {**older, "H1": "100", "H2": "300", "H3": "500", "H4": "600"}
    assert from_fields("1.5", singles).packets[0] == "<r 2><b 0x0102><c><t>"
    with pytest.raises(AmneziaError, match=re.escape("I1 needs AmneziaWG 1.5 or later")):
        from_fields("1.0", singles)
    with pytest.raises(AmneziaError, match="H1 and H2 must not overlap"):
        from_fields("1.0", {**singles, "I1": "", "H2": "100"})
    with pytest.raises(AmneziaError, match=re.escape("version must be one of 1.0, 1.5, 2.0")):
        from_fields("3.0", VALID_2_0)
    with pytest.raises(AmneziaError, match="version must be"):
        generate("3.0")


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        (None, "not JSON"),
        ("", "not JSON"),
        ("{Jc: 4", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"Jc": 4}', "name no version"),
        ('{"version": "2.0", "Jc": 4}', "Jmin is missing"),
    ],
)
def test_bad_stored_json_is_refused(stored: str | None, message: str) -> None:
    with pytest.raises(AmneziaError, match=message):
        AmneziaParams.from_json(stored)


def test_running_interface_lines_give_the_version_it_uses() -> None:
    base = "Jc = 4\nJmin = 40\nJmax = 700\nS1 = 20\nS2 = 30\nH1 = 100\nH2 = 300\nH3 = 500\nH4 = 600"
    assert parse_lines(base).version == "1.0"
    assert parse_lines(base + "\nI1 = <r 8>").version == "1.5"
    assert parse_lines(base + "\nS3 = 40\nS4 = 0").version == "2.0"
    peer_part = "\n[Peer]\nJc = 99\n"
    assert parse_lines(base + peer_part).jc == 4, "only the [Interface] section counts"
    with pytest.raises(AmneziaError, match="no AmneziaWG parameters"):
        parse_lines("ListenPort = 51820\n")


# --- the client's config and QR ------------------------------------------------------------


def make_node(params: AmneziaParams | None) -> Node:
    private = generate_private_key()
    return Node(
        name="aw1",
        endpoint="203.0.113.7:51820",
        public_key=public_key(private),
        dns="1.1.1.1, 1.0.0.1",
        mtu=1376,
        protocol=AMNEZIAWG if params else "wireguard",
        obfuscation=params.to_json() if params else None,
    )


def make_config_text(node: Node) -> str:
    device = Device(address4="10.8.0.2", address6=None, route_preset="")
    configs = DeviceConfigs(SecretCipher(os.urandom(32)))
    configs.store_keys(device, DeviceKeys.fresh())
    return configs.config(device, node).text


@pytest.mark.parametrize("version", ["1.0", "1.5", "2.0"])
def test_config_carries_exactly_the_fields_of_the_nodes_version(version: str) -> None:
    params = generate(version, rng=random.Random(11))
    text = make_config_text(make_node(params))
    keys = list(interface_of(text))
    assert keys == ["PrivateKey", "Address", "DNS", "MTU", *FIELDS[version]]
    assert text.split("MTU = 1376\n", 1)[1].split("\n\n[Peer]")[0] == "\n".join(params.lines())


def test_plain_wireguard_config_carries_no_amneziawg_field() -> None:
    text = make_config_text(make_node(None))
    assert list(interface_of(text)) == ["PrivateKey", "Address", "DNS", "MTU"]
    for key in ("Jc", "Jmin", "Jmax", "S1", "S2", "S3", "S4", "H1", "I1"):
        assert f"\n{key} = " not in text


@pytest.mark.parametrize("version", ["1.0", "1.5", "2.0"])
def test_qr_decodes_to_the_same_text(version: str) -> None:
    if shutil.which("zbarimg") is None:
        unavailable("zbarimg (zbar-tools) not installed")
    text = make_config_text(make_node(generate(version)))
    assert decode_qr(qr_png(text)) == text


# --- commands on an AmneziaWG node ---------------------------------------------------------


class ScriptedPool:
    """Records each command instead of running it over SSH; answers with `output`."""

    def __init__(self, output: str = "") -> None:
        self.output = output
        self.commands: list[str] = []

    async def run(
        self,
        target: NodeTarget,
        command: str,
        *,
        stdin: str | None = None,
        timeout: Any = None,
        limit: int | None = None,
        even_if_down: bool = False,
    ) -> str:
        self.commands.append(command)
        return self.output


AWG = NodeTarget("aw1", "203.0.113.7", host_key="k", interface="awg0", amnezia=True)
PLAIN = replace(AWG, amnezia=False)


def a_peer() -> PeerSpec:
    return PeerSpec(public_key(generate_private_key()), generate_preshared_key(), ("10.8.0.2/32",))


async def test_an_amneziawg_node_is_driven_with_awg_and_awg_quick() -> None:
    pool = ScriptedPool()
    wireguard = WireGuard(pool)  # type: ignore[arg-type]
    peer = a_peer()
    await wireguard.add_peer(AWG, peer)
    await wireguard.saved(AWG)
    await wireguard.remove_peer(AWG, peer.public_key)
    await wireguard.saved(AWG)
    await wireguard.peers(AWG)
    assert "| awg set awg0 peer " in pool.commands[0]
    assert "awg showconf awg0 > /etc/amnezia/amneziawg/awg0.conf.live" in pool.commands[1]
    assert (
        "mv /etc/amnezia/amneziawg/awg0.conf.tmp /etc/amnezia/amneziawg/awg0.conf"
        in (pool.commands[1])
    )
    assert pool.commands[2] == f"awg set awg0 peer {peer.public_key} remove"
    assert pool.commands[-1] == "awg show awg0 dump"
    assert not any(re.search(r"(^|[^a])wg(-quick)? ", command) for command in pool.commands)

    plain = ScriptedPool()
    plain_wireguard = WireGuard(plain)  # type: ignore[arg-type]
    await plain_wireguard.add_peer(PLAIN, peer)
    await plain_wireguard.saved(PLAIN)
    assert "| wg set awg0 peer " in plain.commands[0]
    assert " wg showconf awg0 > /etc/wireguard/awg0.conf.live" in plain.commands[1]


async def test_probe_reconcile_and_parameters_use_awg() -> None:
    pool = ScriptedPool(
        "0.1 0.1 0.1 1/90 7\n2\nMemTotal: 100 kB\nMemAvailable: 50 kB\n--vpnservice-down--\n"
    )
    probe = await WireGuard(pool).probe(AWG)  # type: ignore[arg-type]
    assert not probe.interface_up and "awg show awg0 dump" in pool.commands[0]

    peers = [a_peer() for _ in range(30)]
    plan = ReconcilePlan(tuple(peers[1:]), (peers[0].public_key,), ())
    await apply_reconcile(pool, AWG, plan)  # type: ignore[arg-type]
    assert f"awg set awg0 peer {peers[0].public_key} remove" in pool.commands[-1]
    assert "\nawg addconf awg0 /dev/stdin\n" in pool.commands[-1]
    assert "awg showconf awg0 > /etc/amnezia/amneziawg/awg0.conf.live" in pool.commands[-1]

    assert await WireGuard(pool).obfuscation(PLAIN) is None  # type: ignore[arg-type]
    running = generate("2.0", rng=random.Random(4))
    pool.output = "\n".join(running.lines()) + "\n"
    assert await WireGuard(pool).obfuscation(AWG) == running  # type: ignore[arg-type]
    command = pool.commands[-1]
    assert "awg showconf awg0" in command and "private-key" not in command
    assert "sed '/^\\[Peer\\]/,$d' | grep -E '^(Jc|Jmin|Jmax|S[1-4]|H[1-4]|I[1-5]) = '" in command


async def test_bootstrap_passes_the_parameters_and_refuses_a_mismatch() -> None:
    params = generate("2.0", rng=random.Random(3))
    plan = InterfacePlan("awg0", generate_private_key(), 51820, "10.8.0.1/24", amnezia=params)
    command = step_command(AWG, plan, "interface", "/usr/local/sbin/x", install_packages=False)
    assert " WG_PROTOCOL=amneziawg AWG_PARAMS='Jc = " in command
    assert "\n".join(params.lines()) in command
    assert plan.private_key not in command
    plain_command = step_command(
        PLAIN, replace(plan, amnezia=None), "check", "/x", install_packages=True
    )
    assert "WG_PROTOCOL" not in plain_command and "AWG_PARAMS" not in plain_command
    pool = ScriptedPool()
    with pytest.raises(ValueError, match="protocol differs"):
        await bootstrap(pool, PLAIN, plan)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="protocol differs"):
        await bootstrap(pool, AWG, replace(plan, amnezia=None))  # type: ignore[arg-type]
    assert pool.commands == []


def run_script(step: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT_SOURCE), step],
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=20,
    )


@pytest.mark.skipif(shutil.which("awg") is not None, reason="AmneziaWG is installed here")
def test_setup_script_refuses_amneziawg_where_it_is_not_packaged(tmp_path: Path) -> None:
    release = tmp_path / "os-release"
    release.write_text("ID=debian\n")
    env = {"VPNSERVICE_OS_RELEASE": str(release), "WG_PROTOCOL": "amneziawg"}
    proc = run_script("check", {**env, "AWG_PARAMS": "Jc = 4"})
    if proc.returncode == 4:
        unavailable("the check step needs root")
    assert proc.returncode == 3
    assert proc.stderr.startswith("AmneziaWG is not packaged for debian: install amneziawg-tools")
    bad = run_script("check", {**env, "AWG_PARAMS": "Jc = 4\nI1 = <r 2>; reboot"})
    assert bad.returncode == 2 and "invalid AWG_PARAMS line: I1 = <r 2>; reboot" in bad.stderr
    plain = run_script("check", {"VPNSERVICE_OS_RELEASE": str(release), "AWG_PARAMS": "Jc = 4"})
    assert plain.returncode == 2 and "AWG_PARAMS is for WG_PROTOCOL=amneziawg only" in plain.stderr


def test_setup_script_writes_the_parameters_where_awg_quick_save_puts_them(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        unavailable("the setup script's lock directory needs root")
    iface = f"awgt{uuid.uuid4().hex[:6]}"
    params = generate("2.0", rng=random.Random(5))
    key = generate_private_key()
    env = {
        "WG_INTERFACE": iface,
        "WG_PROTOCOL": "amneziawg",
        "AWG_PARAMS": "\n".join(params.lines()),
        "WG_MTU": "1376",
        "VPNSERVICE_CONF_DIR": str(tmp_path / "conf"),
    }
    try:
        for _ in range(2):
            proc = run_script("interface", env, key + "\n")
            assert proc.returncode == 0, proc.stderr
        text = (tmp_path / "conf" / f"{iface}.conf").read_text()
    finally:
        Path(lock_file(iface)).unlink(missing_ok=True)
    expected = ["Address", "MTU", "ListenPort", "PrivateKey", *FIELDS["2.0"]]
    assert list(interface_of(text)) == expected
    assert text.endswith("PrivateKey = " + key + "\n" + "\n".join(params.lines()) + "\n")


# --- adding an AmneziaWG node --------------------------------------------------------------


HOST_KEY = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()


@pytest.fixture
def no_host_key_scan(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    async def scan(
        host: str, port: int = 22, *, name: str | None = None, prefer: str | None = None
    ) -> str:
        return HOST_KEY

    monkeypatch.setattr(app.services.pool, "scan_host_key", scan)


async def test_adopting_an_amneziawg_node_stores_its_running_parameters(
    app: App, no_host_key_scan: None
) -> None:
    running = generate("1.5", rng=random.Random(9))
    app.wireguard.add_node("aw1").obfuscation = "\n".join(running.lines()) + "\n"
    new = NewNode("aw1", "203.0.113.7", protocol=AMNEZIAWG, interface="awg0")
    node = await app.services.fleet.add(ADMIN_ID, new)
    stored = await app.services.fleet.named("aw1")
    assert stored is not None and stored.protocol == AMNEZIAWG
    assert AmneziaParams.from_json(stored.obfuscation) == running
    assert node.obfuscation == stored.obfuscation

    app.wireguard.add_node("aw2").obfuscation = "Jc = 4\nJmin = 900\nJmax = 100\n"
    with pytest.raises(NodeSetupFailed) as refused:
        await app.services.fleet.add(ADMIN_ID, replace(new, name="aw2"))
    assert "AmneziaWG parameters: S1 is missing" in refused.value.reason
    assert await app.services.fleet.named("aw2") is None
    with pytest.raises(InvalidInput):
        await app.services.fleet.add(ADMIN_ID, replace(new, name="aw3", protocol="openvpn"))


async def test_add_node_command_takes_proto_awg(app: App, no_host_key_scan: None) -> None:
    app.wireguard.add_node("aw1").obfuscation = "\n".join(generate("2.0").lines())
    await app.say(ADMIN_ID, "/start")
    for args in ("proto=openvpn", "awg=1.5", "proto=awg awg=3.0", "proto=wg awg=2.0"):
        answer = await app.say(ADMIN_ID, f"/add_node aw1 ssh://root@203.0.113.7 {args}")
        assert answer[-1].text.startswith("Использование: /add_node ИМЯ"), args
    assert await app.services.fleet.named("aw1") is None
    check = await app.say(ADMIN_ID, "/add_node aw1 ssh://root@203.0.113.7 Stockholm proto=awg")
    assert "SHA256:" in (check[-1].text or "")
    assert await app.services.fleet.named("aw1") is None, "nothing before the key is confirmed"
    await app.press(ADMIN_ID, check[-1], check[-1].buttons[0]["callback_data"])
    node = await app.services.fleet.named("aw1")
    assert node is not None and node.protocol == AMNEZIAWG and node.mtu == 1376
    assert AmneziaParams.from_json(node.obfuscation).version == "2.0"


async def test_cli_takes_protocol_and_refuses_a_version_without_it(app: App) -> None:
    args = parse_args(["node", "add", "aw1", "ssh://root@h", "--protocol", "amneziawg"])
    assert args.protocol == AMNEZIAWG and args.awg_version is None and args.mtu is None
    args = parse_args(["node", "add", "x1", "ssh://root@h", "--awg-version", "1.5"])
    with pytest.raises(ValueError, match="--awg-version needs --protocol amneziawg"):
        await node_add(app.settings, args)


# --- "my internet blocks the VPN" ----------------------------------------------------------


async def add_awg_node(app: App, name: str, subnet: str, version: str = "2.0") -> AmneziaParams:
    node = await app.add_node(name, "Stockholm", subnet=subnet)
    params = generate(version)
    async with app.services.sessions.begin() as session:
        stored = await session.get_one(Node, node.id)
        stored.protocol, stored.obfuscation = AMNEZIAWG, params.to_json()
    return params


async def snapshot(app: App) -> tuple[object, ...]:
    devices = [(d.id, d.node_id, d.address4, d.public_key) for d in await app.devices()]
    peers = {name: sorted(node.peers) for name, node in app.wireguard.nodes.items()}
    return tuple(devices), tuple(sorted(peers.items())), len(app.wireguard.log)


async def test_one_tap_moves_a_wireguard_user_to_amneziawg(app: App) -> None:
    await app.add_node("nl1", "Amsterdam")
    await app.services.users.grant(USER, None, create=True)
    await app.say(USER, "/get_config")
    params = await add_awg_node(app, "aw1", "10.9.0.1/24")
    device = (await app.devices())[0]
    assert list(app.wireguard.nodes["nl1"].peers) == [device.public_key]

    screen = (await app.say(USER, "/server"))[0]
    rows = screen.reply_markup["inline_keyboard"]
    assert [b["text"] for b in rows[-1]] == ["🚫 Мой интернет блокирует VPN"]
    sent = await app.press(USER, screen, rows[-1][0]["callback_data"])

    assert [m.method for m in sent] == ["sendMessage", "sendDocument", "sendPhoto"]
    told = sent[0].text or ""
    assert told.startswith("Готово: вы на сервере aw1 с AmneziaWG")
    assert "AmneziaVPN" in told and "WireGuard такую конфигурацию не откроет" in told
    assert sent[1].document is not None and sent[1].document.filename == "aw1.conf"
    text = sent[1].document.content.decode()
    assert list(interface_of(text))[4:] == FIELDS["2.0"]
    assert "\n".join(params.lines()) in text
    assert "AmneziaVPN" in (sent[1].text or "") and "AmneziaVPN" in (sent[2].text or "")
    if shutil.which("zbarimg") or os.environ.get("CI"):  # CI installs zbar-tools
        assert sent[2].photo is not None and decode_qr(sent[2].photo.content) == text

    moved = (await app.devices())[0]
    async with app.services.sessions() as session:
        aw1 = await session.scalar(select(Node).where(Node.name == "aw1"))
    assert aw1 is not None and moved.id == device.id and moved.node_id == aw1.id
    assert app.wireguard.nodes["nl1"].peers == {}
    assert list(app.wireguard.nodes["aw1"].peers) == [moved.public_key]

    again = (await app.say(USER, "/server"))[0]
    assert "🚫" not in str(again.reply_markup), "already on AmneziaWG: no button"
    before = await snapshot(app)
    forged = await app.press(USER, again, rows[-1][0]["callback_data"])
    assert "Вы уже на сервере" in (forged[0].text or "") and await snapshot(app) == before


async def test_no_amneziawg_node_means_no_button_and_a_forged_tap_changes_nothing(
    app: App,
) -> None:
    await app.add_node("nl1", "Amsterdam")
    await app.services.users.grant(USER, None, create=True)
    await app.say(USER, "/get_config")
    screen = (await app.say(USER, "/server"))[0]
    assert "🚫" not in str(screen.reply_markup), "no AmneziaWG node at all"
    await add_awg_node(app, "aw1", "10.9.0.1/24")
    async with app.services.sessions.begin() as session:
        aw1 = await session.scalar(select(Node).where(Node.name == "aw1"))
        assert aw1 is not None
        aw1.status = NodeStatus.DRAINING
    screen = (await app.say(USER, "/server"))[0]
    assert "🚫" not in str(screen.reply_markup), "the AmneziaWG node takes no users"

    before = await snapshot(app)
    answer = await app.press(USER, screen, "unb")
    assert len(answer) == 1
    assert (answer[0].text or "").startswith("Сейчас нет доступного сервера с маскировкой VPN")
    assert await snapshot(app) == before

    stranger = await app.press(USER + 1, screen, "unb")
    assert len(stranger) == 1 and "доступ" in (stranger[0].text or "").lower()
    assert await snapshot(app) == before


async def test_picking_an_amneziawg_node_from_the_list_says_which_app_to_use(app: App) -> None:
    await app.add_node("nl1", "Amsterdam")
    await app.services.users.grant(USER, None, create=True)
    await app.say(USER, "/get_config")
    await add_awg_node(app, "aw1", "10.9.0.1/24", version="1.0")
    screen = (await app.say(USER, "/server"))[0]
    sent = await app.press(USER, screen, screen.button("aw1")["callback_data"])
    assert "Это сервер AmneziaWG" in (sent[0].text or "")
    text = next(m for m in sent if m.method == "sendDocument").document.content.decode()
    assert list(interface_of(text))[4:] == FIELDS["1.0"]
    back = await app.press(USER, screen, screen.button("nl1")["callback_data"])
    assert "AmneziaWG" not in (back[0].text or "")
    plain = next(m for m in back if m.method == "sendDocument").document.content.decode()
    assert list(interface_of(plain)) == ["PrivateKey", "Address", "DNS", "MTU"]


async def test_a_new_device_goes_to_plain_wireguard_even_when_amneziawg_is_emptier(
    app: App,
) -> None:
    await app.add_node("nl1", "Amsterdam")
    await app.services.users.grant(USER + 1, None, create=True)
    await app.say(USER + 1, "/get_config")  # nl1 now has one device, aw1 none
    await add_awg_node(app, "aw1", "10.9.0.1/24")
    await app.services.users.grant(USER, None, create=True)
    sent = await app.say(USER, "/get_config")
    assert next(m for m in sent if m.document).document.filename == "nl1.conf"
    assert app.wireguard.nodes["aw1"].peers == {}
