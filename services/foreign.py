"""Foreign peers: those a node had when it was adopted, kept until an admin removes them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import ForeignPeer, Node
from services.audit import AuditAction, record
from services.clock import Clock, system_clock
from services.errors import InvalidInput, NodeNotFound, NodeUnavailable
from services.reconcile import ReconcileService

LISTED = 20  # peers shown with a button each; "remove all" covers the rest


@dataclass(frozen=True, slots=True)
class ForeignList:
    """A node, the first of its foreign peers (oldest first) and how many it has."""

    node: Node
    peers: Sequence[ForeignPeer]
    total: int


class ForeignPeerService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        reconcile: ReconcileService,
        clock: Clock = system_clock,
    ) -> None:
        self._sessions = sessions
        self._reconcile = reconcile
        self._clock = clock

    async def listing(self, name: str) -> ForeignList:
        """The node called `name` and its foreign peers; NodeNotFound for another name."""
        async with self._sessions() as session:
            node = await session.scalar(select(Node).where(Node.name == name))
            if node is None:
                raise NodeNotFound(node=name)
            peers = (await session.scalars(self._query(node.id))).all()
        return ForeignList(node, peers[:LISTED], len(peers))

    async def chosen(self, node_id: int, peer_id: int) -> ForeignList:
        """One foreign peer of the node (peer_id 0: all of them); InvalidInput when the node
        has no such peer (a stale or forged button)."""
        node, peers = await self._chosen(node_id, peer_id)
        return ForeignList(node, peers[:LISTED], len(peers))

    async def remove(self, actor_id: int, node_id: int, peer_id: int) -> ForeignList:
        """Take one foreign peer (peer_id 0: all) off the node, then forget it; audited as the
        actor's. NodeUnavailable when the node did not take the change (nothing forgotten)."""
        node, peers = await self._chosen(node_id, peer_id)
        keys = {peer.public_key for peer in peers}
        result = await self._reconcile.reconcile(node, report=False, release=keys)
        if result.error is not None:
            raise NodeUnavailable(node=node.name)
        async with self._sessions.begin() as session:
            ids = [peer.id for peer in peers]
            await session.execute(delete(ForeignPeer).where(ForeignPeer.id.in_(ids)))
            details = f"removed={len(peers)}"
            record(session, self._clock, actor_id, AuditAction.REMOVE_FOREIGN, node.name, details)
        return ForeignList(node, peers[:LISTED], len(peers))

    async def _chosen(self, node_id: int, peer_id: int) -> tuple[Node, Sequence[ForeignPeer]]:
        if not (0 < node_id < 2**31 and 0 <= peer_id < 2**31):
            raise InvalidInput()
        async with self._sessions() as session:
            node = await session.get(Node, node_id)
            if node is None:
                raise NodeNotFound()
            query = self._query(node.id)
            if peer_id:
                query = query.where(ForeignPeer.id == peer_id)
            peers = (await session.scalars(query)).all()
        if not peers:
            raise InvalidInput()
        return node, peers

    @staticmethod
    def _query(node_id: int) -> Select[ForeignPeer]:
        return (
            select(ForeignPeer)
            .where(ForeignPeer.node_id == node_id)
            .order_by(ForeignPeer.found_at, ForeignPeer.id)
        )
