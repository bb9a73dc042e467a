"""Chats the bot cannot reach, through the outbox and the fake Bot API, on SQLite and
PostgreSQL: a team group that refuses a push is unbound and its team told once, a person
whose chat is gone is handed over like one who blocked the bot, a row's failure is
written (and announced) once, and a row that never arrives sends its undelivered notice."""

import asyncio
from datetime import UTC, datetime

import pytest
from aiogram.types import (
    Chat,
    ChatMemberBanned,
    ChatMemberMember,
    ChatMemberUpdated,
    Message,
    Update,
    User,
)
from sqlmodel import select

from redgrid.bot.factory import create_bot
from redgrid.bot.i18n import create_i18n
from redgrid.bot.lost_chats import GIVEN_UP, UndeliveredNotice
from redgrid.bot.notifier import Notifier, OutboxSender
from redgrid.bot.pacing import Limits, SendPacer
from redgrid.bot.settings import Settings
from redgrid.bot.team_chat import team_chat_lost
from redgrid.handlers.team.ask import QUESTION_UNDELIVERED
from redgrid.models import Grid, OutboxMessage, OutboxStatus, Person, Role, TicketSource
from redgrid.models.base import utcnow
from redgrid.services import people
from redgrid.services.categories import load_categories
from redgrid.services.district import import_district
from redgrid.services.district_file import parse_district_file
from redgrid.services.invites import move_team_chat, unbind_team_chat
from redgrid.services.tickets import TicketDraft, create_ticket
from tests.bot_harness import BOT_USER, TOKEN, bot_harness
from tests.district_files import dumps, small_district
from tests.fake_bot_api import FakeApiError, FakeBotApi

FAST = Limits(per_second=1000, private_chat_interval=0, group_per_minute=1000, spacing=0)
TEAM_CHAT = -100555
WORKER_EN, WORKER_ZH, ASKER, REPORTER = 8101, 8102, 8103, 8104
I18N = create_i18n("zh_CN")
REMOVED_EN = "I was removed from the group chat of grid 网格A (A)"
REMOVED_ZH = "我已被移出网格A（A）的工作群"
NOT_FOUND = "Bad Request: chat not found"
NO_ADMINS: frozenset[int] = frozenset()
CATALOGUE = load_categories()


@pytest.fixture
async def api():
    async with FakeBotApi(token=TOKEN) as api:
        yield api


@pytest.fixture
async def grid_id(session_factory) -> int:
    """Grid A, bound to TEAM_CHAT, with an English and a Chinese worker; the asker and the
    reporter of the undelivered-notice tests."""
    async with session_factory() as session, session.begin():
        await import_district(session, parse_district_file(dumps(small_district())))
        grid = (await session.exec(select(Grid).where(Grid.code == "A"))).one()
        grid.team_chat_id = TEAM_CHAT
        for telegram_id, locale in ((WORKER_EN, "en"), (WORKER_ZH, "zh_CN")):
            worker = await people.get_or_create_person(session, telegram_id, "W", locale)
            await people.grant_role(session, worker.id, Role.GRID_WORKER, grid_id=grid.id)
        await people.get_or_create_person(session, ASKER, "Asker", "en")
        await people.get_or_create_person(session, REPORTER, "Reporter", "zh_CN")
        return grid.id


def sender_for(api, database_url, session_factory) -> OutboxSender:
    settings = Settings(bot_token=TOKEN, database_url=database_url, telegram_api_base=api.base_url)
    return OutboxSender(create_bot(settings), session_factory, i18n=I18N, pacer=SendPacer(FAST))


@pytest.fixture
async def sender(api, database_url, session_factory):
    sender = sender_for(api, database_url, session_factory)
    yield sender
    await sender.wait_idle()
    await sender.bot.session.close()


async def stage(session_factory, build) -> list[OutboxMessage]:
    async with session_factory() as session:
        notifier = Notifier(session)
        build(notifier)
        await session.commit()
        return notifier.staged


async def person_id(session_factory, telegram_id: int) -> int:
    async with session_factory() as session:
        found = await session.exec(select(Person.id).where(Person.telegram_id == telegram_id))
        return found.one()


async def team_chat(session_factory, grid_id: int) -> int | None:
    async with session_factory() as session:
        return (await session.get(Grid, grid_id)).team_chat_id


def told(api, chat_id: int) -> list[str]:
    return [call.text for call in api.sent("sendMessage", chat_id=chat_id, ok=True)]


def test_a_sender_needs_i18n():
    """It renders notices in their readers' languages: no silent default."""
    with pytest.raises(TypeError, match="i18n"):
        OutboxSender(None, None)  # type: ignore[call-arg]


async def test_two_transactions_unbinding_one_chat_find_it_once(session_factory, grid_id):
    """The my_chat_member update and a refused push (or two instances) at once: one of them
    unbinds the grid and tells its team, the other finds nothing to do."""
    first_unbound, release = asyncio.Event(), asyncio.Event()

    async def first():
        async with session_factory() as session:
            notifier = Notifier(session)
            grid = await team_chat_lost(session, notifier, I18N, TEAM_CHAT, utcnow(), NO_ADMINS)
            first_unbound.set()
            await release.wait()
            await session.commit()
            return grid, notifier.staged

    async def second():
        await first_unbound.wait()
        async with session_factory() as session:
            notifier = Notifier(session)
            waiting = asyncio.create_task(
                team_chat_lost(session, notifier, I18N, TEAM_CHAT, utcnow(), NO_ADMINS)
            )
            await asyncio.sleep(0.2)  # its UPDATE waits for the first transaction
            release.set()
            grid = await waiting
            await session.commit()
            return grid, notifier.staged

    (grid_a, told_a), (grid_b, told_b) = await asyncio.gather(first(), second())
    assert grid_a is not None
    assert grid_a.id == grid_id
    assert grid_a.team_chat_id is None
    assert (grid_b, told_b) == (None, [])
    assert sorted(row.chat_id for row in told_a) == [WORKER_EN, WORKER_ZH]
    assert await team_chat(session_factory, grid_id) is None


async def test_two_transactions_moving_one_chat_find_it_once(session_factory, grid_id):
    """The old group's and the supergroup's service messages (or a refused push) at once:
    one moves the grid, the other finds nothing to do. Read first and written after, both
    moved it, and a grid bound elsewhere in between would have been taken back."""
    supergroup = TEAM_CHAT - 1_000_000_000_000
    first_moved, release = asyncio.Event(), asyncio.Event()

    async def first():
        async with session_factory() as session:
            grid = await move_team_chat(session, TEAM_CHAT, supergroup, utcnow())
            first_moved.set()
            await release.wait()
            await session.commit()
            return grid

    async def second():
        await first_moved.wait()
        async with session_factory() as session:
            moving = asyncio.create_task(move_team_chat(session, TEAM_CHAT, supergroup, utcnow()))
            await asyncio.sleep(0.2)  # its UPDATE waits for the first transaction
            release.set()
            grid = await moving
            await session.commit()
            return grid

    moved_a, moved_b = await asyncio.gather(first(), second())
    assert moved_a is not None
    assert moved_a.team_chat_id == supergroup
    assert moved_b is None
    assert await team_chat(session_factory, grid_id) == supergroup


async def test_unbinding_a_chat_that_is_no_team_chat_gives_none(session_factory, grid_id):
    async with session_factory() as session, session.begin():
        assert await unbind_team_chat(session, TEAM_CHAT - 1, utcnow()) is None
    assert await team_chat(session_factory, grid_id) == TEAM_CHAT


@pytest.mark.parametrize(
    ("error_code", "description"),
    [(403, "Forbidden: bot was kicked from the supergroup chat"), (400, NOT_FOUND)],
)
async def test_a_team_group_refusing_a_push_is_unbound_and_the_team_told_once(
    api, sender, session_factory, grid_id, error_code, description
):
    """The my_chat_member update was missed (or the group deleted): the first refused push
    unbinds the group and tells each member in their language; the group's other pushes
    fail too, and nobody is told twice."""
    rows = await stage(
        session_factory,
        lambda n: [n.message(TEAM_CHAT, "card"), n.message(TEAM_CHAT, "another card")],
    )
    api.fail_next("sendMessage", error_code, description, chat_id=TEAM_CHAT)

    await sender.deliver(rows)
    await sender.wait_idle()

    assert await team_chat(session_factory, grid_id) is None
    [en] = told(api, WORKER_EN)
    [zh] = told(api, WORKER_ZH)
    assert REMOVED_EN in en
    assert REMOVED_ZH in zh
    async with session_factory() as session:
        failed = [await session.get(OutboxMessage, row.id) for row in rows]
    assert [row.status for row in failed] == [OutboxStatus.FAILED, OutboxStatus.FAILED]
    # the other card was given up with the group, not sent to be refused in its turn
    assert len(api.sent("sendMessage", chat_id=TEAM_CHAT, ok=False)) == 1
    assert (failed[1].attempts, failed[1].last_error) == (0, GIVEN_UP)


async def test_an_unbound_groups_pending_pushes_are_given_up_and_handed_over_once_in_order(
    api, sender, session_factory, grid_id
):
    """The bot is removed (the my_chat_member update, or a refused push): the group's
    pending rows fail in the same transaction as the unbinding, and each push the team
    did not get in private reaches each member once, whole, in order."""
    async with session_factory() as session, session.begin():
        reporter = (await session.exec(select(Person).where(Person.telegram_id == REPORTER))).one()
        draft = TicketDraft(TicketSource.RESIDENT, "safety", "电线裸露", grid_id=grid_id)
        ticket_id = (await create_ticket(session, draft, reporter, CATALOGUE, utcnow())).id
    worker_ids = [
        await person_id(session_factory, WORKER_EN),
        await person_id(session_factory, WORKER_ZH),
    ]

    def build(n: Notifier) -> None:
        with n.push():  # the team has this one in private too
            for chat_id, member_id in [(WORKER_EN, worker_ids[0]), (WORKER_ZH, worker_ids[1])]:
                n.message(chat_id, "card", person_id=member_id, ticket_id=ticket_id)
            n.message(TEAM_CHAT, "card", ticket_id=ticket_id)
        with n.push():  # these two only went to the group
            n.photos(TEAM_CHAT, ["photo-1", "photo-2"], ticket_id=ticket_id)
            n.message(TEAM_CHAT, "first", ticket_id=ticket_id)
        n.message(TEAM_CHAT, "second", ticket_id=ticket_id)
        n.message(TEAM_CHAT, "no ticket: nothing to hand over")

    rows = await stage(session_factory, build)
    group_rows = [row for row in rows if row.chat_id == TEAM_CHAT]
    async with session_factory() as session:
        notifier = Notifier(session)
        await team_chat_lost(session, notifier, I18N, TEAM_CHAT, utcnow(), NO_ADMINS)
        await session.commit()
    assert await sender.drain() == 10  # to each worker: their card, the removal, 3 rows handed over
    await sender.wait_idle()

    assert api.sent("sendMessage", chat_id=TEAM_CHAT) == []
    async with session_factory() as session:
        for row in group_rows:
            assert (await session.get(OutboxMessage, row.id)).status is OutboxStatus.FAILED
    for worker in (WORKER_EN, WORKER_ZH):
        calls = api.sent(chat_id=worker, ok=True)
        assert [call.method for call in calls] == [
            "sendMessage",  # their own card
            "sendMessage",  # the removal
            "sendMediaGroup",
            "sendMessage",
            "sendMessage",
        ]
        assert calls[0].text == "card"
        assert [call.text for call in calls[3:]] == ["first", "second"]


async def test_a_push_refused_after_the_removal_was_announced_tells_nobody_again(
    api, sender, session_factory, grid_id
):
    """The update came first and was announced; a push staged by a transaction that read
    the binding before it went (pushes staged earlier were given up with the unbinding) is
    refused later."""
    async with session_factory() as session, session.begin():
        assert await team_chat_lost(
            session, Notifier(session), I18N, TEAM_CHAT, utcnow(), NO_ADMINS
        )
    rows = await stage(session_factory, lambda n: n.message(TEAM_CHAT, "card"))
    api.block_chat(TEAM_CHAT)

    await sender.deliver(rows)
    await sender.wait_idle()

    assert told(api, WORKER_EN) == []
    assert told(api, WORKER_ZH) == []
    assert len(api.sent("sendMessage", chat_id=TEAM_CHAT, ok=False)) == 1


async def test_a_private_chat_not_found_marks_the_person_unreachable(
    api, sender, session_factory, grid_id
):
    """The account is deleted: as good as a block, and so recorded."""
    worker_id = await person_id(session_factory, WORKER_EN)
    rows = await stage(session_factory, lambda n: n.message(WORKER_EN, "x", person_id=worker_id))
    api.fail_next("sendMessage", 400, NOT_FOUND, chat_id=WORKER_EN)

    await sender.deliver(rows)

    async with session_factory() as session:
        assert (await session.get(Person, worker_id)).unreachable_at is not None
        assert (await session.get(OutboxMessage, rows[0].id)).status is OutboxStatus.FAILED


async def question_to_reporter(session_factory) -> list[OutboxMessage]:
    asker_id = await person_id(session_factory, ASKER)
    notice = UndeliveredNotice(
        (asker_id,),
        QUESTION_UNDELIVERED,
        {"number": "DX-000007", "question": "Which <b>building</b>?"},
    )
    return await stage(
        session_factory, lambda n: n.message(REPORTER, "question", if_undelivered=notice)
    )


async def test_a_row_that_finally_fails_sends_its_undelivered_notice(
    api, sender, session_factory, grid_id
):
    rows = await question_to_reporter(session_factory)
    api.fail_next("sendMessage", 400, "Bad Request: message is too long", chat_id=REPORTER)

    await sender.deliver(rows)
    await sender.wait_idle()

    [notice] = told(api, ASKER)
    assert "Your question on DX-000007 could not be delivered" in notice
    assert "Which &lt;b&gt;building&lt;/b&gt;?" in notice


async def test_a_row_that_will_be_retried_sends_no_notice_yet(
    api, sender, session_factory, grid_id
):
    rows = await question_to_reporter(session_factory)
    api.fail_next("sendMessage", 502, chat_id=REPORTER)

    await sender.deliver(rows)
    await sender.wait_idle()

    assert told(api, ASKER) == []
    async with session_factory() as session, session.begin():
        row = await session.get(OutboxMessage, rows[0].id)
        assert row.status is OutboxStatus.PENDING
        row.next_attempt_at = utcnow()  # the backoff has passed
    assert await sender.drain() == 1
    await sender.wait_idle()
    assert told(api, ASKER) == []  # delivered after all
    assert told(api, REPORTER) == ["question"]


async def test_a_failure_is_written_and_announced_once_when_two_senders_had_the_row(
    api, database_url, session_factory, grid_id
):
    """A send outlives its claim's lease; another sender takes the row, and both get a 403:
    only the claim's holder writes the failure, so the asker hears of it once and the row
    counts one attempt."""
    rows = await question_to_reporter(session_factory)
    arrived, release = asyncio.Event(), asyncio.Event()
    refusals = 0

    async def refuse_late(call):
        nonlocal refusals
        refusals += 1
        if refusals == 1:  # the first sender's request hangs past its lease
            arrived.set()
            await release.wait()
        raise FakeApiError(403, "Forbidden: bot was blocked by the user")

    api.set_handler("sendMessage", refuse_late)
    slow = sender_for(api, database_url, session_factory)
    delivering = asyncio.create_task(slow.deliver(rows))
    await asyncio.wait_for(arrived.wait(), timeout=5)
    async with session_factory() as session, session.begin():
        (await session.get(OutboxMessage, rows[0].id)).next_attempt_at = utcnow()  # lease over

    async with FakeBotApi(token=TOKEN) as other_api:
        other_api.block_chat(REPORTER)
        other = sender_for(other_api, database_url, session_factory)
        assert await other.drain() == 1
        await other.wait_idle()
        release.set()
        await delivering
        await slow.wait_idle()
        await other.bot.session.close()
        notices = told(other_api, ASKER) + api.sent("sendMessage", chat_id=ASKER)
    await slow.bot.session.close()

    assert len(notices) == 1
    async with session_factory() as session:
        row = await session.get(OutboxMessage, rows[0].id)
        assert (row.status, row.attempts) == (OutboxStatus.FAILED, 1)


@pytest.fixture
async def harness(database_url, session_factory, grid_id):
    settings = Settings(bot_token=TOKEN, database_url=database_url)
    async with bot_harness(settings, session_factory) as harness:
        yield harness


async def file_ticket(session_factory, grid_id: int) -> int:
    async with session_factory() as session, session.begin():
        reporter = (await session.exec(select(Person).where(Person.telegram_id == REPORTER))).one()
        draft = TicketDraft(TicketSource.RESIDENT, "safety", "电线裸露", grid_id=grid_id)
        return (await create_ticket(session, draft, reporter, CATALOGUE, utcnow())).id


async def test_a_person_blocking_the_bot_has_their_pending_pushes_handed_over_at_once(
    harness, session_factory, grid_id
):
    """Telegram's my_chat_member update says the worker blocked the bot: their pending
    pushes fail in the same transaction, and each goes to the team's other member once, in
    order, instead of waiting to be refused one by one."""
    ticket_id = await file_ticket(session_factory, grid_id)
    zh_id = await person_id(session_factory, WORKER_ZH)

    def build(n: Notifier) -> None:
        with n.push():
            n.photos(WORKER_ZH, ["photo-1"], person_id=zh_id, ticket_id=ticket_id)
            n.message(WORKER_ZH, "card", person_id=zh_id, ticket_id=ticket_id)
        n.message(WORKER_ZH, "note", person_id=zh_id, ticket_id=ticket_id)

    rows = await stage(session_factory, build)
    blocked = ChatMemberUpdated(
        chat=Chat(id=WORKER_ZH, type="private"),
        from_user=User(id=WORKER_ZH, is_bot=False, first_name="W", language_code="zh-hans"),
        date=datetime.now(UTC),
        old_chat_member=ChatMemberMember(user=BOT_USER),
        new_chat_member=ChatMemberBanned(user=BOT_USER, until_date=0),
    )

    calls = await harness.feed(Update(update_id=next(harness.update_ids), my_chat_member=blocked))

    assert [(call.name, call.chat_id, call.text) for call in calls] == [
        ("SendPhoto", WORKER_EN, ""),
        ("SendMessage", WORKER_EN, "card"),
        ("SendMessage", WORKER_EN, "note"),
    ]
    async with session_factory() as session:
        given_up = [await session.get(OutboxMessage, row.id) for row in rows]
        assert (await session.get(Person, zh_id)).unreachable_at is not None
    assert {(row.status, row.last_error) for row in given_up} == {(OutboxStatus.FAILED, GIVEN_UP)}


async def test_the_supergroup_service_message_moves_the_groups_pending_pushes(
    harness, session_factory, grid_id
):
    """Telegram says the group became a supergroup, in the old chat and in the new one:
    the first moves the grid and the group's pending pushes, which go to the supergroup
    in order; the second finds nothing left to do."""
    supergroup = -1001234567890
    rows = await stage(
        session_factory, lambda n: [n.message(TEAM_CHAT, "first"), n.message(TEAM_CHAT, "second")]
    )

    def service(chat_id: int, **migration: int) -> Update:
        message = Message(
            message_id=next(harness.update_ids),
            date=datetime.now(UTC),
            chat=Chat(id=chat_id, type="group" if chat_id == TEAM_CHAT else "supergroup"),
            from_user=User(id=WORKER_EN, is_bot=False, first_name="W", language_code="en"),
            **migration,
        )
        return Update(update_id=next(harness.update_ids), message=message)

    calls = await harness.feed(service(TEAM_CHAT, migrate_to_chat_id=supergroup))

    assert [(call.chat_id, call.text) for call in calls] == [
        (supergroup, "first"),
        (supergroup, "second"),
    ]
    assert await team_chat(session_factory, grid_id) == supergroup
    assert await harness.feed(service(supergroup, migrate_from_chat_id=TEAM_CHAT)) == []
    async with session_factory() as session:
        moved = [await session.get(OutboxMessage, row.id) for row in rows]
    assert [(row.chat_id, row.status) for row in moved] == [(supergroup, OutboxStatus.SENT)] * 2


async def test_a_refused_reply_hands_the_persons_pending_pushes_over_at_once(
    harness, session_factory, grid_id
):
    """A reply refused because the worker blocked the bot marks them as a refused push
    does, and gives up their pending pushes with it: the other member gets them now."""
    ticket_id = await file_ticket(session_factory, grid_id)
    zh_id = await person_id(session_factory, WORKER_ZH)
    rows = await stage(
        session_factory,
        lambda n: n.message(WORKER_ZH, "card", person_id=zh_id, ticket_id=ticket_id),
    )
    harness.session.blocked.add(WORKER_ZH)
    message = Message(
        message_id=next(harness.update_ids),
        date=datetime.now(UTC),
        chat=Chat(id=WORKER_ZH, type="private"),
        from_user=User(id=WORKER_ZH, is_bot=False, first_name="W", language_code="zh-hans"),
        text="/help",
    )

    calls = await harness.feed(Update(update_id=next(harness.update_ids), message=message))

    assert [(call.chat_id, call.text) for call in calls] == [(WORKER_EN, "card")]
    async with session_factory() as session:
        row = await session.get(OutboxMessage, rows[0].id)
    assert (row.status, row.last_error) == (OutboxStatus.FAILED, GIVEN_UP)
