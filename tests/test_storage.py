"""The database FSM storage: aiogram's semantics, kept across restarts, safe under concurrency."""

import asyncio
import dataclasses
import math
from datetime import UTC, datetime, timedelta

import pytest
from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage
from sqlalchemy import func, update
from sqlmodel import select

from redgrid.bot.storage import (
    CommitBoundStorage,
    DatabaseStorage,
    PerKeyIsolation,
    update_scope,
)
from redgrid.models import FsmRecord
from redgrid.models.base import utcnow
from redgrid.models.db import create_engine, create_session_factory

KEY = StorageKey(bot_id=1, chat_id=100, user_id=200)


class Complaint(StatesGroup):
    describing = State()
    locating = State()


@pytest.fixture
def storage(session_factory) -> DatabaseStorage:
    return DatabaseStorage(session_factory)


async def row_count(session_factory) -> int:
    async with session_factory() as session:
        return (await session.exec(select(func.count()).select_from(FsmRecord))).one()


async def test_unknown_key_has_no_state_and_no_data(storage):
    assert await storage.get_state(KEY) is None
    assert await storage.get_data(KEY) == {}


async def test_state_as_string_and_as_state_object(storage):
    await storage.set_state(KEY, "Complaint:describing")
    assert await storage.get_state(KEY) == "Complaint:describing"

    await storage.set_state(KEY, Complaint.locating)
    assert await storage.get_state(KEY) == Complaint.locating.state == "Complaint:locating"


async def test_data_round_trip(storage):
    data = {
        "text": "楼道灯坏了三天 — lamp out 💡",
        "photos": ["file-1", "file-2"],
        "location": {"lat": 28.2305, "lon": 116.6005, "compound": {"name": "幸福小区"}},
        "urgent": True,
        "floor": 7,
        "note": None,
        "nested": [[1, 2], {"deep": []}],
    }
    await storage.set_data(KEY, data)
    assert await storage.get_data(KEY) == data


async def test_get_data_returns_a_copy(storage):
    await storage.set_data(KEY, {"photos": ["file-1"], "text": "draft"})

    first = await storage.get_data(KEY)
    first["text"] = "changed"
    first["photos"].append("file-2")

    assert await storage.get_data(KEY) == {"photos": ["file-1"], "text": "draft"}


async def test_state_and_data_are_written_independently(storage):
    await storage.set_state(KEY, Complaint.describing)
    await storage.set_data(KEY, {"text": "draft"})
    await storage.set_state(KEY, Complaint.locating)

    assert await storage.get_data(KEY) == {"text": "draft"}
    assert await storage.get_state(KEY) == Complaint.locating.state


async def test_update_data_merges(storage):
    await storage.set_data(KEY, {"text": "draft", "photos": []})
    merged = await storage.update_data(KEY, {"photos": ["file-1"]})

    assert merged == {"text": "draft", "photos": ["file-1"]}
    assert await storage.get_data(KEY) == merged


@pytest.mark.parametrize("clear_state_first", [True, False])
async def test_clearing_state_and_data_deletes_the_row(storage, session_factory, clear_state_first):
    await storage.set_state(KEY, Complaint.describing)
    await storage.set_data(KEY, {"text": "draft"})

    if clear_state_first:
        await storage.set_state(KEY, None)
        assert await row_count(session_factory) == 1
        await storage.set_data(KEY, {})
    else:
        await storage.set_data(KEY, {})
        assert await row_count(session_factory) == 1
        await storage.set_state(KEY, None)

    assert await row_count(session_factory) == 0
    assert await storage.get_state(KEY) is None
    assert await storage.get_data(KEY) == {}


async def test_clearing_an_unknown_key_leaves_nothing(storage, session_factory):
    await storage.set_state(KEY, None)
    await storage.set_data(KEY, {})
    assert await row_count(session_factory) == 0


@pytest.mark.parametrize(
    "change",
    [
        {"chat_id": 101},
        {"user_id": 201},
        {"bot_id": 2},
        {"destiny": "complaint"},
        {"thread_id": 5},
        {"business_connection_id": "biz-1"},
    ],
    ids=lambda change: next(iter(change)),
)
async def test_different_keys_do_not_mix(storage, session_factory, change):
    other = dataclasses.replace(KEY, **change)
    await storage.set_state(KEY, Complaint.describing)
    await storage.set_data(KEY, {"who": "first"})
    await storage.set_state(other, Complaint.locating)
    await storage.set_data(other, {"who": "second"})

    assert await storage.get_state(KEY) == Complaint.describing.state
    assert await storage.get_data(KEY) == {"who": "first"}
    assert await storage.get_state(other) == Complaint.locating.state
    assert await storage.get_data(other) == {"who": "second"}
    assert await row_count(session_factory) == 2


async def test_conversation_survives_a_restart(storage, database_url):
    await storage.set_state(KEY, Complaint.locating)
    await storage.set_data(KEY, {"text": "草稿"})
    await storage.close()

    engine = create_engine(database_url)
    try:
        restarted = DatabaseStorage(create_session_factory(engine))
        assert await restarted.get_state(KEY) == Complaint.locating.state
        assert await restarted.get_data(KEY) == {"text": "草稿"}
    finally:
        await engine.dispose()


async def test_concurrent_writes_on_one_key_leave_one_consistent_row(storage, session_factory):
    payloads = [{"writer": n, "photos": [f"file-{n}"] * n} for n in range(12)]

    await asyncio.gather(
        storage.set_state(KEY, Complaint.describing),
        *(storage.set_data(KEY, payload) for payload in payloads),
    )

    assert await row_count(session_factory) == 1
    assert await storage.get_data(KEY) in payloads
    assert await storage.get_state(KEY) == Complaint.describing.state


@pytest.mark.parametrize(
    "bad_value",
    [datetime(2024, 1, 1, tzinfo=UTC), {1, 2}, object(), math.nan, math.inf],
    ids=["datetime", "set", "object", "nan", "inf"],
)
async def test_non_json_data_raises_and_writes_nothing(storage, session_factory, bad_value):
    with pytest.raises(TypeError, match="JSON"):
        await storage.set_data(KEY, {"value": bad_value})
    assert await row_count(session_factory) == 0

    await storage.set_data(KEY, {"text": "kept"})
    with pytest.raises(TypeError, match="JSON"):
        await storage.set_data(KEY, {"text": "lost", "value": bad_value})
    assert await storage.get_data(KEY) == {"text": "kept"}


async def test_data_that_is_not_a_dict_is_refused_like_aiogram_does(storage):
    with pytest.raises(DataNotDictLikeError):
        await storage.set_data(KEY, [("text", "draft")])


async def test_purge_stale_deletes_only_abandoned_drafts(storage, session_factory):
    abandoned = dataclasses.replace(KEY, user_id=201)
    await storage.set_data(KEY, {"text": "fresh"})
    await storage.set_state(abandoned, Complaint.describing)
    async with session_factory.begin() as session:
        await session.exec(
            update(FsmRecord)
            .where(FsmRecord.key == storage.key_builder.build(abandoned))
            .values(updated_at=utcnow() - timedelta(days=40))
        )

    assert await storage.purge_stale(timedelta(days=30)) == 1
    assert await storage.get_state(abandoned) is None
    assert await storage.get_data(KEY) == {"text": "fresh"}
    assert await storage.purge_stale(timedelta(days=30)) == 0


async def test_through_aiogram_fsm_context(storage, session_factory):
    context = FSMContext(
        storage=storage,
        key=StorageKey(bot_id=1, chat_id=100, user_id=200, destiny="default"),
    )

    await context.set_state(Complaint.describing)
    await context.update_data(text="垃圾没人收")
    await context.update_data({"photos": ["file-1"]})
    await context.set_state(Complaint.locating)

    assert await context.get_state() == Complaint.locating.state
    assert await context.get_data() == {"text": "垃圾没人收", "photos": ["file-1"]}
    assert await context.get_value("text") == "垃圾没人收"
    assert await context.get_value("missing", "default") == "default"

    await context.clear()
    assert await context.get_state() is None
    assert await context.get_data() == {}
    assert await row_count(session_factory) == 0


async def test_inside_an_update_changes_land_with_its_commit_or_not_at_all(session_factory):
    """In an update's scope, reads come from one row read and writes reach the database once,
    with the update's commit; a rolled-back update leaves the conversation as it was."""
    storage = DatabaseStorage(session_factory)
    await storage.set_state(KEY, "Complaint:description")
    await storage.set_data(KEY, {"category": "noise"})

    async with session_factory() as session:
        with update_scope(session):
            await storage.update_data(KEY, {"description": "太吵了"})
            await storage.set_state(KEY, "Complaint:photos")
            assert await storage.get_state(KEY) == "Complaint:photos"
            assert await storage.get_data(KEY) == {"category": "noise", "description": "太吵了"}
            await session.rollback()  # the handler failed
    assert await storage.get_state(KEY) == "Complaint:description"
    assert await storage.get_data(KEY) == {"category": "noise"}

    async with session_factory() as session:
        with update_scope(session):
            await storage.set_state(KEY, "Complaint:photos")
            await session.commit()
    assert await storage.get_state(KEY) == "Complaint:photos"

    async with session_factory() as session:
        with update_scope(session):
            assert await storage.get_state(KEY) == "Complaint:photos"
            await storage.set_state(KEY, None)
            await storage.set_data(KEY, {})
            await session.commit()
    async with session_factory() as session:
        assert (await session.exec(select(func.count()).select_from(FsmRecord))).one() == 0


async def test_a_commit_inside_an_update_carries_the_state_changed_so_far(session_factory):
    """A handler commits its work before replying: the conversation step it took commits
    with it, and what it changes afterwards lands with the next commit, or not at all."""
    storage = DatabaseStorage(session_factory)
    await storage.set_state(KEY, "Complaint:summary")
    await storage.set_data(KEY, {"category": "noise"})

    async with session_factory() as session:
        with update_scope(session):
            await storage.set_state(KEY, None)
            await storage.set_data(KEY, {})
            await session.commit()  # the ticket and the cleared draft, together
            assert await row_count(session_factory) == 0
            assert await storage.get_state(KEY) is None
            await storage.set_state(KEY, "Complaint:category")
            await session.rollback()  # what came after the commit is lost
    assert await storage.get_state(KEY) is None
    assert await row_count(session_factory) == 0

    async with session_factory() as session:
        with update_scope(session):
            await storage.set_state(KEY, "Complaint:category")
            await session.commit()
            await storage.update_data(KEY, {"category": "noise"})
            await session.commit()
    assert await storage.get_state(KEY) == "Complaint:category"
    assert await storage.get_data(KEY) == {"category": "noise"}


async def test_per_key_isolation_serialises_a_key_and_forgets_it_when_free():
    isolation = PerKeyIsolation()
    other = StorageKey(bot_id=1, chat_id=101, user_id=201)
    order: list[str] = []

    async def update(key: StorageKey, name: str, hold: asyncio.Event | None = None) -> None:
        async with isolation.lock(key):
            order.append(f"{name} in")
            if hold is not None:
                await hold.wait()
            order.append(f"{name} out")

    release = asyncio.Event()
    first = asyncio.create_task(update(KEY, "first", release))
    await asyncio.sleep(0)
    second = asyncio.create_task(update(KEY, "second"))
    await update(other, "other")  # another person is not held up
    await asyncio.sleep(0)
    assert order == ["first in", "other in", "other out"]
    release.set()
    await asyncio.gather(first, second)
    assert order[3:] == ["first out", "second in", "second out"]
    assert len(isolation._locks) == 0  # no lock outlives its updates


async def test_a_storage_bound_to_the_commit_refuses_non_json_data_in_the_handler(
    session_factory,
):
    """Redis would fail to store it only after the update's commit, when the work it
    belongs to stands: it is refused at once, so the update rolls back instead."""
    storage = CommitBoundStorage(MemoryStorage())
    async with session_factory() as session:
        with update_scope(session) as scope:
            with pytest.raises(TypeError, match="JSON"):
                await storage.set_data(KEY, {"when": datetime(2024, 1, 1, tzinfo=UTC)})
            await storage.set_data(KEY, {"text": "draft"})
            await session.commit()
            await storage.write_committed(scope)
    assert await storage.get_data(KEY) == {"text": "draft"}
