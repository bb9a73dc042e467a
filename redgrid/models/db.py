"""The async engine and session factory, one pair per process."""

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

_KEPT = "redgrid.kept_objects"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An engine that behaves the same on SQLite and PostgreSQL where it matters.

    SQLite gets foreign keys switched on (off by default), write-ahead logging so readers do
    not block the writer, synchronous=NORMAL (safe with WAL), and a busy timeout instead of
    an immediate "database is locked".
    """
    engine = create_async_engine(url, echo=echo, pool_pre_ping=not is_sqlite(url))
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


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def keep_loaded_objects(session: AsyncSession) -> None:
    """Hold every object this session loads until it closes.

    The identity map holds objects weakly: a grid read by one service and dropped is read
    again by the next one that asks for it in the same update. Meant for short sessions
    (one update), not for jobs that stream many rows.
    """
    session.sync_session.info[_KEPT] = []


@event.listens_for(Session, "loaded_as_persistent")
def _keep(session: Session, instance: Any) -> None:
    kept = session.info.get(_KEPT)
    if kept is not None:
        kept.append(instance)
