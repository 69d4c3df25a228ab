"""WireGuard on a node: the interface, peer changes with coalesced saves, dump, probe, reconcile."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Interface, IPv6Interface
from typing import TypeVar

from nodes import output
from nodes.amnezia import ALL_FIELDS, AmneziaError, AmneziaParams
from nodes.amnezia import parse_lines as parse_amnezia_lines
from nodes.commands import (
    add_peer_command,
    dump_command,
    interface_command,
    interface_name,
    obfuscation_command,
    private_key_command,
    remove_peer_command,
    save_command,
)
from nodes.errors import NodeError
from nodes.firewall import GracePlan, reconcile_grace
from nodes.grace_layout import GraceSets
from nodes.keys import is_valid_key
from nodes.output import OutputError
from nodes.peers import PeerSpec, PeerState, parse_dump
from nodes.ping import PING_TIMEOUT, parse_ping, ping_command
from nodes.probe import Probe, probe
from nodes.reconcile import ReconcilePlan, apply_reconcile, plan_reconcile
from nodes.ssh import SshPool
from nodes.target import NodeTarget

log = logging.getLogger(__name__)

SAVE_TIMEOUT = 120.0  # the save rewrites the whole config from `wg showconf`
MAX_ADDRESSES = 64  # on the interface
Parsed = TypeVar("Parsed")


@dataclass(frozen=True, slots=True)
class InterfaceInfo:
    """A node's WireGuard interface as it runs."""

    public_key: str
    listen_port: int
    addresses: tuple[IPv4Interface | IPv6Interface, ...]


def _parsed(target: NodeTarget, parse: Callable[[str], Parsed], out: str) -> Parsed:
    """What `parse` reads in the node's output; a NodeError for that node when it refuses it
    (every parser raises only ValueError, whose message never quotes the output)."""
    try:
        return parse(out)
    except ValueError as error:
        raise NodeError(target.name, str(error)) from None


@dataclass(frozen=True, slots=True)
class NodeLoad:
    """1-minute load average and CPU count of a node."""

    load1: float
    cpus: int


class SaveBatcher:
    """Coalesces one node's config saves, in the background: a change asks for a save and goes
    on at once; the save that follows starts after the change, and changes that arrive while a
    save runs share the next one. At most one save runs and at most one waits; each is a task
    that lives only as long as the save itself. A failed save is logged: the change is live,
    the next change saves it again, and a node rebooted before that gets it back from the
    database by the reconcile that follows its reconnect."""

    def __init__(self, save: Callable[[NodeTarget], Awaitable[None]]) -> None:
        self._save = save
        self._target: NodeTarget | None = None  # the latest caller's: a re-pinned key wins
        self._running: asyncio.Task[None] | None = None
        self._next: asyncio.Task[None] | None = None
        self.saves = 0  # saves started, for tests and metrics
        self.failures = 0  # saves that failed, for tests and metrics
        self.unsaved = False  # the last save failed: the file may miss live changes

    def request(self, target: NodeTarget) -> None:
        """Ask for a save that starts after this call; returns at once."""
        self._target = target
        loop = asyncio.get_running_loop()
        if self._next is None or self._next.get_loop() is not loop:
            running = self._running
            if running is not None and running.get_loop() is not loop:
                running = None  # left over from a closed event loop
            self._next = asyncio.create_task(self._run(running))

    async def drain(self) -> None:
        """Wait until every save asked for so far has ended (a failure is logged, not raised)."""
        loop = asyncio.get_running_loop()
        for task in (self._next, self._running):
            if task is not None and task.get_loop() is loop and not task.done():
                await asyncio.wait([task])

    async def _run(self, previous: asyncio.Task[None] | None) -> None:
        if previous is not None and not previous.done():
            await asyncio.wait([previous])
        # From here on, changes queue behind this save instead of joining it.
        this = asyncio.current_task()
        self._next, self._running = None, this
        target = self._target
        assert target is not None
        try:
            self.saves += 1
            await self._save(target)
            self.unsaved = False
        except Exception as error:  # whatever it was, said once: the change itself is live
            self.failures += 1
            self.unsaved = True
            reason = error.reason if isinstance(error, NodeError) else type(error).__name__
            log.warning(
                "node %s: config save failed (%s); the peers are live and the next change "
                "or reconcile saves them",
                target.name,
                reason,
            )
        finally:
            if self._running is this:
                self._running = None


def parse_interface(out: str) -> InterfaceInfo:
    """`wg show IFACE public-key`, `listen-port`, then `ip -o addr show dev IFACE` lines."""
    lines = output.bounded_lines(out, most=2 + MAX_ADDRESSES, width=1024, what="interface")
    if len(lines) < 2:
        raise OutputError("interface has no private key set")
    public = lines[0].strip()
    if not is_valid_key(public):
        raise OutputError("interface has no private key set")
    listen_port = output.port(lines[1].strip(), "listen port")
    addresses: list[IPv4Interface | IPv6Interface] = []
    for line in lines[2:]:
        words = line.split()
        for i, word in enumerate(words[:-1]):
            if word in ("inet", "inet6") and "link" not in words[i + 2 : i + 4]:
                try:
                    addresses.append(ipaddress.ip_interface(words[i + 1]))
                except ValueError:
                    raise OutputError("interface address is not an address") from None
    return InterfaceInfo(public, listen_port, tuple(addresses))


def parse_private_key(out: str) -> str:
    """The one line of `wg show IFACE private-key`; the message never holds the key."""
    lines = output.bounded_lines(out, most=1, width=64, what="private key")
    if len(lines) != 1 or not is_valid_key(lines[0].strip()):
        raise OutputError("interface has no private key set")
    return lines[0].strip()


def parse_obfuscation(out: str) -> AmneziaParams:
    """AmneziaWG parameter lines (`Jc = 4`, …, `I1 = <r 2>…`) checked against its rules."""
    lines = output.bounded_lines(out, most=len(ALL_FIELDS), width=4096, what="AmneziaWG")
    try:
        return parse_amnezia_lines("\n".join(lines))
    except AmneziaError as error:
        raise OutputError(f"AmneziaWG parameters: {error}") from None


class WireGuard:
    """Drives `wg` and `wg-quick` on nodes through an SshPool."""

    def __init__(self, pool: SshPool) -> None:
        self._pool = pool
        self._batchers: dict[tuple[str, str], SaveBatcher] = {}

    def saves(self, target: NodeTarget) -> int:
        """How many config saves this object started on the node's interface."""
        batcher = self._batchers.get((target.name, target.interface))
        return 0 if batcher is None else batcher.saves

    def _persist(self, target: NodeTarget) -> None:
        """Ask for a save of the node's config with every change applied before this call
        (coalesced, in the background)."""
        key = (target.name, interface_name(target))
        batcher = self._batchers.get(key)
        if batcher is None:
            batcher = self._batchers[key] = SaveBatcher(self._save)
        batcher.request(target)

    async def saved(self, target: NodeTarget | None = None) -> None:
        """Wait until the saves asked for so far, on the node's interface or (None) on every
        node, have ended: at shutdown, and where a caller needs the file on disk."""
        if target is None:
            batchers = list(self._batchers.values())
        else:
            found = self._batchers.get((target.name, target.interface))
            batchers = [found] if found is not None else []
        for batcher in batchers:
            await batcher.drain()

    async def _save(self, target: NodeTarget) -> None:
        # even on a node marked down: a reconcile that restored it asks for this save
        await self._pool.run(target, save_command(target), timeout=SAVE_TIMEOUT, even_if_down=True)

    async def interface(self, target: NodeTarget) -> InterfaceInfo:
        """Public key, listen port and addresses of the node's interface."""
        out = await self._pool.run(target, interface_command(target), even_if_down=True)
        return _parsed(target, parse_interface, out)

    async def add_peer(self, target: NodeTarget, peer: PeerSpec) -> None:
        """Add or update a peer live; returns once it is live. The node's config is saved
        after, coalesced with its other changes (see SaveBatcher)."""
        await self._pool.run(
            target, add_peer_command(target, peer), stdin=peer.preshared_key + "\n"
        )
        log.info("node %s: peer %s added", target.name, peer.public_key)
        self._persist(target)

    async def remove_peer(self, target: NodeTarget, public_key: str) -> None:
        """Remove a peer live (an absent peer is not an error); saved after, as add_peer."""
        await self._pool.run(target, remove_peer_command(target, public_key))
        log.info("node %s: peer %s removed", target.name, public_key)
        self._persist(target)

    async def peers(self, target: NodeTarget, *, even_if_down: bool = False) -> list[PeerState]:
        """Every peer on the node's interface with its traffic and last handshake."""
        out = await self._pool.run(target, dump_command(target), even_if_down=even_if_down)
        return _parsed(target, parse_dump, out)

    async def private_key(self, target: NodeTarget) -> str:
        """The running interface's private key, to adopt a node (store it encrypted; never log)."""
        out = await self._pool.run(target, private_key_command(target), even_if_down=True)
        return _parsed(target, parse_private_key, out)

    async def obfuscation(self, target: NodeTarget) -> AmneziaParams | None:
        """The AmneziaWG parameters of the running interface (`awg showconf`, filtered on the
        node so the private key never leaves it); None on a plain WireGuard node."""
        if not target.amnezia:
            return None
        out = await self._pool.run(target, obfuscation_command(target), even_if_down=True)
        return _parsed(target, parse_obfuscation, out)

    async def probe(self, target: NodeTarget) -> Probe:
        """Load, memory, interface state and peers in one round trip (see nodes.probe)."""
        return await probe(self._pool, target)

    async def ping(self, target: NodeTarget, addresses: Sequence[str]) -> tuple[float | None, ...]:
        """The average round trip in milliseconds from the node to each address (None: no
        reply), all measured at once by one command (see nodes.ping)."""
        out = await self._pool.run(target, ping_command(addresses), timeout=PING_TIMEOUT)
        return _parsed(target, lambda text: parse_ping(text, len(addresses)), out)

    def set_down(self, name: str, reason: str | None) -> None:
        """Mark the node down (calls fail at once, except probes and reconciles) or, with None,
        up again (see SshPool.set_down)."""
        self._pool.set_down(name, reason)

    def forget(self, name: str) -> None:
        """Drop the node's connection and its down mark: the next call connects afresh (after
        its host key was accepted, or it was restored)."""
        self._pool.drop(name)
        self._pool.set_down(name, None)

    async def reconcile(
        self, target: NodeTarget, desired: Iterable[PeerSpec], keep: Collection[str] = ()
    ) -> ReconcilePlan:
        """Make the node's peers equal desired, leaving the peers whose key is in `keep` as
        they are; returns what was done, once it is live. The node's config is saved after,
        coalesced with its other changes, as for add_peer (`saved` waits for it): the database
        is the truth, and the reconcile after a reboot restores what that second lost. With
        nothing to change, a config file that a failed save left behind the running peers is
        saved again, before this returns."""
        actual = await self.peers(target, even_if_down=True)
        plan = plan_reconcile(desired, actual, keep)
        await apply_reconcile(self._pool, target, plan, save=False)
        if plan.changed:
            self._persist(target)
            return plan
        batcher = self._batchers.get((target.name, interface_name(target)))
        if batcher is not None and batcher.unsaved:
            batcher.request(target)
            await batcher.drain()
        return plan

    async def grace(self, target: NodeTarget, sets: GraceSets) -> GracePlan:
        """Make the node's grace firewall limit exactly `sets`, live and for the next boot
        (see nodes.firewall); returns what was done."""
        return await reconcile_grace(self._pool, target, sets)
