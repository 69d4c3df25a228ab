"""Make a node's peers equal a desired set: a pure plan, then the changes alone (`wg set` for
the removals, `wg addconf` for the rest), never the whole set again; the config save may follow
apart (see WireGuard.reconcile)."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from nodes.commands import peer_changes_command
from nodes.peers import PeerSpec, PeerState
from nodes.ssh import SshPool
from nodes.target import NodeTarget

log = logging.getLogger(__name__)

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


def _same_networks(wanted: tuple[str, ...], present: tuple[str, ...]) -> bool:
    """The same networks, in any order or spelling; the same texts need no parsing."""
    return wanted == present or _net_set(wanted) == _net_set(present)


def plan_reconcile(
    desired: Iterable[PeerSpec], actual: Iterable[PeerState], keep: Collection[str] = ()
) -> ReconcilePlan:
    """What to change so the node's peers equal desired (pure; sorted by public key); a peer
    whose key is in `keep` (one that was there before the bot) is left as it is."""
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
        elif (peer.preshared_key or None) != state.preshared_key or not _same_networks(
            peer.allowed_ips, state.allowed_ips
        ):
            update.append(peer)
    remove = tuple(sorted(key for key in present if key not in wanted and key not in keep))
    return ReconcilePlan(tuple(add), remove, tuple(update))


async def apply_reconcile(
    pool: SshPool, target: NodeTarget, plan: ReconcilePlan, *, save: bool = True
) -> None:
    """Apply plan live (never restarting the interface, so sessions go on) and, with `save`,
    persist the node's config in the same round trip; its cost grows with the changes, not
    with the peers the node has (the save's does: WireGuard.reconcile saves after, coalesced)."""
    if not plan.changed:
        return
    put = (*plan.add, *plan.update)
    command, stdin = peer_changes_command(target, plan.remove, put, save=save)
    await pool.run(target, command, stdin=stdin, timeout=APPLY_TIMEOUT, even_if_down=True)
    log.info("node %s: reconciled (%s)", target.name, plan.summary())
