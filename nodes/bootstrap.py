"""Bootstrap a bare node: upload scripts/node-setup.sh and run it step by step over SSH."""

from __future__ import annotations

import ipaddress
import logging
import re
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from nodes import output
from nodes.amnezia import AmneziaParams
from nodes.errors import NodeError
from nodes.keys import is_valid_key, public_key
from nodes.output import OutputError
from nodes.ssh import SshPool
from nodes.target import NodeTarget
from nodes.wireguard import InterfaceInfo, WireGuard

log = logging.getLogger(__name__)

BOOTSTRAP_STEPS = ("check", "packages", "forwarding", "nat", "grace", "interface", "start")
SCRIPT_SOURCE = Path(__file__).resolve().parent.parent / "scripts" / "node-setup.sh"
DEFAULT_SCRIPT_PATH = "/usr/local/sbin/vpnservice-node-setup"
STEP_TIMEOUT = 120.0
PACKAGES_TIMEOUT = 900.0
STEP_LINES = 64

_IFACE_RE = re.compile(r"^[a-zA-Z0-9_=+.-]{1,15}$")
_PATH_RE = re.compile(r"^/[a-zA-Z0-9_./-]{1,200}$")
# wireguard-go (no kernel module) refuses to start without it; passed on only when sshd sets it.
_USERSPACE = "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD"
_PASS_USERSPACE = f'${{{_USERSPACE}:+"{_USERSPACE}=${_USERSPACE}"}}'


@dataclass(frozen=True)
class InterfacePlan:
    """The WireGuard interface a node should run; the private key comes from the database.

    With amnezia set, the node runs AmneziaWG (awg-quick) with those parameters instead."""

    interface: str
    private_key: str = field(repr=False)
    listen_port: int
    address4: str
    address6: str | None = None
    mtu: int = 1420
    amnezia: AmneziaParams | None = None

    def __post_init__(self) -> None:
        if not _IFACE_RE.fullmatch(self.interface):
            raise ValueError("invalid interface name")
        if not is_valid_key(self.private_key):
            raise ValueError("invalid private key")
        if not 1 <= self.listen_port <= 65535:
            raise ValueError("invalid listen port")
        if not 576 <= self.mtu <= 9000:
            raise ValueError("invalid MTU")
        try:
            four = ipaddress.ip_interface(self.address4)
            six = ipaddress.ip_interface(self.address6) if self.address6 is not None else None
        except ValueError:
            raise ValueError("invalid interface address") from None
        if four.version != 4 or (six is not None and six.version != 6):
            raise ValueError("address4 must be IPv4 and address6 IPv6")

    @property
    def public_key(self) -> str:
        """The public key the interface will have."""
        return public_key(self.private_key)

    @property
    def addresses(self) -> str:
        """WG_ADDRESS for the script: canonical, IPv4 first, comma-separated."""
        values = [self.address4] + ([self.address6] if self.address6 is not None else [])
        return ", ".join(str(ipaddress.ip_interface(v)) for v in values)


def _sudo(target: NodeTarget) -> str:
    return "" if target.username == "root" else "sudo -n "


def upload_command(target: NodeTarget, script_path: str) -> str:
    """Shell command that stores stdin as the setup script at script_path (mode 700)."""
    if not _PATH_RE.fullmatch(script_path) or ".." in script_path:
        raise ValueError("invalid script path")
    tmp = shlex.quote(script_path + ".tmp")
    inner = (
        f"umask 077 && mkdir -p {shlex.quote(str(Path(script_path).parent))} && cat > {tmp} "
        f"&& chmod 700 {tmp} && mv -f {tmp} {shlex.quote(script_path)}"
    )
    return f"{_sudo(target)}sh -c {shlex.quote(inner)}"


def step_command(
    target: NodeTarget, plan: InterfacePlan, step: str, script_path: str, *, install_packages: bool
) -> str:
    """Shell command that runs one step of the setup script with the plan in its environment."""
    if step not in BOOTSTRAP_STEPS and step != "all":
        raise ValueError("unknown bootstrap step")
    if not _PATH_RE.fullmatch(script_path) or ".." in script_path:
        raise ValueError("invalid script path")
    env = {
        "WG_INTERFACE": plan.interface,
        "WG_PORT": str(plan.listen_port),
        "WG_ADDRESS": plan.addresses,
        "WG_MTU": str(plan.mtu),
    }
    if not install_packages:
        env["VPNSERVICE_SKIP_PACKAGES"] = "1"
    if plan.amnezia is not None:
        env["WG_PROTOCOL"] = "amneziawg"
        env["AWG_PARAMS"] = "\n".join(plan.amnezia.lines())
    assigns = " ".join(f"{name}={shlex.quote(value)}" for name, value in env.items())
    return f"{_sudo(target)}env {assigns} {_PASS_USERSPACE} {shlex.quote(script_path)} {step}"


def parse_step(out: str, step: str) -> None:
    """A step of the setup script ends by printing `ok STEP`; OutputError if it did not."""
    lines = output.bounded_lines(out, most=STEP_LINES, width=4096, what=f"step {step}")
    if not lines or lines[-1] != f"ok {step}":
        raise OutputError(f"step {step} did not report success")


def step_reason(target: NodeTarget, step: str, exc: NodeError) -> str:
    """The step's error, with sudo's usual refusals turned into advice."""
    text = exc.reason
    if target.username != "root":
        if "password is required" in text or "a terminal is required" in text:
            return (
                f"step {step}: sudo wants a password for {target.username}: allow it "
                "passwordless sudo (NOPASSWD) or connect as root"
            )
        if "exit 127" in text and "sudo" in text:
            return (
                f"step {step}: sudo is not installed and {target.username} is not root: "
                "install sudo or connect as root"
            )
        if "not in the sudoers" in text or "not allowed to" in text:
            return f"step {step}: {target.username} may not use sudo: connect as root"
    return f"step {step}: {text}"


async def bootstrap(
    pool: SshPool,
    target: NodeTarget,
    plan: InterfacePlan,
    *,
    install_packages: bool = True,
    progress: Callable[[str], Awaitable[None]] | None = None,
    script_path: str = DEFAULT_SCRIPT_PATH,
) -> InterfaceInfo:
    """Make the node serve plan's interface (idempotent) and return the interface as it runs."""
    if target.interface != plan.interface:
        raise ValueError("the plan's interface differs from the target's")
    if target.amnezia != (plan.amnezia is not None):
        raise ValueError("the plan's protocol differs from the target's")
    script = SCRIPT_SOURCE.read_text()
    for step in BOOTSTRAP_STEPS:
        if progress is not None:
            await progress(step)
        try:
            if step == "check":
                upload = upload_command(target, script_path)
                await pool.run(target, upload, stdin=script, even_if_down=True)
            command = step_command(
                target, plan, step, script_path, install_packages=install_packages
            )
            secret = plan.private_key + "\n" if step == "interface" else None
            timeout = PACKAGES_TIMEOUT if step == "packages" else STEP_TIMEOUT
            out = await pool.run(target, command, stdin=secret, timeout=timeout, even_if_down=True)
            try:
                parse_step(out, step)
            except ValueError as error:
                raise NodeError(target.name, str(error)) from None
        except NodeError as exc:
            log.warning("node %s: bootstrap step %s failed", target.name, step)
            raise NodeError(target.name, step_reason(target, step, exc)) from None
        log.info("node %s: bootstrap step %s done", target.name, step)
    info = await WireGuard(pool).interface(target)
    if info.public_key != plan.public_key or info.listen_port != plan.listen_port:
        raise NodeError(target.name, "interface runs another key or port than planned")
    return info
