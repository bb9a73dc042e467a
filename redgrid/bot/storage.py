"""aiogram FSM storage kept in the database, for deployments without Redis.

A resident's half-written complaint then survives a restart and is seen by every bot
instance that shares the database.
"""

import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import (
    BaseStorage,
    DefaultKeyBuilder,
    KeyBuilder,
    StateType,
    StorageKey,
)
from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.models.base import utcnow
from redgrid.models.fsm import FsmRecord

_UPSERT_INSERTS: dict[str, Callable[..., Any]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}

# The session of the update being handled, set by the database middleware.
update_session: ContextVar[AsyncSession | None] = ContextVar("update_session", default=None)


class DatabaseStorage(BaseStorage):
    """One ``fsm_record`` row per storage key, holding both the state and the data.

    Inside an update the storage works in that update's session (``update_session``), so
    the conversation moves on exactly when the update's other writes commit: a failed
    handler leaves neither a half-made ticket nor a step that was not taken. It is also
    what SQLite needs, as it allows one writer at a time and a second connection would wait
    for the first. Outside an update (aiogram reading the state to pick a handler) every
    call is its own short transaction. Writes are ``INSERT ... ON CONFLICT DO UPDATE`` of
    only the column being written, so concurrent writers on PostgreSQL or SQLite never hit
    a duplicate key and never overwrite each other's column. A row with no state and no
    data is deleted, so finished conversations leave nothing behind.

    This storage does not isolate events: pair it with ``SimpleEventIsolation`` (one
    process) or ``RedisEventIsolation`` (several), as with any aiogram storage. Without
    isolation, ``update_data`` (read, then write) can lose an update racing on the same key.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        key_builder: KeyBuilder | None = None,
    ) -> None:
        """The key builder includes bot id, business connection and destiny by default, so
        several bots or business chats sharing the database keep separate conversations."""
        self.session_factory = session_factory
        self.key_builder = key_builder or DefaultKeyBuilder(
            with_bot_id=True, with_business_connection_id=True, with_destiny=True
        )

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await self._write(key, state=state.state if isinstance(state, State) else state)

    async def get_state(self, key: StorageKey) -> str | None:
        async with self._session() as session:
            result = await session.exec(
                select(FsmRecord.state).where(FsmRecord.key == self.key_builder.build(key))
            )
            return result.one_or_none()

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, dict):
            msg = f"Data must be a dict or dict-like object, got {type(data).__name__}"
            raise DataNotDictLikeError(msg)
        _require_json(data)
        await self._write(key, data=data)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        """A fresh dict decoded from the row, so callers may mutate it freely."""
        async with self._session() as session:
            result = await session.exec(
                select(FsmRecord.data).where(FsmRecord.key == self.key_builder.build(key))
            )
            data = result.one_or_none()
        return data if data is not None else {}

    async def close(self) -> None:
        """Nothing to close: the engine belongs to the application, which disposes it."""

    async def purge_stale(self, older_than: timedelta) -> int:
        """Delete conversations not written to for ``older_than`` (drafts abandoned for weeks);
        returns how many. Meant for a scheduled job."""
        cutoff = utcnow() - older_than
        async with self.session_factory.begin() as session:
            result = await session.exec(delete(FsmRecord).where(col(FsmRecord.updated_at) < cutoff))
        return result.rowcount

    async def _write(self, key: StorageKey, **column: Any) -> None:
        """Upsert one column (``state`` or ``data``), then drop the row if it is left empty.

        The upsert locks the row until commit (PostgreSQL row lock, SQLite database lock),
        so no other writer can slip in between the upsert and the delete.
        """
        record_key = self.key_builder.build(key)
        changes = {**column, "updated_at": utcnow()}
        table = FsmRecord.__table__
        async with self._session() as session:
            dialect = (await session.connection()).dialect.name
            if dialect not in _UPSERT_INSERTS:
                msg = f"DatabaseStorage supports {sorted(_UPSERT_INSERTS)}, not {dialect}"
                raise NotImplementedError(msg)
            statement = _UPSERT_INSERTS[dialect](table).values(
                {"key": record_key, "state": None, "data": {}, **changes}
            )
            statement = statement.on_conflict_do_update(
                index_elements=[table.c.key],
                set_={name: statement.excluded[name] for name in changes},
            ).returning(table.c.state, table.c.data)
            state, data = (await session.exec(statement)).one()
            if state is None and not data:
                await session.exec(delete(table).where(table.c.key == record_key))

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        """The update's session when there is one, else a transaction of our own."""
        bound = update_session.get()
        if bound is not None:
            yield bound
            return
        async with self.session_factory.begin() as session:
            yield session


def _require_json(data: dict[str, Any]) -> None:
    """Fail before writing rather than inside the flush, and reject NaN/Infinity, which
    PostgreSQL's JSON type refuses while SQLite would quietly store them."""
    try:
        json.dumps(data, allow_nan=False)
    except (TypeError, ValueError) as error:
        msg = f"FSM data must be JSON-serialisable to be kept in the database: {error}"
        raise TypeError(msg) from error
