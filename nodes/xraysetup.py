"""Install Xray on a node: upload scripts/xray-setup.sh and run it step by step over SSH."""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Awaitable, Callable
from pathlib import Path

from nodes.bootstrap import parse_step, step_reason, upload_command
from nodes.errors import NodeError
from nodes.ssh import SshPool
from nodes.target import NodeTarget

log = logging.getLogger(__name__)

XRAY_STEPS = ("check", "install", "service")
SCRIPT_SOURCE = Path(__file__).resolve().parent.parent / "scripts" / "xray-setup.sh"
DEFAULT_SCRIPT_PATH = "/usr/local/sbin/vpnservice-xray-setup"
RELEASES = "https://github.com/XTLS/Xray-core/releases/download"
STEP_TIMEOUT = 60.0
INSTALL_TIMEOUT = 600.0  # apt-get for unzip and curl, then a 30 MB download
_URL = re.compile(r"https?://[A-Za-z0-9._~:/%@+=-]{1,300}")
_FAILED = re.compile(r"^command failed \(exit \d+\): (?:xray-setup: )?")


def release_url(text: str) -> str:
    """A base URL releases are fetched from (GitHub's, or a mirror of its layout)."""
    if not _URL.fullmatch(text):
        raise ValueError("the release URL must be http(s)://HOST/PATH")
    return text.rstrip("/")


def step_command(target: NodeTarget, step: str, script_path: str, releases: str) -> str:
    """Shell command that runs one step of the script, as root (sudo -n for another login)."""
    if step not in XRAY_STEPS:
        raise ValueError("unknown xray setup step")
    sudo = "" if target.username == "root" else "sudo -n "
    url = shlex.quote(release_url(releases))
    return f"{sudo}env XRAY_RELEASE_URL={url} {shlex.quote(script_path)} {step}"


def _said(out: str) -> str:
    """What a step printed before its `ok STEP` line (e.g. `xray 26.10.10 installed`)."""
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    return lines[-2][:200] if len(lines) > 1 else ""


async def install_xray(
    pool: SshPool,
    target: NodeTarget,
    *,
    releases: str = RELEASES,
    progress: Callable[[str], Awaitable[None]] | None = None,
    script_path: str = DEFAULT_SCRIPT_PATH,
) -> str:
    """Make the node have Xray and its service (idempotent: an Xray already there is kept,
    nothing downloaded); returns what the install step said. A release whose SHA-256 differs
    from its .dgst stops it with nothing installed: NodeError naming the step; ValueError
    for a release URL that is not http(s)."""
    release_url(releases)  # a bad URL is refused before anything runs on the node
    said = ""
    for step in XRAY_STEPS:
        if progress is not None:
            await progress(f"xray {step}")
        try:
            if step == "check":
                upload = upload_command(target, script_path)
                await pool.run(target, upload, stdin=SCRIPT_SOURCE.read_text())
            command = step_command(target, step, script_path, releases)
            timeout = INSTALL_TIMEOUT if step == "install" else STEP_TIMEOUT
            out = await pool.run(target, command, timeout=timeout)
            try:
                parse_step(out, step)
            except ValueError as error:
                raise NodeError(target.name, str(error)) from None
        except NodeError as error:
            log.warning("node %s: xray setup step %s failed", target.name, step)
            failed = NodeError(target.name, _FAILED.sub("", error.reason))
            raise NodeError(
                target.name, f"xray setup, {step_reason(target, step, failed)}"
            ) from None
        if step == "install":
            said = _said(out)
            if progress is not None and said:
                await progress(said)
        log.info("node %s: xray setup step %s done", target.name, step)
    return said
