"""aiogram's FSM storage in the database: a multi-step flow goes on whichever process takes
its next step, and survives a restart."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StateType, StorageKey
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import ConversationState
from services.clock import Clock, system_clock


class DatabaseStorage(BaseStorage):
    """One row per chat (and bot, thread, destiny): its state and data, JSON. A row with
    neither is deleted, so the table holds only flows in progress."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock = system_clock
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._keys = DefaultKeyBuilder(
            with_bot_id=True, with_business_connection_id=True, with_destiny=True
        )

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._write(key, state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        row = await self._read(key)
        return row.state if row is not None else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key, data=dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        row = await self._read(key)
        return dict(row.data) if row is not None else {}

    async def close(self) -> None:
        """The engine belongs to the services, which close it."""

    def _key(self, key: StorageKey) -> str:
        return self._keys.build(key)

    async def _read(self, key: StorageKey) -> ConversationState | None:
        async with self._sessions() as session:
            return await session.get(ConversationState, self._key(key))

    async def _write(self, key: StorageKey, **values: Any) -> None:
        try:
            await self._upsert(self._key(key), values)
        except IntegrityError:  # the chat's other update inserted the row just now
            await self._upsert(self._key(key), values)

    async def _upsert(self, name: str, values: dict[str, Any]) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(ConversationState, name, with_for_update=True)
            state = values.get("state", row.state if row is not None else None)
            data = values.get("data", row.data if row is not None else {})
            if state is None and not data:
                if row is not None:
                    await session.delete(row)
            elif row is None:
                session.add(
                    ConversationState(key=name, state=state, data=data, updated_at=self._clock())
                )
            else:
                row.state, row.data, row.updated_at = state, data, self._clock()
