"""With REDIS_URL set, conversation state lives in Redis: several instances share it, and
a half-written complaint survives a restart. Runs against the local Redis; skips (or, in
CI, fails) when it cannot be reached."""

import asyncio
import os
from datetime import timedelta

import pytest
from aiogram.exceptions import TelegramNetworkError
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlmodel import select

from redgrid.bot.factory import create_storage
from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import CategoryCb, DraftAction, DraftCb
from redgrid.models import Ticket
from redgrid.services.district import import_district
from redgrid.services.district_file import parse_district_file
from tests.bot_harness import TOKEN, bot_harness, messages
from tests.bot_harness import Person as Client
from tests.district_files import dumps, small_district

# Database 15 of the local server, emptied before and after: the tests own it.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
async def redis_url():
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisConnectionError, OSError) as error:
        if os.environ.get("REDGRID_REQUIRE_REDIS") == "1":
            pytest.fail(f"Redis at {REDIS_URL} unreachable: {error}")
        pytest.skip(f"Redis at {REDIS_URL} unreachable: {error}")
    await client.flushdb()
    yield REDIS_URL
    await client.flushdb()
    await client.aclose()


async def test_a_draft_in_redis_survives_a_restart(redis_url, database_url, session_factory):
    async with session_factory() as session, session.begin():
        await import_district(session, parse_district_file(dumps(small_district())))
    settings = Settings(bot_token=TOKEN, database_url=database_url, redis_url=redis_url)

    storage, isolation = create_storage(settings, session_factory)
    assert isinstance(storage.inner, RedisStorage)
    assert isinstance(isolation, RedisEventIsolation)  # one person's updates, in order
    async with bot_harness(settings, session_factory, storage=storage) as harness:
        resident = harness.person("Li", language_code="en")
        await resident.text("/new")
        await resident.press(CategoryCb(code="noise").pack())
        await resident.text("Loud music every night after midnight")

    restarted_storage, _ = create_storage(settings, session_factory)
    async with bot_harness(settings, session_factory, storage=restarted_storage) as harness:
        same = Client(harness, resident.user)
        prompts = messages(await same.press(DraftCb(action=DraftAction.SKIP_PHOTOS).pack()))
        assert any("location" in prompt.text.lower() for prompt in prompts)
        await same.location(28.2305, 116.6005)
        await same.press(DraftCb(action=DraftAction.CONSENT_ANONYMOUS).pack())
        await same.press(DraftCb(action=DraftAction.CONFIRM).pack())
    async with session_factory() as session:
        ticket = (await session.exec(select(Ticket))).one()
        assert ticket.description == "Loud music every night after midnight"
        assert ticket.category == "noise"


async def test_two_bots_sharing_a_redis_keep_their_conversations_apart(
    redis_url, database_url, session_factory
):
    settings = Settings(bot_token=TOKEN, database_url=database_url, redis_url=redis_url)
    storage, isolation = create_storage(settings, session_factory)
    district_a = StorageKey(bot_id=1001, chat_id=42, user_id=42)
    district_b = StorageKey(bot_id=1002, chat_id=42, user_id=42)
    try:
        await storage.set_state(district_a, "Complaint:description")
        await storage.set_data(district_a, {"category": "noise"})
        assert await storage.get_state(district_a) == "Complaint:description"
        assert await storage.get_state(district_b) is None
        assert await storage.get_data(district_b) == {}
        # A lock on one bot's key does not hold up the other's.
        async with isolation.lock(district_a), asyncio.timeout(1), isolation.lock(district_b):
            pass
    finally:
        await storage.close()


async def test_a_lock_lost_while_filing_does_not_deny_the_ticket(
    redis_url, database_url, session_factory
):
    """Redis lost the person's lock while their ticket was being filed (a restart, or a
    handler that outlasted the lock): the ticket stands and they were told so; releasing
    the lock fails afterwards, and that must not send them an apology saying nothing was
    changed."""
    async with session_factory() as session, session.begin():
        await import_district(session, parse_district_file(dumps(small_district())))
    settings = Settings(bot_token=TOKEN, database_url=database_url, redis_url=redis_url)
    storage, isolation = create_storage(settings, session_factory)
    async with bot_harness(settings, session_factory, storage, isolation) as harness:
        resident = harness.person("Li", language_code="zh-hans")
        await resident.text("/new")
        await resident.press(CategoryCb(code="noise").pack())
        await resident.text("每天半夜音乐很吵")
        await resident.press(DraftCb(action=DraftAction.SKIP_PHOTOS).pack())
        await resident.location(28.2305, 116.6005)
        await resident.press(DraftCb(action=DraftAction.CONSENT_ANONYMOUS).pack())
        record = harness.session.make_request

        async def lose_the_lock(bot, method, timeout=None):
            for lock in await storage.inner.redis.keys("*:lock"):
                await storage.inner.redis.delete(lock)
            return await record(bot, method, timeout)

        harness.session.make_request = lose_the_lock
        replies = messages(await resident.press(DraftCb(action=DraftAction.CONFIRM).pack()))
    assert [reply.text for reply in replies if "出错" in reply.text] == []
    assert "已提交" in replies[-1].text
    async with session_factory() as session:
        assert len((await session.exec(select(Ticket))).all()) == 1


async def test_an_abandoned_draft_expires(redis_url, database_url, session_factory):
    """Redis keeps a conversation 30 days after its last change, as the database storage
    does (the ticker deletes older ones there): an abandoned draft is personal data."""
    settings = Settings(bot_token=TOKEN, database_url=database_url, redis_url=redis_url)
    storage, _isolation = create_storage(settings, session_factory)
    key = StorageKey(bot_id=1, chat_id=7, user_id=7)
    await storage.set_state(key, "Complaint:description")
    await storage.set_data(key, {"category": "noise"})
    for part in ("state", "data"):
        ttl = await storage.inner.redis.ttl(storage.inner.key_builder.build(key, part))
        assert timedelta(days=30) - timedelta(minutes=1) < timedelta(seconds=ttl)
        assert timedelta(seconds=ttl) <= timedelta(days=30)
    await storage.close()


async def test_a_failed_step_leaves_the_redis_draft_where_it_was(
    redis_url, database_url, session_factory
):
    """As with the database storage, a conversation step lands with the update's commit or
    not at all: a step whose reply fails is not taken (the person is told nothing changed
    and tries again), and a filed ticket's cleared draft stays cleared although the reply
    after the commit failed (or a second Confirm would file it twice)."""
    async with session_factory() as session, session.begin():
        await import_district(session, parse_district_file(dumps(small_district())))
    settings = Settings(bot_token=TOKEN, database_url=database_url, redis_url=redis_url)
    storage, isolation = create_storage(settings, session_factory)
    async with bot_harness(settings, session_factory, storage, isolation) as harness:
        resident = harness.person("Li", language_code="en")
        key = StorageKey(bot_id=harness.bot.id, chat_id=resident.id, user_id=resident.id)
        await resident.text("/new")
        await resident.press(CategoryCb(code="noise").pack())
        record = harness.session.make_request
        failing = {"Send up to": False, "complaint is filed": False}

        async def telegram_fails_once(bot, method, timeout=None):
            for part, failed in failing.items():
                if part in (getattr(method, "text", None) or "") and not failed:
                    failing[part] = True
                    raise TelegramNetworkError(method=method, message="connection reset")
            return await record(bot, method, timeout)

        harness.session.make_request = telegram_fails_once
        [apology] = messages(await resident.text("Loud music every night"))
        assert "nothing was changed" in apology.text
        assert await storage.get_state(key) == "Complaint:description"
        assert "description" not in await storage.get_data(key)
        prompts = messages(await resident.text("Loud music every night"))
        assert "photos" in prompts[-1].text.lower()

        await resident.press(DraftCb(action=DraftAction.SKIP_PHOTOS).pack())
        await resident.location(28.2305, 116.6005)
        await resident.press(DraftCb(action=DraftAction.CONSENT_ANONYMOUS).pack())
        await resident.press(DraftCb(action=DraftAction.CONFIRM).pack())
        assert await storage.get_state(key) is None
        [answer] = await resident.press(DraftCb(action=DraftAction.CONFIRM).pack())
        assert "no longer valid" in answer.method.text
    async with session_factory() as session:
        assert len((await session.exec(select(Ticket))).all()) == 1


async def test_confirm_pressed_on_two_instances_at_once_files_one_ticket(
    redis_url, database_url, session_factory
):
    """Two bot instances share the database and Redis; the person's double press reaches
    both at once. Redis serialises the two updates, and the first one's cleared draft is
    in Redis before the second one starts: one ticket, and the second press is refused."""
    async with session_factory() as session, session.begin():
        await import_district(session, parse_district_file(dumps(small_district())))
    settings = Settings(bot_token=TOKEN, database_url=database_url, redis_url=redis_url)
    first_storage, first_isolation = create_storage(settings, session_factory)
    second_storage, second_isolation = create_storage(settings, session_factory)
    async with (
        bot_harness(settings, session_factory, first_storage, first_isolation) as first,
        bot_harness(settings, session_factory, second_storage, second_isolation) as second,
    ):
        resident = first.person("Li", language_code="en")
        await resident.text("/new")
        await resident.press(CategoryCb(code="noise").pack())
        await resident.text("Loud music every night")
        await resident.press(DraftCb(action=DraftAction.SKIP_PHOTOS).pack())
        await resident.location(28.2305, 116.6005)
        await resident.press(DraftCb(action=DraftAction.CONSENT_ANONYMOUS).pack())
        confirm = DraftCb(action=DraftAction.CONFIRM).pack()
        presses = await asyncio.gather(
            resident.press(confirm), Client(second, resident.user).press(confirm)
        )
    replies = [call.text for calls in presses for call in calls if call.text]
    assert len([text for text in replies if "complaint is filed" in text]) == 1
    assert len([text for text in replies if "no longer valid" in text]) == 1
    async with session_factory() as session:
        assert len((await session.exec(select(Ticket))).all()) == 1
