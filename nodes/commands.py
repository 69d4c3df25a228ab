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
WIREGUARD_DIR = "/etc/wireguard"
AMNEZIA_DIR = "/etc/amnezia/amneziawg"
# awk: the lines of the [Interface] section that only wg-quick reads (any case, as wg-quick)
WG_QUICK_LINES = (
    r"/^[ \t]*\[/ { inside = tolower($0) ~ /^[ \t]*\[interface\][ \t]*$/; next } "
    r"inside && tolower($0) ~ "
    r"/^[ \t]*(address|dns|mtu|table|preup|predown|postup|postdown|saveconfig)[ \t]*=/"
)
REMOVALS_PER_CALL = 500  # peers one `wg set ... remove` takes (argv stays far below its limit)


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


def config_dir(target: NodeTarget) -> str:
    """Where the node's wg-quick (or awg-quick) keeps its interface configs."""
    return AMNEZIA_DIR if target.amnezia else WIREGUARD_DIR


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


def locked(iface: str, script: str) -> str:
    """`script` run while holding the interface's config lock, one at a time on the node, in
    LOCK_DIR (see lock_dir_check)."""
    lock = shlex.quote(lock_file(iface))
    return lock_dir_check() + (
        f"{{ flock -w 20 9 || {{ echo 'the config lock stayed taken' >&2; exit 10; }}; "
        f"{script}; }} 9>{lock}"
    )


def save_command(target: NodeTarget) -> str:
    """The interface's config file rewritten from what runs, as `wg-quick save` does it: the
    file's own wg-quick lines of [Interface] (Address, DNS, MTU, Table, the hooks, SaveConfig)
    kept, everything else from `wg showconf`; but without wg-quick's line-by-line parse of the
    old file, which takes seconds at 10,000 peers. Written to a temporary file, synced and
    renamed, so a crash leaves the old file or the new one; the private key goes from `wg
    showconf` to the file, on the node, and nowhere else. One at a time (see `locked`)."""
    iface = interface_name(target)
    quoted = shlex.quote(iface)
    path = f"{config_dir(target)}/{iface}.conf"
    conf, tmp, live = (shlex.quote(path + suffix) for suffix in ("", ".tmp", ".live"))
    script = (
        f"umask 077; [ -f {conf} ] || {{ echo 'no {path} to save to' >&2; exit 8; }}; "
        f"{target.wg} showconf {quoted} > {live} && [ \"$(head -n 1 {live})\" = '[Interface]' ] "
        f"|| {{ rm -f {live}; echo 'cannot read the running config' >&2; exit 6; }}; "
        f"{{ echo '[Interface]' && awk {shlex.quote(WG_QUICK_LINES)} {conf} && sed 1d {live}; }} "
        f"> {tmp} && rm -f {live} && sync {tmp} && mv {tmp} {conf} || {{ rm -f {live}; exit 7; }}"
    )
    return locked(iface, script)


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
    target: NodeTarget, remove: Iterable[str], put: Iterable[PeerSpec], *, save: bool = True
) -> tuple[str, str]:
    """One script for any number of changes, then (`save`) a save: the removals in a few `wg set`
    calls, and every added or changed peer in one `wg addconf` (its AllowedIPs replace the
    peer's) whose [Peer] sections, preshared keys included, come on stdin; a peer without a
    preshared key gets its own `wg set ... preshared-key /dev/null`. Returns (script, stdin):
    no key but public ones is ever in an argv."""
    iface = interface_name(target)
    quoted, wg = shlex.quote(iface), target.wg
    lines = ["set -e"]
    keys = [quoted_key(key, "public key") for key in remove]
    for first in range(0, len(keys), REMOVALS_PER_CALL):
        peers = " ".join(f"peer {key} remove" for key in keys[first : first + REMOVALS_PER_CALL])
        lines.append(f"{wg} set {quoted} {peers} </dev/null")
    sections = []
    for peer in put:
        pub = quoted_key(peer.public_key, "public key")
        nets = networks(peer.allowed_ips)
        if peer.preshared_key:
            quoted_key(peer.preshared_key, "preshared key")
            sections.append(
                f"[Peer]\nPublicKey = {peer.public_key}\nPresharedKey = {peer.preshared_key}\n"
                f"AllowedIPs = {', '.join(nets)}\n"
            )
        else:
            ips = shlex.quote(",".join(nets))
            lines.append(
                f"{wg} set {quoted} peer {pub} preshared-key /dev/null allowed-ips {ips} </dev/null"
            )
    if sections:
        lines.append(f"{wg} addconf {quoted} /dev/stdin")
    if save:
        lines.append(save_command(target))
    return "\n".join(lines) + "\n", "\n".join(sections)
