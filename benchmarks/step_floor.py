"""What the least database work of a conversation step costs, by the layer that runs it.

    .venv/bin/python benchmarks/step_floor.py [--people N] [--rounds N]

Every step of a conversation reads the person and their state (one query) and writes the
state back (an upsert), then commits: the floor under each update (see
docs/performance.md). This times those three statements on SQLite, for N known people,
through each layer in turn: the ORM session as ``UpdateMiddleware`` runs them, Core
statements on the session's connection, Core statements on an engine connection, and
hand-written SQL over Python's ``sqlite3`` with the engine's pragmas. Prints microseconds
per step for each, pinned to one core. No target of its own: it shows how much of a
step's database time is the layers above SQLite.
"""

import argparse
import asyncio
import os
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing the package

from aiogram.fsm.storage.base import StorageKey  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from redgrid.bot.storage import (  # noqa: E402
    ROW_COLUMNS,
    DatabaseStorage,
    _upsert_statement,
    update_scope,
)
from redgrid.models import migrate  # noqa: E402
from redgrid.models.base import utcnow  # noqa: E402
from redgrid.models.db import create_engine, create_session_factory  # noqa: E402
from redgrid.services.people import identify, identify_query  # noqa: E402

STATE = "Floor:step"
# What the middleware's query and the storage's upsert say, written out for sqlite3.
_READ_SQL = """
SELECT person.*,
  EXISTS (SELECT 1 FROM membership WHERE membership.person_id = person.id
          AND membership.role = 'admin' AND membership.active = 1),
  (SELECT state FROM fsm_record WHERE key = ?),
  (SELECT data FROM fsm_record WHERE key = ?)
FROM person WHERE person.telegram_id = ?"""
_WRITE_SQL = """
INSERT INTO fsm_record (key, state, data, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at"""


async def run(url: str, people: int, rounds: int) -> None:
    engine = create_engine(url)
    await migrate.upgrade(engine)
    factory = create_session_factory(engine)
    storage = DatabaseStorage(factory)
    person_and_state = identify_query(*ROW_COLUMNS)
    upsert = _upsert_statement("sqlite", frozenset({"state"}), returning=False)
    telegram_ids = range(1_000, 1_000 + people)
    async with factory() as session:
        for telegram_id in telegram_ids:
            await identify(session, telegram_id, "Li", "en", ())
        await session.commit()

    def keyed(telegram_id: int) -> tuple[StorageKey, str]:
        key = StorageKey(bot_id=1, chat_id=telegram_id, user_id=telegram_id)
        return key, storage.record_key(key)

    async def orm_session(telegram_id: int) -> None:
        key, record_key = keyed(telegram_id)
        async with factory() as session:
            with update_scope(session):
                params = {"fsm_key": record_key}
                found = await identify(
                    session, telegram_id, "Li", "en", (), query=person_and_state, params=params
                )
                storage.preload(record_key, *(found.also or (None, None)))
                await storage.set_state(key, STATE)
                await session.commit()

    def core_statements(telegram_id: int) -> tuple[dict, dict]:
        _key, record_key = keyed(telegram_id)
        read = {"telegram_id": telegram_id, "fsm_key": record_key}
        write = {"key": record_key, "state": STATE, "data": {}, "updated_at": utcnow()}
        return read, write

    async def session_connection(telegram_id: int) -> None:
        read, write = core_statements(telegram_id)
        async with factory() as session:
            connection = await session.connection()
            (await connection.execute(person_and_state, read)).one()
            await connection.execute(upsert, write)
            await session.commit()

    async def engine_connection(telegram_id: int) -> None:
        read, write = core_statements(telegram_id)
        async with engine.connect() as connection:
            (await connection.execute(person_and_state, read)).one()
            await connection.execute(upsert, write)
            await connection.commit()

    raw = sqlite3.connect(make_url(url).database, isolation_level=None)
    raw.execute("PRAGMA foreign_keys=ON")
    raw.execute("PRAGMA synchronous=NORMAL")  # as the engine's connections (WAL is the file's)

    async def driver(telegram_id: int) -> None:
        _key, record_key = keyed(telegram_id)
        raw.execute("BEGIN")
        raw.execute(_READ_SQL, (record_key, record_key, telegram_id)).fetchone()
        raw.execute(_WRITE_SQL, (record_key, STATE, "{}", utcnow().isoformat(" ")))
        raw.execute("COMMIT")

    layers: list[tuple[str, Callable[[int], Awaitable[None]]]] = [
        ("ORM session (the middleware's way)", orm_session),
        ("Core on the session's connection", session_connection),
        ("Core on an engine connection", engine_connection),
        ("hand-written SQL over sqlite3", driver),
    ]
    for label, step in layers:
        for telegram_id in telegram_ids:  # warm: compiled caches, pages in memory
            await step(telegram_id)
        start = time.perf_counter()
        for _ in range(rounds):
            for telegram_id in telegram_ids:
                await step(telegram_id)
        per_step = (time.perf_counter() - start) / (rounds * people) * 1e6
        print(f"  {label:<38} {per_step:7.1f} µs per step")
    raw.close()
    await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    print(f"Python {sys.version.split()[0]}, pinned to one core, SQLite, {args.people} people")
    with TemporaryDirectory() as folder:
        await run(f"sqlite+aiosqlite:///{folder}/floor.db", args.people, args.rounds)


if __name__ == "__main__":
    asyncio.run(main())
