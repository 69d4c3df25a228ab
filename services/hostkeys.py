"""Nodes' SSH host keys: a changed key is refused and kept as offered, the admins are told once,
and an admin accepts exactly the key that was seen (pinned and audited)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Node
from nodes import WireGuard
from nodes.hostkeys import FINGERPRINT_PREFIX, canonical, describe, same_key, shown, token
from services.audit import AuditAction, record
from services.clock import Clock, system_clock
from services.errors import HostKeyMismatch, NodeNotFound, NoHostKeyOffer
from services.notifier import HostKeyButton, Notifier

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HostKeyOffer:
    """A node's pinned host key and the other one it presented, as fingerprints with types."""

    node: str
    node_id: int
    pinned: str
    offered: str
    token: str  # the offered key's SHA256 fingerprint without its prefix (for a button)

    @classmethod
    def of(cls, node: Node, offered: str) -> HostKeyOffer:
        return cls(node.name, node.id, describe(node.host_key), describe(offered), token(offered))


class HostKeyService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        wireguard: WireGuard,
        clock: Clock = system_clock,
        notifier: Notifier | None = None,
    ) -> None:
        self._sessions = sessions
        self._wireguard = wireguard
        self._clock = clock
        self.notifier = notifier

    async def offered(self, name: str, key: str) -> HostKeyOffer | None:
        """The node presented `key` instead of its pinned one: keep it as offered and tell the
        admins, once per key (a node that keeps offering it raises nothing more). None when
        the key is the pinned one or the node is gone."""
        key = canonical(key)
        async with self._sessions.begin() as session:
            node = await session.scalar(select(Node).where(Node.name == name).with_for_update())
            if node is None or same_key(node.host_key, key):
                return None
            offer = HostKeyOffer.of(node, key)
            if node.offered_host_key is not None and same_key(node.offered_host_key, key):
                return offer
            node.offered_host_key = key
        log.warning(
            "node %s: host key changed (%s → %s): refused", name, offer.pinned, offer.offered
        )
        if self.notifier is not None:
            await self.notifier.to_admins(
                "admin-host-key-changed",
                buttons=HostKeyButton(offer.node_id, offer.token),
                node=offer.node,
                pinned=offer.pinned,
                offered=offer.offered,
            )
        return offer

    async def offer(self, node: str | int) -> HostKeyOffer:
        """The key the node (a name or an id) presented instead of its pinned one."""
        async with self._sessions() as session:
            found = await _node(session, node)
        if found.offered_host_key is None:
            raise NoHostKeyOffer(node=found.name)
        return HostKeyOffer.of(found, found.offered_host_key)

    async def accept(self, actor_id: int, node: str | int, given: str) -> HostKeyOffer:
        """Pin the key the node offered, if `given` (its SHA256 fingerprint, with or without
        the prefix, or the key itself) names exactly that key; audited as the actor's. The
        node's connection is dropped, so the next call connects with the new key."""
        async with self._sessions() as session:
            found = await _node(session, node)
        if found.offered_host_key is None:
            raise NoHostKeyOffer(node=found.name)
        return await self.pin(actor_id, found.name, found.offered_host_key, given)

    async def pin(self, actor_id: int, name: str, seen: str, given: str) -> HostKeyOffer:
        """Pin `seen`, a key the node presented, if `given` names exactly that key (else
        HostKeyMismatch); audited as the actor's."""
        async with self._sessions.begin() as session:
            found = await _node(session, name, lock=True)
            offer = HostKeyOffer.of(found, seen)
            if not same_key(seen, _as_given(given)):
                expected = shown(_as_given(given))
                raise HostKeyMismatch(node=name, expected=expected, offered=offer.offered)
            found.host_key, found.offered_host_key = canonical(seen), None
            details = f"{offer.pinned} -> {offer.offered}"
            record(session, self._clock, actor_id, AuditAction.ACCEPT_HOST_KEY, name, details)
        self._wireguard.forget(name)
        log.info("node %s: new host key %s accepted", name, offer.offered)
        return offer


def _as_given(text: str) -> str:
    """A fingerprint may come without its SHA256: prefix (as a button carries it)."""
    text = text.strip()
    if " " in text or text.startswith(FINGERPRINT_PREFIX):
        return text
    return FINGERPRINT_PREFIX + text


async def _node(session: AsyncSession, node: str | int, *, lock: bool = False) -> Node:
    if isinstance(node, int) and not 0 < node < 2**31:  # a forged id too big for the column
        raise NodeNotFound(node=str(node))
    query = select(Node).where(Node.id == node if isinstance(node, int) else Node.name == node)
    found = await session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise NodeNotFound(node=str(node))
    return found
