"""Red informants through the real dispatcher, on SQLite and PostgreSQL, in both languages:
joining by link, reports from the road (albums, live locations, a picture sent as a file
with its EXIF location, outside the district), the team's 评单 and the points it earns,
the leaderboard, paused informants, people without the role, and ``redgrid informants``."""

import asyncio
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import EditMessageText, GetFile, SendVoice
from aiogram.types import (
    Document,
    File,
    PhotoSize,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    User,
    Voice,
)
from sqlmodel import col, select
from typer.testing import CliRunner

from redgrid.bot.settings import Settings, get_settings
from redgrid.cli import EXIT_REFUSED, EXIT_USAGE, app
from redgrid.handlers.callbacks import (
    GradeCb,
    InformantAdminAction,
    InformantAdminCb,
    JoinCb,
    JoinStep,
    ReportAction,
    ReportCb,
    TicketAction,
    TicketCb,
)
from redgrid.handlers.informant.admin import ADMIN_PAGE
from redgrid.models import (
    Community,
    Grade,
    Grid,
    InformantProfile,
    InformantStatus,
    Invite,
    Membership,
    Person,
    PhotoKind,
    ReportGrade,
    Role,
    Ticket,
    TicketSource,
    TicketStatus,
    WorkType,
)
from redgrid.models.base import utcnow
from redgrid.models.db import create_engine, create_session_factory
from redgrid.services import informants, invites, tickets
from redgrid.services.categories import load_categories
from redgrid.services.district import import_district
from redgrid.services.district_file import parse_district_file
from redgrid.services.members import remove_membership
from redgrid.services.people import Actor, get_or_create_person, grant_role
from tests import bot_harness as bh
from tests.bot_harness import TOKEN, BotHarness, RecordingSession, bot_harness, messages
from tests.district_files import dumps, small_district
from tests.test_informant_service import exif_jpeg

ADMIN_ID = 555
TEAM_CHAT = -100888
INSIDE_A = (28.2305, 116.6005)
INSIDE_B = (28.2305, 116.6105)
FAR = (28.5, 116.9)
LINK = re.compile(r"https://t\.me/\w+\?start=([A-Za-z0-9_-]+)")


class ServingSession(RecordingSession):
    """The recording session that also serves files: ``getFile`` and the download that
    ``bot.download`` streams (``files`` maps a file id to its bytes)."""

    files: dict[str, bytes]

    def _result(self, method: Any) -> Any:
        if isinstance(method, GetFile):
            return File(
                file_id=method.file_id,
                file_unique_id=f"u-{method.file_id}",
                file_path=f"documents/{method.file_id}.jpg",
            )
        return super()._result(method)

    async def stream_content(self, url: str, *args: Any, chunk_size: int = 65536, **kwargs: Any):
        file_id = url.rsplit("/", 1)[1].removesuffix(".jpg")
        data = self.files[file_id]
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]


@dataclass
class World:
    harness: BotHarness
    session_factory: Any
    grids: dict[str, Grid]
    admin: bh.Person
    secretary: bh.Person  # grid A, English; grid A's team chat is TEAM_CHAT
    secretary_b: bh.Person  # grid B, Chinese

    async def invite(self, role: Role = Role.INFORMANT, *, expired: bool = False, **scope) -> str:
        now = utcnow() - timedelta(days=8) if expired else utcnow()
        async with self.session_factory() as session, session.begin():
            admin = await get_or_create_person(session, ADMIN_ID, "Admin", "en")
            _, code = await invites.create_invite(
                session,
                role,
                by=Actor(admin.id, ADMIN_ID, True),
                ttl=timedelta(days=7),
                now=now,
                **scope,
            )
        return code

    async def tickets(self) -> list[Ticket]:
        async with self.session_factory() as session:
            return list((await session.exec(select(Ticket).order_by(col(Ticket.id)))).all())

    async def profile(self, client: bh.Person) -> InformantProfile | None:
        async with self.session_factory() as session:
            person = (
                await session.exec(select(Person).where(Person.telegram_id == client.id))
            ).one()
            return await informants.get_profile(session, person.id)

    async def community_id(self, code: str) -> int:
        return self.grids[code].community_id


@pytest.fixture
def settings(database_url) -> Settings:
    return Settings(bot_token=TOKEN, database_url=database_url, admin_ids=frozenset({ADMIN_ID}))


@pytest.fixture
async def world(settings, session_factory):
    async with session_factory() as session, session.begin():
        await import_district(session, parse_district_file(dumps(small_district())))
        grids = {grid.code: grid for grid in (await session.exec(select(Grid))).all()}
        grids["A"].team_chat_id = TEAM_CHAT
    async with bot_harness(settings, session_factory) as harness:
        harness.session.__class__ = ServingSession
        harness.session.files = {}
        admin = bh.Person(
            harness, User(id=ADMIN_ID, is_bot=False, first_name="Admin", language_code="en")
        )
        secretary = harness.person("Wang", language_code="en")
        secretary_b = harness.person("Liu", language_code="zh-hans")
        async with session_factory() as session, session.begin():
            for client, grid, locale in ((secretary, "A", "en"), (secretary_b, "B", "zh_CN")):
                person = await get_or_create_person(
                    session, client.id, client.user.first_name, locale
                )
                await grant_role(session, person.id, Role.SECRETARY, grid_id=grids[grid].id)
        yield World(harness, session_factory, grids, admin, secretary, secretary_b)


def join_data(step: JoinStep, value: str = "") -> str:
    return JoinCb(step=step, value=value).pack()


def report_data(action: ReportAction, code: str = "") -> str:
    return ReportCb(action=action, code=code).pack()


CANCEL = report_data(ReportAction.CANCEL)
SEND = report_data(ReportAction.SEND)


def category(code: str = "sanitation") -> str:
    return report_data(ReportAction.CATEGORY, code)


def alert(calls) -> str:
    [answer] = [call for call in calls if call.name == "AnswerCallbackQuery"]
    return answer.method.text or ""


def to(calls, chat_id: int):
    return [call for call in messages(calls) if call.chat_id == chat_id]


def edited(calls, chat_id: int):
    """The messages in ``chat_id`` edited in place among ``calls``."""
    return [call for call in calls if call.name == "EditMessageText" and call.chat_id == chat_id]


def callback_data(calls) -> list[str]:
    return [button.callback_data for call in calls for button in call.buttons]


async def join(
    world: World, client: bh.Person, *, code=None, name="小王", home="A", work="food_delivery"
):
    """Open an informant link (by default the admin's, for 大富社区) and fill in the profile."""
    code = code or await world.invite(community_name="大富社区")
    await client.text(f"/start {code}")
    await client.text(name)
    await client.contact("+86 138 0013 8000")
    await client.press(join_data(JoinStep.WORK, work))
    community = "0" if home is None else str(await world.community_id(home))
    return await client.press(join_data(JoinStep.HOME, community))


async def send_report(client: bh.Person, *, latlon=INSIDE_A, code="sanitation", photo="p1"):
    await client.photo(photo)
    await client.location(*latlon)
    await client.press(category(code))
    return await client.press(SEND)


# Joining ----------------------------------------------------------------------------------


async def test_joining_in_chinese_reads_as_chinese(world):
    """Chinese punctuation inside Chinese text (no ASCII comma), and button names quoted
    with “” as everywhere else in the Chinese catalogue."""
    rider = world.harness.person("Dave", language_code="zh-hans")
    code = await world.invite(community_name="大富社区")
    [welcome] = await rider.text(f"/start {code}")
    assert welcome.button("使用“Dave”")
    [phone] = messages(await rider.press(welcome.button("使用“Dave”")))
    assert "请点下方“📱 分享我的手机号”" in phone.text
    await rider.text("13900139000")
    await rider.press(join_data(JoinStep.WORK, "courier"))
    [done] = messages(
        await rider.press(join_data(JoinStep.HOME, str(await world.community_id("A"))))
    )
    assert "（快递员，大富社区）" in done.text
    [ask] = await rider.photo("photo-1")
    assert "请点下方“📍 发送我的位置”" in ask.text


async def test_joining_by_link_in_english(world):
    rider = world.harness.person("Dave", language_code="en")
    code = await world.invite(community_name="大富社区")
    [welcome] = await rider.text(f"/start {code}")
    assert "You are now a red informant of 大富社区." in welcome.text
    assert "1/4" in welcome.text
    assert welcome.button("Use «Dave»")

    [hint] = await rider.text("x" * 30)  # too long
    assert "1 to 20 characters" in hint.text
    [phone] = messages(await rider.press(welcome.button("Use «Dave»")))
    assert "2/4" in phone.text
    keyboard = phone.method.reply_markup
    assert isinstance(keyboard, ReplyKeyboardMarkup)
    assert keyboard.keyboard[0][0].request_contact

    [refused] = await rider.text("12345")
    assert "not a mainland China mobile number" in refused.text
    saved, work = messages(await rider.text("+86 139-0013-9000"))
    assert "13900139000 is saved" in saved.text
    assert isinstance(saved.method.reply_markup, ReplyKeyboardRemove)
    assert work.button("courier")
    assert work.button("ride-hailing driver")
    [home] = messages(await rider.press(work.button("courier")))
    assert "4/4" in home.text
    # the invite's community comes first, then the others, then "outside"
    labels = [button.text for button in home.buttons]
    assert labels[:2] == ["大富社区", "东铜社区"]
    [done] = messages(await rider.press(home.button("东铜社区")))
    assert "All set, Dave (courier, 东铜社区)" in done.text
    keyboard = done.method.reply_markup
    assert [[b.text for b in row] for row in keyboard.keyboard] == [
        ["🛵 Report a problem"],
        ["📋 My reports", "🏆 Leaderboard"],
    ]
    profile = await world.profile(rider)
    assert (profile.display_name, profile.phone, profile.work_type) == (
        "Dave",
        "13900139000",
        WorkType.COURIER,
    )
    assert profile.community_id == await world.community_id("C")
    assert profile.invited_by_telegram_id == ADMIN_ID


async def test_joining_by_link_in_chinese(world):
    rider = world.harness.person("Li", language_code="zh-hans")
    code = await world.invite()
    [welcome] = await rider.text(f"/start {code}")
    assert "红色信息员" in welcome.text
    assert "1/4" in welcome.text
    await rider.text("小王")
    # someone else's contact is refused; one's own is taken
    other = await rider.send(
        contact={"phone_number": "13800138000", "first_name": "X", "user_id": 1}
    )
    assert "自己的" in to(other, rider.id)[0].text
    saved, work = messages(await rider.contact("8613800138000"))
    assert "13800138000" in saved.text
    assert work.button("外卖骑手")
    assert work.button("快递员")
    assert work.button("网约车司机")
    [home] = messages(await rider.press(work.button("外卖骑手")))
    [done] = messages(await rider.press(home.button("不住在本区")))
    assert "小王" in done.text
    assert "外卖骑手" in done.text
    assert (await world.profile(rider)).community_id is None


async def test_expired_reused_and_wrong_role_links(world):
    h = world.harness
    late = h.person(language_code="en")
    [reply] = await late.text(f"/start {await world.invite(expired=True)}")
    assert "has expired" in reply.text
    assert await world.profile(late) is None

    code = await world.invite()
    first, second = h.person(language_code="en"), h.person(language_code="zh-hans")
    [welcome] = await first.text(f"/start {code}")
    assert "1/4" in welcome.text
    [reply] = await second.text(f"/start {code}")
    assert "已被使用" in reply.text
    await first.text("/cancel")
    [reply] = await first.text(f"/start {code}")
    assert "You have already used this invitation" in reply.text

    # a grid team's link makes a secretary, not an informant: no profile, no reports
    other = h.person(language_code="en")
    [reply] = await other.text(f"/start {await world.invite(Role.SECRETARY, grid_code='B')}")
    assert "party branch secretary" in reply.text
    assert "1/4" not in reply.text
    [reply] = await other.text("/report")
    assert "for red informants" in reply.text
    assert reply.button("Raise a complaint")

    # the first one left the profile unfinished: /report asks for it again
    [reply] = await first.text("/report")
    assert "Before your first report" in reply.text
    assert "1/4" in reply.text


# Reports ----------------------------------------------------------------------------------


async def test_done_when_an_informant_reports_and_the_grade_moves_the_leaderboard(world):
    """An informant joins through a link, sends an album and a location on the road, and
    within four taps the grid team that owns the spot has the report; graded valid, the
    informant's points and the leaderboard change."""
    h = world.harness
    rider = h.person("Li", language_code="zh-hans")
    await join(world, rider)
    [board] = await rider.text("/top")
    assert "本月还没有积分" in board.text

    # the album: one reply for two photos
    [ask] = await rider.photo("photo-1", media_group_id="album-1")
    assert "位置" in ask.text
    assert ask.method.reply_markup.keyboard[0][0].request_location
    assert await rider.photo("photo-2", media_group_id="album-1") == []
    taps = 0
    calls = await rider.location(*INSIDE_A)  # tap 1: "send my location"
    taps += 1
    ack, prompt = to(calls, rider.id)
    assert "网格A" in ack.text
    assert isinstance(ack.method.reply_markup, ReplyKeyboardRemove)
    assert callback_data([prompt])[0] == category("sanitation")
    calls = await rider.press(category("sanitation"))  # tap 2
    taps += 1
    [note] = to(calls, rider.id)
    calls = await rider.press(note.button("不附说明"))  # tap 3
    taps += 1
    assert taps <= 4

    [ticket] = await world.tickets()
    assert (ticket.source, ticket.grid_id) == (TicketSource.INFORMANT, world.grids["A"].id)
    [sent] = to(calls, rider.id)
    assert ticket.number in sent.text
    assert "网格A" in sent.text
    assert sent.method.reply_markup.keyboard[0][0].text == "🛵 上报问题"
    # the grid team that owns the spot: photos, pin and card, marked as an informant report
    pushed = [call.name for call in calls if call.chat_id == world.secretary.id]
    assert pushed == ["SendMediaGroup", "SendLocation", "SendMessage"]
    card = h.last_to(world.secretary.id)
    assert "New red informant report from 小王" in card.text
    # the team sees who reported by the name they report under, never their phone
    assert "Reporter: red informant 小王 (reach them through the bot)" in card.text
    assert "anonymous" not in card.text
    assert "13800138000" not in card.text
    assert card.button("Accept")
    assert "红色信息员" in h.last_to(TEAM_CHAT).text
    assert h.calls_to(world.secretary_b.id) == []

    # the team accepts and resolves; the informant hears of each step, then it is graded
    await world.secretary.press(TicketCb(action=TicketAction.ACCEPT, ticket_id=ticket.id).pack())
    assert "已受理" in h.last_to(rider.id).text
    await world.secretary.press(TicketCb(action=TicketAction.RESOLVE, ticket_id=ticket.id).pack())
    await world.secretary.text("已清运")
    calls = await world.secretary.press(h.last_to(world.secretary.id).button("Skip"))
    resolved, grade_prompt = to(calls, world.secretary.id)
    assert "is resolved" in resolved.text
    assert "Please grade it" in grade_prompt.text
    assert [b.text for b in grade_prompt.buttons] == ["👍 Valid", "🔁 Duplicate", "🚫 Invalid"]
    assert "已办结" in h.last_to(rider.id).text

    calls = await world.secretary.press(grade_prompt.button("Valid"))
    assert "earned 1 points" in to(calls, world.secretary.id)[0].text
    told = to(calls, rider.id)[0]
    assert "有效" in told.text
    assert "+1" in told.text
    async with world.session_factory() as session:
        [graded] = (await session.exec(select(ReportGrade))).all()
    assert (graded.grade, graded.points) == (Grade.VALID, 1)

    [board] = await rider.text("/top")
    assert "🥇 小王" in board.text
    assert "大富社区" in board.text
    assert "第 1 名" in board.text
    [mine] = await rider.text("/mine")
    assert ticket.number in mine.text
    assert "有效" in mine.text
    assert "+1" in mine.text


async def test_menu_button_live_location_and_a_caption_as_the_note(world):
    rider = world.harness.person("Dave", language_code="en")
    await join(world, rider, name="Dave")
    [prompt] = await rider.text("🛵 Report a problem")  # the reply keyboard's button
    assert "Send a photo" in prompt.text
    calls = await rider.send(
        photo=[PhotoSize(file_id="p9", file_unique_id="u9", width=1, height=1)],
        caption="Manhole cover missing",
    )
    assert "Where is it?" in to(calls, rider.id)[0].text
    calls = await rider.location(*INSIDE_B, live_period=900)  # a live location
    assert "grid 网格B (B)" in to(calls, rider.id)[0].text
    calls = await rider.press(category("safety"))  # the caption is the note: sent
    [ticket] = await world.tickets()
    assert (ticket.grid_id, ticket.description) == (world.grids["B"].id, "Manhole cover missing")
    assert "红色信息员 Dave 的新上报" in world.harness.last_to(world.secretary_b.id).text
    assert "Sent" in to(calls, rider.id)[0].text


async def test_a_photo_without_a_location_asks_for_one(world):
    rider = world.harness.person("Dave", language_code="en")
    await join(world, rider, name="Dave")
    [ask] = await rider.photo("p1")
    assert "Where is it?" in ask.text
    [hint] = await rider.text("湖滨花园")
    assert "a typed address cannot be used" in hint.text
    assert hint.method.reply_markup.keyboard[0][0].request_location
    [hint] = await rider.sticker()
    assert "share the location" in hint.text
    [added] = await rider.photo("p2")  # a second, separate photo is acknowledged
    assert "Photo added (2 of 5)" in added.text
    [hint] = await rider.text("/mytickets")
    assert "You are sending a report" in hint.text
    await rider.location(*INSIDE_A)
    await rider.press(category())
    await rider.text("路灯不亮 <b>")
    [ticket] = await world.tickets()
    assert ticket.description == "路灯不亮 <b>"
    assert "&lt;b&gt;" in world.harness.last_to(world.secretary.id).text
    async with world.session_factory() as session:
        photos = await informants.tickets.ticket_photos(session, ticket.id)
    assert [p.file_id for p in photos] == ["p1", "p2"]


async def test_outside_the_district_nothing_is_filed(world):
    rider = world.harness.person("Li", language_code="zh-hans")
    await join(world, rider)
    await rider.photo("p1")
    [reply] = await rider.location(*FAR)
    assert "东乡区" in reply.text
    assert callback_data([reply]) == [CANCEL]
    assert await world.tickets() == []
    en = world.harness.person("Dave", language_code="en")
    await join(world, en, name="Dave")
    await en.photo("p2")
    [reply] = await en.location(*FAR)
    assert "outside Dongxiang District" in reply.text
    assert "nothing was filed" in reply.text
    [cancelled] = messages(await en.press(CANCEL))
    assert "Nothing was sent" in cancelled.text
    assert await world.tickets() == []
    # another spot, inside, goes on as usual
    await send_report(rider)
    assert len(await world.tickets()) == 1


async def test_a_picture_sent_as_a_file_brings_its_location(world):
    h = world.harness
    rider = h.person("Dave", language_code="en")
    await join(world, rider, name="Dave")
    h.session.files["doc-1"] = exif_jpeg(*INSIDE_A)
    h.session.files["doc-2"] = exif_jpeg(None, None, with_pointer=False)

    def document(file_id: str) -> Document:
        data = h.session.files[file_id]
        return Document(
            file_id=file_id,
            file_unique_id=f"u-{file_id}",
            file_name="IMG_0001.jpg",
            mime_type="image/jpeg",
            file_size=len(data),
        )

    calls = await rider.send(document=document("doc-1"))
    assert [call.name for call in calls if call.chat_id == rider.id][:2] == [
        "SendPhoto",  # the picture back as a photo: its id is the one the team gets
        "SendMessage",
    ]
    assert any(call.name == "GetFile" for call in calls)
    ack, prompt = to(calls, rider.id)[1:]
    assert "grid 网格A (A)" in ack.text
    assert "Choose a category" in prompt.text
    await rider.press(category())
    await rider.press(SEND)
    [ticket] = await world.tickets()
    assert (ticket.latitude, ticket.grid_id) == (pytest.approx(28.2305), world.grids["A"].id)

    # without a location in it: asked for one
    calls = await rider.send(document=document("doc-2"))
    assert "carries no location" in to(calls, rider.id)[-1].text


async def test_a_picture_file_beyond_the_photo_limit_is_refused_before_it_is_fetched(world):
    h = world.harness
    rider = h.person("Dave", language_code="en")
    await join(world, rider, name="Dave")
    for number in range(5):
        await rider.photo(f"p{number}")
    h.session.files["doc-6"] = exif_jpeg(*INSIDE_B)
    calls = await rider.send(
        document=Document(
            file_id="doc-6",
            file_unique_id="u-doc-6",
            file_name="IMG_0006.jpg",
            mime_type="image/jpeg",
            file_size=len(h.session.files["doc-6"]),
        )
    )
    assert [call.name for call in calls] == ["SendMessage"]  # not fetched, not sent back
    assert "at most 5 photos, so 1 photo was not added" in calls[0].text
    [hint] = await rider.text("here")  # still asked for the location: the file's was not used
    assert "share the location" in hint.text


def edits(calls) -> list:
    return [call for call in calls if call.name == "EditMessageText"]


async def test_an_album_past_the_photo_limit_gets_one_reply_counting_the_refused(world):
    h = world.harness
    rider = h.person("Dave", language_code="en")
    await join(world, rider, name="Dave")
    calls = []
    for number in range(8):
        calls += await rider.photo(f"a{number}", media_group_id="album-8")
    ask, refused = messages(calls)
    assert "location" in ask.text
    assert refused.text == "A report takes at most 5 photos, so 1 photo was not added."
    assert [edit.method.message_id for edit in edits(calls)] == [refused.result.message_id] * 2
    assert edits(calls)[-1].method.text == (
        "A report takes at most 5 photos, so 3 photos were not added."
    )
    # in Chinese, and another album gets its own reply
    zh = h.person("小李", language_code="zh-hans")
    await join(world, zh)
    for number in range(5):
        await zh.photo(f"z{number}", media_group_id="album-z")
    [reply] = messages(await zh.photo("z5", media_group_id="album-z2"))
    assert reply.text == "每条上报最多 5 张照片，有 1 张照片未添加。"
    await zh.location(*INSIDE_A)
    await zh.press(category("sanitation"))
    await zh.press(SEND)
    [ticket] = await world.tickets()  # Dave's draft was never sent
    async with world.session_factory() as session:
        photos = await tickets.ticket_photos(session, ticket.id, PhotoKind.REPORT)
    assert [p.file_id for p in photos] == [f"z{number}" for number in range(5)]


async def test_a_voice_note_reaches_the_team(world):
    h = world.harness
    rider = h.person("Dave", language_code="en")
    await join(world, rider, name="Dave")
    await rider.photo("p1")
    await rider.location(*INSIDE_A)
    await rider.press(category())
    await rider.send(voice=Voice(file_id="voice-1", file_unique_id="uv1", duration=7))
    [ticket] = await world.tickets()
    assert ticket.description == "📷 ×1 · 🎤 0:07"
    note = h.last_to(world.secretary.id)
    assert "voice note" in note.text
    calls = await world.secretary.press(note.button("Play"))
    [played] = [call for call in calls if isinstance(call.method, SendVoice)]
    assert played.method.voice == "voice-1"
    # a stranger cannot play it
    calls = await world.secretary_b.press(note.button("Play"))
    assert not any(isinstance(call.method, SendVoice) for call in calls)


def voices(calls) -> list[tuple[int, str]]:
    return [
        (call.chat_id, call.method.voice) for call in calls if isinstance(call.method, SendVoice)
    ]


async def test_a_voice_note_plays_in_a_group_only_if_it_gets_the_tickets_cards(world):
    """Play pressed in the team chat plays the note there, for the group; pressed in a
    group that does not (or no longer) get the ticket's cards, it goes to the presser
    alone, in private (or, with no private chat, they are asked to open one)."""
    h = world.harness
    rider = h.person("Dave", language_code="en")
    await join(world, rider, name="Dave")
    await rider.photo("p1")
    await rider.location(*INSIDE_A)
    await rider.press(category())
    await rider.send(voice=Voice(file_id="voice-1", file_unique_id="uv1", duration=7))
    [ticket] = await world.tickets()
    play = h.last_to(TEAM_CHAT).button("▶️")

    assert voices(await world.secretary.press(play, message_chat_id=TEAM_CHAT)) == [
        (TEAM_CHAT, "voice-1")
    ]
    calls = await world.secretary.press(play, message_chat_id=-100999)
    assert voices(calls) == [(world.secretary.id, "voice-1")]
    assert "private chat" in alert(calls)

    async with world.session_factory() as session, session.begin():
        admin = await get_or_create_person(session, ADMIN_ID, "Admin", "en")
        await tickets.transfer(
            session,
            ticket.id,
            Actor(admin.id, ADMIN_ID, True),
            utcnow(),
            catalogue=load_categories(),
            target_grid_id=world.grids["B"].id,
        )
    calls = await world.admin.press(play, message_chat_id=TEAM_CHAT)  # no longer grid A's
    assert voices(calls) == [(ADMIN_ID, "voice-1")]
    calls = await rider.press(play, message_chat_id=TEAM_CHAT)  # the reporter may play it
    assert voices(calls) == [(rider.id, "voice-1")]

    h.session.blocked.add(ADMIN_ID)
    calls = await world.admin.press(play, message_chat_id=TEAM_CHAT)
    assert voices(calls) == []
    assert "press Start" in alert(calls)
    assert not messages(calls)


async def test_back_cancel_recent_categories_and_the_daily_limit(world):
    rider = world.harness.person("Dave", language_code="en")
    await join(world, rider, name="Dave")
    await send_report(rider, code="noise")
    await rider.photo("p2")
    calls = await rider.location(*INSIDE_A)
    prompt = to(calls, rider.id)[-1]
    assert callback_data([prompt])[:2] == [category("noise"), category("sanitation")]
    [again] = messages(await rider.press(report_data(ReportAction.BACK)))
    assert "Where is it?" in again.text
    assert again.method.reply_markup.keyboard[0][0].request_location
    await rider.location(*INSIDE_A)
    [note] = messages(await rider.press(category("parking")))
    assert "Anything to add?" in note.text
    [prompt] = messages(await rider.press(note.button("Back")))
    assert "Choose a category" in prompt.text
    [hint] = await rider.text("/report please")  # a fresh start
    assert "Send a photo" in hint.text
    [cancelled] = messages(await rider.press(CANCEL))
    assert "Nothing was sent" in cancelled.text
    assert cancelled.method.reply_markup.keyboard[0][0].text == "🛵 Report a problem"
    calls = await rider.press(category("noise"))  # the old step's button
    assert "no longer valid" in alert(calls)
    assert len(await world.tickets()) == 1

    world.harness.settings.informant_daily_limit = 1
    [reply] = await rider.photo("p3")
    assert "You have sent 1 reports today" in reply.text
    assert len(await world.tickets()) == 1


async def test_text_at_the_category_step_asks_for_the_kind_of_problem(world):
    """An informant reports a problem seen on the road, not a resident's 诉求: the hint
    at the category step speaks of the problem's kind, as the step's question does."""
    rider = world.harness.person("Li", language_code="zh-hans")
    await join(world, rider)
    await rider.photo("p1")
    await rider.location(*INSIDE_A)
    [hint] = await rider.text("垃圾")
    assert hint.text == "请点击下方按钮选择问题类别。"
    assert category("sanitation") in callback_data([hint])


# 评单 ------------------------------------------------------------------------------------


async def test_a_report_merged_as_a_duplicate_is_offered_for_grading(world):
    rider = world.harness.person("Dave", language_code="en")
    await join(world, rider, name="Dave")
    await send_report(rider, photo="p1")
    await send_report(rider, photo="p2")
    original, copy = await world.tickets()

    await world.secretary.press(TicketCb(action=TicketAction.DUPLICATE, ticket_id=copy.id).pack())
    [preview] = to(await world.secretary.text(original.number), world.secretary.id)
    calls = await world.secretary.press(preview.button("Confirm merge"))

    _done, prompt = to(calls, world.secretary.id)
    assert [b.text for b in prompt.buttons] == ["🔁 Duplicate", "🚫 Invalid"]
    assert f"Your ticket {copy.number} reports the same problem" in to(calls, rider.id)[0].text


async def test_grading_is_the_grid_teams_and_happens_once(world):
    h = world.harness
    rider = h.person("Dave", language_code="en")
    await join(world, rider, name="Dave")
    await send_report(rider, code="safety")  # urgent: 3 points
    [ticket] = await world.tickets()
    valid = GradeCb(ticket_id=ticket.id, grade="valid").pack()
    calls = await world.secretary.press(valid)  # still open
    assert "this button no longer applies" in alert(calls)

    await world.secretary.press(TicketCb(action=TicketAction.INVALID, ticket_id=ticket.id).pack())
    calls = await world.secretary.text("Not a real problem")
    _done, prompt = to(calls, world.secretary.id)
    assert [b.text for b in prompt.buttons] == ["🔁 Duplicate", "🚫 Invalid"]
    for forged in (valid, GradeCb(ticket_id=ticket.id, grade="great").pack(), "g1:zz:valid"):
        calls = await world.secretary.press(forged)
        assert "no longer valid" in alert(calls)
    calls = await world.secretary_b.press(prompt.button("Duplicate"))  # another grid
    assert "失效" in alert(calls)
    calls = await world.secretary.press(prompt.button("Duplicate"))
    assert "duplicate" in to(calls, rider.id)[0].text
    calls = await world.secretary.press(prompt.button("Invalid"))
    assert "already graded: duplicate" in alert(calls)
    async with world.session_factory() as session:
        [graded] = (await session.exec(select(ReportGrade))).all()
    assert (graded.grade, graded.points) == (Grade.DUPLICATE, 0)

    # /grade: a resident's complaint is not graded; a graded report says so
    [reply] = await world.secretary.text(f"/grade {ticket.number}")
    assert "already graded" in reply.text
    [reply] = await world.secretary_b.text(f"/grade {ticket.number}")
    assert "未找到" in reply.text


async def test_grade_later_with_the_command(world):
    rider = world.harness.person("Dave", language_code="en")
    await join(world, rider, name="Dave")
    await send_report(rider, code="dispute")  # complex: 2 points
    [ticket] = await world.tickets()
    for junk in ("/grade", "/grade abc", "/grade DX-"):  # how to write it, not "not found"
        [reply] = await world.secretary.text(junk)
        assert "for example /grade DX-000123" in reply.text, junk
    [reply] = await world.secretary.text(f"/grade {ticket.number}")
    assert "still open" in reply.text
    async with world.session_factory() as session, session.begin():
        loaded = await session.get(Ticket, ticket.id)
        loaded.status = TicketStatus.CLOSED
    [prompt] = await world.secretary.text(f"/grade {ticket.number}")
    calls = await world.secretary.press(prompt.button("Valid"))
    assert "+2 points" in to(calls, rider.id)[0].text
    [mine] = await rider.text("📋 My reports")
    assert "2 this month, 2 in all" in mine.text
    assert "graded valid, +2" in mine.text
    async with world.session_factory() as session, session.begin():
        (await session.get(Ticket, ticket.id)).category = "retired_code"  # gone from the file
    [mine] = await rider.text("/mine")
    assert "❔ retired_code: closed · graded valid" in mine.text


async def test_leaderboard_by_district_and_community(world):
    h = world.harness
    riders = []
    for name, home in (("Ann", "A"), ("Bob", "C"), ("Cat", "A")):
        rider = h.person(name, language_code="en")
        await join(world, rider, name=name, home=home)
        riders.append(rider)
    points = {"Ann": 1, "Bob": 3, "Cat": 0}
    async with world.session_factory() as session, session.begin():
        for rider in riders:
            person = (
                await session.exec(select(Person).where(Person.telegram_id == rider.id))
            ).one()
            score = points[rider.user.first_name]
            if score:
                ticket = Ticket(
                    source=TicketSource.INFORMANT,
                    category="sanitation",
                    description="x",
                    status=TicketStatus.CLOSED,
                    priority="normal",
                    respond_by=utcnow(),
                    resolve_by=utcnow(),
                    reporter_id=person.id,
                )
                session.add(ticket)
                await session.flush()
                session.add(
                    ReportGrade(
                        ticket_id=ticket.id,
                        informant_id=person.id,
                        grade=Grade.VALID,
                        points=score,
                        graded_at=utcnow(),
                    )
                )
    [board] = await riders[2].text("🏆 Leaderboard")
    district, community, own = board.text.split("\n\n")[1:4]
    assert district.splitlines()[1:] == ["🥇 Bob: 3 points", "🥈 Ann: 1 points"]
    assert community.splitlines() == ["<b>大富社区</b>", "🥇 Ann: 1 points"]
    assert own.startswith("⭐ Points: 0 this month")
    [board] = await riders[1].text("/top")
    assert "You are number 1 in the district." in board.text
    assert "You are number 1 in 东铜社区." in board.text


# Who may do what --------------------------------------------------------------------------


async def test_people_without_the_role(world):
    h = world.harness
    resident = h.person(language_code="en")
    [reply] = await resident.text("/report")
    assert "for red informants" in reply.text
    assert "invitation link" in reply.text
    # the resident's flow
    [prompt] = messages(await resident.press(reply.button("Raise a complaint")))
    assert "New complaint" in prompt.text
    await resident.text("/cancel")
    [reply] = await resident.photo("p1")  # as before: the fallback
    assert "I did not understand that" in reply.text
    [reply] = await resident.text("/mine")
    assert "for red informants" in reply.text
    zh = h.person(language_code="zh-hans")
    [reply] = await zh.text("/report")
    assert "红色信息员" in reply.text
    assert await world.tickets() == []


async def test_admin_pauses_resumes_and_removes_an_informant(world):
    h = world.harness
    rider = h.person("Li", language_code="zh-hans")
    await join(world, rider)
    person_id = (await world.profile(rider)).person_id
    outsider = world.secretary
    [reply] = await outsider.text("/informants")
    assert "Only district admins" in reply.text
    [listing] = await world.admin.text("/informants")
    assert "小王" in listing.text
    assert "13800138000" in listing.text
    pause = InformantAdminCb(action=InformantAdminAction.PAUSE, person_id=person_id).pack()
    calls = await outsider.press(pause)  # re-checked on the server
    assert "no longer valid" in alert(calls)

    calls = await world.admin.press(listing.button("⏸"))
    assert "暂停" in to(calls, rider.id)[0].text
    assert to(calls, ADMIN_ID) == []  # the list is shown again in its place, not below it
    [shown] = edited(calls, ADMIN_ID)
    assert shown.method.message_id == world.admin.last_pressed.message_id
    assert "paused" in shown.text
    [told] = await rider.photo("p1")
    assert "暂停" in told.text
    assert told.button("投诉")
    [told] = await rider.text("/report")
    assert "暂停" in told.text
    assert await world.tickets() == []
    calls = await world.admin.press(pause)
    assert "paused already" in alert(calls)

    [listing] = await world.admin.text("/informants")
    await world.admin.press(listing.button("▶️"))
    assert "问题在哪里" in (await rider.photo("p2"))[0].text
    assert (await world.profile(rider)).status is InformantStatus.ACTIVE
    await rider.text("/cancel")

    [confirm] = edited(await world.admin.press(listing.button("🗑")), ADMIN_ID)
    assert "Remove 小王" in confirm.text
    [kept] = edited(await world.admin.press(confirm.button("Keep")), ADMIN_ID)
    assert "小王" in kept.text
    assert (await world.profile(rider)).status is InformantStatus.ACTIVE
    calls = await world.admin.press(confirm.button("Yes, remove"))
    assert "邀请" in to(calls, rider.id)[0].text
    assert "No red informants yet" in edited(calls, ADMIN_ID)[0].text
    assert (await world.profile(rider)).status is InformantStatus.REMOVED
    [reply] = await rider.photo("p3")  # no role any more: the fallback, as for anyone
    assert "没有看懂" in reply.text
    [listing] = await world.admin.text("/informants")
    assert "No red informants yet" in listing.text


async def test_the_informant_list_pages_in_place(world):
    """Paging edits the list; a list Telegram will not edit (old, deleted) or that shows
    the page already comes as a new message, or not at all."""
    h = world.harness
    for n in range(ADMIN_PAGE + 1):
        await join(world, h.person(f"R{n}", language_code="en"), name=f"Rider{n:02}")
    [listing] = await world.admin.text("/informants")
    assert "Page 1 of 2" in listing.text
    [page_two] = edited(await world.admin.press(listing.button("➡️")), ADMIN_ID)
    assert "Page 2 of 2" in page_two.text

    h.session.failing[EditMessageText] = lambda method: TelegramBadRequest(
        method=method, message="Bad Request: message can't be edited"
    )
    calls = await world.admin.press(page_two.button("⬅️"))
    assert edited(calls, ADMIN_ID) == []
    [page_one] = to(calls, ADMIN_ID)
    assert "Page 1 of 2" in page_one.text

    h.session.failing[EditMessageText] = lambda method: TelegramBadRequest(
        method=method, message="Bad Request: message is not modified"
    )
    calls = await world.admin.press(page_two.button("⬅️"))
    assert to(calls, ADMIN_ID) == []


async def test_a_new_invitation_does_not_lift_a_pause(world):
    rider = world.harness.person("Dave", language_code="en")
    await join(world, rider, name="Dave")
    [listing] = await world.admin.text("/informants")
    await world.admin.press(listing.button("⏸"))
    [done] = messages(await join(world, rider, name="Dave"))  # another link, passed on to him
    assert "Your profile is saved." in done.text
    assert "paused" in done.text
    assert (await world.profile(rider)).status is InformantStatus.PAUSED
    [told] = await rider.photo("p1")
    assert "paused" in told.text
    assert await world.tickets() == []


async def test_the_menu_still_under_the_chat_of_a_returning_informant_is_not_a_name(world):
    rider = world.harness.person("Dave", language_code="en")
    await join(world, rider, name="Dave")
    person_id = (await world.profile(rider)).person_id
    async with world.session_factory() as session, session.begin():
        await informants.set_status(session, person_id, "removed", utcnow(), by=None)
    await rider.text(f"/start {await world.invite()}")  # invited again
    [again] = await rider.text("🏆 Leaderboard")
    assert "1/4" in again.text
    [phone] = await rider.text("Dave")
    assert "2/4" in phone.text


async def test_paused_half_way_through_a_report_the_draft_is_dropped_when_told(world):
    rider = world.harness.person("Dave", language_code="en")
    await join(world, rider, name="Dave")
    await rider.photo("p1")
    [listing] = await world.admin.text("/informants")
    await world.admin.press(listing.button("⏸"))
    [told] = await rider.text("🛵 Report a problem")
    assert "paused" in told.text
    calls = await rider.location(*INSIDE_A)  # no draft goes on to the category
    assert not any("Choose a category" in call.text for call in to(calls, rider.id))
    assert await world.tickets() == []


# Community officers and their informants ---------------------------------------------------


async def officer_of(world: World, *communities: str, language_code="en") -> bh.Person:
    """A community officer of ``communities``, as ``redgrid invite --role officer`` makes."""
    client = world.harness.person("Qian", language_code=language_code)
    async with world.session_factory() as session, session.begin():
        person = await get_or_create_person(session, client.id, "Qian", None)
        for name in communities:
            community = (await session.exec(select(Community).where(Community.name == name))).one()
            await grant_role(session, person.id, Role.OFFICER, community_id=community.id)
    return client


async def invites_by(world: World, client: bh.Person) -> list[Invite]:
    async with world.session_factory() as session:
        query = select(Invite).where(Invite.created_by_telegram_id == client.id)
        return list((await session.exec(query.order_by(col(Invite.id)))).all())


async def add_community(world: World, name: str) -> int:
    async with world.session_factory() as session, session.begin():
        community = Community(name=name)
        session.add(community)
        await session.flush()
        return community.id


async def test_an_officer_invites_and_manages_informants_of_their_community(world):
    h = world.harness
    officer = await officer_of(world, "大富社区")
    [reply] = messages(await officer.text("/invite"))  # one role, one community: no question
    assert "Invitation for: red informant of 大富社区" in reply.text
    [code] = LINK.findall(reply.text)
    [invite] = await invites_by(world, officer)
    assert (invite.role, invite.community_id) == (Role.INFORMANT, await world.community_id("A"))
    rider = h.person("Li", language_code="zh-hans")
    await join(world, rider, code=code, home="C")  # lives in the next community: still theirs
    assert (await world.profile(rider)).invited_by_telegram_id == officer.id
    courier = h.person("Dave", language_code="en")
    await join(world, courier, name="Dave")  # with the admin's invitation: not the officer's

    [listing] = await officer.text("/informants")
    assert "<b>Red informants</b> (1)" in listing.text
    assert "小王" in listing.text
    assert "13800138000" in listing.text
    assert "Dave" not in listing.text
    courier_id = (await world.profile(courier)).person_id
    forged = InformantAdminCb(action=InformantAdminAction.PAUSE, person_id=courier_id).pack()
    assert "no longer valid" in alert(await officer.press(forged))
    assert (await world.profile(courier)).status is InformantStatus.ACTIVE

    calls = await officer.press(listing.button("⏸"))
    assert "暂停" in to(calls, rider.id)[0].text
    [shown] = edited(calls, officer.id)
    assert "paused" in shown.text
    calls = await officer.press(shown.button("▶️"))
    assert "恢复" in to(calls, rider.id)[0].text
    assert (await world.profile(rider)).status is InformantStatus.ACTIVE
    [confirm] = edited(await officer.press(listing.button("🗑")), officer.id)
    assert "Remove 小王" in confirm.text
    calls = await officer.press(confirm.button("Yes, remove"))
    assert "No red informants of yours yet" in edited(calls, officer.id)[0].text
    assert (await world.profile(rider)).status is InformantStatus.REMOVED
    [listing] = await world.admin.text("/informants")  # the admin manages everyone
    assert "Dave" in listing.text


async def test_an_officer_invites_only_informants_of_their_own_communities(world):
    """Only the officer's communities are offered, and a forged button, a typed name of
    another community or a team role's button creates nothing."""
    elsewhere = await add_community(world, "湖西社区")
    officer = await officer_of(world, "大富社区", "东铜社区")
    [prompt] = await officer.text("/invite")  # two communities: the role step is skipped
    assert "An invitation for a red informant: which of your communities?" in prompt.text
    labels = sorted(button.text for button in prompt.buttons)
    assert labels == sorted(["大富社区", "东铜社区", "✖️ Cancel"])  # no district, no 湖西社区
    for forged in (f"i1:comm:{elsewhere}", "i1:dist:", "i1:role:secretary", "i1:role:officer"):
        assert "no longer valid" in alert(await officer.press(forged))
    [refused] = messages(await officer.text("湖西社区"))
    assert "red informants of your own community only" in refused.text
    assert "湖西社区" not in [button.text for button in refused.buttons]
    [unknown] = messages(await officer.text("月球"))
    assert "There is no community named 月球" in unknown.text
    assert await invites_by(world, officer) == []

    [reply] = messages(await officer.press(prompt.button("东铜社区")))
    assert "red informant of 东铜社区" in reply.text
    [invite] = await invites_by(world, officer)
    assert (invite.role, invite.community_id) == (Role.INFORMANT, await world.community_id("C"))
    assert "no longer valid" in alert(await officer.press("i1:role:secretary"))
    assert len(await invites_by(world, officer)) == 1


async def test_an_officers_prompts_in_chinese(world):
    await add_community(world, "湖西社区")
    officer = await officer_of(world, "大富社区", "东铜社区", language_code="zh-hans")
    [reply] = await officer.text("/informants")
    assert "您还没有邀请的红色信息员" in reply.text
    [prompt] = await officer.text("/invite")
    assert "为您负责的哪个社区邀请" in prompt.text
    [refused] = messages(await officer.text("湖西社区"))
    assert "社区干部只能为本人负责的社区邀请红色信息员" in refused.text
    [reply] = messages(await officer.text("大富"))
    assert "邀请对象：大富社区红色信息员" in reply.text
    [reply] = await officer.text("/help")
    assert "/invite：为您负责的社区生成红色信息员邀请链接" in reply.text
    stranger = world.harness.person(language_code="zh-hans")
    [reply] = await stranger.text("/invite")
    assert "社区干部可为本社区邀请红色信息员" in reply.text


async def test_an_officer_removed_from_the_team_loses_powers_at_the_next_press(world):
    """``redgrid members --remove`` takes the officer's role in a community: the list and
    the invitation already on their screen stop working for it, at once."""
    officer = await officer_of(world, "大富社区", "东铜社区")
    [prompt] = await officer.text("/invite")
    [reply] = messages(await officer.press(prompt.button("大富社区")))
    [code] = LINK.findall(reply.text)
    rider = world.harness.person("Li", language_code="zh-hans")
    await join(world, rider, code=code)
    [listing] = await officer.text("/informants")
    [prompt] = await officer.text("/invite")  # another invitation, left half-way

    async def remove_officer(community_code: str) -> None:
        community_id = await world.community_id(community_code)
        async with world.session_factory() as session, session.begin():
            person = (
                await session.exec(select(Person).where(Person.telegram_id == officer.id))
            ).one()
            membership = (
                await session.exec(
                    select(Membership).where(
                        Membership.person_id == person.id,
                        Membership.community_id == community_id,
                    )
                )
            ).one()
            await remove_membership(
                session, membership.id, world.harness.settings.admin_ids, utcnow()
            )

    await remove_officer("A")  # from 大富社区, the invite's community
    assert "no longer valid" in alert(await officer.press(listing.button("⏸")))
    assert (await world.profile(rider)).status is InformantStatus.ACTIVE
    [reply] = await officer.text("/informants")  # an officer of 东铜社区 still
    assert "No red informants of yours yet" in reply.text
    assert "13800138000" not in reply.text
    assert "no longer valid" in alert(await officer.press(prompt.button("大富社区")))
    [reply] = messages(await officer.press(prompt.button("东铜社区")))
    assert "red informant of 东铜社区" in reply.text

    await remove_officer("C")
    [reply] = await officer.text("/invite")
    assert "Only district admins, and community officers" in reply.text
    [reply] = await officer.text("/informants")
    assert "Only district admins, and community officers" in reply.text
    assert len(await invites_by(world, officer)) == 2


async def test_an_admin_dropped_from_admin_ids_loses_the_informants_they_invited(
    world, settings, session_factory
):
    admin = world.admin
    [prompt] = await admin.text("/invite")
    [prompt] = messages(await admin.press(prompt.button("red informant")))
    [reply] = messages(await admin.press(prompt.button("大富社区")))
    [code] = LINK.findall(reply.text)
    rider = world.harness.person("Li", language_code="zh-hans")
    await join(world, rider, code=code)
    assert (await world.profile(rider)).invited_by_telegram_id == ADMIN_ID
    [listing] = await admin.text("/informants")
    assert "13800138000" in listing.text

    dropped = settings.model_copy(update={"admin_ids": frozenset()})
    async with bot_harness(dropped, session_factory) as harness:
        former = bh.Person(harness, admin.user)
        assert "no longer valid" in alert(await former.press(listing.button("⏸")))
        [reply] = await former.text("/informants")
        assert "Only district admins, and community officers" in reply.text
        assert "13800138000" not in reply.text
        [reply] = await former.text("/invite")
        assert "Only district admins, and community officers" in reply.text
    assert (await world.profile(rider)).status is InformantStatus.ACTIVE


# The command line --------------------------------------------------------------------------


def test_cli_lists_and_pauses_informants(settings_env, database_url, monkeypatch):
    async def setup() -> int:
        engine = create_engine(database_url)
        try:
            factory = create_session_factory(engine)
            async with factory() as session, session.begin():
                await import_district(session, parse_district_file(dumps(small_district())))
                person = await get_or_create_person(session, 4242, "Rider", "zh_CN")
                await grant_role(session, person.id, Role.INFORMANT)
                await informants.create_profile(
                    session,
                    person.id,
                    display_name="小王",
                    phone="13800138000",
                    work_type="courier",
                    community_id=None,
                    now=utcnow(),
                )
                return person.id
        finally:
            await engine.dispose()

    person_id = asyncio.run(setup())
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()

    def redgrid(*args: str):
        get_settings.cache_clear()
        return runner.invoke(app, list(args), catch_exceptions=False)

    listed = redgrid("informants")
    assert listed.exit_code == 0, listed.output
    assert "小王" in listed.output
    assert "courier" in listed.output
    assert "active" in listed.output
    paused = redgrid("informants", "--pause", str(person_id))
    assert paused.exit_code == 0, paused.output
    assert f"Informant {person_id} (小王) is now paused." in paused.output
    assert redgrid("informants", "--pause", str(person_id)).exit_code == EXIT_REFUSED
    assert redgrid("informants", "--resume", "999").exit_code == EXIT_REFUSED
    both = redgrid("informants", "--pause", "1", "--remove", "2")
    assert both.exit_code == EXIT_USAGE
    assert redgrid("informants", "--remove", str(person_id)).exit_code == 0
    assert redgrid("informants").output.startswith("No informants")
    assert "removed" in redgrid("informants", "--all").output


async def test_an_album_refused_at_the_start_of_a_report_gets_one_reply(world):
    """A paused informant, one at the daily limit, or one who owes the profile sends an
    album: its first photo is told why, its other photos get no reply of their own."""
    h = world.harness
    rider = h.person("Li", language_code="zh-hans")
    await join(world, rider)
    [listing] = await world.admin.text("/informants")
    await world.admin.press(listing.button("⏸"))
    [told] = messages(await rider.photo("a1", media_group_id="paused"))
    assert "暂停" in told.text
    assert messages(await rider.photo("a2", media_group_id="paused")) == []

    await world.admin.press(h.last_to(ADMIN_ID).button("▶️"))
    await send_report(rider)
    h.settings.informant_daily_limit = 1
    [told] = messages(await rider.photo("b1", media_group_id="limit"))
    assert "每日上限" in told.text
    assert messages(await rider.photo("b2", media_group_id="limit")) == []

    newcomer = h.person("Dave", language_code="en")
    await newcomer.text(f"/start {await world.invite()}")
    await newcomer.text("/cancel")
    [told] = messages(await newcomer.photo("c1", media_group_id="profile"))
    assert "Before your first report" in told.text
    assert messages(await newcomer.photo("c2", media_group_id="profile")) == []
    assert len(await world.tickets()) == 1
