"""End to end: `python main.py node vless` installs Xray on a real node that has none, from a
release served on the node's loopback (a zip and .dgst built from the lab's Xray): a wrong
SHA-256 is refused and nothing changes, a second run downloads nothing. On a node whose own
Xray already serves a client made by hand, that client keeps working through `node vless`
and a reconcile, with its inbound untouched.

Each node gets a filesystem of its own where a real machine's differs from this one's: its
own /etc (users, systemd units), /usr/local and a small stand-in for systemctl (the lab has
no systemd), in a mount namespace its sshd and every SSH session live in."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.container import open_services
from bot.settings import load_settings
from nodes import SshPool
from nodes.reality import generate_private_key, generate_short_id, public_key
from services.targets import target_of
from services.vlesslinks import VlessLink
from tests.e2e import ADMIN, Operator
from tests.fakes.telegram_api import FakeTelegram
from tests.netlab import Lab, LabNode, require_root_lab, wait_port
from tests.nodes_support import with_access
from tests.xraylab import (
    SITE_NAME,
    SOCKS_PORT,
    OpenStream,
    XrayProcess,
    add_tls_site,
    client_config,
    socks_fetch,
    start_echo,
    tls_probe,
)

pytestmark = [pytest.mark.root, pytest.mark.timeout(400)]

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "xray-setup.sh"
VERSION = re.findall(r"XRAY_VERSION:-(v[0-9.]+)", SCRIPT.read_text())[0]
RELEASE_PORT = 8099
HAND_PORT = 8443  # the inbound the node's operator made before the bot
HAND_ID = "0badc0de-0000-4000-8000-00000000000a"
ECHO_PORT = 7003
USER = 7501

# The official binary's command line over the xray-core wheel (the lab's Xray).
XRAY = """#!/bin/sh
case "$1" in
version) echo "Xray @VERSION@ (Xray, Penetrates Everything.) lab build" ;;
run)
  shift; test=""; config=""
  while [ $# -gt 0 ]; do
    case "$1" in -test) test=1 ;; -config|-c) config=$2; shift ;; esac
    shift
  done
  if [ -n "$test" ]; then
    exec @PYTHON@ -c 'import json, sys; json.load(open(sys.argv[1]))' "$config"
  fi
  exec @PYTHON@ -c 'import sys, xray; xray.startFromJSON(open(sys.argv[1]).read())' "$config" ;;
*) echo "lab xray: $* is not supported" >&2; exit 1 ;;
esac
"""

# systemctl for a machine without systemd: the units in /etc/systemd/system, each started in
# the background from its ExecStart (as root: the lab's Xray lives under /root).
SYSTEMCTL = """#!/bin/sh
state=@STATE@
unit=${2%.service}
file=/etc/systemd/system/$unit.service
running() { [ -f "$state/$unit.pid" ] && kill -0 "$(cat "$state/$unit.pid")" 2>/dev/null; }
stop() {
  if running; then
    pid=$(cat "$state/$unit.pid"); kill "$pid"
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
      kill -0 "$pid" 2>/dev/null || break; sleep 0.2
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$state/$unit.pid"
}
start() {
  [ -f "$file" ] || { echo "Unit $unit.service not found." >&2; exit 5; }
  command=$(sed -n 's/^ExecStart=//p' "$file")
  # shellcheck disable=SC2086
  setsid $command </dev/null >>"$state/$unit.log" 2>&1 &
  echo $! > "$state/$unit.pid"
}
case "$1" in
daemon-reload) ;;
enable) [ -f "$file" ] || exit 1; touch "$state/$unit.enabled" ;;
cat) [ -f "$file" ] || { echo "No files found for $2." >&2; exit 1; }; cat "$file" ;;
start) running || start ;;
stop) stop ;;
restart) stop; start ;;
is-active) if running; then echo active; else echo inactive; exit 3; fi ;;
*) echo "lab systemctl: $* is not supported" >&2; exit 1 ;;
esac
"""

# Run in the node's namespace before sshd: its own copy of /etc (with the node's entries that
# `ip netns exec` mounted), its own /usr/local and the systemctl above.
MOUNTS = """set -e
root=$1; shift
if [ ! -d "$root/etc" ]; then
  mkdir "$root/etc"
  for entry in /etc/* /etc/.[!.]*; do
    if [ "$entry" != /etc/netns ] && { [ -e "$entry" ] || [ -L "$entry" ]; }; then
      cp -a "$entry" "$root/etc/"
    fi
  done
fi
for sub in wireguard sysctl.d vpnservice; do
  mkdir -p "$root/etc/$sub"; mount --bind "/etc/$sub" "$root/etc/$sub"
done
mount --rbind "$root/etc" /etc
mount --bind "$root/usr-local" /usr/local
mount --bind "$root/systemctl" /usr/bin/systemctl
exec "$@"
"""


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    require_root_lab()
    with Lab() as lab:
        yield lab


@pytest.fixture(scope="module")
def site(lab: Lab) -> tuple[str, str]:
    return add_tls_site(lab)


def own_machine(node: LabNode) -> Path:
    """Give the node its own /etc, /usr/local and systemctl (see the module); returns the
    folder that holds them, as seen from here (usr-local/, etc/, systemd/)."""
    root = node.dir / "machine"
    for sub in ("bin", "sbin", "etc", "share"):
        (root / "usr-local" / sub).mkdir(parents=True)
    (root / "systemd").mkdir()
    systemctl = root / "systemctl"
    systemctl.write_text(SYSTEMCTL.replace("@STATE@", str(root / "systemd")))
    systemctl.chmod(0o755)
    node.stop_sshd()
    node.sshd_prefix = ("unshare", "-m", "--propagation", "private", "sh", "-c", MOUNTS, "mounts",
                        str(root))  # fmt: skip
    node.start_sshd()
    return root


def on_machine(node: LabNode, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run a command as an SSH session on the node would: in its sshd's namespaces."""
    assert node._sshd is not None
    pid = str(node._sshd.pid)
    return subprocess.run(
        ["nsenter", "-t", pid, "-m", "-n", *argv], capture_output=True, text=True, timeout=30
    )


def lab_xray() -> str:
    return XRAY.replace("@VERSION@", VERSION.removeprefix("v")).replace("@PYTHON@", sys.executable)


def publish_release(folder: Path, *, digest: str | None = None) -> None:
    """FOLDER/TAG/Xray-linux-64.zip and its .dgst, shaped like a GitHub release."""
    (folder / VERSION).mkdir(parents=True)
    archive = folder / VERSION / "Xray-linux-64.zip"
    with zipfile.ZipFile(archive, "w") as out:
        info = zipfile.ZipInfo("xray")
        info.external_attr = 0o755 << 16
        out.writestr(info, lab_xray())
        out.writestr("geoip.dat", b"")
        out.writestr("geosite.dat", b"")
    data = archive.read_bytes()
    Path(f"{archive}.dgst").write_text(
        f"MD5= {hashlib.md5(data).hexdigest()}\n"
        f"SHA1= {hashlib.sha1(data).hexdigest()}\n"
        f"SHA2-256= {digest or hashlib.sha256(data).hexdigest()}\n"
        f"SHA2-512= {hashlib.sha512(data).hexdigest()}\n"
    )


def serve_releases(node: LabNode, folder: Path) -> Path:
    """An HTTP server on the node's loopback serving folder; returns its request log."""
    log = node.dir / "releases.log"
    with log.open("ab") as out:
        subprocess.Popen(
            ["ip", "netns", "exec", node.ns, sys.executable, "-m", "http.server",
             str(RELEASE_PORT), "--bind", "127.0.0.1", "--directory", str(folder)],
            stdout=out, stderr=out,
        )  # fmt: skip
    wait_port(node.ns, "127.0.0.1", RELEASE_PORT)
    return log


def xray_port_of(data_dir: Path, name: str) -> int | None:
    with contextlib.closing(sqlite3.connect(data_dir / "vpnservice.db", timeout=5)) as db:
        row = db.execute("SELECT xray_port FROM nodes WHERE name = ?", (name,)).fetchone()
    return None if row is None else row[0]


async def test_node_vless_installs_xray_from_a_release_whose_digest_is_checked(
    lab: Lab, site: tuple[str, str], telegram: FakeTelegram, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    operator = Operator(data_dir, telegram.base_url, telegram.token)
    key = SshPool.ensure_client_key(data_dir / "ssh_ed25519")
    node = lab.add_node("i1", wg_subnet="10.75.0.1/24", listen_port=51875, authorized_key=key)
    machine = own_machine(node)
    releases = tmp_path / "releases"
    publish_release(releases)
    publish_release(releases / "tampered", digest="0" * 64)
    requests = serve_releases(node, releases)
    added = await asyncio.to_thread(
        operator.cli, "node", "add", "i1", f"ssh://root@{node.ip}", "--interface", node.interface
    )
    assert added.returncode == 0, added.stderr
    vless = ("node", "vless", "i1", "--target", f"{site[0]}:443", "--sni", SITE_NAME)
    url = f"http://127.0.0.1:{RELEASE_PORT}"

    mistyped = await asyncio.to_thread(
        operator.cli, "node", "vless", "i1", "--target", f"{site[0]}:443", "--sni", "example .com"
    )
    assert mistyped.returncode == 1
    assert "error: the server name must be a DNS name" in mistyped.stderr
    assert not (machine / "usr-local" / "sbin" / "vpnservice-xray-setup").exists(), "untouched"

    refused = await asyncio.to_thread(operator.cli, *vless, "--xray-release", f"{url}/tampered")
    assert refused.returncode == 1
    assert (
        "node i1: xray setup, step install: SHA-256 of Xray-linux-64.zip does not match; "
        "VLESS not turned on"
    ) in refused.stderr
    assert not (machine / "usr-local" / "bin" / "xray").exists()
    assert not (machine / "etc" / "systemd" / "system" / "xray.service").exists()
    assert not (machine / "usr-local" / "etc" / "xray").exists()
    assert xray_port_of(data_dir, "i1") is None

    done = await asyncio.to_thread(operator.cli, *vless, "--xray-release", url)
    assert done.returncode == 0, done.stderr
    steps = [line for line in done.stdout.splitlines() if line.startswith("…")]
    assert steps == [
        "… xray check", "… xray install", f"… xray {VERSION[1:]} installed", "… xray service"
    ]  # fmt: skip
    assert "node i1: VLESS with Reality on port 443" in done.stdout
    assert "kept" not in done.stdout
    binary = machine / "usr-local" / "bin" / "xray"
    assert on_machine(node, "xray", "version").stdout.startswith(f"Xray {VERSION[1:]} ")
    unit = (machine / "etc" / "systemd" / "system" / "xray.service").read_text()
    assert "ExecStart=/usr/local/bin/xray run -config /usr/local/etc/xray/config.json" in unit
    assert "xray:" in (machine / "etc" / "group").read_text()
    config = machine / "usr-local" / "etc" / "xray" / "config.json"
    assert config.stat().st_mode & 0o777 == 0o640
    assert xray_port_of(data_dir, "i1") == 443
    deadline = time.monotonic() + 20
    while on_machine(node, "systemctl", "is-active", "xray").returncode:
        assert time.monotonic() < deadline, "the xray service did not start"
        await asyncio.sleep(0.2)
    wait_port(node.ns, node.ip, 443)
    await asyncio.sleep(1.5)  # a fresh Reality listener first probes its target
    # the installed Xray serves Reality: a prober sees the handshake target's certificate
    assert tls_probe(lab, node.ip, 443, SITE_NAME) == site[1]

    fetched = requests.read_text().count('"GET ')
    installed = binary.stat().st_ino
    again = await asyncio.to_thread(operator.cli, *vless, "--xray-release", url)
    assert again.returncode == 0, again.stderr
    assert f"… xray {VERSION[1:]} already installed: kept\n" in again.stdout
    assert requests.read_text().count('"GET ') == fetched == 4  # nothing downloaded again
    assert binary.stat().st_ino == installed


def hand_made_config(site: str, private_key: str, short_id: str, allow: str) -> str:
    """What an operator wrote before the bot: one VLESS + Reality inbound, one client."""
    rules = [{"action": "allow", "ip": [allow]}]
    return json.dumps(
        {
            "log": {"loglevel": "warning"},
            "inbounds": [
                {
                    "tag": "friends",
                    "port": HAND_PORT,
                    "protocol": "vless",
                    "settings": {
                        "clients": [
                            {"id": HAND_ID, "email": "friend@home", "flow": "xtls-rprx-vision"}
                        ],
                        "decryption": "none",
                    },
                    "streamSettings": {
                        "network": "raw",
                        "security": "reality",
                        "realitySettings": {
                            "target": f"{site}:443",
                            "serverNames": [SITE_NAME],
                            "privateKey": private_key,
                            "shortIds": [short_id],
                        },
                    },
                }
            ],
            "outbounds": [{"protocol": "freedom", "tag": "out", "settings": {"finalRules": rules}}],
        },
        indent=2,
    )


async def test_a_client_of_the_nodes_own_xray_keeps_working_through_node_vless_and_reconcile(
    lab: Lab, site: tuple[str, str], telegram: FakeTelegram, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    operator = Operator(data_dir, telegram.base_url, telegram.token)
    key = SshPool.ensure_client_key(data_dir / "ssh_ed25519")
    node = lab.add_node("a1", wg_subnet="10.75.1.1/24", listen_port=51876, authorized_key=key)
    machine = own_machine(node)
    # Xray installed by hand (the official script's paths and unit), serving one client
    binary = machine / "usr-local" / "bin" / "xray"
    binary.write_text(lab_xray())
    binary.chmod(0o755)
    private, short_id = generate_private_key(), generate_short_id()
    config = machine / "usr-local" / "etc" / "xray" / "config.json"
    config.parent.mkdir()
    config.write_text(hand_made_config(site[0], private, short_id, f"{lab.target_ip}/32"))
    config.chmod(0o644)
    units = machine / "etc" / "systemd" / "system"
    units.mkdir(parents=True, exist_ok=True)
    (units / "xray.service").write_text(
        "[Service]\nUser=nobody\n"
        "ExecStart=/usr/local/bin/xray run -config /usr/local/etc/xray/config.json\n"
    )
    assert on_machine(node, "systemctl", "start", "xray").returncode == 0
    wait_port(node.ns, node.ip, HAND_PORT)
    await asyncio.sleep(1.5)
    link = str(
        VlessLink(HAND_ID, node.ip, HAND_PORT, SITE_NAME, public_key(private), short_id, "hand")
    )
    client = XrayProcess(lab.client.ns, lab.dir / "hand.json", lab.dir / "hand.log")
    client.config.write_text(client_config(link))
    client.start(SOCKS_PORT)

    async def through_hand_made() -> str | None:
        """A new connection through the hand-made client (a restarted Xray takes a moment)."""
        deadline = time.monotonic() + 15
        while True:
            seen = await asyncio.to_thread(socks_fetch, lab, lab.target_ip, lab.target_port)
            if seen is not None or time.monotonic() > deadline:
                return seen
            await asyncio.sleep(0.5)

    echo = start_echo(lab, ECHO_PORT)
    held = XrayProcess(lab.client.ns, lab.dir / "held.json", lab.dir / "held.log")
    services = None
    try:
        assert await through_hand_made() == node.ip, "the client works before the bot"
        added = await asyncio.to_thread(
            operator.cli, "node", "add", "a1", f"ssh://root@{node.ip}",
            "--interface", node.interface,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        vless = ("node", "vless", "a1", "--target", f"{site[0]}:443", "--sni", SITE_NAME)
        hand = json.loads(hand_made_config(site[0], private, short_id, f"{lab.target_ip}/32"))
        clashing = await asyncio.to_thread(operator.cli, *vless, "--port", str(HAND_PORT))
        assert clashing.returncode == 1
        assert (
            f"error: port {HAND_PORT} is taken by the node's own Xray inbound 'friends'"
        ) in clashing.stderr
        assert xray_port_of(data_dir, "a1") is None
        assert json.loads(config.read_text()) == hand, "nothing written"

        # the release URL is GitHub's, out of reach here: nothing may be downloaded
        done = await asyncio.to_thread(operator.cli, *vless)
        assert done.returncode == 0, done.stderr
        assert f"… xray {VERSION[1:]} already installed: kept\n" in done.stdout
        assert (
            "kept the node's own Xray config: 1 inbounds with 1 clients, served as before"
        ) in done.stdout
        assert await through_hand_made() == node.ip, "and after node vless"
        wait_port(node.ns, node.ip, 443)
        assert tls_probe(lab, node.ip, 443, SITE_NAME) == site[1]
        written = json.loads(config.read_text())
        assert written["inbounds"][0] == hand["inbounds"][0]
        assert written["outbounds"][0] == hand["outbounds"][0]
        assert config.stat().st_mode & 0o777 == 0o644  # the node's service reads it as before
        unit = (units / "xray.service").read_text()
        assert unit.startswith("[Service]\nUser=nobody\n"), "the node's own unit is kept"

        # the bot's scheduled reconcile, with a user of the bot's and a connection held open
        # through the hand-made client: it runs on, the node's inbound stays as it was
        settings = load_settings(
            _env_file=None, bot_token=telegram.token, telegram_api_url=telegram.base_url,
            data_dir=data_dir, admin_ids=str(ADMIN),
        )  # fmt: skip
        services = await open_services(settings)
        await with_access(services, [USER])
        access = await services.vless.add(USER)
        held.config.write_text(client_config(link, SOCKS_PORT + 1))
        held.start(SOCKS_PORT + 1)
        stream = OpenStream(lab, SOCKS_PORT + 1, lab.target_ip, ECHO_PORT)
        assert stream.echoes()
        node_row = await services.fleet.named("a1")
        assert node_row is not None
        result = await services.reconcile.reconcile(node_row)
        assert result.error is None and result.vless_error is None, result
        assert stream.echoes(), "the open connection of the node's client was not cut"
        served = await services.vless.xray.users(target_of(node_row))
        assert [user.email for user in served] == [access.device.email]
        assert json.loads(config.read_text())["inbounds"][0] == hand["inbounds"][0]
        assert await through_hand_made() == node.ip, "and after the reconcile"
        stream.close()
    finally:
        if services is not None:
            await services.close()
        held.stop()
        client.stop()
        echo.terminate()
