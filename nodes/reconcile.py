"""Make a node's peers equal a desired set: a pure plan, then `wg set` or `wg syncconf`."""

from __future__ import annotations

import ipaddress
import logging
import shlex
from collections.abc import Iterable
from dataclasses import dataclass

from nodes.dump import PeerState
from nodes.ssh import SshPool
from nodes.target import NodeTarget
from nodes.wireguard import PeerSpec, _allowed_ips, _iface, _key, _networks, _persist

log = logging.getLogger(__name__)

SMALL_PLAN = 20  # up to this many changes: one `wg set` per peer; above: one `wg syncconf`
APPLY_TIMEOUT = 120.0


@dataclass(frozen=True)
class ReconcilePlan:
    """Peers to add, public keys to remove, peers whose allowed IPs or preshared key changed."""

    add: tuple[PeerSpec, ...] = ()
    remove: tuple[str, ...] = ()
    update: tuple[PeerSpec, ...] = ()

    @property
    def changed(self) -> bool:
        """True when applying the plan would change anything."""
        return bool(self.add or self.remove or self.update)

    @property
    def size(self) -> int:
        """Number of peer changes."""
        return len(self.add) + len(self.remove) + len(self.update)

    def summary(self) -> str:
        """Counts only, safe to log: 'add 2, remove 1, update 0'."""
        return f"add {len(self.add)}, remove {len(self.remove)}, update {len(self.update)}"


def _net_set(values: Iterable[str]) -> frozenset[str]:
    try:
        return frozenset(str(ipaddress.ip_network(v.strip(), strict=False)) for v in values)
    except ValueError:
        raise ValueError("invalid allowed IPs") from None


def plan_reconcile(desired: Iterable[PeerSpec], actual: Iterable[PeerState]) -> ReconcilePlan:
    """What to change so the node's peers equal desired (pure; sorted by public key)."""
    wanted: dict[str, PeerSpec] = {}
    for peer in desired:
        if peer.public_key in wanted:
            raise ValueError("a public key appears twice in the desired peers")
        wanted[peer.public_key] = peer
    present = {peer.public_key: peer for peer in actual}
    add, update = [], []
    for key in sorted(wanted):
        peer = wanted[key]
        state = present.get(key)
        if state is None:
            add.append(peer)
        elif _net_set(peer.allowed_ips) != _net_set(state.allowed_ips) or (
            (peer.preshared_key or None) != state.preshared_key
        ):
            update.append(peer)
    remove = tuple(sorted(key for key in present if key not in wanted))
    return ReconcilePlan(tuple(add), remove, tuple(update))


def _small_command(iface: str, plan: ReconcilePlan, wg: str = "wg") -> tuple[str, str]:
    """`wg set` per peer in one shell script; preshared keys are read line by line from stdin."""
    quoted = shlex.quote(iface)
    lines = ["set -e"]
    for key in plan.remove:
        lines.append(f"{wg} set {quoted} peer {_key(key, 'public key')} remove </dev/null")
    psks = []
    for peer in (*plan.add, *plan.update):
        pub = _key(peer.public_key, "public key")
        ips = _allowed_ips(peer.allowed_ips)
        if peer.preshared_key:
            _key(peer.preshared_key, "preshared key")
            psks.append(peer.preshared_key)
            # read and printf are shell builtins: the key never appears in any argv
            lines.append(
                f"IFS= read -r k; [ ${{#k}} -eq 44 ] || exit 5; printf '%s\\n' \"$k\" | "
                f"{wg} set {quoted} peer {pub} preshared-key /dev/stdin allowed-ips {ips}"
            )
        else:
            lines.append(
                f"{wg} set {quoted} peer {pub} preshared-key /dev/null allowed-ips {ips} </dev/null"
            )
    lines.append(_persist(iface, f"{wg}-quick"))
    return "\n".join(lines) + "\n", "".join(k + "\n" for k in psks)


def _sync_command(iface: str, desired: tuple[PeerSpec, ...], wg: str = "wg") -> tuple[str, str]:
    """`wg syncconf` of every desired peer; stdin carries the [Peer] sections.

    syncconf resets whatever the file leaves out of [Interface] (private key, port, fwmark),
    so the node's own [Interface] section is read back with `wg showconf` and put in front,
    on the node: the private key never travels. If it cannot be read, nothing is applied.
    """
    sections = []
    for peer in desired:
        pub = peer.public_key
        _key(pub, "public key")
        nets = _networks(peer.allowed_ips)
        text = f"\n[Peer]\nPublicKey = {pub}\n"
        if peer.preshared_key:
            _key(peer.preshared_key, "preshared key")
            text += f"PresharedKey = {peer.preshared_key}\n"
        if nets:
            text += f"AllowedIPs = {', '.join(nets)}\n"
        sections.append(text)
    quoted = shlex.quote(iface)
    command = (
        f"conf=$({wg} showconf {quoted})\n"
        "head=${conf%%\\[Peer\\]*}\n"  # the [Interface] section: up to the first [Peer]
        "case $head in *'PrivateKey = '*) ;; "
        "*) echo 'interface has no private key: not syncing' >&2; exit 1 ;; esac\n"
        # printf is a builtin: the private key stays inside this shell and the pipe
        f"{{ printf '%s\\n' \"$head\"; cat; }} | {wg} syncconf {quoted} /dev/stdin\n"
        f"{_persist(iface, f'{wg}-quick')}\n"
    )
    return "set -e\n" + command, "".join(sections)


async def apply_reconcile(
    pool: SshPool, target: NodeTarget, plan: ReconcilePlan, desired: Iterable[PeerSpec]
) -> None:
    """Apply plan live (never restarting the interface) and persist the node's config."""
    if not plan.changed:
        return
    iface = _iface(target)
    if plan.size <= SMALL_PLAN:
        command, stdin = _small_command(iface, plan, target.wg)
    else:
        command, stdin = _sync_command(iface, tuple(desired), target.wg)
    await pool.run(target, command, stdin=stdin, timeout=APPLY_TIMEOUT)
    log.info("node %s: reconciled (%s)", target.name, plan.summary())
