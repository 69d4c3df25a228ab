"""Bootstrapping a bare node with scripts/node-setup.sh over real SSH, and restoring it."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodes import (
    BOOTSTRAP_STEPS,
    InterfacePlan,
    NodeError,
    NodeTarget,
    PeerSpec,
    SshPool,
    WireGuard,
    bootstrap,
    generate_preshared_key,
    generate_private_key,
    public_key,
)
from nodes.bootstrap import SCRIPT_SOURCE, step_command, upload_command
from nodes.firewall import Action
from nodes.grace_layout import GraceSets
from tests.netlab import LAB_USER, Lab, LabNode
from tests.nodes_support import target_of

pytestmark = [pytest.mark.root, pytest.mark.timeout(90)]

PORT = 51830
PRIVATE_KEY = generate_private_key()


@pytest.fixture(scope="module")
def lab(key_path: Path) -> Iterator[Lab]:
    with Lab() as lab:
        lab.add_bare_node("bare1", authorized_key=SshPool.ensure_client_key(key_path))
        yield lab


@pytest.fixture
def plan(node: LabNode) -> InterfacePlan:
    return InterfacePlan(node.interface, PRIVATE_KEY, PORT, "10.8.0.1/24", "fd00:8::1/64")


def client_conf(private: str, psk: str, node: LabNode, server_key: str) -> str:
    return (
        "[Interface]\n"
        f"PrivateKey = {private}\n"
        "Address = 10.8.0.2/32\n\n"
        "[Peer]\n"
        f"PublicKey = {server_key}\n"
        f"PresharedKey = {psk}\n"
        f"Endpoint = {node.ip}:{PORT}\n"
        "AllowedIPs = 0.0.0.0/0\n"
    )


def snapshot(node: LabNode) -> tuple[bytes, bytes, list[str], bytes]:
    hook = node.config_path.with_name(f"{node.interface}-nat.sh")
    return (
        node.config_path.read_bytes(),
        node.sysctl_path.read_bytes(),
        node.nat_rules(),
        hook.read_bytes(),
    )


async def test_bootstrap_twice_then_restore_after_wipe(
    pool: SshPool, node: LabNode, lab: Lab, plan: InterfacePlan
) -> None:
    assert node.sysctl("net.ipv4.ip_forward") == "0"
    steps: list[str] = []

    async def progress(step: str) -> None:
        steps.append(step)

    target = target_of(node)
    info = await bootstrap(
        pool,
        target,
        plan,
        install_packages=False,
        progress=progress,
        script_path=node.script_path,
    )
    assert steps == list(BOOTSTRAP_STEPS)
    assert info.public_key == public_key(PRIVATE_KEY) == plan.public_key
    assert info.listen_port == PORT
    assert [str(a) for a in info.addresses] == ["10.8.0.1/24", "fd00:8::1/64"]
    conf = node.config_path.read_text()
    assert f"PrivateKey = {PRIVATE_KEY}" in conf
    assert node.config_path.stat().st_mode & 0o777 == 0o600
    assert node.sysctl("net.ipv4.ip_forward") == "1"
    assert node.sysctl("net.ipv6.conf.all.forwarding") == "1"
    assert "net.ipv4.ip_forward = 1" in node.sysctl_path.read_text()
    rules = node.nat_rules()
    assert len(rules) == 2  # one per subnet
    assert any("10.8.0.0/24" in r and "eth0" in r for r in rules)

    # a client through the new node reaches the target with the node's address as source
    client_private, psk = generate_private_key(), generate_preshared_key()
    peer = PeerSpec(public_key(client_private), psk, ("10.8.0.2/32",))
    wg = WireGuard(pool)
    await wg.add_peer(target, peer)
    await wg.saved(target)  # the config's save follows the live change in the background
    lab.client.up(client_conf(client_private, psk, node, info.public_key))
    try:
        assert lab.client.fetch_source_ip() == node.ip
        handshake = lab.client.latest_handshake()
        assert handshake > 0
        before = snapshot(node)

        steps.clear()
        again = await bootstrap(
            pool,
            target,
            plan,
            install_packages=False,
            progress=progress,
            script_path=node.script_path,
        )
        assert steps == list(BOOTSTRAP_STEPS)
        assert again == info
        assert snapshot(node) == before  # config, sysctl, nat rules, hook: byte for byte
        assert lab.client.fetch_source_ip() == node.ip
        assert lab.client.latest_handshake() == handshake  # same session: no restart
        assert [p.public_key for p in await wg.peers(target)] == [peer.public_key]

        # the machine is rebuilt on the same address: same plan, same node
        node.wipe()
        assert not node.config_path.exists()
        assert node.nat_rules() == []
        assert node.sysctl("net.ipv4.ip_forward") == "0"
        assert lab.client.fetch_source_ip(timeout=1) is None
        with pytest.raises(NodeError, match="host key changed"):
            await pool.run(target, "true")
        target = target_of(node)  # the operator re-pins the new host key
        restored = await bootstrap(
            pool, target, plan, install_packages=False, script_path=node.script_path
        )
        assert restored == info  # same public key, port and addresses
        assert (await wg.reconcile(target, [peer])).summary() == "add 1, remove 0, update 0"
        await wg.saved(target)
        lab.client.up(client_conf(client_private, psk, node, info.public_key))
        assert lab.client.fetch_source_ip() == node.ip

        # the grace firewall outlives a restart of the interface (a reboot): PreUp loads the
        # file the bot keeps, before the interface comes up
        assert f"PreUp = /etc/wireguard/{node.interface}-grace.sh" in node.config_path.read_text()
        limited = GraceSets.build(grace=["10.8.0.2"], allowed=["192.0.2.0/24"], dns=[])
        assert (await wg.grace(target, limited)).summary() == "update (table absent)"
        assert lab.client.fetch_source_ip(timeout=2) is None  # the target is not allowed
        table = f"vpnservice-grace-{node.interface}"
        assert node.exec("nft", "delete", "table", "inet", table).returncode == 0
        node.wg_quick("down")
        node.wg_quick("up")
        assert (await wg.grace(target, limited)).action is Action.NONE  # back exactly
        assert lab.client.fetch_source_ip(timeout=2) is None
        await wg.grace(target, GraceSets())  # out of grace: the same tunnel reaches it again
        assert (await wg.reconcile(target, [peer])).summary() == "add 0, remove 0, update 0"
        deadline = time.monotonic() + 30  # the client shakes hands with the new interface
        while lab.client.fetch_source_ip(timeout=2) != node.ip and time.monotonic() < deadline:
            pass
        assert lab.client.fetch_source_ip() == node.ip
    finally:
        lab.client.down()


async def test_plan_change_is_applied_without_restart(
    pool: SshPool, node: LabNode, plan: InterfacePlan
) -> None:
    target = target_of(node)
    await bootstrap(pool, target, plan, install_packages=False, script_path=node.script_path)
    moved = InterfacePlan(plan.interface, plan.private_key, PORT + 1, "10.9.0.1/24", None, 1400)
    try:
        info = await bootstrap(
            pool, target, moved, install_packages=False, script_path=node.script_path
        )
        assert info.listen_port == PORT + 1
        assert [str(a) for a in info.addresses] == ["10.9.0.1/24"]
        assert "mtu 1400" in node.exec("ip", "link", "show", node.interface).stdout
        rules = node.nat_rules()
        assert len(rules) == 1
        assert "10.9.0.0/24" in rules[0]
    finally:
        await bootstrap(pool, target, plan, install_packages=False, script_path=node.script_path)


async def test_non_root_without_sudo_is_a_clear_error(
    pool: SshPool, node: LabNode, plan: InterfacePlan
) -> None:
    steps: list[str] = []

    async def progress(step: str) -> None:
        steps.append(step)

    started = time.monotonic()
    with pytest.raises(NodeError, match=r"^bare1: step check: .*sudo") as info:
        await bootstrap(
            pool,
            target_of(node, LAB_USER),
            plan,
            install_packages=False,
            progress=progress,
            script_path=node.script_path,
        )
    assert time.monotonic() - started < 10
    assert steps == ["check"]
    assert PRIVATE_KEY not in str(info.value)


def test_iptables_nat_is_idempotent_and_undone(node: LabNode) -> None:
    env = [
        "env",
        "WG_INTERFACE=vpt0",
        "WG_ADDRESS=10.66.0.1/24, fd66::1/64",
        "VPNSERVICE_NAT_BACKEND=iptables",
    ]
    hook = node.config_path.with_name("vpt0-nat.sh")

    def rules() -> list[str]:
        out = node.exec("iptables-save", "-t", "nat").stdout
        out += node.exec("ip6tables-save", "-t", "nat").stdout
        return [line for line in out.splitlines() if "vpnservice_vpt0" in line]

    try:
        for _ in range(2):
            proc = node.exec(*env, "bash", str(SCRIPT_SOURCE), "nat")
            assert (proc.returncode, proc.stdout, proc.stderr) == (0, "ok nat\n", "")
            assert len(rules()) == 2
        assert any("-s 10.66.0.0/24 -o eth0" in r and "MASQUERADE" in r for r in rules())
        assert any("-s fd66::/64 -o eth0" in r for r in rules())
        assert node.exec(str(hook), "down").returncode == 0
        assert rules() == []
    finally:
        node.exec(str(hook), "down")
        hook.unlink(missing_ok=True)


class FakePool(SshPool):
    """Answers every command with a given failure, remembering the commands."""

    def __init__(self, reason: str) -> None:
        super().__init__(Path("/nonexistent"))
        self.reason = reason
        self.commands: list[str] = []

    async def run(
        self,
        target: NodeTarget,
        command: str,
        *,
        stdin: str | None = None,
        timeout: float | None = None,
        limit: int | None = None,
        even_if_down: bool = False,
    ) -> str:
        self.commands.append(command)
        raise NodeError(target.name, self.reason)


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("command failed (exit 1): sudo: a password is required", "passwordless sudo"),
        ("command failed (exit 1): deploy is not in the sudoers file.", "may not use sudo"),
        ("command failed (exit 127): sh: 1: sudo: not found", "sudo is not installed"),
    ],
)
async def test_sudo_refusals_become_advice(reason: str, expected: str) -> None:
    pool = FakePool(reason)
    target = NodeTarget("n9", "192.0.2.1", username="deploy", host_key="x", interface="wg0")
    plan = InterfacePlan("wg0", PRIVATE_KEY, 51820, "10.8.0.1/24")
    with pytest.raises(NodeError, match=expected):
        await bootstrap(pool, target, plan)
    assert pool.commands[0].startswith("sudo -n sh -c ")


def test_commands_quote_values_and_keep_the_key_out() -> None:
    plan = InterfacePlan("wg0", PRIVATE_KEY, 51820, "10.8.0.1/24", "FD00:8:0::1/64", 1380)
    root = NodeTarget("n", "h", host_key="x", interface="wg0")
    user = NodeTarget("n", "h", username="deploy", host_key="x", interface="wg0")
    command = step_command(root, plan, "interface", "/usr/local/sbin/x", install_packages=False)
    assert command.startswith("env WG_INTERFACE=wg0 WG_PORT=51820 ")
    assert "WG_ADDRESS='10.8.0.1/24, fd00:8::1/64'" in command
    assert "WG_MTU=1380 VPNSERVICE_SKIP_PACKAGES=1 " in command
    assert PRIVATE_KEY not in command
    assert step_command(user, plan, "start", "/x", install_packages=True).startswith("sudo -n env ")
    assert "VPNSERVICE_SKIP_PACKAGES" not in step_command(
        user, plan, "nat", "/x", install_packages=True
    )
    for bad in ("/tmp/x; reboot", "relative", "/a/../b", "/tmp/$(x)"):
        with pytest.raises(ValueError, match="invalid script path"):
            upload_command(root, bad)
    with pytest.raises(ValueError, match="unknown"):
        step_command(root, plan, "rm", "/x", install_packages=True)
    assert PRIVATE_KEY not in repr(plan)
    for kwargs in (
        {"interface": "wg0; reboot"},
        {"private_key": "short"},
        {"listen_port": 0},
        {"address4": "fd00::1/64"},
        {"address6": "10.0.0.1/24"},
        {"mtu": 100},
    ):
        values = {
            "interface": "wg0",
            "private_key": PRIVATE_KEY,
            "listen_port": 51820,
            "address4": "10.8.0.1/24",
            "address6": None,
            **kwargs,
        }
        with pytest.raises(ValueError, match=r"invalid|must be") as info:
            InterfacePlan(**values)  # type: ignore[arg-type]
        assert PRIVATE_KEY not in str(info.value)


def test_script_refuses_an_unsupported_system(tmp_path: Path) -> None:
    release = tmp_path / "os-release"
    release.write_text('NAME="Alpine Linux"\nID=alpine\n')
    env = {**os.environ, "VPNSERVICE_OS_RELEASE": str(release)}
    proc = subprocess.run(
        ["bash", str(SCRIPT_SOURCE), "check"], env=env, capture_output=True, text=True, timeout=10
    )
    assert proc.returncode == 3
    assert proc.stderr.strip() == "unsupported system: alpine (Debian or Ubuntu needed)"
    assert proc.stdout == ""
    release.write_text("ID=ubuntu\nID_LIKE=debian\n")
    proc = subprocess.run(
        ["bash", str(SCRIPT_SOURCE), "bogus"], env=env, capture_output=True, text=True, timeout=10
    )
    assert proc.returncode == 2
    assert "usage" in proc.stderr
