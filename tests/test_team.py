"""The grid team's side through the real dispatcher, on SQLite and PostgreSQL: accept,
resolve, rate, rework, races, forged buttons, transfer, extend, questions, invalid,
consultation, the queue and /ticket."""

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.storage.base import StorageKey
from aiogram.methods import EditMessageText
from aiogram.types import Chat, Message, Update, User
from sqlmodel import select

from redgrid.bot.i18n import negotiate_locale
from redgrid.bot.pushes import local_time
from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import TicketAction, TicketCb
from redgrid.models import (
    EventKind,
    Grid,
    OutboxMessage,
    Person,
    PhotoKind,
    Rating,
    Role,
    Ticket,
    TicketSource,
    TicketStatus,
)
from redgrid.models.base import utcnow
from redgrid.services import tickets
from redgrid.services.categories import load_categories
from redgrid.services.district import import_district
from redgrid.services.district_file import parse_district_file
from redgrid.services.people import Actor, get_or_create_person, grant_role
from redgrid.services.tickets import TicketDraft
from tests import bot_harness as bh
from tests.bot_harness import BOT_ID, TOKEN, BotHarness, bot_harness, messages
from tests.district_files import dumps, small_district

CATALOGUE = load_categories()
INSIDE_A = (28.2305, 116.6005)
TEAM_CHAT = -100777
PHONE = "13800001111"


@pytest.fixture
def settings(database_url) -> Settings:
    return Settings(bot_token=TOKEN, database_url=database_url, admin_ids=frozenset({1}))


@pytest.fixture
async def harness(settings, session_factory):
    async with bot_harness(settings, session_factory) as harness:
        yield harness


@dataclass
class World:
    """Grids A and B (大富社区), C (东铜社区); A's team works in a group chat.

    Residents: a Chinese reporter with a phone, an English one, a follower. Grid A: an
    English secretary (Wang), a second secretary (Chen), a Chinese worker (Zhang). Grid B:
    a Chinese secretary (Liu). Grid C: a worker (Zhao). The officer of 大富社区 (Qian).
    """

    harness: BotHarness
    session_factory: object
    grids: dict[str, Grid]
    ids: dict[str, int]
    reporter: bh.Person
    resident_en: bh.Person
    follower: bh.Person
    secretary: bh.Person
    secretary2: bh.Person
    worker: bh.Person
    secretary_b: bh.Person
    member_c: bh.Person
    officer: bh.Person

    def actor(self, name: str) -> Actor:
        person = getattr(self, name)
        return Actor(self.ids[name], person.id, False)

    async def ticket(self, *, by: str = "reporter", now: datetime | None = None, **fields):
        """A ticket filed straight through the service (the complaint conversation is
        another module's)."""
        values = {
            "source": TicketSource.RESIDENT,
            "category": "sanitation",
            "description": "楼道堆满垃圾 <b>",
            "latitude": INSIDE_A[0],
            "longitude": INSIDE_A[1],
            "grid_id": self.grids["A"].id,
            "photos": [("report-1", "ur1"), ("report-2", "ur2")],
        } | fields
        async with self.session_factory() as session, session.begin():
            reporter = await session.get(Person, self.ids[by])
            return await tickets.create_ticket(
                session, TicketDraft(**values), reporter, CATALOGUE, now or utcnow()
            )

    async def run(self, function, *args, **kwargs):
        async with self.session_factory() as session, session.begin():
            return await function(session, *args, **kwargs)

    async def load(self, ticket_id: int) -> Ticket:
        async with self.session_factory() as session:
            return await session.get(Ticket, ticket_id)

    async def events(self, ticket_id: int) -> list[EventKind]:
        async with self.session_factory() as session:
            return [e.kind for e in await tickets.ticket_history(session, ticket_id)]

    async def accepted(self, **fields) -> Ticket:
        ticket = await self.ticket(**fields)
        await self.run(tickets.accept, ticket.id, self.actor("secretary"), utcnow())
        return ticket

    async def resolved(self, **fields) -> Ticket:
        ticket = await self.accepted(**fields)
        await self.run(tickets.resolve, ticket.id, self.actor("secretary"), utcnow(), "清理完毕")
        return ticket


PEOPLE = {
    # name: (first name, Telegram language, role, grid or community)
    "reporter": ("Meimei", "zh-hans", None, None),
    "resident_en": ("Alice", "en", None, None),
    "follower": ("Neighbour", "zh-hans", None, None),
    "secretary": ("Wang", "en", Role.SECRETARY, "A"),
    "secretary2": ("Chen", "en", Role.SECRETARY, "A"),
    "worker": ("Zhang", "zh-hans", Role.GRID_WORKER, "A"),
    "secretary_b": ("Liu", "zh-hans", Role.SECRETARY, "B"),
    "member_c": ("Zhao", "en", Role.GRID_WORKER, "C"),
    "officer": ("Qian", "en", Role.OFFICER, "community of A"),
}


async def build_world(harness: BotHarness, session_factory) -> World:
    people = {
        name: harness.person(first, language_code=language)
        for name, (first, language, _, _) in PEOPLE.items()
    }
    ids = {}
    async with session_factory() as session, session.begin():
        await import_district(session, parse_district_file(dumps(small_district())))
        grids = {grid.code: grid for grid in (await session.exec(select(Grid))).all()}
        grids["A"].team_chat_id = TEAM_CHAT
        for name, (_, language, role, scope) in PEOPLE.items():
            user = people[name].user
            locale = negotiate_locale(None, language, "zh_CN")
            person = await get_or_create_person(session, user.id, user.full_name, locale)
            ids[name] = person.id
            if role is Role.OFFICER:
                await grant_role(session, person.id, role, community_id=grids["A"].community_id)
            elif role is not None:
                await grant_role(session, person.id, role, grid_id=grids[scope].id)
        (await session.get(Person, ids["reporter"])).phone = PHONE
    return World(harness, session_factory, grids, ids, **people)


@pytest.fixture
async def world(harness, session_factory) -> World:
    return await build_world(harness, session_factory)


def data(action: TicketAction, ticket: Ticket) -> str:
    return TicketCb(action=action, ticket_id=ticket.id).pack()


def alert(calls) -> str:
    [answer] = [call for call in calls if call.name == "AnswerCallbackQuery"]
    return answer.method.text or ""


def answer_to(calls, person: bh.Person):
    """The one message the person got back among ``calls`` (pushes to others aside)."""
    [answer] = [call for call in messages(calls) if call.chat_id == person.id]
    return answer


def texts(harness: BotHarness, chat_id: int) -> str:
    return "\n".join(call.text for call in harness.calls_to(chat_id))


async def say_in_group(person: bh.Person, chat_id: int, text: str):
    """``person`` writes ``text`` in the group chat ``chat_id``."""
    harness = person.harness
    message = Message(
        message_id=next(harness.update_ids),
        date=datetime.now(UTC),
        chat=Chat(id=chat_id, type="supergroup", title="group"),
        from_user=person.user,
        text=text,
    )
    return await harness.feed(Update(update_id=next(harness.update_ids), message=message))


# The whole loop ---------------------------------------------------------------------------


async def test_a_sole_member_acting_is_no_lost_push(world, caplog):
    """Grid C's team is one worker, with no group chat: when they accept, the rest of the
    team is nobody, which is not a push lost (that ERROR tells an operator nobody can act).
    Nor when they resolve it."""
    ticket = await world.ticket(grid_id=world.grids["C"].id)
    member = world.member_c
    with caplog.at_level(logging.ERROR):
        calls = await member.press(data(TicketAction.ACCEPT, ticket))
        assert alert(calls) == "Accepted."
        await member.press(data(TicketAction.RESOLVE, ticket))
        prompt = answer_to(await member.text("done"), member)
        done = answer_to(await member.press(prompt.button("Skip")), member)
        assert "is resolved" in done.text
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_accept_resolve_with_photo_rate_satisfied(world):
    h = world.harness
    ticket = await world.ticket()

    calls = await world.secretary.press(data(TicketAction.ACCEPT, ticket))

    assert alert(calls) == "Accepted."
    reply = h.last_to(world.secretary.id)
    # the pressed card becomes the accepted one, rather than stay behind with stale buttons
    assert reply.name == "EditMessageText"
    assert reply.method.message_id == world.secretary.last_pressed.message_id
    assert f"You accepted {ticket.number}" in reply.text
    assert reply.button("Resolve")
    assert reply.button("Ask the reporter")
    told = h.last_to(world.reporter.id)
    assert ticket.number in told.text
    assert "网格团队已受理" in told.text
    assert "Wang" not in told.text
    assert "Wang" in h.last_to(world.worker.id).text  # the rest of the team hears who
    assert "已由 Wang 接单" in h.last_to(world.worker.id).text
    assert "Wang" in h.last_to(TEAM_CHAT).text
    assert "Accepted by Wang" in h.last_to(world.secretary2.id).text
    assert "Accepted by" not in texts(h, world.secretary.id)  # not told of their own press

    await world.secretary.press(reply.button("Resolve"))
    assert "What was done" in h.last_to(world.secretary.id).text
    prompt = answer_to(await world.secretary.text("门口垃圾已清运 <ok>"), world.secretary)
    assert "photo" in prompt.text
    done = answer_to(await world.secretary.photo("result-1"), world.secretary)
    assert "is resolved" in done.text

    stored = await world.load(ticket.id)
    assert (stored.status, stored.resolution_note) == (TicketStatus.RESOLVED, "门口垃圾已清运 <ok>")
    async with world.session_factory() as session:
        [photo] = await tickets.ticket_photos(session, ticket.id, PhotoKind.RESOLUTION)
    assert photo.file_id == "result-1"
    to_reporter = h.calls_to(world.reporter.id)
    assert to_reporter[-2].name == "SendPhoto"
    result = to_reporter[-1]
    assert "已办结" in result.text
    assert "&lt;ok&gt;" in result.text
    assert "Zhang" not in result.text

    calls = await world.reporter.press(result.button("基本满意"))
    assert "谢谢" in h.last_to(world.reporter.id).text
    stored = await world.load(ticket.id)
    assert (stored.status, stored.rating) == (TicketStatus.CLOSED, Rating.BASICALLY_SATISFIED)
    assert "Basically satisfied" in h.last_to(world.secretary.id).text

    # the same button again: refused, nothing changes
    calls = await world.reporter.press(result.button("基本满意"))
    assert "已关闭" in alert(calls)
    assert (await world.events(ticket.id)).count(EventKind.RATED) == 1


async def test_an_album_as_the_photo_of_the_result_keeps_its_first_and_is_answered_once(world):
    h = world.harness
    ticket = await world.accepted()
    await world.secretary.press(data(TicketAction.RESOLVE, ticket))
    await world.secretary.text("已清理")

    calls = []
    for n in range(3):
        calls += await world.secretary.photo(f"result-{n}", media_group_id="results")

    [done] = [call for call in messages(calls) if call.chat_id == world.secretary.id]
    assert done.text == (
        f"🏁 {ticket.number} is resolved. The reporter was asked to rate the result.\n"
        "A ticket keeps one photo of the result: only the album's first was kept."
    )
    assert "did not understand" not in texts(h, world.secretary.id)  # no idle menu
    async with world.session_factory() as session:
        [photo] = await tickets.ticket_photos(session, ticket.id, PhotoKind.RESOLUTION)
    assert photo.file_id == "result-0"
    [sent] = [call for call in h.calls_to(world.reporter.id) if call.name == "SendPhoto"]
    assert sent.method.photo == "result-0"
    # the next album is the idle chat's again: one menu
    calls = []
    for n in range(2):
        calls += await world.secretary.photo(f"later-{n}", media_group_id="later")
    [menu] = messages(calls)
    assert "did not understand" in menu.text


async def test_unsatisfied_sends_it_back_for_rework(world):
    h = world.harness
    ticket = await world.resolved()
    before = await world.load(ticket.id)

    await world.reporter.press(f"r1:{ticket.id}:{Rating.UNSATISFIED.value}")
    assert "还有什么问题" in h.last_to(world.reporter.id).text
    reply = answer_to(await world.reporter.text("垃圾又堆起来了 <script>"), world.reporter)

    assert "退回" in reply.text
    stored = await world.load(ticket.id)
    assert (stored.status, stored.rework_count) == (TicketStatus.ACCEPTED, 1)
    assert stored.rating is Rating.UNSATISFIED
    assert stored.resolve_by > before.resolve_by
    pushed = h.last_to(world.secretary.id)
    assert "sent back for rework" in pushed.text
    assert "&lt;script&gt;" in pushed.text
    assert pushed.button("Resolve")
    assert (await world.events(ticket.id))[-1] is EventKind.REWORK


async def test_a_follower_hears_of_the_result_without_rating_buttons(world):
    h = world.harness
    ticket = await world.accepted()
    await world.run(tickets.follow, ticket.id, world.ids["follower"], utcnow())
    await world.secretary.press(data(TicketAction.RESOLVE, ticket))
    await world.secretary.text("已处理")
    await world.secretary.press(h.last_to(world.secretary.id).button("Skip"))

    assert h.last_to(world.reporter.id).button("满意")
    followed = h.last_to(world.follower.id)
    assert "已办结" in followed.text
    assert not followed.buttons
    # a follower cannot rate
    calls = await world.follower.press(f"r1:{ticket.id}:satisfied")
    assert "no longer valid" in alert(calls) or "失效" in alert(calls)
    assert (await world.load(ticket.id)).status is TicketStatus.RESOLVED


# Races and refusals -----------------------------------------------------------------------


async def test_the_reporter_hears_who_accepted_by_the_tickets_queue(world):
    """A community's officer or a district desk is not "the grid team": the reporter's
    news names who took the ticket by its queue, in the reporter's language."""
    h = world.harness
    community = await world.ticket(category="utilities")  # routed to 大富社区's queue
    assert (community.grid_id, community.community_id) == (None, world.grids["A"].community_id)
    await world.officer.press(data(TicketAction.ACCEPT, community))
    told = h.last_to(world.reporter.id).text
    assert f"工单 {community.number} 已由大富社区受理" in told
    assert "网格" not in told

    in_english = await world.ticket(by="resident_en", category="utilities")
    await world.officer.press(data(TicketAction.ACCEPT, in_english))
    assert h.last_to(world.resident_en.id).text.startswith(
        f"✅ Ticket {in_english.number} was accepted by community 大富社区. "
    )

    admin = bh.Person(h, User(id=1, is_bot=False, first_name="Admin", language_code="en"))
    desk = await world.ticket(by="resident_en", category="enterprise")
    assert desk.desk == "enterprise"
    await admin.press(data(TicketAction.ACCEPT, desk))
    assert (await world.load(desk.id)).status is TicketStatus.ACCEPTED
    assert h.last_to(world.resident_en.id).text.startswith(
        f"✅ Ticket {desk.number} was accepted by the district desk (Enterprise help). "
    )
    # the desk is named by its categories in each reader's language, never by its code
    in_chinese = await world.ticket(category="enterprise")
    await admin.press(data(TicketAction.ACCEPT, in_chinese))
    told = h.last_to(world.reporter.id).text
    assert f"工单 {in_chinese.number} 已由区级专席（助企服务）受理" in told
    card = messages(await admin.press(data(TicketAction.DETAIL, in_chinese)))[-1]
    assert "Queue: district desk: Enterprise help" in card.text


async def test_residents_hear_who_handles_the_ticket_by_its_queue_now(world):
    """Past the Accept too, what the reporter and followers read names who handles the
    ticket by its queue: a community's officers or the district office are no grid team,
    and no one learns which person acted."""
    h = world.harness
    ticket = await world.ticket(by="resident_en", category="utilities")  # 大富社区's queue
    await world.run(tickets.follow, ticket.id, world.ids["follower"], utcnow())
    await world.officer.press(data(TicketAction.ACCEPT, ticket))
    await world.officer.press(data(TicketAction.EXTEND, ticket))
    await world.officer.press(h.last_to(world.officer.id).button("+1 day"))
    await world.officer.text("等物业回复")
    assert h.last_to(world.resident_en.id).text.startswith(
        f"⏳ The community officers need more time for ticket {ticket.number}. "
    )
    await world.officer.press(data(TicketAction.ASK, ticket))
    await world.officer.text("几楼？")
    question = h.last_to(world.resident_en.id)
    assert question.text.startswith(
        f"❓ The community officers have a question about your ticket {ticket.number}:"
    )
    assert h.last_to(world.follower.id).text.startswith(f"❓ 社区向工单 {ticket.number} 的反映人")
    await world.resident_en.press(question.button("Answer"))
    assert "for the community officers" in h.last_to(world.resident_en.id).text
    thanks = answer_to(await world.resident_en.text("3楼"), world.resident_en)
    assert thanks.text == f"💬 Your answer on {ticket.number} was passed to the community officers."
    assert "grid team" not in texts(h, world.resident_en.id)
    assert "Qian" not in texts(h, world.resident_en.id)
    assert "网格" not in texts(h, world.follower.id)

    admin = bh.Person(h, User(id=1, is_bot=False, first_name="Admin", language_code="en"))
    desk = await world.ticket(category="enterprise")  # the district desk's queue
    await admin.press(data(TicketAction.ASK, desk))
    await admin.text("哪家企业？")
    assert h.last_to(world.reporter.id).text.startswith(
        f"❓ 区级部门想就您的工单 {desk.number} 向您了解"
    )
    await world.reporter.press(data(TicketAction.COMMENT, desk))
    assert "区级部门将会看到" in h.last_to(world.reporter.id).text


async def test_the_history_names_the_team_of_the_queue_the_ticket_was_in_then(world):
    """A ticket passed up to its community: the steps before were the grid team's, the
    ones after are the community officers'."""
    ticket = await world.accepted(by="resident_en")
    await world.run(
        tickets.transfer,
        ticket.id,
        world.actor("secretary"),
        utcnow(),
        catalogue=CATALOGUE,
        to_community=True,
    )
    await world.run(tickets.accept, ticket.id, world.actor("officer"), utcnow())

    view = answer_to(
        await world.resident_en.press(data(TicketAction.DETAIL, ticket)), world.resident_en
    )

    steps = [line.split(" · ", 1)[1] for line in view.text.splitlines() if " · Accepted" in line]
    steps.insert(1, next(line for line in view.text.splitlines() if "another queue" in line))
    assert [step.rsplit(" by ", 1)[1] for step in steps] == [
        "the grid team",
        "the grid team",
        "the community officers",
    ]


async def test_two_secretaries_race_for_accept(world):
    ticket = await world.ticket()
    press = data(TicketAction.ACCEPT, ticket)

    before = len(world.harness.session.calls)
    await asyncio.gather(world.secretary.press(press), world.secretary2.press(press))

    # The two updates interleave, so look at every callback answer since the start.
    calls = world.harness.session.calls[before:]
    answers = sorted(c.method.text for c in calls if c.name == "AnswerCallbackQuery")
    assert answers[0] == "Accepted."
    stored = await world.load(ticket.id)
    winner = "Wang" if stored.assignee_id == world.ids["secretary"] else "Chen"
    assert answers[1] == f"{winner} accepted {ticket.number} first."
    assert (await world.events(ticket.id)).count(EventKind.ACCEPTED) == 1


async def test_members_of_another_grid_and_residents_are_refused(world):
    ticket = await world.ticket()
    for outsider in (world.member_c, world.secretary_b, world.resident_en, world.reporter):
        for action in (TicketAction.ACCEPT, TicketAction.TRANSFER, TicketAction.INVALID):
            calls = await outsider.press(data(action, ticket))
            assert alert(calls) in ("This button is no longer valid.", "该按钮已失效。")
            assert not messages(calls)
    stored = await world.load(ticket.id)
    assert (stored.status, stored.assignee_id) == (TicketStatus.DISPATCHED, None)
    assert await world.events(ticket.id) == [EventKind.CREATED]


TEAM_ACTIONS = (
    TicketAction.ACCEPT,
    TicketAction.TRANSFER,
    TicketAction.CONSULT,
    TicketAction.INVALID,
    TicketAction.RESOLVE,
    TicketAction.EXTEND,
    TicketAction.ASK,
    TicketAction.DUPLICATE,
)


async def test_every_team_button_refuses_every_kind_of_outsider(world):
    """Each team action, on a waiting and on an accepted ticket of grid A, pressed by a
    resident, the reporter, a member of another grid, the officer of another community
    and a former member who used /forget (now a stranger): refused in the presser's
    language, and nothing written (no event, no push, no step begun). In A's group chat
    the same people are told that only the team acts; an old layout's button (``t0``)
    is refused even for the team."""
    h = world.harness
    waiting, accepted = await world.ticket(), await world.accepted()
    officer_c = h.person("Sun", language_code="zh-hans")
    forgetful = h.person("Ma", language_code="en")
    async with world.session_factory() as session, session.begin():
        officer = await get_or_create_person(session, officer_c.id, "Sun", "zh_CN")
        await grant_role(
            session, officer.id, Role.OFFICER, community_id=world.grids["C"].community_id
        )
        former = await get_or_create_person(session, forgetful.id, "Ma", "en")
        await grant_role(session, former.id, Role.GRID_WORKER, grid_id=world.grids["A"].id)
    [prompt] = await forgetful.text("/forget")
    await forgetful.press(prompt.button("Erase my data"))

    async def outbox_rows() -> int:
        async with world.session_factory() as session:
            return len((await session.exec(select(OutboxMessage))).all())

    rows = await outbox_rows()
    outsiders = (
        (world.resident_en, "en"),
        (world.reporter, "zh"),
        (world.member_c, "en"),
        (world.secretary_b, "zh"),
        (officer_c, "zh"),
        (forgetful, "en"),
    )
    refusals = {
        "en": ("This button is no longer valid.", "Only the grid's team can act on its tickets."),
        "zh": ("该按钮已失效。", "只有本网格工作团队可以处理其工单。"),
    }
    for person, language in outsiders:
        private, in_group = refusals[language]
        for ticket in (waiting, accepted):
            for action in TEAM_ACTIONS:
                calls = await person.press(data(action, ticket))
                assert alert(calls) == private, (person.user.first_name, action)
                assert not messages(calls)
                calls = await person.press(data(action, ticket), message_chat_id=TEAM_CHAT)
                assert alert(calls).startswith(in_group), (person.user.first_name, action)
                assert not messages(calls)
        key = StorageKey(bot_id=BOT_ID, chat_id=person.id, user_id=person.id)
        assert await h.storage.get_state(key) is None
    for old in (f"t0:acc:{waiting.id}", f"t0:res:{accepted.id}"):
        assert alert(await world.secretary.press(old)) == "This button is no longer valid."
    assert await outbox_rows() == rows
    assert await world.events(waiting.id) == [EventKind.CREATED]
    assert await world.events(accepted.id) == [EventKind.CREATED, EventKind.ACCEPTED]
    stored = await world.load(waiting.id)
    assert (stored.status, stored.in_consultation) == (TicketStatus.DISPATCHED, False)


async def test_forged_and_stale_buttons_are_refused_politely(world):
    ticket = await world.accepted()
    for forged in (
        "t1:acc:99999",
        "t1:acc:99999999999",
        "t1:acc:-1",
        "r1:5:bogus",
        f"r1:{ticket.id}:bogus",
        "t1:zzz:1",
        "p1:tr:0",
        "p1:tn:2",
    ):
        calls = await world.secretary.press(forged)
        assert alert(calls) == "This button is no longer valid.", forged
    # a stale Accept (the ticket is accepted already) and a stale Resolve on a closed one
    calls = await world.secretary2.press(data(TicketAction.ACCEPT, ticket))
    assert alert(calls) == f"Wang accepted {ticket.number} first."
    calls = await world.secretary.press(data(TicketAction.ACCEPT, ticket))
    assert alert(calls) == "You have already accepted this ticket."
    await world.run(tickets.mark_invalid, ticket.id, world.actor("secretary"), utcnow(), "测试")
    calls = await world.secretary.press(data(TicketAction.RESOLVE, ticket))
    assert alert(calls) == f"{ticket.number} is now marked invalid: this button no longer applies."
    assert (await world.load(ticket.id)).status is TicketStatus.INVALID


async def test_a_button_pressed_in_the_team_chat_goes_on_in_private(world):
    h = world.harness
    ticket = await world.ticket()
    calls = await world.worker.press(data(TicketAction.ACCEPT, ticket), message_chat_id=TEAM_CHAT)
    assert "接单" in h.last_to(world.worker.id).text
    # the group's card is everyone's: it stays as it was
    assert [call.name for call in calls if call.chat_id == TEAM_CHAT] == ["SendMessage"]
    assert "EditMessageText" not in [call.name for call in calls]

    await world.worker.press(data(TicketAction.RESOLVE, ticket), message_chat_id=TEAM_CHAT)
    assert "办理情况" in h.last_to(world.worker.id).text
    await world.worker.text("已清理")
    await world.worker.press(h.last_to(world.worker.id).button("跳过"))
    assert (await world.load(ticket.id)).status is TicketStatus.RESOLVED
    assert "Zhang" in h.last_to(world.secretary.id).text


# Transfer ---------------------------------------------------------------------------------


async def test_transfer_to_another_grid_of_the_community(world):
    h = world.harness
    created = utcnow() - timedelta(hours=5)
    ticket = await world.ticket(now=created)

    await world.secretary.press(data(TicketAction.TRANSFER, ticket))
    choice = h.last_to(world.secretary.id)
    assert [b.text for b in choice.buttons][:2] == ["网格B (B)", "⬆️ Up to the community"]
    assert "网格C" not in " ".join(b.text for b in choice.buttons)  # another community
    await world.secretary.press(choice.button("网格B"))
    note_prompt = h.last_to(world.secretary.id)
    assert f"{ticket.number} will go to grid 网格B (B)" in note_prompt.text
    assert "note for the new team" in note_prompt.text
    done = answer_to(await world.secretary.text("在B网格范围内 <b>"), world.secretary)
    assert "passed to" in done.text

    stored = await world.load(ticket.id)
    assert (stored.grid_id, stored.status) == (world.grids["B"].id, TicketStatus.DISPATCHED)
    assert stored.respond_by > ticket.respond_by + timedelta(hours=4)  # a fresh window
    new_team = h.calls_to(world.secretary_b.id)
    assert [c.name for c in new_team] == ["SendMediaGroup", "SendLocation", "SendMessage"]
    assert "&lt;b&gt;" in new_team[-1].text
    assert "Wang" in new_team[-1].text
    assert new_team[-1].button("接单")
    assert "网格B" in h.last_to(world.reporter.id).text
    assert "转" in h.last_to(world.reporter.id).text
    assert "网格B" in h.last_to(world.worker.id).text
    # the old team's buttons no longer work for it
    calls = await world.secretary.press(data(TicketAction.ACCEPT, ticket))
    assert alert(calls) == "This button is no longer valid."
    # the new team accepts
    await world.secretary_b.press(new_team[-1].button("接单"))
    assert (await world.load(ticket.id)).assignee_id == world.ids["secretary_b"]


async def test_transfer_up_to_the_community_and_by_typed_code(world):
    h = world.harness
    ticket = await world.accepted()

    await world.secretary.press(data(TicketAction.TRANSFER, ticket))
    await world.secretary.press(h.last_to(world.secretary.id).button("Type a grid code"))
    reply = answer_to(await world.secretary.text("ZZZ"), world.secretary)
    assert "No grid has the code ZZZ" in reply.text
    reply = answer_to(await world.secretary.text("a"), world.secretary)
    assert "already in that grid" in reply.text
    await world.secretary.press(reply.button("Back"))
    await world.secretary.press(h.last_to(world.secretary.id).button("Up to the community"))
    note_prompt = h.last_to(world.secretary.id)
    assert f"{ticket.number} will go to community 大富社区." in note_prompt.text
    await world.secretary.press(note_prompt.button("Skip"))

    stored = await world.load(ticket.id)
    assert (stored.grid_id, stored.community_id) == (None, world.grids["A"].community_id)
    assert (stored.status, stored.assignee_id) == (TicketStatus.DISPATCHED, None)
    officer_push = h.last_to(world.officer.id)
    assert "Passed to your queue" in officer_push.text
    assert officer_push.button("Accept")
    assert "大富社区" in h.last_to(world.reporter.id).text

    # the officer passes it down to grid B by its code (no "up" from the community)
    await world.officer.press(data(TicketAction.TRANSFER, ticket))
    choice = h.last_to(world.officer.id)
    assert choice.text == f"Where should {ticket.number} go? Choose a grid, or type a grid code."
    assert "⬆️ Up to the community" not in [b.text for b in choice.buttons]
    await world.officer.press(choice.button("Type a grid code"))
    await world.officer.text(" b ")
    note_prompt = h.last_to(world.officer.id)
    assert f"{ticket.number} will go to grid 网格B (B)." in note_prompt.text
    await world.officer.press(note_prompt.button("Skip"))
    assert (await world.load(ticket.id)).grid_id == world.grids["B"].id
    assert (await world.events(ticket.id)).count(EventKind.TRANSFERRED) == 2


# Extend, invalid, consultation ------------------------------------------------------------


async def test_extend_tells_the_reporter_the_new_deadline(world):
    h = world.harness
    ticket = await world.accepted()
    before = (await world.load(ticket.id)).resolve_by

    await world.secretary.press(data(TicketAction.EXTEND, ticket))
    days = h.last_to(world.secretary.id)
    assert [b.text for b in days.buttons] == ["+1 day", "+3 days", "+7 days", "✖️ Cancel"]
    await world.secretary.press(days.button("+3 days"))
    back = h.last_to(world.secretary.id)
    await world.secretary.press(back.button("Back"))  # changes their mind
    await world.secretary.press(h.last_to(world.secretary.id).button("+7 days"))
    reply = answer_to(await world.secretary.text("需要等物业配合"), world.secretary)

    stored = await world.load(ticket.id)
    assert stored.resolve_by == before + timedelta(days=7)
    local = stored.resolve_by.astimezone(world.harness.settings.tz).strftime("%Y-%m-%d %H:%M")
    assert local in reply.text
    told = h.last_to(world.reporter.id)
    assert local in told.text
    assert "延期" in told.text
    assert "需要等物业配合" in told.text
    # The rest of the team hears of it too, each in their language; the member who
    # extended does not hear it twice.
    colleague = h.last_to(world.secretary2.id)
    assert colleague.text == (
        f"⏳ Wang extended the deadline of {ticket.number} to {local}. Reason: 需要等物业配合"
    )
    assert local in h.last_to(world.worker.id).text
    assert "需要等物业配合" in h.last_to(TEAM_CHAT).text
    assert "extended the deadline" not in texts(h, world.secretary.id)


async def test_extensions_stop_at_the_limit(world):
    h = world.harness
    ticket = await world.accepted()

    async def extend(member, reason: str) -> list:
        await member.press(data(TicketAction.EXTEND, ticket))
        await member.press(h.last_to(member.id).button("+1 day"))
        return await member.text(reason)

    await extend(world.secretary, "等配件")
    # A second member opens the extension while one more is still allowed ...
    await world.secretary2.press(data(TicketAction.EXTEND, ticket))
    await world.secretary2.press(h.last_to(world.secretary2.id).button("+3 days"))
    # ... and the first one takes it meanwhile.
    await extend(world.secretary, "配件还没到")
    deadline = (await world.load(ticket.id)).resolve_by

    reply = answer_to(await world.secretary2.text("再等等"), world.secretary2)
    assert "already extended as often as allowed (2)" in reply.text
    calls = await world.secretary.press(data(TicketAction.EXTEND, ticket))
    assert "already extended as often as allowed (2)" in alert(calls)
    assert messages(calls) == []  # no step begins
    assert (await world.load(ticket.id)).resolve_by == deadline
    assert (await world.events(ticket.id)).count(EventKind.EXTENDED) == 2
    # The second member's conversation ended: their next text is not taken as a reason.
    await world.secretary2.text("再等等")
    assert (await world.events(ticket.id)).count(EventKind.EXTENDED) == 2


async def test_extend_on_a_ticket_resolved_at_the_limit_says_it_is_resolved(world):
    """The status comes before the extension limit: a ticket resolved after its deadline
    was extended as often as allowed is resolved, not "at the limit"."""
    h = world.harness
    ticket = await world.accepted()
    await world.secretary.press(data(TicketAction.EXTEND, ticket))
    await world.secretary.press(h.last_to(world.secretary.id).button("+1 day"))
    # Meanwhile a colleague uses the extensions up, then resolves the ticket.
    for reason in ("等配件", "配件还没到"):
        await world.run(
            tickets.extend,
            ticket.id,
            world.actor("secretary2"),
            utcnow(),
            timedelta(days=1),
            reason,
            limit=2,
        )
    await world.run(tickets.resolve, ticket.id, world.actor("secretary2"), utcnow(), "已办")

    reply = answer_to(await world.secretary.text("再等等"), world.secretary)

    assert reply.text == f"{ticket.number} is now resolved, so what you sent was not used."
    calls = await world.secretary.press(data(TicketAction.EXTEND, ticket))
    assert alert(calls) == f"{ticket.number} is now resolved: this button no longer applies."
    assert (await world.events(ticket.id)).count(EventKind.EXTENDED) == 2


async def test_invalid_with_a_reason(world):
    h = world.harness
    ticket = await world.ticket()
    await world.secretary.press(data(TicketAction.INVALID, ticket))
    hint = answer_to(await world.secretary.sticker(), world.secretary)
    assert "reason" in hint.text
    reply = answer_to(await world.secretary.text("重复测试信息 & 无效"), world.secretary)
    assert "marked invalid" in reply.text
    stored = await world.load(ticket.id)
    assert stored.status is TicketStatus.INVALID
    told = h.last_to(world.reporter.id)
    assert "无效" in told.text
    assert "重复测试信息 &amp; 无效" in told.text


async def test_to_consultation_marks_the_ticket(world):
    h = world.harness
    ticket = await world.ticket()
    await world.secretary.press(data(TicketAction.CONSULT, ticket))
    assert "neighbour consultation" in h.last_to(world.secretary.id).text
    await world.secretary.press(data(TicketAction.CONSULT, ticket))
    stored = await world.load(ticket.id)
    assert stored.in_consultation
    assert stored.status is TicketStatus.DISPATCHED
    assert (await world.events(ticket.id)).count(EventKind.CONSULTATION) == 1


async def test_a_ticket_leaves_the_consultation_list_when_it_leaves_the_team(world):
    """A duplicate, invalid or resolved ticket is no longer the team's to act on; a
    transferred one is the new team's to put on their own consultation's list or not."""
    h = world.harness
    left = {way: await world.ticket() for way in ("duplicate", "invalid", "transfer", "resolve")}
    original = await world.ticket()
    for ticket in (*left.values(), original):
        await world.secretary.press(data(TicketAction.CONSULT, ticket))

    await world.secretary.press(data(TicketAction.DUPLICATE, left["duplicate"]))
    shown = answer_to(await world.secretary.text(original.number), world.secretary)
    await world.secretary.press(shown.button("Confirm merge"))
    await world.secretary.press(data(TicketAction.INVALID, left["invalid"]))
    await world.secretary.text("测试信息")
    await world.secretary.press(data(TicketAction.TRANSFER, left["transfer"]))
    await world.secretary.press(h.last_to(world.secretary.id).button("网格B"))
    await world.secretary.text("在B网格范围内")
    await world.secretary.press(data(TicketAction.ACCEPT, left["resolve"]))
    await world.secretary.press(data(TicketAction.RESOLVE, left["resolve"]))
    await world.secretary.text("已清理")
    await world.secretary.press(h.last_to(world.secretary.id).button("Skip"))

    stored = [await world.load(ticket.id) for ticket in left.values()]
    assert [ticket.status for ticket in stored] == [
        TicketStatus.DUPLICATE,
        TicketStatus.INVALID,
        TicketStatus.DISPATCHED,
        TicketStatus.RESOLVED,
    ]
    assert [ticket.in_consultation for ticket in stored] == [False] * 4
    assert (await world.load(original.id)).in_consultation  # open: still on the list
    # the new team decides for itself
    await world.secretary_b.press(data(TicketAction.CONSULT, left["transfer"]))
    assert (await world.load(left["transfer"].id)).in_consultation


async def test_cancel_leaves_the_ticket_as_it_was(world):
    h = world.harness
    ticket = await world.accepted()
    await world.secretary.press(data(TicketAction.RESOLVE, ticket))
    await world.secretary.press(h.last_to(world.secretary.id).button("Cancel"))
    assert "not changed" in h.last_to(world.secretary.id).text
    await world.secretary.press(data(TicketAction.ASK, ticket))
    cancelled, _menu = messages(await world.secretary.text("/cancel"))
    assert "Cancelled" in cancelled.text
    reply = answer_to(await world.secretary.text("hello"), world.secretary)
    assert "did not understand" in reply.text
    assert (await world.load(ticket.id)).status is TicketStatus.ACCEPTED


# Ask the reporter -------------------------------------------------------------------------


async def test_question_and_answer_keep_the_reporter_anonymous(world):
    h = world.harness
    ticket = await world.accepted()
    await world.run(tickets.follow, ticket.id, world.ids["follower"], utcnow())

    await world.secretary.press(data(TicketAction.ASK, ticket))
    sent = answer_to(await world.secretary.text("具体是哪一栋？"), world.secretary)
    assert "was sent" in sent.text
    question = h.last_to(world.reporter.id)
    assert "具体是哪一栋" in question.text
    assert "Wang" not in question.text
    assert "具体是哪一栋" in h.last_to(world.follower.id).text
    assert not h.last_to(world.follower.id).buttons

    await world.reporter.press(question.button("回复"))
    thanks = answer_to(await world.reporter.text("3栋2单元"), world.reporter)
    assert "网格团队" in thanks.text
    answer = h.last_to(world.secretary.id)
    assert "3栋2单元" in answer.text
    assert "from the reporter:" in answer.text
    assert "3栋2单元" in h.last_to(world.worker.id).text
    for member in (world.secretary, world.worker, world.secretary2):
        seen = texts(h, member.id)
        assert "Meimei" not in seen
        assert PHONE not in seen
    assert "Meimei" not in texts(h, TEAM_CHAT)
    assert (await world.events(ticket.id))[-2:] == [EventKind.QUESTION, EventKind.ANSWER]
    # only the reporter answers
    calls = await world.follower.press(data(TicketAction.ANSWER, ticket))
    assert "失效" in alert(calls)


async def test_an_answer_typed_without_pressing_answer_is_pointed_to_the_button(world):
    """The reporter types a reply to the team's question straight into the chat: it is not
    taken as the answer (it may be something else), but instead of "I did not understand"
    they are shown the Answer button of the question waiting, the latest one first."""
    h = world.harness
    older, latest = await world.accepted(), await world.accepted()
    for asked in (older, latest):
        await world.secretary.press(data(TicketAction.ASK, asked))
        await world.secretary.text("具体是哪一栋？")
    before = len(h.calls_to(world.secretary.id))
    [hint] = messages(await world.reporter.text("3栋2单元"))
    assert latest.number in hint.text
    assert "网格团队" in hint.text
    assert len(h.calls_to(world.secretary.id)) == before  # nothing was passed on
    await world.reporter.press(hint.button("回复"))
    await world.reporter.text("3栋2单元")
    assert "3栋2单元" in h.last_to(world.secretary.id).text
    [hint] = messages(await world.reporter.text("还有一个问题"))
    assert older.number in hint.text
    await world.reporter.press(hint.button("回复"))
    await world.reporter.text("5栋")
    [menu] = messages(await world.reporter.text("谢谢"))
    assert "没有看懂" in menu.text
    assert menu.button("投诉")
    [menu] = messages(await world.resident_en.text("hello"))  # no question waits for them
    assert "did not understand" in menu.text


async def test_with_consent_the_team_sees_who_answered(world):
    h = world.harness
    ticket = await world.accepted(contact_consent=True)
    await world.secretary.press(data(TicketAction.ASK, ticket))
    await world.secretary.text("方便电话联系吗？")
    await world.reporter.press(h.last_to(world.reporter.id).button("回复"))
    await world.reporter.text("可以")
    answer = h.last_to(world.secretary.id)
    assert "from Meimei:" in answer.text
    assert PHONE in answer.text


async def test_help_shows_each_person_the_commands_of_their_roles(world):
    """One message each: a resident reads a resident's commands; a grid member the team's
    too; an informant theirs; an officer the team's and managing informants (their own
    recruits); a district admin the team's and the admin's."""
    h = world.harness
    await world.run(grant_role, world.ids["follower"], Role.INFORMANT)
    admin = bh.Person(h, User(id=1, is_bot=False, first_name="Admin", language_code="en"))
    team = {"/queue", "/ticket", "/grade"}
    informant = {"/report", "/mine", "/top"}
    managing = {"/invite", "/informants"}

    def shown(reply) -> set[str]:
        return {command for command in team | informant | managing if command in reply.text}

    [resident] = messages(await world.resident_en.text("/help"))
    assert "/new" in resident.text
    assert "/mytickets" in resident.text
    assert shown(resident) == set()
    [member] = messages(await world.secretary.text("/help"))
    assert "/new" in member.text
    assert shown(member) == team
    [rider] = messages(await world.follower.text("/help"))
    assert shown(rider) == informant
    [officer] = messages(await world.officer.text("/help"))
    assert shown(officer) == team | managing
    assert "the informants you invited" in officer.text
    [district] = messages(await admin.text("/help"))
    assert shown(district) == team | managing
    assert "For district admins" in district.text
    assert "For community officers" not in district.text


# The queue and /ticket --------------------------------------------------------------------


async def test_queue_lists_open_tickets_by_deadline(world):
    now = utcnow()
    normal = await world.ticket(now=now)
    urgent = await world.ticket(category="safety", now=now)
    overdue = await world.ticket(now=now - timedelta(hours=30))
    accepted = await world.accepted()
    closed = await world.ticket()
    await world.run(tickets.mark_invalid, closed.id, world.actor("secretary"), now, "无效")
    elsewhere = await world.ticket(grid_id=world.grids["B"].id)

    reply = answer_to(await world.secretary.text("/queue"), world.secretary)

    order = [overdue, urgent, normal, accepted]
    positions = [reply.text.index(t.number) for t in order]
    assert positions == sorted(positions)
    assert closed.number not in reply.text
    assert elsewhere.number not in reply.text
    overdue_line = next(line for line in reply.text.splitlines() if overdue.number in line)
    assert "overdue" in overdue_line
    assert "accept by" in overdue_line
    assert "resolve by" in next(line for line in reply.text.splitlines() if accepted.number in line)
    assert [b.text for b in reply.buttons] == [f"{n}. {t.number}" for n, t in enumerate(order, 1)]

    # a queue button opens the team's view
    calls = await world.secretary.press(reply.buttons[1])
    [card] = messages(calls)
    assert urgent.number in card.text
    assert card.button("Accept")

    reply = answer_to(await world.worker.press("m1:queue"), world.worker)
    assert overdue.number in reply.text  # the menu button, in Chinese

    await world.run(tickets.mark_invalid, elsewhere.id, world.actor("secretary_b"), now, "无效")
    empty = answer_to(await world.secretary_b.text("/queue"), world.secretary_b)
    assert "没有待办" in empty.text
    stranger = answer_to(await world.resident_en.text("/queue"), world.resident_en)
    assert "for grid teams" in stranger.text


async def test_a_ticket_whose_category_was_removed_stays_workable(world):
    """A category taken out of categories.toml leaves its open tickets behind: they are
    listed under their code, and transfer and rework take the deadlines of a category of
    the same priority, instead of failing for everyone who touches them."""
    ticket = await world.resolved()
    other = await world.ticket(category="safety")
    async with world.session_factory() as session, session.begin():
        for retired in (ticket.id, other.id):
            (await session.get(Ticket, retired)).category = "retired_code"

    queue = answer_to(await world.secretary.text("/queue"), world.secretary)
    assert f"{other.number} ❔ " in queue.text
    mine = answer_to(await world.reporter.text("/mytickets"), world.reporter)
    assert "❔ retired_code" in mine.text

    now = utcnow()
    await world.run(
        tickets.rate,
        ticket.id,
        world.actor("reporter"),
        now,
        Rating.UNSATISFIED,
        catalogue=CATALOGUE,
        comment="没扫干净",
    )
    reworked = await world.load(ticket.id)
    assert reworked.status is TicketStatus.ACCEPTED
    assert reworked.resolve_by == now + CATALOGUE.get("sanitation").resolve  # normal priority
    await world.run(
        tickets.transfer,
        other.id,
        world.actor("secretary"),
        now,
        catalogue=CATALOGUE,
        target_grid_id=world.grids["B"].id,
    )
    moved = await world.load(other.id)
    assert moved.grid_id == world.grids["B"].id
    assert moved.respond_by == now + CATALOGUE.get("safety").respond  # urgent, as it was


async def test_ticket_by_number_for_team_reporter_and_stranger(world):
    ticket = await world.ticket()
    digits = str(ticket.id)
    for reference in (ticket.number, f"dx-{digits}", digits, f"  DX-{int(digits):03d} "):
        reply = answer_to(await world.secretary.text(f"/ticket {reference}"), world.secretary)
        assert ticket.number in reply.text, reference
        assert reply.button("Accept")
        assert "History" in reply.text

    mine = answer_to(await world.reporter.text(f"/ticket {ticket.number}"), world.reporter)
    assert ticket.number in mine.text
    assert mine.button("补充说明")
    assert not [b for b in mine.buttons if "接单" in b.text]

    stranger = answer_to(
        await world.resident_en.text(f"/ticket {ticket.number}"), world.resident_en
    )
    missing = answer_to(await world.resident_en.text("/ticket DX-999999"), world.resident_en)
    assert stranger.text == f"Ticket {ticket.number} was not found."
    assert missing.text == "Ticket DX-999999 was not found."
    foreign_team = answer_to(await world.member_c.text(f"/ticket {digits}"), world.member_c)
    assert "was not found" in foreign_team.text
    assert not foreign_team.buttons
    usage = answer_to(await world.secretary.text("/ticket"), world.secretary)
    assert "/ticket DX-000123" in usage.text
    wrong = answer_to(await world.secretary.text("/ticket YY-1"), world.secretary)
    assert "was not found" in wrong.text


# Found by exploratory testing -------------------------------------------------------------


async def test_accept_in_the_group_without_a_private_chat_says_it_was_accepted(world):
    """A worker who never started the bot presses Accept in the team chat: the ticket is
    theirs, and the alert must say so rather than only ask them to open a private chat."""
    ticket = await world.ticket()
    world.harness.session.blocked.add(world.worker.id)

    calls = await world.worker.press(data(TicketAction.ACCEPT, ticket), message_chat_id=TEAM_CHAT)

    assert (await world.load(ticket.id)).assignee_id == world.ids["worker"]
    assert ticket.number in alert(calls)
    assert "接单" in alert(calls)
    calls = await world.worker.press(data(TicketAction.CONSULT, ticket), message_chat_id=TEAM_CHAT)
    assert (await world.load(ticket.id)).in_consultation
    assert "会商" in alert(calls)


async def test_an_accepted_card_telegram_will_not_edit_comes_as_a_new_message(world):
    """An old or deleted card cannot be edited: the accepted card is sent instead."""
    h = world.harness
    ticket = await world.ticket()
    h.session.failing[EditMessageText] = lambda method: TelegramBadRequest(
        method=method, message="Bad Request: message can't be edited"
    )

    calls = await world.secretary.press(data(TicketAction.ACCEPT, ticket))

    reply = answer_to(calls, world.secretary)
    assert f"You accepted {ticket.number}" in reply.text
    assert reply.button("Resolve")
    assert (await world.load(ticket.id)).assignee_id == world.ids["secretary"]


async def test_a_question_to_a_reporter_who_blocked_the_bot_says_so(world):
    ticket = await world.accepted()
    async with world.session_factory() as session, session.begin():
        (await session.get(Person, world.ids["reporter"])).unreachable_at = utcnow()

    await world.secretary.press(data(TicketAction.ASK, ticket))
    reply = answer_to(await world.secretary.text("Which building?"), world.secretary)

    assert "can no longer be reached" in reply.text
    assert (await world.events(ticket.id))[-1] is EventKind.QUESTION


@pytest.mark.parametrize("gone", [False, True], ids=["blocked", "chat-not-found"])
async def test_a_question_that_cannot_be_delivered_comes_back_to_the_asker(world, gone):
    """The reporter blocked the bot (or deleted the account) and the bot does not know it
    yet: the question fails, and its asker hears so once, in their language."""
    h = world.harness
    ticket = await world.accepted()
    (h.session.gone if gone else h.session.blocked).add(world.reporter.id)

    await world.worker.press(data(TicketAction.ASK, ticket))
    calls = await world.worker.text("哪一栋<楼>？")

    told = [call.text for call in messages(calls) if call.chat_id == world.worker.id]
    assert len(told) == 2
    assert "已发送" in told[0]  # the bot could not know yet
    assert f"您对 {ticket.number} 的提问未能送达反映人" in told[1]
    assert "哪一栋&lt;楼&gt;？" in told[1]
    async with world.session_factory() as session:
        assert (await session.get(Person, world.ids["reporter"])).unreachable_at is not None
    # an English asker, later: the reporter is known to be out of reach, so the reply says
    # it at once and no notice follows
    await world.secretary.press(data(TicketAction.ASK, ticket))
    calls = await world.secretary.text("Which building?")
    [reply] = [call.text for call in messages(calls) if call.chat_id == world.secretary.id]
    assert "can no longer be reached" in reply


async def test_a_delivered_question_sends_no_notice_back(world):
    ticket = await world.accepted()
    await world.secretary.press(data(TicketAction.ASK, ticket))
    calls = await world.secretary.text("Which building?")
    [reply] = [call.text for call in messages(calls) if call.chat_id == world.secretary.id]
    assert "was sent" in reply


@pytest.mark.parametrize("with_photo", [False, True], ids=["note", "note-and-photo"])
async def test_a_reporter_who_cannot_rate_is_reported_back_to_the_team_once(world, with_photo):
    """The reporter blocked the bot and the bot does not know it yet: the "resolved, please
    rate" push fails (with the photo of the result before it, the photo is refused and the
    message given up), and each member of the team hears once, in their language, that the
    ticket will close unrated."""
    h = world.harness
    ticket = await world.accepted()
    h.session.blocked.add(world.reporter.id)

    await world.worker.press(data(TicketAction.RESOLVE, ticket))
    await world.worker.text("已清理")
    if with_photo:
        await world.worker.photo("result-1")
    else:
        await world.worker.press(h.last_to(world.worker.id).button("跳过"))

    assert (await world.load(ticket.id)).status is TicketStatus.RESOLVED
    await h.sender.drain()  # a notice that waited for its chat's previous push
    await h.sender.wait_idle()
    stored = await world.load(ticket.id)
    closes = local_time(stored.resolved_at + timedelta(days=3), world.harness.settings)
    english = (
        f"{ticket.number} is resolved, but the reporter could not be reached to rate it. "
        f"It will close unrated after {closes}."
    )
    chinese = (
        f"{ticket.number} 已办结，但无法联系到反映人进行评价，将于 {closes} 后自动结案（未评价）。"
    )
    for member, expected in [
        (world.secretary, english),
        (world.secretary2, english),
        (world.worker, chinese),
    ]:
        assert [call.text for call in h.calls_to(member.id)].count(f"❗ {expected}") == 1
    assert "could not be reached" not in texts(h, world.officer.id)


async def test_a_reporter_who_rates_sends_no_notice_to_the_team(world):
    h = world.harness
    ticket = await world.accepted()
    await world.worker.press(data(TicketAction.RESOLVE, ticket))
    await world.worker.text("已清理")
    await world.worker.press(h.last_to(world.worker.id).button("跳过"))
    assert h.last_to(world.reporter.id).button("满意")
    assert "could not be reached" not in texts(h, world.secretary.id)


async def test_transfer_to_a_grid_retired_meanwhile_asks_again(world):
    h = world.harness
    ticket = await world.ticket()
    await world.secretary.press(data(TicketAction.TRANSFER, ticket))
    await world.secretary.press(h.last_to(world.secretary.id).button("网格B"))
    async with world.session_factory() as session, session.begin():
        (await session.get(Grid, world.grids["B"].id)).active = False

    calls = await world.secretary.press(h.last_to(world.secretary.id).button("Skip"))

    [reply] = messages(calls)
    assert "no longer in service" in reply.text
    assert "same queue" not in reply.text
    assert "网格B" not in " ".join(b.text for b in reply.buttons)
    assert reply.button("Up to the community")
    assert (await world.load(ticket.id)).grid_id == world.grids["A"].id
    await world.secretary.press(reply.button("Up to the community"))
    await world.secretary.press(h.last_to(world.secretary.id).button("Skip"))
    assert (await world.load(ticket.id)).grid_id is None


async def test_ticket_by_number_in_a_group_only_in_its_team_chat(world):
    """The team's view carries the reporter's contact and the history: not for any group a
    member types /ticket in."""
    ticket = await world.accepted(contact_consent=True)

    calls = await say_in_group(world.secretary, -100999, f"/ticket {ticket.number}")
    [reply] = messages(calls)
    assert reply.text == f"Ticket {ticket.number} was not found."

    calls = await say_in_group(world.secretary, TEAM_CHAT, f"/ticket {ticket.number}")
    [reply] = messages(calls)
    assert PHONE in reply.text
    calls = await say_in_group(world.resident_en, TEAM_CHAT, f"/ticket {ticket.number}")
    assert PHONE not in messages(calls)[0].text


async def test_a_grid_button_left_from_another_tickets_transfer_is_refused(world):
    """An officer starts to pass X (grid A) on, then Y (grid B), and presses 网格B on X's
    old choice: Y must not go to whatever grid sits first in its own choice (网格A)."""
    h = world.harness
    x = await world.ticket()
    y = await world.ticket(grid_id=world.grids["B"].id)
    await world.officer.press(data(TicketAction.TRANSFER, x))
    x_choice = h.last_to(world.officer.id)
    await world.officer.press(data(TicketAction.TRANSFER, y))

    calls = await world.officer.press(x_choice.button("网格B"))

    assert alert(calls) == "This button is no longer valid."
    assert not messages(calls)
    await world.officer.press(h.last_to(world.officer.id).button("网格A"))
    await world.officer.press(h.last_to(world.officer.id).button("Skip"))
    assert (await world.load(y.id)).grid_id == world.grids["A"].id
    assert (await world.load(x.id)).grid_id == world.grids["A"].id


async def test_a_step_ends_when_another_member_resolved_the_ticket_meanwhile(world):
    """Transfer, Extend or Resolve started, then a colleague resolves the ticket: the next
    press or note ends the step at once, instead of asking for a note, a reason or a photo
    that would be refused afterwards. A press no longer applies; a note was not used."""
    h = world.harness
    stale = "is now resolved: this button no longer applies."
    for action, choice in ((TicketAction.TRANSFER, "网格B"), (TicketAction.EXTEND, "+3 days")):
        ticket = await world.accepted()
        await world.secretary.press(data(action, ticket))
        prompt = h.last_to(world.secretary.id)
        await world.run(tickets.resolve, ticket.id, world.actor("secretary2"), utcnow(), "已办")

        calls = await world.secretary.press(prompt.button(choice))

        assert alert(calls) == f"{ticket.number} {stale}"
        assert not messages(calls)
        reply = answer_to(await world.secretary.text("需要协调"), world.secretary)
        assert "did not understand" in reply.text  # the step is over

    ticket = await world.accepted()
    await world.secretary.press(data(TicketAction.RESOLVE, ticket))
    await world.run(tickets.resolve, ticket.id, world.actor("secretary2"), utcnow(), "已办")
    reply = answer_to(await world.secretary.text("清理完毕"), world.secretary)
    assert reply.text == f"{ticket.number} is now resolved, so what you sent was not used."
    reply = answer_to(await world.secretary.sticker(), world.secretary)
    assert "did not understand" in reply.text
    assert (await world.load(ticket.id)).resolution_note == "已办"

    # Skip pressed for the photo of the result: that button no longer applies.
    ticket = await world.accepted()
    await world.secretary.press(data(TicketAction.RESOLVE, ticket))
    skip = answer_to(await world.secretary.text("清理完毕"), world.secretary)
    await world.run(tickets.resolve, ticket.id, world.actor("secretary2"), utcnow(), "已办")
    reply = answer_to(await world.secretary.press(skip.button("Skip")), world.secretary)
    assert reply.text == f"{ticket.number} {stale}"


async def test_text_typed_for_a_ticket_moved_on_meanwhile_is_said_to_be_unused(world):
    """A colleague resolves the ticket while a member types a transfer note or a grid code,
    a reason for more time or a question: no button was pressed, so the member is told that
    what they typed was not used, and what the ticket is now."""
    h = world.harness
    not_used = "is now resolved, so what you sent was not used."
    steps = (
        (TicketAction.TRANSFER, ("网格B",)),
        (TicketAction.TRANSFER, ("Type a grid code",)),
        (TicketAction.EXTEND, ("+3 days",)),
        (TicketAction.ASK, ()),
    )
    for action, choices in steps:
        ticket = await world.accepted()
        await world.secretary.press(data(action, ticket))
        for choice in choices:
            await world.secretary.press(h.last_to(world.secretary.id).button(choice))
        await world.run(tickets.resolve, ticket.id, world.actor("secretary2"), utcnow(), "已办")

        reply = answer_to(await world.secretary.text("b"), world.secretary)

        assert reply.text == f"{ticket.number} {not_used}", (action, choices)
        stored = await world.load(ticket.id)
        assert (stored.status, stored.grid_id) == (TicketStatus.RESOLVED, world.grids["A"].id)
        assert EventKind.QUESTION not in await world.events(ticket.id)
        assert not texts(h, world.reporter.id)


async def test_input_for_a_ticket_passed_on_meanwhile_says_where_it_went(world):
    """A colleague passes the ticket to grid B while a member types a note, a reason or a
    question, or is about to choose how much more time: the member is told where it went
    and that nothing was sent or changed. So is an officer, who still reaches it in grid B
    but whose extension no longer applies to it."""
    h = world.harness
    passed = "was passed to grid 网格B (B) meanwhile: nothing was sent or changed."

    async def pass_to_b(ticket: Ticket) -> None:
        await world.run(
            tickets.transfer,
            ticket.id,
            world.actor("secretary2"),
            utcnow(),
            catalogue=CATALOGUE,
            target_grid_id=world.grids["B"].id,
        )

    steps = (
        (TicketAction.RESOLVE, ()),
        (TicketAction.EXTEND, ("+3 days",)),
        (TicketAction.ASK, ()),
        (TicketAction.INVALID, ()),
    )
    for action, choices in steps:
        ticket = await world.accepted()
        await world.secretary.press(data(action, ticket))
        for choice in choices:
            await world.secretary.press(h.last_to(world.secretary.id).button(choice))
        await pass_to_b(ticket)

        reply = answer_to(await world.secretary.text("需要协调"), world.secretary)

        assert reply.text == f"{ticket.number} {passed}", action
        stored = await world.load(ticket.id)
        assert (stored.status, stored.grid_id) == (TicketStatus.DISPATCHED, world.grids["B"].id)
        assert EventKind.QUESTION not in await world.events(ticket.id)
        assert "需要协调" not in texts(h, world.reporter.id)

    ticket = await world.accepted()
    await world.secretary.press(data(TicketAction.EXTEND, ticket))
    days = h.last_to(world.secretary.id)
    await pass_to_b(ticket)
    calls = await world.secretary.press(days.button("+3 days"))
    assert alert(calls) == f"{ticket.number} {passed}"
    assert not messages(calls)

    ticket = await world.ticket()
    await world.run(tickets.accept, ticket.id, world.actor("officer"), utcnow())
    await world.officer.press(data(TicketAction.EXTEND, ticket))
    await world.officer.press(h.last_to(world.officer.id).button("+1 day"))
    await pass_to_b(ticket)
    reply = answer_to(await world.officer.text("等物业回复"), world.officer)
    assert reply.text == f"{ticket.number} {passed}"
    assert EventKind.EXTENDED not in await world.events(ticket.id)


async def test_a_reason_typed_for_a_ticket_merged_meanwhile_names_the_original(world):
    h = world.harness
    original = await world.ticket()
    ticket = await world.ticket()
    await world.worker.press(data(TicketAction.INVALID, ticket))
    await world.run(
        tickets.mark_duplicate, ticket.id, world.actor("secretary"), utcnow(), original.id
    )

    reply = answer_to(await world.worker.text("虚假信息"), world.worker)

    assert reply.text == f"工单 {ticket.number} 已并入 {original.number}，您发送的内容未被采用。"
    assert (await world.load(ticket.id)).status is TicketStatus.DUPLICATE
    assert "虚假信息" not in texts(h, world.reporter.id)


async def test_a_queue_entry_pressed_in_another_group_shows_no_card_there(world):
    """A queue's entry pressed in a group that is not the team's chat (an old listing, or
    forged) must not post the card (the reporter's phone, the history) to that group."""
    ticket = await world.accepted(contact_consent=True)
    [listing] = messages(await say_in_group(world.secretary, TEAM_CHAT, "/queue"))

    calls = await world.secretary.press(listing.button(ticket.number), message_chat_id=-100999)

    assert messages(calls) == []
    assert f"/ticket {ticket.number}" in alert(calls)
    calls = await world.secretary.press(listing.button(ticket.number), message_chat_id=TEAM_CHAT)
    assert PHONE in answer_to_chat(calls, TEAM_CHAT).text


def answer_to_chat(calls, chat_id: int):
    [answer] = [call for call in messages(calls) if call.chat_id == chat_id]
    return answer


async def test_commands_from_an_anonymous_group_admin_get_an_answer(world):
    """An admin who posts as the group comes as GroupAnonymousBot, with no person behind
    the message: /queue, /ticket and /cancel failed (an error logged, no answer)."""
    h = world.harness
    ticket = await world.ticket()
    group = Chat(id=TEAM_CHAT, type="supergroup", title="group")
    anonymous = User(id=1087968824, is_bot=True, first_name="Group", username="GroupAnonymousBot")
    for text in (f"/ticket {ticket.number}", "/cancel", "/queue", "/queue@redgrid_test_bot"):
        message = Message(
            message_id=next(h.update_ids),
            date=datetime.now(UTC),
            chat=group,
            sender_chat=group,
            from_user=anonymous,
            text=text,
        )
        calls = await h.feed(Update(update_id=next(h.update_ids), message=message))
        [reply] = messages(calls)
        assert reply.chat_id == TEAM_CHAT
        if text.startswith("/queue"):  # the team chat's queue is the group's, not a person's
            assert ticket.number in reply.text
        else:
            assert "匿名" in reply.text


async def test_cancel_in_the_team_chat_ends_the_step_begun_there(world):
    """Resolve pressed in the group goes on in private; /cancel typed in the group said
    "Nothing to cancel" (and posted the main menu to the group) while the step went on."""
    h = world.harness
    ticket = await world.accepted()
    await world.worker.press(data(TicketAction.RESOLVE, ticket), message_chat_id=TEAM_CHAT)

    [reply] = messages(await say_in_group(world.worker, TEAM_CHAT, "/cancel"))

    assert reply.chat_id == TEAM_CHAT
    assert reply.text == "已取消，未提交任何内容。"
    assert reply.buttons == []  # the menu is not posted to the group
    await world.worker.text("已清理")
    assert (await world.load(ticket.id)).status is TicketStatus.ACCEPTED
    assert "办理情况" not in h.last_to(world.worker.id).text
    [reply] = messages(await say_in_group(world.worker, TEAM_CHAT, "/cancel"))
    assert reply.text == "当前没有可取消的操作。"
    # /language there changes the presser's language and posts no menu to the group either
    [keyboard] = messages(await say_in_group(world.worker, TEAM_CHAT, "/language"))
    calls = await world.worker.press(keyboard.button("English"), message_chat_id=TEAM_CHAT)
    assert messages(calls) == []
    assert alert(calls) == "Language: English"


async def test_someone_not_on_the_team_pressing_in_its_group_is_told_why(world):
    """The team's group may hold people without a role (never invited, or from another
    grid): "This button is no longer valid" on a fresh card left them puzzled."""
    ticket = await world.ticket()
    for person, action in (
        (world.resident_en, TicketAction.ACCEPT),
        (world.resident_en, TicketAction.TRANSFER),
        (world.harness.person("Bob", "en"), TicketAction.INVALID),
    ):
        calls = await person.press(data(action, ticket), message_chat_id=TEAM_CHAT)
        assert alert(calls).startswith("Only the grid's team can act on its tickets.")
    calls = await world.secretary_b.press(
        data(TicketAction.ACCEPT, ticket), message_chat_id=TEAM_CHAT
    )
    assert "网格工作团队" in alert(calls)
    # in a private chat (a forged button) or another group, a stranger still learns nothing
    for chat_id in (world.resident_en.id, -100999):
        calls = await world.resident_en.press(data(TicketAction.ACCEPT, ticket), chat_id)
        assert alert(calls) == "This button is no longer valid."
    assert (await world.load(ticket.id)).status is TicketStatus.DISPATCHED


async def test_an_over_long_transfer_note_is_re_asked_with_skip_still_offered(world):
    """The transfer note step offers Skip; its too-long hint dropped Skip (only Back and
    Cancel), as if the note were now required. The hint offers all three, and Skip on it
    still transfers."""
    ticket = await world.ticket()
    calls = await world.worker.press(data(TicketAction.TRANSFER, ticket))
    await world.worker.press(answer_to(calls, world.worker).button("网格B"))

    hint = answer_to(await world.worker.text("很" * 1001), world.worker)

    assert "1000" in hint.text
    assert [button.text for button in hint.buttons] == ["⏭ 跳过", "⬅️ 返回", "✖️ 取消"]
    await world.worker.press(hint.button("跳过"))
    assert (await world.load(ticket.id)).grid_id == world.grids["B"].id


async def test_queue_in_a_group_lists_only_what_the_group_reads(world):
    """/queue in a grid's team chat lists that grid's open tickets, whoever asks (the group
    reads their cards anyway), never the asker's other queues; in any other group it lists
    nothing and sends the asker to the private chat, where they get their whole queue."""
    in_a = await world.ticket()
    in_b = await world.ticket(grid_id=world.grids["B"].id)  # the officer's too
    up = await world.ticket()
    await world.run(
        tickets.transfer,
        up.id,
        world.actor("secretary"),
        utcnow(),
        catalogue=CATALOGUE,
        to_community=True,
    )

    for person in (world.secretary, world.officer, world.resident_en):
        [listing] = messages(await say_in_group(person, TEAM_CHAT, "/queue"))
        assert listing.chat_id == TEAM_CHAT
        assert "grid 网格A (A)" in listing.text
        assert in_a.number in listing.text
        assert in_b.number not in listing.text
        assert up.number not in listing.text
        assert [b.text for b in listing.buttons] == [f"1. {in_a.number}"]
    whole = answer_to(await world.officer.text("/queue"), world.officer)
    for ticket in (in_a, in_b, up):
        assert ticket.number in whole.text

    for person in (world.secretary, world.officer, world.resident_en):
        [reply] = messages(await say_in_group(person, -100999, "/queue"))
        assert reply.chat_id == -100999
        assert "send me /queue in a private chat" in reply.text
        assert not reply.buttons
        for ticket in (in_a, in_b, up):
            assert ticket.number not in reply.text
    # the menu's queue button (an old menu) does the same in a group
    calls = await world.officer.press("m1:queue", message_chat_id=-100999)
    assert not messages(calls)
    assert "send me /queue in a private chat" in alert(calls)
    calls = await world.officer.press("m1:queue", message_chat_id=TEAM_CHAT)
    listing = answer_to_chat(calls, TEAM_CHAT)
    assert in_a.number in listing.text
    assert in_b.number not in listing.text

    await world.run(tickets.mark_invalid, in_a.id, world.actor("secretary"), utcnow(), "无效")
    [empty] = messages(await say_in_group(world.secretary, TEAM_CHAT, "/queue"))
    assert empty.text == "No open tickets in the queue of grid 网格A (A)."


async def test_an_officers_step_for_a_ticket_passed_on_within_reach_does_not_act_on_it(world):
    """A colleague passes the ticket to grid B, still within the officer's reach, while
    the officer writes a transfer note or an invalid reason, or presses Skip: the officer
    is told where it went and nothing is done (the transfer would have taken it out of
    grid B's queue, the reason closed grid B's ticket)."""
    h = world.harness
    passed = "was passed to grid 网格B (B) meanwhile: nothing was sent or changed."

    async def pass_to_b(ticket: Ticket) -> None:
        await world.run(
            tickets.transfer,
            ticket.id,
            world.actor("secretary2"),
            utcnow(),
            catalogue=CATALOGUE,
            target_grid_id=world.grids["B"].id,
        )

    for last in ("text", "Skip"):
        ticket = await world.ticket()
        await world.officer.press(data(TicketAction.TRANSFER, ticket))
        await world.officer.press(h.last_to(world.officer.id).button("Up to the community"))
        note_prompt = h.last_to(world.officer.id)
        await pass_to_b(ticket)
        if last == "text":
            calls = await world.officer.text("请社区协调")
        else:
            calls = await world.officer.press(note_prompt.button("Skip"))
        assert answer_to(calls, world.officer).text == f"{ticket.number} {passed}", last
        stored = await world.load(ticket.id)
        assert (stored.grid_id, stored.status) == (world.grids["B"].id, TicketStatus.DISPATCHED)
        assert (await world.events(ticket.id)).count(EventKind.TRANSFERRED) == 1

    ticket = await world.ticket()
    await world.officer.press(data(TicketAction.INVALID, ticket))
    await pass_to_b(ticket)
    reply = answer_to(await world.officer.text("重复上报"), world.officer)
    assert reply.text == f"{ticket.number} {passed}"
    assert (await world.load(ticket.id)).status is TicketStatus.DISPATCHED

    # the choice of where to send it, pressed after the move, ends the step too
    ticket = await world.ticket()
    await world.officer.press(data(TicketAction.TRANSFER, ticket))
    choice = h.last_to(world.officer.id)
    await pass_to_b(ticket)
    calls = await world.officer.press(choice.button("Up to the community"))
    assert alert(calls) == f"{ticket.number} {passed}"
    assert not messages(calls)
