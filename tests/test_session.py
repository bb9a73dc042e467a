"""Sessions and the SQLite adapter: a row read once per update, a statement one trip."""

import gc
import shutil
from datetime import UTC, datetime

import aiosqlite
import pytest
from sqlalchemy import event
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


async def test_sqlite_statements_take_one_trip_to_the_driver_thread(sqlite_engine, monkeypatch):
    """Rows, row counts, inserted ids and errors come back as with SQLAlchemy's own
    aiosqlite adapter, in one call to aiosqlite's thread per statement."""
    engine = sqlite_engine
    trips = []
    execute = aiosqlite.Connection._execute

    async def counted(self, fn, *args, **kwargs):
        trips.append(fn)
        return await execute(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    table = Person.__table__
    async with engine.begin() as connection:
        trips.clear()
        inserted = await connection.execute(
            table.insert().values(telegram_id=1, display_name="A", locale="en", created_at=NOW)
        )
        assert inserted.inserted_primary_key[0] is not None
        assert len(trips) == 1
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
        trips.clear()
        rows = (await connection.execute(select(table.c.telegram_id, table.c.locale))).all()
        assert len(trips) == 1
        assert sorted(rows) == [(1, "en"), (2, "en"), (3, "zh_CN"), (4, "zh_CN")]
        with pytest.raises(IntegrityError):
            await connection.execute(
                table.insert().values(telegram_id=1, display_name="B", created_at=NOW)
            )
