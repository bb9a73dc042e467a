"""Pushes through the outbox: in order per chat, once, and kept when Telegram refuses."""

import asyncio
import contextlib
from datetime import timedelta

import pytest
from sqlmodel import select

from redgrid.bot.factory import create_bot
from redgrid.bot.i18n import create_i18n
from redgrid.bot.notifier import CLAIM_LEASE, MAX_ATTEMPTS, Notifier, OutboxSender
from redgrid.bot.pacing import Limits, SendPacer
from redgrid.bot.settings import Settings
from redgrid.models import Grid, OutboxMessage, OutboxStatus
from redgrid.models.base import utcnow
from redgrid.services.district import import_district
from redgrid.services.district_file import parse_district_file
from tests.bot_harness import TOKEN
from tests.district_files import dumps, small_district
from tests.fake_bot_api import FakeApiError, FakeBotApi

ADMIN = 9900
FAST = Limits(per_second=1000, private_chat_interval=0, group_per_minute=1000, spacing=0)


@pytest.fixture
async def api():
    async with FakeBotApi(token=TOKEN) as api:
        yield api


def sender_for(api, database_url, session_factory, limits=FAST) -> OutboxSender:
    settings = Settings(bot_token=TOKEN, database_url=database_url, telegram_api_base=api.base_url)
    return OutboxSender(
        create_bot(settings),
        session_factory,
        i18n=create_i18n(settings.default_locale),
        pacer=SendPacer(limits),
        admin_telegram_ids=frozenset({ADMIN}),
    )


async def stage(session_factory, build) -> list[OutboxMessage]:
    async with session_factory() as session:
        notifier = Notifier(session)
        build(notifier)
        await session.commit()
        return notifier.staged


async def statuses(session_factory) -> list[OutboxStatus]:
    async with session_factory() as session:
        rows = await session.exec(select(OutboxMessage).order_by(OutboxMessage.id))
        return [row.status for row in rows.all()]


async def test_rows_are_sent_in_order_and_marked(api, database_url, session_factory):
    def build(notifier):
        notifier.photos(501, ["p1", "p2", "p3"], caption="three")
        notifier.location(501, 28.23, 116.6)
        notifier.message(501, "card")
        notifier.message(502, "other chat")

    rows = await stage(session_factory, build)
    sender = sender_for(api, database_url, session_factory)
    await sender.deliver(rows)
    await sender.bot.session.close()
    methods = [call.method for call in api.sent(chat_id=501)]
    assert methods == ["sendMediaGroup", "sendLocation", "sendMessage"]
    assert await statuses(session_factory) == [OutboxStatus.SENT] * 4
    await sender.deliver(rows)  # already sent: nothing goes twice
    assert len(api.sent(chat_id=501)) == 3


async def test_two_senders_send_each_row_once(api, database_url, session_factory):
    rows = await stage(session_factory, lambda n: [n.message(600 + i, f"m{i}") for i in range(20)])
    first = sender_for(api, database_url, session_factory)
    second = sender_for(api, database_url, session_factory)
    await asyncio.gather(first.deliver(rows), second.deliver(rows))
    assert len(api.sent("sendMessage", ok=True)) == 20
    await first.bot.session.close()
    await second.bot.session.close()


async def test_429_keeps_the_row_and_holds_the_chat(api, database_url, session_factory):
    rows = await stage(session_factory, lambda n: [n.message(701, "a"), n.message(701, "b")])
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    sender = sender_for(api, database_url, session_factory)
    await sender.deliver(rows)
    assert await statuses(session_factory) == [OutboxStatus.PENDING, OutboxStatus.PENDING]
    assert sender.pacer.delay(701) > 6
    async with session_factory() as session:
        first = await session.get(OutboxMessage, rows[0].id)
        assert first.next_attempt_at > utcnow() + timedelta(seconds=6)
    await sender.bot.session.close()


async def test_a_new_push_waits_behind_an_older_one_of_its_chat(api, database_url, session_factory):
    """A push staged after an older one of the same chat was told to wait (a retry-after,
    here seen by another instance) does not overtake it; both go, in order, once it may."""
    [first] = await stage(session_factory, lambda n: n.message(711, "first"))
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    elsewhere = sender_for(api, database_url, session_factory)
    await elsewhere.deliver([first])
    await elsewhere.bot.session.close()

    later = await stage(session_factory, lambda n: [n.message(711, "second"), n.message(712, "x")])
    sender = sender_for(api, database_url, session_factory)  # its pacer knows of no 429
    await sender.deliver(later)
    assert [call.text for call in api.sent("sendMessage", ok=True)] == ["x"]
    assert await statuses(session_factory) == [
        OutboxStatus.PENDING,
        OutboxStatus.PENDING,
        OutboxStatus.SENT,
    ]

    async with session_factory() as session, session.begin():
        row = await session.get(OutboxMessage, first.id)
        row.next_attempt_at = utcnow()  # the retry-after has passed
    assert await sender.drain() == 2
    assert [call.text for call in api.sent("sendMessage", chat_id=711, ok=True)] == [
        "first",
        "second",
    ]
    await sender.bot.session.close()


async def test_a_push_to_a_group_that_became_a_supergroup_follows_it(
    api, database_url, session_factory
):
    """Telegram refuses the old group's id and names the new one: the grid's team chat
    moves, and the group's pushes go to the supergroup, in order."""
    old_group, supergroup = -4001, -1001234567890
    async with session_factory() as session, session.begin():
        await import_district(session, parse_district_file(dumps(small_district())))
        grid = (await session.exec(select(Grid).where(Grid.code == "A"))).one()
        grid.team_chat_id = old_group
    rows = await stage(
        session_factory, lambda n: [n.message(old_group, "photo"), n.message(old_group, "card")]
    )
    api.fail_next(
        "sendMessage",
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        chat_id=old_group,
        migrate_to_chat_id=supergroup,
    )
    sender = sender_for(api, database_url, session_factory)
    await sender.deliver(rows)
    await sender.wait_idle()
    await sender.bot.session.close()
    assert [call.text for call in api.sent("sendMessage", chat_id=supergroup, ok=True)] == [
        "photo",
        "card",
    ]
    assert len(api.sent("sendMessage", chat_id=old_group)) == 1  # the refused one only
    assert await statuses(session_factory) == [OutboxStatus.SENT, OutboxStatus.SENT]
    async with session_factory() as session:
        grid = (await session.exec(select(Grid).where(Grid.code == "A"))).one()
        assert grid.team_chat_id == supergroup


async def test_an_unexpected_error_retries_after_a_lease_then_fails(
    api, database_url, session_factory
):
    """An error that is not Telegram's answer (here a reply aiogram cannot read): the row
    goes again when a claim would have run out, and fails after MAX_ATTEMPTS."""
    rows = await stage(session_factory, lambda n: n.message(731, "unreadable reply"))
    api.set_handler("sendMessage", lambda call: "not a message")
    sender = sender_for(api, database_url, session_factory)
    await sender.deliver(rows)
    async with session_factory() as session, session.begin():
        row = await session.get(OutboxMessage, rows[0].id)
        assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
        assert row.last_error
        assert row.next_attempt_at > utcnow() + CLAIM_LEASE - timedelta(seconds=30)
        row.attempts, row.next_attempt_at = MAX_ATTEMPTS - 1, utcnow()
    assert await sender.drain() == 1
    assert await statuses(session_factory) == [OutboxStatus.FAILED]
    await sender.bot.session.close()


async def test_blocked_chat_fails_without_holding_others(api, database_url, session_factory):
    rows = await stage(session_factory, lambda n: [n.message(801, "x"), n.message(802, "y")])
    api.block_chat(801)
    sender = sender_for(api, database_url, session_factory)
    await sender.deliver(rows)
    assert await statuses(session_factory) == [OutboxStatus.FAILED, OutboxStatus.SENT]
    await sender.bot.session.close()


async def test_server_error_retries_later_then_drain_sends(api, database_url, session_factory):
    rows = await stage(session_factory, lambda n: n.message(901, "z"))
    api.fail_next("sendMessage", 502, "Bad Gateway")
    sender = sender_for(api, database_url, session_factory)
    await sender.deliver(rows)
    assert await statuses(session_factory) == [OutboxStatus.PENDING]
    async with session_factory() as session, session.begin():
        row = await session.get(OutboxMessage, rows[0].id)
        assert row.attempts == 1
        row.next_attempt_at = utcnow()  # the backoff has passed
    assert await sender.drain() == 1
    assert await statuses(session_factory) == [OutboxStatus.SENT]
    await sender.bot.session.close()


async def test_two_senders_keep_every_chat_in_order(api, database_url, session_factory):
    def build(notifier):
        for number in range(3):
            for chat in range(8):
                notifier.message(1100 + chat, f"{chat}:{number}")

    rows = await stage(session_factory, build)
    first = sender_for(api, database_url, session_factory)
    second = sender_for(api, database_url, session_factory)
    await asyncio.gather(first.deliver(rows), second.deliver(rows), second.drain(), first.drain())
    for chat in range(8):
        texts = [call.text for call in api.sent("sendMessage", chat_id=1100 + chat)]
        assert texts == [f"{chat}:{number}" for number in range(3)]
    assert await statuses(session_factory) == [OutboxStatus.SENT] * 24
    await first.bot.session.close()
    await second.bot.session.close()


async def test_a_sender_that_dies_mid_send_leaves_the_chat_to_its_lease(
    api, database_url, session_factory
):
    rows = await stage(session_factory, lambda n: [n.message(1201, "a"), n.message(1201, "b")])
    arrived, release = asyncio.Event(), asyncio.Event()

    async def hang(call):
        arrived.set()
        await release.wait()
        raise FakeApiError(502, "Bad Gateway")

    api.set_handler("sendMessage", hang)
    dying = sender_for(api, database_url, session_factory)
    delivering = asyncio.create_task(dying.deliver(rows))
    await asyncio.wait_for(arrived.wait(), timeout=5)
    delivering.cancel()  # the process dies while Telegram has the request
    with contextlib.suppress(asyncio.CancelledError):
        await delivering

    async with FakeBotApi(token=TOKEN) as other:
        survivor = sender_for(other, database_url, session_factory)
        assert await survivor.drain() == 0  # "a" is claimed, and "b" waits behind it
        await survivor.deliver(rows)
        assert other.sent() == []
        async with session_factory() as session, session.begin():
            first, second = [await session.get(OutboxMessage, row.id) for row in rows]
            assert first.status is OutboxStatus.PENDING
            assert first.next_attempt_at > utcnow() + timedelta(minutes=1)  # the lease
            assert second.next_attempt_at <= utcnow()  # never claimed
            first.next_attempt_at = utcnow()  # the lease has run out
        assert await survivor.drain() == 2
        assert [call.text for call in other.sent("sendMessage")] == ["a", "b"]
        assert await statuses(session_factory) == [OutboxStatus.SENT] * 2
        await survivor.bot.session.close()
    release.set()
    await dying.bot.session.close()
