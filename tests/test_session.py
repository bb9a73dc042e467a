"""Sessions and the SQLite adapter: a row read once per update, statements in the loop's
thread, a locked database waited for elsewhere."""

import asyncio
import gc
import shutil
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from redgrid.models import Person
from redgrid.models.db import create_engine

NOW = datetime(2026, 11, 26, tzinfo=UTC)


async def count_statements(engine, action) -> int:
    statements = []

    def record(*_args) -> None:
        statements.append(1)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        await action()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    return len(statements)


async def test_an_object_dropped_by_its_reader_is_not_read_again(engine, session_factory):
    async with session_factory() as session, session.begin():
        session.add(Person(telegram_id=77, display_name="Wang", locale="zh_CN"))

    async with session_factory() as session:
        by_telegram_id = select(Person).where(Person.telegram_id == 77)
        person_id = (await session.exec(by_telegram_id)).one().id
        gc.collect()  # nobody holds the person now

        async def get_again() -> None:
            assert (await session.get(Person, person_id)).display_name == "Wang"

        assert await count_statements(engine, get_again) == 0


@pytest.fixture
async def sqlite_engine(sqlite_template, tmp_path):
    path = tmp_path / "one-trip.db"
    shutil.copyfile(sqlite_template, path)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    yield engine
    await engine.dispose()


async def test_sqlite_runs_statements_in_the_event_loops_thread(sqlite_engine):
    """Rows, row counts, inserted ids and errors come back as from any DBAPI, and no
    statement leaves the loop's thread."""
    engine = sqlite_engine
    table = Person.__table__
    async with engine.begin() as connection:
        await connection.run_sync(
            lambda sync: sync.connection.driver_connection.create_function(
                "thread_ident", 0, threading.get_ident
            )
        )
        (here,) = (await connection.execute(text("SELECT thread_ident()"))).one()
        assert here == threading.get_ident()
        inserted = await connection.execute(
            table.insert().values(telegram_id=1, display_name="A", locale="en", created_at=NOW)
        )
        assert inserted.inserted_primary_key[0] is not None
        await connection.execute(
            table.insert(),
            [
                {"telegram_id": n, "display_name": f"P{n}", "locale": "en", "created_at": NOW}
                for n in (2, 3, 4)
            ],
        )
        updated = await connection.execute(
            table.update().where(table.c.telegram_id > 2).values(locale="zh_CN")
        )
        assert updated.rowcount == 2
        rows = (await connection.execute(select(table.c.telegram_id, table.c.locale))).all()
        assert sorted(rows) == [(1, "en"), (2, "en"), (3, "zh_CN"), (4, "zh_CN")]
        with pytest.raises(IntegrityError):
            await connection.execute(
                table.insert().values(telegram_id=1, display_name="B", created_at=NOW)
            )


async def test_a_writer_waits_for_the_lock_without_stalling_the_loop(sqlite_engine):
    """The second writer waits in a worker thread for the first one's commit; meanwhile
    the loop runs on, so the first writer can finish and commit."""
    table = Person.__table__
    first_wrote, second_started = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with sqlite_engine.begin() as connection:
            await connection.execute(
                table.insert().values(telegram_id=1, display_name="A", created_at=NOW)
            )
            first_wrote.set()
            await second_started.wait()
            await asyncio.sleep(0.2)  # the second writer is waiting for the lock now

    async def second() -> None:
        await first_wrote.wait()
        async with sqlite_engine.begin() as connection:
            second_started.set()
            await connection.execute(
                table.insert().values(telegram_id=2, display_name="B", created_at=NOW)
            )

    await asyncio.wait_for(asyncio.gather(first(), second()), timeout=4)
    async with sqlite_engine.connect() as connection:
        rows = (await connection.execute(select(table.c.telegram_id))).scalars().all()
    assert sorted(rows) == [1, 2]


async def test_a_failed_statement_does_not_quote_personal_data(session_factory):
    """The error is logged with the update that failed: it must not carry a phone number."""
    async with session_factory() as session, session.begin():
        session.add(Person(telegram_id=78, display_name="Wang", locale="zh_CN"))
    with pytest.raises(IntegrityError) as failure:
        async with session_factory() as session, session.begin():
            session.add(Person(telegram_id=78, display_name="Li", locale="en", phone="13800138000"))
    assert "13800138000" not in str(failure.value)
