"""The async engine and session factory, one pair per process."""

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

_HELD = "redgrid.held_objects"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An engine that behaves the same on SQLite and PostgreSQL where it matters.

    SQLite gets foreign keys switched on (off by default), write-ahead logging so readers do
    not block the writer, synchronous=NORMAL (safe with WAL), and a busy timeout instead of
    an immediate "database is locked".
    """
    if is_sqlite(url):
        engine = create_async_engine(url, echo=echo, module=_OneTripDBAPI(aiosqlite, sqlite3))
    else:
        engine = create_async_engine(url, echo=echo, pool_pre_ping=True)
    if is_sqlite(url):

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            if make_url(url).database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
                # With WAL, NORMAL never corrupts and loses nothing on a crash of the
                # process; it skips an fsync per commit (only a power cut can lose the
                # last commits).
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    return engine


class _OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """Runs a statement, fetches its rows and closes its cursor in one trip to aiosqlite's
    thread.

    aiosqlite runs every call in its own thread, and SQLAlchemy's adapter makes four calls
    per statement (cursor, execute, fetchall, close): on one core those thread switches
    cost more than the query. Like SQLAlchemy's own adapter (for the isolation level), this
    reaches into aiosqlite's queue of calls; ``tests/test_session.py`` checks the results.
    """

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        super().__init__(adapt_connection)
        self._description = None
        self._rowcount = -1
        self._lastrowid = None

    def _make_new_cursor(self, connection: Any) -> None:
        """No driver cursor up front: each statement makes and closes its own."""

    def _aenter_cursor(self, cursor: None) -> None:
        """Nothing to enter."""

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    async def _async_soft_close(self) -> None:
        pass

    def close(self) -> None:
        self._rows.clear()

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        await self._run(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        await self._run(operation, seq_of_parameters, many=True)

    async def _run(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection = self._connection
        async with self._adapt_connection._execute_mutex:
            outcome = await connection._execute(
                _execute_in_thread, connection._conn, operation, parameters, many
            )
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)


def _execute_in_thread(
    connection: sqlite3.Connection, operation: str, parameters: Any, many: bool
) -> tuple[Any, list[Any], int, Any]:
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class _OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = _OneTripCursor


class _OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """SQLAlchemy's aiosqlite adapter, with ``_OneTripCursor``."""

    def connect(self, *args: Any, **kwargs: Any) -> _OneTripConnection:
        adapted = super().connect(*args, **kwargs)
        return _OneTripConnection(self, adapted._connection)


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@event.listens_for(Session, "loaded_as_persistent")
def _hold(session: Session, instance: Any) -> None:
    """Every session holds what it loads until it is gone.

    The identity map holds objects weakly: a grid read by one service and dropped was read
    again by the next one that asked for it (placing a ticket, finding its team, naming its
    queue). Sessions here are short units of work (one update, one job's batch, one
    delivery turn) and none streams rows, so what they hold is small.
    """
    session.info.setdefault(_HELD, []).append(instance)
