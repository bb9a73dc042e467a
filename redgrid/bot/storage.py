"""aiogram FSM storage kept in the database, for deployments without Redis.

A resident's half-written complaint then survives a restart and is seen by every bot
instance that shares the database. With Redis, ``CommitBoundStorage`` makes its changes
follow the update's transaction in the same way.
"""

import asyncio
import copy
import functools
import json
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import (
    BaseEventIsolation,
    BaseStorage,
    DefaultKeyBuilder,
    KeyBuilder,
    StateType,
    StorageKey,
)
from sqlalchemy import bindparam, delete, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import Session, col
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.models.base import utcnow
from redgrid.models.fsm import FsmRecord

# A conversation nobody changed for this long is dropped (the ticker purges the database
# storage; Redis keys expire): an abandoned draft is personal data kept for no purpose.
ABANDONED_AFTER = timedelta(days=30)


@dataclass
class UpdateScope:
    """The storage's view of one update: its session, and the rows read and written so far.

    Reads are served from here after the first; writes collect here and reach the
    database with the session's next commit (see ``_write_before_commit``).
    """

    session: AsyncSession
    loaded: dict[str, tuple[str | None, dict[str, Any]]] = field(default_factory=dict)
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)
    # For a storage outside the database (``CommitBoundStorage``): changes not committed
    # yet, and changes the session has committed, to be written after it.
    staged: dict[StorageKey, dict[str, Any]] = field(default_factory=dict)
    committed: dict[StorageKey, dict[str, Any]] = field(default_factory=dict)


class PerKeyIsolation(BaseEventIsolation):
    """One person's updates handled one at a time, within this process.

    aiogram's ``SimpleEventIsolation`` keeps a lock for every key it has seen, for ever
    (about 3 MB per 10,000 people). Here a key's lock lives only while an update holds it
    or waits for it: the map holds locks weakly, and each waiter holds its own reference.
    """

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[StorageKey, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            yield

    async def close(self) -> None:
        self._locks.clear()


_scope: ContextVar[UpdateScope | None] = ContextVar("fsm_update_scope", default=None)
_SCOPE_KEY = "redgrid.fsm_update_scope"


@contextmanager
def update_scope(session: AsyncSession) -> Iterator[UpdateScope]:
    """Join the FSM storage to the update's session for the duration of the block."""
    scope = UpdateScope(session)
    token = _scope.set(scope)
    session.sync_session.info[_SCOPE_KEY] = scope
    try:
        yield scope
    finally:
        session.sync_session.info.pop(_SCOPE_KEY, None)
        _scope.reset(token)


@event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    """Every commit of an update's session carries the conversation state changed so far.

    A handler that commits its work before replying (a filed ticket) thus commits the step
    it took (the draft cleared) in the same transaction: a crash between the two cannot
    leave a filed ticket with its draft still open, ready to be filed twice.
    """
    scope: UpdateScope | None = session.info.get(_SCOPE_KEY)
    if scope is None or not scope.pending:
        return
    for record_key, columns in scope.pending.items():
        scope.loaded[record_key] = _write(
            session, record_key, columns, scope.loaded.get(record_key)
        )
    scope.pending.clear()


@event.listens_for(Session, "after_commit")
def _commit_staged(session: Session) -> None:
    """The changes of a ``CommitBoundStorage`` made before this commit are now due."""
    scope: UpdateScope | None = session.info.get(_SCOPE_KEY)
    if scope is None or not scope.staged:
        return
    for key, columns in scope.staged.items():
        scope.committed.setdefault(key, {}).update(columns)
    scope.staged.clear()


class CommitBoundStorage(BaseStorage):
    """A storage outside the database (Redis) whose changes, inside an update, follow the
    update's transaction, as ``DatabaseStorage``'s do: they are held until the session
    commits and written after it (``write_committed``, before the update's lock is
    released). So a handler that fails leaves the conversation where it was, and the draft
    a filed ticket cleared stays cleared although the reply after the commit failed.
    Outside an update every call goes straight through.
    """

    def __init__(self, inner: BaseStorage) -> None:
        self.inner = inner

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        name = state.state if isinstance(state, State) else state
        if (scope := _scope.get()) is None:
            await self.inner.set_state(key, name)
        else:
            scope.staged.setdefault(key, {})["state"] = name

    async def get_state(self, key: StorageKey) -> str | None:
        found, state = self._held(key, "state")
        return state if found else await self.inner.get_state(key)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if (scope := _scope.get()) is None:
            await self.inner.set_data(key, data)
        elif not isinstance(data, dict):
            msg = f"Data must be a dict or dict-like object, got {type(data).__name__}"
            raise DataNotDictLikeError(msg)
        else:
            _require_json(data)  # now, in the handler, not after the commit
            scope.staged.setdefault(key, {})["data"] = copy.deepcopy(data)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        found, data = self._held(key, "data")
        return copy.deepcopy(data) if found else await self.inner.get_data(key)

    async def write_committed(self, scope: UpdateScope) -> None:
        """Write what the update's session has committed (call it once the update is over,
        also when it failed after a commit)."""
        for key, columns in scope.committed.items():
            if "state" in columns:
                await self.inner.set_state(key, columns["state"])
            if "data" in columns:
                await self.inner.set_data(key, columns["data"])
        scope.committed.clear()

    async def close(self) -> None:
        await self.inner.close()

    @staticmethod
    def _held(key: StorageKey, column: str) -> tuple[bool, Any]:
        """The column's value as changed in this update, if it was."""
        scope = _scope.get()
        if scope is not None:
            for changes in (scope.staged, scope.committed):
                if column in changes.get(key, {}):
                    return True, changes[key][column]
        return False, None


def conversation_keys() -> KeyBuilder:
    """Keys with the bot id, business connection and destiny, so that several bots (two
    districts, a test bot beside the real one) or business chats sharing a database or a
    Redis server keep separate conversations and locks."""
    return DefaultKeyBuilder(with_bot_id=True, with_business_connection_id=True, with_destiny=True)


class DatabaseStorage(BaseStorage):
    """One ``fsm_record`` row per storage key, holding both the state and the data.

    Inside an update (``update_scope``) the storage works in that update's session and
    writes its changes once, when the update commits, so the conversation moves on exactly
    when the update's other writes commit: a failed handler leaves neither a half-made
    ticket nor a step that was not taken. One session is also what SQLite needs, as it
    allows one writer at a time. Outside an update every call is its own short transaction.

    Writes are ``INSERT ... ON CONFLICT DO UPDATE`` of only the columns written, so
    concurrent writers on PostgreSQL or SQLite never hit a duplicate key. A row with no
    state and no data is deleted, so finished conversations leave nothing behind.

    This storage does not isolate events: pair it with ``PerKeyIsolation`` (one process)
    or ``RedisEventIsolation`` (several), as with any aiogram storage. Without
    isolation, ``update_data`` (read, then write) can lose an update racing on the same key.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        key_builder: KeyBuilder | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.key_builder = key_builder or conversation_keys()

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await self._set(key, state=state.state if isinstance(state, State) else state)

    async def get_state(self, key: StorageKey) -> str | None:
        state, _data = await self._get(key)
        return state

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, dict):
            msg = f"Data must be a dict or dict-like object, got {type(data).__name__}"
            raise DataNotDictLikeError(msg)
        _require_json(data)
        await self._set(key, data=copy.deepcopy(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        """A fresh copy, so callers may mutate it freely."""
        _state, data = await self._get(key)
        return copy.deepcopy(data)

    def record_key(self, key: StorageKey) -> str:
        return self.key_builder.build(key)

    def preload(self, record_key: str, state: str | None, data: dict[str, Any] | None) -> None:
        """Seed the update's scope with the row as read by another query in its transaction
        (``ROW_COLUMNS``), so the storage does not read it again."""
        scope = _scope.get()
        if scope is not None and record_key not in scope.loaded:
            scope.loaded[record_key] = (state, data if data is not None else {})

    async def close(self) -> None:
        """Nothing to close: the engine belongs to the application, which disposes it."""

    async def purge_stale(self, older_than: timedelta) -> int:
        """Delete conversations not written to for ``older_than`` (drafts abandoned for weeks);
        returns how many. The ticker runs it every hour."""
        cutoff = utcnow() - older_than
        async with self.session_factory.begin() as session:
            result = await session.exec(delete(FsmRecord).where(col(FsmRecord.updated_at) < cutoff))
        return result.rowcount

    async def _get(self, key: StorageKey) -> tuple[str | None, dict[str, Any]]:
        record_key = self.record_key(key)
        scope = _scope.get()
        if scope is None:
            async with self.session_factory.begin() as session:
                return await _read(session, record_key)
        if record_key not in scope.loaded:
            scope.loaded[record_key] = await _read(scope.session, record_key)
        state, data = scope.loaded[record_key]
        pending = scope.pending.get(record_key, {})
        return pending.get("state", state), pending.get("data", data)

    async def _set(self, key: StorageKey, **columns: Any) -> None:
        record_key = self.record_key(key)
        scope = _scope.get()
        if scope is None:
            async with self.session_factory.begin() as session:
                await session.run_sync(_write, record_key, columns, None)
            return
        scope.pending.setdefault(record_key, {}).update(columns)


async def _read(session: AsyncSession, record_key: str) -> tuple[str | None, dict[str, Any]]:
    row = (await session.exec(_READ, params={"key": record_key})).one_or_none()
    return (row.state, row.data) if row is not None else (None, {})


def _write(
    session: Session,
    record_key: str,
    columns: dict[str, Any],
    loaded: tuple[str | None, dict[str, Any]] | None,
) -> tuple[str | None, dict[str, Any]]:
    """Write the given columns (``state``, ``data``) of a row, deleting a row left with no
    state and no data; returns the row as it is now. ``loaded`` is the row as this
    transaction read it, if it did.

    The upsert locks the row until commit (PostgreSQL row lock, SQLite database lock), so
    no other writer can slip in between the upsert and the delete. (Synchronous: it runs
    inside the session's commit.)
    """
    if loaded is not None:
        state, data = columns.get("state", loaded[0]), columns.get("data", loaded[1])
        if state is None and not data:
            session.exec(_DELETE, params={"key": record_key})
            return None, {}
    dialect = session.get_bind().dialect.name
    statement = _upsert_statement(dialect, frozenset(columns), returning=loaded is None)
    values = {"key": record_key, "state": None, "data": {}, **columns, "updated_at": utcnow()}
    result = session.exec(statement, params=values)
    if loaded is not None:
        return state, data
    state, data = result.one()
    if state is None and not data:
        session.exec(_DELETE, params={"key": record_key})
    return state, data


# Built once: constructing a statement costs more than running it, and SQLAlchemy reuses
# the compiled form of a construct it has seen.
_TABLE = FsmRecord.__table__
_READ = select(_TABLE.c.state, _TABLE.c.data).where(_TABLE.c.key == bindparam("key"))
_DELETE = delete(_TABLE).where(_TABLE.c.key == bindparam("key"))
# A conversation row's state and data as scalar subqueries, to add to another query (the
# update middleware reads them with the person): bind ``fsm_key``; NULLs when no row.
ROW_COLUMNS = (
    select(_TABLE.c.state).where(_TABLE.c.key == bindparam("fsm_key")).scalar_subquery(),
    select(_TABLE.c.data).where(_TABLE.c.key == bindparam("fsm_key")).scalar_subquery(),
)
_INSERTS: dict[str, Callable[..., Any]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}


@functools.cache
def _upsert_statement(dialect: str, columns: frozenset[str], *, returning: bool):
    """``INSERT ... ON CONFLICT (key) DO UPDATE`` of ``columns`` and the time, for one
    dialect; with ``returning``, the row as it is afterwards."""
    if dialect not in _INSERTS:
        msg = f"DatabaseStorage supports {sorted(_INSERTS)}, not {dialect}"
        raise NotImplementedError(msg)
    names = ("key", "state", "data", "updated_at")
    insert = _INSERTS[dialect](_TABLE).values({name: bindparam(name) for name in names})
    updated = [*sorted(columns), "updated_at"]
    statement = insert.on_conflict_do_update(
        index_elements=[_TABLE.c.key],
        set_={name: insert.excluded[name] for name in updated},
    )
    return statement.returning(_TABLE.c.state, _TABLE.c.data) if returning else statement


def _require_json(data: dict[str, Any]) -> None:
    """Fail before writing rather than inside the flush, and reject NaN/Infinity, which
    PostgreSQL's JSON type refuses while SQLite would quietly store them."""
    try:
        json.dumps(data, allow_nan=False)
    except (TypeError, ValueError) as error:
        msg = f"FSM data must be JSON-serialisable to be kept in the database: {error}"
        raise TypeError(msg) from error
