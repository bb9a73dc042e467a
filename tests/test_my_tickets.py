"""The reporter's side through the real dispatcher, on SQLite and PostgreSQL: the list,
one ticket with its history, comments and photos, the rating."""

from datetime import UTC, datetime, timedelta

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.methods import EditMessageText
from aiogram.types import Chat, Message, PhotoSize, Update

from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import TicketAction
from redgrid.models import EventKind, PhotoKind, Rating, TicketStatus
from redgrid.models.base import utcnow
from redgrid.services import tickets
from tests.bot_harness import BOT_ID, TOKEN, bot_harness, messages
from tests.test_team import CATALOGUE, TEAM_CHAT, World, alert, answer_to, build_world, data, texts


@pytest.fixture
def settings(database_url) -> Settings:
    return Settings(bot_token=TOKEN, database_url=database_url, admin_ids=frozenset({1}))


@pytest.fixture
async def harness(settings, session_factory):
    async with bot_harness(settings, session_factory) as harness:
        yield harness


@pytest.fixture
async def world(harness, session_factory) -> World:
    return await build_world(harness, session_factory)


async def test_my_tickets_lists_own_and_followed_tickets(world):
    first = await world.ticket(category="noise", now=utcnow() - timedelta(hours=1))
    second = await world.accepted()
    followed = await world.ticket(by="resident_en", category="parking")
    await world.run(tickets.follow, followed.id, world.ids["reporter"], utcnow())
    await world.ticket(by="resident_en")  # someone else's, not followed

    listing = answer_to(await world.reporter.text("/mytickets"), world.reporter)

    lines = listing.text.splitlines()
    assert lines[0] == "<b>我的工单</b>"
    assert [line.split()[1] for line in lines[1:]] == [
        followed.number,
        second.number,
        first.number,
    ]
    assert "停车与交通：待接单（关注）" in lines[1]
    assert "环境卫生：办理中" in lines[2]
    assert "噪音扰民：待接单" in lines[3]
    assert len(listing.buttons) == 3

    # the menu button lists the same
    menu = answer_to(await world.reporter.press("m1:mine"), world.reporter)
    assert menu.text == listing.text

    theirs = answer_to(await world.resident_en.text("/mytickets"), world.resident_en)
    assert theirs.text.startswith("<b>My tickets</b>")
    assert first.number not in theirs.text
    lonely = world.harness.person("Nobody", language_code="en")
    nothing = answer_to(await lonely.text("/mytickets"), lonely)
    assert "no tickets yet" in nothing.text


async def test_detail_shows_the_card_and_history_without_team_names(world):
    ticket = await world.accepted()
    now = utcnow()
    secretary = world.actor("secretary")
    await world.run(
        tickets.extend, ticket.id, secretary, now, timedelta(days=3), "等待<配件>", limit=2
    )
    await world.run(tickets.ask_reporter, ticket.id, secretary, now, "几楼？")

    listing = answer_to(await world.reporter.text("/mytickets"), world.reporter)
    detail = answer_to(await world.reporter.press(listing.buttons[0]), world.reporter)

    assert ticket.number in detail.text
    assert "办理记录" in detail.text
    assert "您提交诉求" in detail.text
    assert "网格团队接单" in detail.text
    assert "网格团队延期办理" in detail.text
    assert "等待&lt;配件&gt;" in detail.text
    assert "网格团队提问：<i>几楼？</i>" in detail.text
    assert "Wang" not in detail.text
    assert "反映人：" not in detail.text  # the team's line about the reporter is not shown
    assert [b.text for b in detail.buttons] == ["💬 补充说明", "📷 补充照片"]

    # the team sees who did what, and the reporter only as "the reporter" (no consent)
    card = answer_to(
        await world.secretary.press(data(TicketAction.DETAIL, ticket)), world.secretary
    )
    assert "Accepted by you" in card.text
    assert " · Reported\n" in card.text  # not "Reported by the reporter"
    assert "Meimei" not in card.text
    assert card.button("Resolve")

    # a stranger's press on the same button: refused, nothing shown
    calls = await world.resident_en.press(data(TicketAction.DETAIL, ticket))
    assert alert(calls) == "This button is no longer valid."
    assert not messages(calls)


async def test_a_follower_sees_the_ticket_but_cannot_rate(world):
    ticket = await world.resolved()
    await world.run(tickets.follow, ticket.id, world.ids["follower"], utcnow())
    detail = answer_to(
        await world.follower.press(data(TicketAction.DETAIL, ticket)), world.follower
    )
    assert "您关注了此工单" in detail.text
    assert not detail.buttons  # resolved: no comment, and rating is the reporter's
    mine = answer_to(await world.reporter.press(data(TicketAction.DETAIL, ticket)), world.reporter)
    assert mine.button("满意")


async def test_add_a_comment_and_the_team_is_told(world):
    h = world.harness
    ticket = await world.accepted()

    await world.reporter.press(data(TicketAction.COMMENT, ticket))
    assert "补充说明" in h.last_to(world.reporter.id).text
    hint = answer_to(await world.reporter.sticker(), world.reporter)
    assert "用文字" in hint.text
    done = answer_to(await world.reporter.text("晚上更严重 <b>"), world.reporter)
    assert "已转给网格团队" in done.text

    told = h.last_to(world.secretary.id)
    assert f"Comment on {ticket.number} from the reporter" in told.text
    assert "晚上更严重 &lt;b&gt;" in told.text
    assert told.button("Open")
    assert "晚上更严重" in h.last_to(TEAM_CHAT).text
    async with world.session_factory() as session:
        events = await tickets.ticket_history(session, ticket.id)
    assert (events[-1].kind, events[-1].note) == (EventKind.COMMENT, "晚上更严重 <b>")


def edits(calls) -> list:
    return [call for call in calls if isinstance(call.method, EditMessageText)]


async def test_add_photos_and_the_team_is_told_once_at_done(world):
    h = world.harness
    ticket = await world.ticket(photos=[("report-1", "ur1")])

    calls = await world.follower.press(data(TicketAction.PHOTO, ticket))  # not following yet
    assert "失效" in alert(calls)
    await world.run(tickets.follow, ticket.id, world.ids["follower"], utcnow())

    prompt = answer_to(await world.follower.press(data(TicketAction.PHOTO, ticket)), world.follower)
    assert "还可添加 9 张照片" in prompt.text
    team_before = len(h.calls_to(world.secretary.id))
    first = answer_to(await world.follower.photo("extra-1"), world.follower)
    assert "已为 DX-000001 准备 1 张照片" in first.text
    hint = answer_to(await world.follower.sticker(), world.follower)  # wrong input: a hint
    assert "请发送照片" in hint.text
    answer_to(await world.follower.photo("extra-2"), world.follower)
    assert len(h.calls_to(world.secretary.id)) == team_before  # nothing per photo
    async with world.session_factory() as session:  # nor added before Done
        assert await tickets.report_photo_count(session, ticket.id) == 1

    done = answer_to(await world.follower.press(first.button("完成")), world.follower)
    assert "已为 DX-000001 添加 2 张照片" in done.text

    told = h.calls_to(world.secretary.id)[team_before:]
    assert [c.name for c in told] == ["SendMediaGroup", "SendMessage"]
    assert [m.media for m in told[0].method.media] == ["extra-1", "extra-2"]
    assert f"2 photos added to {ticket.number} by a follower" in told[1].text
    assert [c.name for c in h.calls_to(TEAM_CHAT)][-2:] == ["SendMediaGroup", "SendMessage"]
    async with world.session_factory() as session:
        photos = await tickets.ticket_photos(session, ticket.id, PhotoKind.REPORT)
    assert [p.file_id for p in photos] == ["report-1", "extra-1", "extra-2"]
    assert (await world.events(ticket.id)).count(EventKind.PHOTO) == 2
    # a second press on Done: the step is over, nothing more is told
    calls = await world.follower.press(first.button("完成"))
    assert "失效" in alert(calls)
    assert len(h.calls_to(world.secretary.id)) == team_before + 2


async def test_cancel_at_the_photo_step_adds_nothing(world):
    h = world.harness
    ticket = await world.ticket(photos=[])
    await world.reporter.press(data(TicketAction.PHOTO, ticket))
    sent = answer_to(await world.reporter.photo("never"), world.reporter)
    team_before = len(h.calls_to(world.secretary.id))
    await world.reporter.press(sent.button("取消"))
    assert len(h.calls_to(world.secretary.id)) == team_before
    async with world.session_factory() as session:
        assert await tickets.report_photo_count(session, ticket.id) == 0


async def test_an_album_added_to_a_ticket_gets_one_reply(world):
    ticket = await world.ticket(photos=[])
    await world.reporter.press(data(TicketAction.PHOTO, ticket))
    calls = []
    for n in range(4):
        calls += await world.reporter.photo(f"al-{n}", media_group_id="album-7")
    [reply] = messages(calls)
    assert len(edits(calls)) == 3
    assert {e.method.message_id for e in edits(calls)} == {reply.result.message_id}
    assert "准备 4 张照片" in edits(calls)[-1].method.text
    # an album where text is expected gets one hint
    await world.reporter.press(data(TicketAction.COMMENT, ticket))
    calls = []
    for n in range(3):
        calls += await world.reporter.photo(f"c-{n}", media_group_id="album-8")
    [hint] = messages(calls)
    assert "用文字" in hint.text


async def test_photos_past_the_cap_are_refused_saying_how_many_fit(world):
    ticket = await world.ticket(photos=[("report-1", "ur1")])  # cap: 10 in all
    await world.reporter.press(data(TicketAction.PHOTO, ticket))
    calls = []
    for n in range(12):  # an album of 12 (more than Telegram's 10, to pass the cap)
        calls += await world.reporter.photo(f"cap-{n}", media_group_id="big")
    [reply] = messages(calls)
    last = edits(calls)[-1].method.text
    assert "准备 9 张照片" in last
    assert "有 3 张照片未添加：每张工单最多 10 张" in last
    assert "不能再添加" in last
    await world.reporter.press(reply.button("完成"))
    async with world.session_factory() as session:
        assert await tickets.report_photo_count(session, ticket.id) == 10
    # full: the button is refused, in words that say why
    calls = await world.reporter.press(data(TicketAction.PHOTO, ticket))
    assert "已达每张工单的上限" in alert(calls)
    assert not messages(calls)


async def test_done_after_others_filled_the_ticket_keeps_the_photos_that_fit(world):
    """The reporter and a follower are both at the photo step; the reporter's Done lands
    first, so only some of the follower's photos still fit: those are added, the team is
    told once with them, and the follower is told how many did not fit."""
    h = world.harness
    ticket = await world.ticket(by="resident_en", photos=[("report-1", "ur1")])  # cap: 10
    await world.run(tickets.follow, ticket.id, world.ids["reporter"], utcnow())
    await world.resident_en.press(data(TicketAction.PHOTO, ticket))
    await world.reporter.press(data(TicketAction.PHOTO, ticket))
    for n in range(5):
        mine = answer_to(await world.resident_en.photo(f"r-{n}"), world.resident_en)
        theirs = answer_to(await world.reporter.photo(f"f-{n}"), world.reporter)
    await world.resident_en.press(mine.button("Done"))
    team_before = len(h.calls_to(world.secretary.id))

    done = answer_to(await world.reporter.press(theirs.button("完成")), world.reporter)

    assert done.text == (
        f"同时已有他人为 {ticket.number} 添加了照片，您的 1 张照片未能添加：每张工单最多 10 张。\n"
        f"谢谢！已为 {ticket.number} 添加 4 张照片，并已告知网格团队。"
    )
    told = h.calls_to(world.secretary.id)[team_before:]
    assert [c.name for c in told] == ["SendMediaGroup", "SendMessage"]
    assert [m.media for m in told[0].method.media] == [f"f-{n}" for n in range(4)]
    assert f"4 photos added to {ticket.number} by" in told[1].text
    async with world.session_factory() as session:
        photos = await tickets.ticket_photos(session, ticket.id, PhotoKind.REPORT)
    assert [p.file_id for p in photos][-4:] == [f"f-{n}" for n in range(4)]
    assert len(photos) == 10

    # none fits any more: nothing is added, nobody is told
    full = await world.ticket(by="resident_en", photos=[("n0", "un0")])
    nine = [(f"n{n}", f"un{n}") for n in range(1, 9)]
    await world.run(
        tickets.add_photos, full.id, world.actor("resident_en"), utcnow(), nine, limit=10
    )
    await world.resident_en.press(data(TicketAction.PHOTO, full))
    last = answer_to(await world.resident_en.photo("late"), world.resident_en)
    await world.run(
        tickets.add_photos, full.id, world.actor("resident_en"), utcnow(), [("x", "ux")], limit=10
    )
    team_before = len(h.calls_to(world.secretary.id))
    done = answer_to(await world.resident_en.press(last.button("Done")), world.resident_en)
    assert done.text == (
        f"Meanwhile others added photos to {full.number}, so 1 photo of yours did not fit: "
        "a ticket holds at most 10."
    )
    assert len(h.calls_to(world.secretary.id)) == team_before


async def test_one_more_fits_in_english(world):
    ticket = await world.ticket(by="resident_en", photos=[(f"f{n}", f"u{n}") for n in range(5)])
    await world.run(tickets.follow, ticket.id, world.ids["reporter"], utcnow())
    async with world.session_factory() as session, session.begin():
        await tickets.add_photos(
            session,
            ticket.id,
            world.actor("reporter"),
            utcnow(),
            [(f"g{n}", f"v{n}") for n in range(4)],
            limit=10,
        )
    prompt = answer_to(
        await world.resident_en.press(data(TicketAction.PHOTO, ticket)), world.resident_en
    )
    assert f"1 more photo fits on {ticket.number}." in prompt.text
    reply = answer_to(await world.resident_en.photo("last"), world.resident_en)
    assert f"📷 1 photo ready for {ticket.number}." in reply.text
    refused = answer_to(await world.resident_en.photo("too-many"), world.resident_en)
    assert "1 photo was not added: a ticket holds at most 10." in refused.text


async def test_an_album_with_no_conversation_gets_one_menu(world):
    lonely = world.harness.person("Nobody", language_code="en")
    calls = []
    for n in range(3):
        calls += await lonely.photo(f"idle-{n}", media_group_id="idle-album")
    [menu] = messages(calls)
    assert "did not understand" in menu.text
    # a photo on its own still gets its answer
    [again] = messages(await lonely.photo("single"))
    assert "did not understand" in again.text


async def test_no_comment_on_a_closed_ticket(world):
    ticket = await world.resolved()
    await world.run(
        tickets.rate,
        ticket.id,
        world.actor("reporter"),
        utcnow(),
        Rating.SATISFIED,
        catalogue=CATALOGUE,
    )
    calls = await world.reporter.press(data(TicketAction.COMMENT, ticket))
    assert "已关闭" in alert(calls)
    assert not messages(calls)


async def test_rating_pressed_twice_counts_once(world):
    h = world.harness
    ticket = await world.resolved()
    button = f"r1:{ticket.id}:{Rating.SATISFIED.value}"

    first = await world.reporter.press(button)
    second = await world.reporter.press(button)

    assert alert(first) == "😊 满意"
    assert alert(second) == f"工单 {ticket.number} 当前状态：已关闭，此按钮已失效。"
    assert not messages(second)
    stored = await world.load(ticket.id)
    assert (stored.status, stored.rating) == (TicketStatus.CLOSED, Rating.SATISFIED)
    assert (await world.events(ticket.id)).count(EventKind.RATED) == 1
    assert "rated" in texts(h, world.secretary.id)
    # and unsatisfied after closing: refused before any question is asked
    calls = await world.reporter.press(f"r1:{ticket.id}:unsatisfied")
    assert "失效" in alert(calls)
    assert not messages(calls)


async def test_cancel_a_rework_reason_keeps_the_ticket_resolved(world):
    ticket = await world.resolved()
    await world.reporter.press(f"r1:{ticket.id}:unsatisfied")
    prompt = world.harness.last_to(world.reporter.id)
    await world.reporter.press(prompt.button("取消"))
    assert "已取消" in world.harness.last_to(world.reporter.id).text
    assert (await world.load(ticket.id)).status is TicketStatus.RESOLVED


async def test_my_tickets_stays_out_of_group_chats(world):
    h = world.harness
    user = world.reporter.user
    message = Message(
        message_id=1,
        date=datetime.now(UTC),
        chat=Chat(id=TEAM_CHAT, type="supergroup"),
        from_user=user,
        text="/mytickets",
    )
    calls = await h.feed(Update(update_id=next(h.update_ids), message=message))
    [reply] = messages(calls)
    assert reply.chat_id == TEAM_CHAT
    assert "私聊" in reply.text


async def test_my_tickets_pages_through_more_than_a_page(world):
    """Someone with 25 tickets reaches the oldest five on a second page, and back."""
    made = [
        await world.ticket(now=utcnow() - timedelta(days=day + 1)) for day in reversed(range(25))
    ]
    first = answer_to(await world.reporter.text("/mytickets"), world.reporter)
    assert made[-1].number in first.text
    assert made[4].number not in first.text
    assert "第 1 页，共 2 页" in first.text
    assert len(first.buttons) == 21
    assert not [b for b in first.buttons if "较新" in b.text]

    second = answer_to(await world.reporter.press(first.button("更早")), world.reporter)
    assert [line.split()[1] for line in second.text.splitlines()[1:6]] == [
        ticket.number for ticket in reversed(made[:5])
    ]
    assert second.text.splitlines()[1].startswith("21. ")
    assert "第 2 页，共 2 页" in second.text
    assert [b.text for b in second.buttons][-1] == "⬅️ 较新"
    back = answer_to(await world.reporter.press(second.button("较新")), world.reporter)
    assert back.text == first.text

    # a forged page past the end shows the last page, of the presser's own tickets only
    assert answer_to(await world.reporter.press("y1:999"), world.reporter).text == second.text
    stranger = answer_to(await world.resident_en.press("y1:1"), world.resident_en)
    assert "no tickets yet" in stranger.text


async def test_followers_learn_that_an_unsatisfied_ticket_is_done_again(world):
    """Followers were told "resolved"; when the reporter sends it back, each hears it is
    being done again, in their own language, and the reporter's words stay with the team."""
    h = world.harness
    ticket = await world.resolved()
    await world.run(tickets.follow, ticket.id, world.ids["follower"], utcnow())
    await world.run(tickets.follow, ticket.id, world.ids["resident_en"], utcnow())

    await world.reporter.press(f"r1:{ticket.id}:unsatisfied")
    answer_to(await world.reporter.text("还是很脏"), world.reporter)

    zh = h.last_to(world.follower.id)
    assert f"您关注的工单 {ticket.number} 已退回网格团队重新办理" in zh.text
    en = h.last_to(world.resident_en.id)
    assert f"{ticket.number}, which you follow, went back to the grid team" in en.text
    assert "还是很脏" not in zh.text + en.text
    assert zh.buttons == en.buttons == []


async def test_followers_learn_that_a_rated_ticket_is_closed(world):
    h = world.harness
    ticket = await world.resolved()
    await world.run(tickets.follow, ticket.id, world.ids["follower"], utcnow())
    await world.run(tickets.follow, ticket.id, world.ids["resident_en"], utcnow())

    await world.reporter.press(f"r1:{ticket.id}:{Rating.BASICALLY_SATISFIED.value}")

    zh = h.last_to(world.follower.id)
    assert zh.text == f"✅ 您关注的工单 {ticket.number} 已关闭。反映人的评价：🙂 基本满意。"
    en = h.last_to(world.resident_en.id)
    assert en.text == (
        f"✅ {ticket.number}, which you follow, is closed."
        " The reporter's rating: 🙂 Basically satisfied."
    )


async def test_only_the_reporter_is_asked_for_a_rating(world):
    """A resolved ticket waits for its reporter's rating: an English follower and the
    English team must not read that it waits for *theirs*."""
    ticket = await world.resolved()
    await world.run(tickets.follow, ticket.id, world.ids["resident_en"], utcnow())

    listing = answer_to(await world.resident_en.text("/mytickets"), world.resident_en)
    follower_view = answer_to(
        await world.resident_en.press(data(TicketAction.DETAIL, ticket)), world.resident_en
    )
    team_view = answer_to(
        await world.secretary.press(data(TicketAction.DETAIL, ticket)), world.secretary
    )
    for text in (listing.text, follower_view.text, team_view.text):
        assert "resolved, waiting for the reporter's rating" in text
        assert "your rating" not in text
    assert not follower_view.buttons


async def test_a_photos_caption_reaches_the_team(world):
    """What the reporter writes under an added photo is theirs to say: the team reads it
    (escaped) and it stays in the history, instead of being dropped."""
    h = world.harness
    ticket = await world.accepted()
    await world.reporter.press(data(TicketAction.PHOTO, ticket))
    photo = [PhotoSize(file_id="night", file_unique_id="u-night", width=800, height=600)]
    reply = answer_to(
        await world.reporter.send(photo=photo, caption=" 晚上漏水 <b> "), world.reporter
    )
    assert "准备 1 张照片" in reply.text
    await world.reporter.press(reply.button("完成"))

    told = h.last_to(world.secretary.id)
    assert f"1 photo added to {ticket.number} by the reporter" in told.text
    assert "晚上漏水 &lt;b&gt;" in told.text
    assert "晚上漏水" in h.last_to(TEAM_CHAT).text
    async with world.session_factory() as session:
        events = await tickets.ticket_history(session, ticket.id)
    assert [(e.kind, e.note) for e in events[-2:]] == [
        (EventKind.PHOTO, None),
        (EventKind.COMMENT, "晚上漏水 <b>"),
    ]


async def test_only_the_captions_of_photos_added_become_the_comment(world):
    """Done found room for 2 of the reporter's 3 captioned photos: the caption of the one
    left out was still sent to the team and kept as the reporter's comment."""
    h = world.harness
    ticket = await world.ticket(photos=[(f"old-{n}", f"uold-{n}") for n in range(5)])  # cap: 10
    more = [(f"more-{n}", f"umore-{n}") for n in range(2)]
    await world.run(
        tickets.add_photos, ticket.id, world.actor("reporter"), utcnow(), more, limit=10
    )
    await world.reporter.press(data(TicketAction.PHOTO, ticket))
    for n in range(3):
        photo = [PhotoSize(file_id=f"c-{n}", file_unique_id=f"uc-{n}", width=800, height=600)]
        reply = answer_to(
            await world.reporter.send(photo=photo, caption=f"caption {n}"), world.reporter
        )
    await world.run(
        tickets.add_photos, ticket.id, world.actor("reporter"), utcnow(), [("x", "ux")], limit=10
    )
    team_before = len(h.calls_to(world.secretary.id))

    done = answer_to(await world.reporter.press(reply.button("完成")), world.reporter)

    assert done.text.startswith(f"同时已有他人为 {ticket.number} 添加了照片，您的 1 张照片未能添加")
    assert "caption" not in done.text
    told = h.calls_to(world.secretary.id)[team_before:]
    assert [m.media for m in told[0].method.media] == ["c-0", "c-1"]
    assert told[1].text.endswith("\n\ncaption 0\ncaption 1")
    async with world.session_factory() as session:
        events = await tickets.ticket_history(session, ticket.id)
    comments = [e.note for e in events if e.kind is EventKind.COMMENT]
    assert comments == ["caption 0", "caption 1"]


async def test_the_menu_button_does_not_list_tickets_in_a_group(world):
    """A main menu left in the team's group (from before /cancel stopped posting it there):
    its My tickets button must not post the presser's tickets to the group, as /mytickets
    there does not."""
    await world.ticket()
    for button in ("m1:mine", "y1:0"):
        calls = await world.reporter.press(button, message_chat_id=TEAM_CHAT)
        assert not messages(calls)
        assert "私聊" in alert(calls)


async def test_residents_read_only_their_own_words_and_the_teams(world):
    """The reporter's answer to the team (a phone number) and comments were sent to the
    team: a neighbour following the ticket must not read them in its history, nor the
    reporter a follower's. The team reads everything; each reads their own."""
    ticket = await world.accepted()
    await world.run(tickets.follow, ticket.id, world.ids["follower"], utcnow())
    now = utcnow()
    await world.run(tickets.ask_reporter, ticket.id, world.actor("secretary"), now, "几楼？")
    await world.run(
        tickets.answer_question, ticket.id, world.actor("reporter"), now, "三楼 13800001111"
    )
    await world.run(tickets.add_comment, ticket.id, world.actor("reporter"), now, "我是王阿姨")
    await world.run(tickets.add_comment, ticket.id, world.actor("follower"), now, "邻居补充")

    follower = answer_to(
        await world.follower.press(data(TicketAction.DETAIL, ticket)), world.follower
    )
    assert "网格团队提问：<i>几楼？</i>" in follower.text
    assert "反映人回复\n" in follower.text + "\n"
    assert "13800001111" not in follower.text
    assert "王阿姨" not in follower.text
    assert "您补充说明：<i>邻居补充</i>" in follower.text

    reporter = answer_to(
        await world.reporter.press(data(TicketAction.DETAIL, ticket)), world.reporter
    )
    assert "您回复：<i>三楼 13800001111</i>" in reporter.text
    assert "您补充说明：<i>我是王阿姨</i>" in reporter.text
    assert "邻居补充" not in reporter.text

    team = answer_to(
        await world.secretary.press(data(TicketAction.DETAIL, ticket)), world.secretary
    )
    for words in ("13800001111", "我是王阿姨", "邻居补充"):
        assert words in team.text


async def test_the_photo_that_fills_the_ticket_does_not_ask_for_more(world):
    ticket = await world.accepted()  # filed with 2 photos; 8 more fit
    await world.reporter.press(data(TicketAction.PHOTO, ticket))
    for n in range(8):
        await world.reporter.photo(f"fill-{n}", media_group_id="fill")
    reply = world.harness.last_to(world.reporter.id)
    assert f"{ticket.number} 已有 10 张照片" in reply.text
    assert "可继续发送" not in reply.text


async def test_a_comment_typed_after_a_merge_says_where_it_should_go(world):
    original = await world.ticket()
    duplicate = await world.ticket(by="resident_en", description="same")
    await world.resident_en.press(data(TicketAction.COMMENT, duplicate))
    await world.run(
        tickets.mark_duplicate, duplicate.id, world.actor("secretary"), utcnow(), original.id
    )
    reply = answer_to(await world.resident_en.text("more details"), world.resident_en)
    assert "button" not in reply.text
    assert original.number in reply.text


async def test_reporter_buttons_pressed_in_a_group_start_nothing_there(world):
    """A reporter's step reads what they type next: pressed in a group (its team's or any
    other), it would read it there, where the whole group reads it too. Each button
    answers that it works in the private chat and starts nothing; Open shows nothing."""
    h = world.harness
    accepted = await world.accepted()
    await world.run(tickets.ask_reporter, accepted.id, world.actor("secretary"), utcnow(), "几楼？")
    resolved = await world.resolved()
    presses = (
        data(TicketAction.COMMENT, accepted),
        data(TicketAction.PHOTO, accepted),
        data(TicketAction.ANSWER, accepted),
        f"r1:{resolved.id}:unsatisfied",
        f"r1:{resolved.id}:{Rating.SATISFIED.value}",
        data(TicketAction.DETAIL, accepted),
    )
    for group in (TEAM_CHAT, -100999):
        for button in presses:
            calls = await world.reporter.press(button, message_chat_id=group)
            assert not messages(calls), button
            assert "私聊" in alert(calls), button
            key = StorageKey(bot_id=BOT_ID, chat_id=group, user_id=world.reporter.id)
            assert await h.storage.get_state(key) is None, button
    assert (await world.load(resolved.id)).status is TicketStatus.RESOLVED
    assert EventKind.ANSWER not in await world.events(accepted.id)
    # in private, as before
    prompt = answer_to(
        await world.reporter.press(data(TicketAction.COMMENT, accepted)), world.reporter
    )
    assert "补充说明" in prompt.text
