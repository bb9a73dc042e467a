"""The async engine and session factory, one pair per process."""

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_module
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.util.concurrency import await_
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

_HELD = "redgrid.held_objects"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An engine that behaves the same on SQLite and PostgreSQL where it matters.

    SQLite gets foreign keys switched on (off by default), write-ahead logging so readers do
    not block the writer, synchronous=NORMAL (safe with WAL), and statements run in the
    event loop's thread, a writer waiting for the lock in another (``_InlineSQLite``).
    """
    # A failed statement's error (logged with the failed update) would quote its parameters:
    # a resident's phone number, name, complaint text.
    if is_sqlite(url):
        engine = create_async_engine(url, echo=echo, module=_InlineSQLite(), hide_parameters=True)
    else:
        engine = create_async_engine(url, echo=echo, pool_pre_ping=True, hide_parameters=True)
    if is_sqlite(url):

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if make_url(url).database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
                # With WAL, NORMAL never corrupts and loses nothing on a crash of the
                # process; it skips an fsync per commit (only a power cut can lose the
                # last commits).
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    return engine


class _InlineSQLite(AsyncAdapt_dbapi_module):
    """sqlite3 run in the event loop's own thread, as the DBAPI of SQLAlchemy's async SQLite
    dialect (the URL stays ``sqlite+aiosqlite://``).

    aiosqlite runs every call in a thread of its own. On one core the trip there and back
    (about 50 microseconds, and a commit and a rollback-on-return per session besides)
    cost ten times the statement it carried: an index lookup in a local file takes a few
    microseconds. So statements run where they are called.

    The one wait SQLite has is a lock: a second writer waits for the first one's commit.
    In this thread that wait would stall the loop, and with it the writer it waits for, so
    connections have no busy timeout here; a statement refused as busy runs again in a
    worker thread, which waits up to ``LOCK_WAIT_MS`` as aiosqlite's thread did.

    What this gives up: a long query holds up the loop while it runs (SQLite is the
    embedded default; a district with heavy reports belongs on PostgreSQL), and there are
    no server-side cursors (``stream``): rows come as they do from sqlite3.
    """

    paramstyle = "qmark"
    has_stop = False  # no driver thread to stop: SQLAlchemy's terminate is a close
    aiosqlite = None  # for the dialect's driver version

    def __init__(self) -> None:
        super().__init__(sqlite3, dbapi_module=sqlite3)
        for name in (
            *("DatabaseError", "Error", "IntegrityError", "NotSupportedError"),
            *("OperationalError", "ProgrammingError", "InterfaceError"),
            *("sqlite_version", "sqlite_version_info", "Binary"),
            *("PARSE_COLNAMES", "PARSE_DECLTYPES"),
        ):
            setattr(self, name, getattr(sqlite3, name))

    def connect(self, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        kwargs.pop("async_creator_fn", None)
        kwargs.update(check_same_thread=False, timeout=0, factory=_Connection)
        return sqlite3.connect(*args, **kwargs)


LOCK_WAIT_MS = 5000


async def _unless_busy(connection: sqlite3.Connection, call: Callable[..., Any], *args: Any) -> Any:
    """``call(*args)`` here and now; if the database is locked, in a worker thread that
    waits for it. A coroutine that suspends only then, awaited like any driver's call."""
    try:
        return call(*args)
    except sqlite3.OperationalError as error:
        if error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
            raise
    return await asyncio.to_thread(_waiting, connection, call, args)


def _waiting(connection: sqlite3.Connection, call: Callable[..., Any], args: tuple) -> Any:
    pragma = sqlite3.Cursor(connection)
    pragma.execute(f"PRAGMA busy_timeout={LOCK_WAIT_MS}")
    try:
        return call(*args)
    finally:
        pragma.execute("PRAGMA busy_timeout=0")
        pragma.close()


class _Cursor(sqlite3.Cursor):
    async def _async_soft_close(self) -> None:
        """Called by SQLAlchemy's async results; the rows are already here."""

    def execute(self, sql: str, parameters: Any = ()) -> "_Cursor":
        return await_(_unless_busy(self.connection, super().execute, sql, parameters))

    def executemany(self, sql: str, parameters: Any) -> "_Cursor":
        return await_(_unless_busy(self.connection, super().executemany, sql, parameters))


class _Connection(sqlite3.Connection):
    @property
    def _connection(self) -> sqlite3.Connection:
        """Where SQLAlchemy's aiosqlite dialect looks for the driver's own connection."""
        return self

    def cursor(self, factory: Any = _Cursor) -> _Cursor:
        return super().cursor(factory)

    def commit(self) -> None:
        await_(_unless_busy(self, super().commit))

    def terminate(self) -> None:
        """How SQLAlchemy drops a connection that failed (a file that is not a database):
        with no driver thread beside it, a close."""
        self.close()


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
