"""Every shell command the bot runs on a node, built from checked and quoted values.

Secrets never appear here: preshared keys reach the node on stdin and are read with shell
builtins, so they never show on a command line; private keys never leave the node."""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Iterable

from nodes.keys import is_valid_key
from nodes.peers import PeerSpec
from nodes.target import NodeTarget

INTERFACE_NAME = re.compile(r"^[a-zA-Z0-9_=+.-]{1,15}$")
PROBE_MARK = "--vpnservice-wg--"
PROBE_DOWN = "--vpnservice-down--"
AMNEZIA_KEYS = "Jc|Jmin|Jmax|S[1-4]|H[1-4]|I[1-5]"
LOCK_DIR = "/run/vpnservice"  # root's own, 0700: scripts/node-setup.sh makes it the same way


def interface_name(target: NodeTarget) -> str:
    """The target's interface name, refused unless it is a plain Linux interface name."""
    if not INTERFACE_NAME.fullmatch(target.interface):
        raise ValueError(f"invalid interface name for node {target.name}")
    return target.interface


def quoted_key(text: str, what: str) -> str:
    """A WireGuard key checked for shape and quoted for the shell."""
    if not is_valid_key(text):
        raise ValueError(f"invalid {what}")
    return shlex.quote(text)


def networks(values: Iterable[str]) -> list[str]:
    """Allowed IPs as canonical networks; ValueError for anything that is not one."""
    try:
        return [str(ipaddress.ip_network(value, strict=True)) for value in values]
    except ValueError:
        raise ValueError("invalid allowed IPs") from None


def allowed_ips_argument(values: Iterable[str]) -> str:
    return shlex.quote(",".join(networks(values)))


def lock_file(iface: str) -> str:
    """The lock a node's config is written under, in LOCK_DIR."""
    return f"{LOCK_DIR}/wg-{iface}.lock"


def lock_dir_check() -> str:
    """A prefix that makes LOCK_DIR if missing and exits 9 unless it is a 0700 directory of the
    login user: locks live where only root may enter (not world-writable /run/lock, where any
    local user could take a lock first and stall the bot)."""
    return (
        f"{{ [ -d {LOCK_DIR} ] || mkdir -m 700 {LOCK_DIR} 2>/dev/null || [ -d {LOCK_DIR} ]; }} "
        f"&& [ ! -L {LOCK_DIR} ] && [ -O {LOCK_DIR} ] "
        f'&& case "$(stat -c %a {LOCK_DIR})" in 700) ;; *) false ;; esac '
        f"|| {{ echo 'unsafe or missing {LOCK_DIR}: it must be a 0700 directory of the "
        f"login user (root)' >&2; exit 9; }}; "
    )


def save_command(iface: str, wg_quick: str = "wg-quick") -> str:
    """`wg-quick save`, one at a time on the node.

    wg-quick save writes IFACE.conf.tmp and renames it; the temporary name is fixed, so saves
    on one node must not overlap: flock serialises them on the node, in LOCK_DIR."""
    lock = shlex.quote(lock_file(iface))
    return lock_dir_check() + f"flock -w 20 {lock} {wg_quick} save {shlex.quote(iface)}"


def interface_check(iface: str, wg: str) -> str:
    """A prefix that fails with a clear reason when the tool or the interface is missing."""
    quoted = shlex.quote(iface)
    return (
        f"command -v {wg} >/dev/null 2>&1 || {{ echo '{wg} not installed' >&2; exit 3; }}; "
        f"ip -o link show dev {quoted} 2>/dev/null | grep -q '[<,]UP[,>]' "
        f"|| {{ echo 'interface {iface} is missing or down' >&2; exit 4; }}; "
    )


def add_peer_command(target: NodeTarget, peer: PeerSpec) -> str:
    """`wg set` that adds or updates a peer; its preshared key is read from stdin.

    `wg` takes an empty key file as "no preshared key" and exits 0, so the key is read and
    checked first: a stdin that did not arrive whole fails instead of adding a peer without
    its key. printf is a shell builtin, so the key never shows on a command line."""
    iface = shlex.quote(interface_name(target))
    pub = quoted_key(peer.public_key, "public key")
    quoted_key(peer.preshared_key, "preshared key")
    ips = allowed_ips_argument(peer.allowed_ips)
    return (
        f"read -r psk && [ ${{#psk}} -eq {len(peer.preshared_key)} ] "
        "|| { echo 'preshared key missing on stdin' >&2; exit 5; }; "
        f"printf '%s\\n' \"$psk\" | {target.wg} set {iface} peer {pub} preshared-key /dev/stdin "
        f"allowed-ips {ips}"
    )


def remove_peer_command(target: NodeTarget, public_key: str) -> str:
    """`wg set` that removes a peer (no error when it is absent)."""
    pub = quoted_key(public_key, "public key")
    return f"{target.wg} set {shlex.quote(interface_name(target))} peer {pub} remove"


def interface_command(target: NodeTarget) -> str:
    """Public key, listen port and addresses of the running interface, one per line."""
    iface = interface_name(target)
    quoted, wg = shlex.quote(iface), target.wg
    return interface_check(iface, wg) + (
        f"{wg} show {quoted} public-key && {wg} show {quoted} listen-port "
        f"&& ip -o addr show dev {quoted}"
    )


def private_key_command(target: NodeTarget) -> str:
    """The running interface's private key (to adopt a node; never logged)."""
    iface = interface_name(target)
    return interface_check(iface, target.wg) + f"{target.wg} show {shlex.quote(iface)} private-key"


def obfuscation_command(target: NodeTarget) -> str:
    """The AmneziaWG parameter lines of the running interface, filtered on the node so the
    private key never leaves it."""
    iface = interface_name(target)
    quoted = shlex.quote(iface)
    return interface_check(iface, target.wg) + (
        f"conf=$(awg showconf {quoted}) || exit 6; printf '%s\\n' \"$conf\" "
        f"| sed '/^\\[Peer\\]/,$d' | grep -E '^({AMNEZIA_KEYS}) = ' || true"
    )


def dump_command(target: NodeTarget) -> str:
    return f"{target.wg} show {shlex.quote(interface_name(target))} dump"


def probe_command(target: NodeTarget) -> str:
    """Load, CPUs, memory, then a marker and the dump when the interface is up."""
    quoted, wg = shlex.quote(interface_name(target)), target.wg
    return (
        "cat /proc/loadavg && nproc && grep -E '^(MemTotal|MemAvailable):' /proc/meminfo && "
        f"if ip -o link show dev {quoted} 2>/dev/null | grep -q '[<,]UP[,>]'; "
        f"then echo {PROBE_MARK} && {wg} show {quoted} dump; else echo {PROBE_DOWN}; fi"
    )


def peer_changes_command(
    target: NodeTarget,
    remove: Iterable[str],
    put: Iterable[PeerSpec],
) -> tuple[str, str]:
    """`wg set` per peer in one script, then a save; returns (script, stdin with the
    preshared keys, one per line, read by shell builtins so no key is ever in an argv)."""
    iface = interface_name(target)
    quoted, wg = shlex.quote(iface), target.wg
    lines = ["set -e"]
    for key in remove:
        lines.append(f"{wg} set {quoted} peer {quoted_key(key, 'public key')} remove </dev/null")
    keys = []
    for peer in put:
        pub = quoted_key(peer.public_key, "public key")
        ips = allowed_ips_argument(peer.allowed_ips)
        if peer.preshared_key:
            quoted_key(peer.preshared_key, "preshared key")
            keys.append(peer.preshared_key)
            lines.append(
                f"IFS= read -r k; [ ${{#k}} -eq 44 ] || exit 5; printf '%s\\n' \"$k\" | "
                f"{wg} set {quoted} peer {pub} preshared-key /dev/stdin allowed-ips {ips}"
            )
        else:
            lines.append(
                f"{wg} set {quoted} peer {pub} preshared-key /dev/null allowed-ips {ips} </dev/null"
            )
    lines.append(save_command(iface, target.wg_quick))
    return "\n".join(lines) + "\n", "".join(key + "\n" for key in keys)


def sync_command(target: NodeTarget, desired: Iterable[PeerSpec]) -> tuple[str, str]:
    """`wg syncconf` of every desired peer, then a save; stdin carries the [Peer] sections.

    syncconf resets whatever the file leaves out of [Interface] (private key, port, fwmark),
    so the node's own [Interface] section is read back with `wg showconf` and put in front,
    on the node: the private key never travels. If it cannot be read, nothing is applied."""
    sections = []
    for peer in desired:
        quoted_key(peer.public_key, "public key")
        text = f"\n[Peer]\nPublicKey = {peer.public_key}\n"
        if peer.preshared_key:
            quoted_key(peer.preshared_key, "preshared key")
            text += f"PresharedKey = {peer.preshared_key}\n"
        nets = networks(peer.allowed_ips)
        if nets:
            text += f"AllowedIPs = {', '.join(nets)}\n"
        sections.append(text)
    iface = interface_name(target)
    quoted, wg = shlex.quote(iface), target.wg
    command = (
        f"conf=$({wg} showconf {quoted})\n"
        "head=${conf%%\\[Peer\\]*}\n"  # the [Interface] section: up to the first [Peer]
        "case $head in *'PrivateKey = '*) ;; "
        "*) echo 'interface has no private key: not syncing' >&2; exit 1 ;; esac\n"
        # printf is a builtin: the private key stays inside this shell and the pipe
        f"{{ printf '%s\\n' \"$head\"; cat; }} | {wg} syncconf {quoted} /dev/stdin\n"
        f"{save_command(iface, target.wg_quick)}\n"
    )
    return "set -e\n" + command, "".join(sections)
