"""An update's session keeps what it loaded, so a row is read once per update."""

import gc

from sqlalchemy import event
from sqlmodel import select

from redgrid.models import Person
from redgrid.models.db import keep_loaded_objects


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

    for keep, expected in ((False, 1), (True, 0)):
        async with session_factory() as session:
            if keep:
                keep_loaded_objects(session)
            person_id = (
                (await session.exec(select(Person).where(Person.telegram_id == 77))).one().id
            )
            gc.collect()  # nobody holds the person now

            async def get_again(session=session, person_id=person_id) -> None:
                assert (await session.get(Person, person_id)).display_name == "Wang"

            assert await count_statements(engine, get_again) == expected
