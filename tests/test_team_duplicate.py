"""The team's Duplicate action through the real dispatcher, on SQLite and PostgreSQL: the
number step and its refusals, the preview, Confirm, who is told, stale buttons and races."""

import asyncio

import pytest
from aiogram.types import User
from sqlmodel import select

from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import MergeCb, TicketAction
from redgrid.models import EventKind, Grid, TicketEvent, TicketFollower, TicketStatus
from redgrid.models.base import utcnow
from redgrid.services import tickets
from redgrid.services.people import get_or_create_person
from tests import bot_harness as bh
from tests.bot_harness import TOKEN, bot_harness, messages
from tests.test_team import (
    CATALOGUE,
    INSIDE_A,
    TEAM_CHAT,
    World,
    alert,
    answer_to,
    build_world,
    data,
    say_in_group,
)

ADMIN_TELEGRAM_ID = 5_000_001
STALE = "This button is no longer valid."


@pytest.fixture
def settings(database_url) -> Settings:
    return Settings(
        bot_token=TOKEN, database_url=database_url, admin_ids=frozenset({ADMIN_TELEGRAM_ID})
    )


@pytest.fixture
async def harness(settings, session_factory):
    async with bot_harness(settings, session_factory) as harness:
        yield harness


@pytest.fixture
async def world(harness, session_factory) -> World:
    return await build_world(harness, session_factory)


async def preview(member: bh.Person, duplicate, reference: str):
    """``member`` presses Duplicate on ``duplicate`` and types ``reference``: the answer."""
    await member.press(data(TicketAction.DUPLICATE, duplicate))
    return answer_to(await member.text(reference), member)


async def followers(world: World, ticket_id: int) -> set[int]:
    async with world.session_factory() as session:
        rows = await session.exec(
            select(TicketFollower.person_id).where(TicketFollower.ticket_id == ticket_id)
        )
        return set(rows.all())


async def events(world: World, ticket_id: int) -> list[TicketEvent]:
    async with world.session_factory() as session:
        return await tickets.ticket_history(session, ticket_id)


def answers(world: World, since: int) -> list[str]:
    calls = world.harness.session.calls[since:]
    return [call.method.text or "" for call in calls if call.name == "AnswerCallbackQuery"]


async def test_the_team_card_offers_duplicate_while_the_ticket_is_open(world):
    dispatched = await world.ticket()
    accepted = await world.accepted()
    for ticket in (dispatched, accepted):
        card = answer_to(await world.secretary.text(f"/ticket {ticket.number}"), world.secretary)
        assert card.button("🔁 Duplicate").callback_data == data(TicketAction.DUPLICATE, ticket)
    resolved = await world.resolved()
    card = answer_to(await world.secretary.text(f"/ticket {resolved.number}"), world.secretary)
    assert not [b for b in card.buttons if "Duplicate" in b.text]
    calls = await world.secretary.press(data(TicketAction.DUPLICATE, resolved))
    assert alert(calls) == f"{resolved.number} is now resolved: this button no longer applies."
    assert not messages(calls)


async def test_merge_moves_the_reporter_and_followers_and_tells_them(world):
    h = world.harness
    original = await world.ticket()  # reported by Meimei
    duplicate = await world.ticket(by="resident_en", description="Same rubbish <again>")
    await world.run(tickets.follow, duplicate.id, world.ids["follower"], utcnow())
    await world.run(tickets.follow, original.id, world.ids["follower"], utcnow())
    await world.run(tickets.follow, duplicate.id, world.ids["reporter"], utcnow())

    await world.secretary.press(data(TicketAction.DUPLICATE, duplicate))
    prompt = h.last_to(world.secretary.id)
    assert f"Which earlier ticket does {duplicate.number} repeat?" in prompt.text
    shown = answer_to(await world.secretary.text(f" {original.id} "), world.secretary)

    assert f"Merge {duplicate.number} into {original.number}?" in shown.text
    assert "Same rubbish &lt;again&gt;" in shown.text
    assert "楼道堆满垃圾 &lt;b&gt;" in shown.text
    assert shown.text.index(duplicate.number) < shown.text.index("Original, carries on")
    assert [b.text for b in shown.buttons] == ["✅ Confirm merge", "⬅️ Back", "✖️ Cancel"]
    assert (await world.load(duplicate.id)).status is TicketStatus.DISPATCHED  # not yet

    calls = await world.secretary.press(shown.button("Confirm merge"))

    assert alert(calls) == "Merged."
    done = answer_to(calls, world.secretary)
    assert f"{duplicate.number} was merged into {original.number}" in done.text
    stored = await world.load(duplicate.id)
    assert (stored.status, stored.duplicate_of_id) == (TicketStatus.DUPLICATE, original.id)
    assert (await world.load(original.id)).status is TicketStatus.DISPATCHED
    # the reporter of the original does not follow it; the follower is not listed twice
    assert await followers(world, original.id) == {world.ids["follower"], world.ids["resident_en"]}
    # each told in their own language, with a button to the original
    told = answer_to(calls, world.resident_en)
    assert f"Your ticket {duplicate.number} reports the same problem as {original.number}" in (
        told.text
    )
    assert told.button(f"📄 {original.number}")
    for resident in (world.follower, world.reporter):
        heard = answer_to(calls, resident)
        assert f"您关注的工单 {duplicate.number} 已合并到 {original.number}" in heard.text
    assert f"由 Wang 合并到 {original.number}" in answer_to(calls, world.worker).text
    assert "Wang" in h.last_to(TEAM_CHAT).text
    assert not [c for c in messages(calls) if c.chat_id == world.secretary_b.id]
    # the history of both tickets
    [on_duplicate] = [e for e in await events(world, duplicate.id) if e.kind is EventKind.DUPLICATE]
    assert on_duplicate.details == {"duplicate_of": original.number}
    assert on_duplicate.from_status is TicketStatus.DISPATCHED
    [on_original] = [e for e in await events(world, original.id) if e.kind is EventKind.DUPLICATE]
    assert on_original.details == {"merged": duplicate.number, "new_followers": 1}
    assert on_original.actor_id == world.ids["secretary"]

    # the new follower opens the original and reads its history
    view = answer_to(await world.resident_en.press(told.button(original.number)), world.resident_en)
    assert original.number in view.text
    assert f"{duplicate.number} was merged into this ticket by the grid team" in view.text
    team_view = answer_to(
        await world.secretary.text(f"/ticket {duplicate.number}"), world.secretary
    )
    assert f"Marked as a duplicate of {original.number} by you" in team_view.text
    assert not [b for b in team_view.buttons if "Duplicate" in b.text]


async def test_the_number_is_taken_as_people_type_it(world):
    original = await world.ticket()
    duplicate = await world.accepted()
    for reference in (
        original.number,
        f"{original.id:06d}",
        str(original.id),
        "dx-" + str(original.id),
    ):
        shown = await preview(world.worker, duplicate, reference)
        assert f"{duplicate.number} 合并到 {original.number}" in shown.text, reference
        back = answer_to(await world.worker.press(shown.button("返回")), world.worker)
        assert f"{duplicate.number} 与哪一张更早的工单重复" in back.text
    await world.worker.text("/cancel")
    assert (await world.load(duplicate.id)).status is TicketStatus.ACCEPTED


async def test_wrong_input_at_the_number_step_gets_a_hint(world):
    h = world.harness
    duplicate = await world.ticket()
    closed = await world.ticket()
    await world.run(tickets.mark_invalid, closed.id, world.actor("secretary"), utcnow(), "测试")
    merged = await world.ticket()
    target = await world.ticket()
    await world.run(
        tickets.mark_duplicate, merged.id, world.actor("secretary"), utcnow(), target.id
    )
    await world.secretary.press(data(TicketAction.DUPLICATE, duplicate))

    hint = answer_to(await world.secretary.sticker(), world.secretary)
    assert "type the number of the original ticket" in hint.text
    assert hint.button("Cancel")
    hint = answer_to(await world.secretary.photo(), world.secretary)
    assert "type the number of the original ticket" in hint.text
    reply = answer_to(await world.secretary.text("the one from yesterday <b>"), world.secretary)
    assert reply.text.startswith("That is not a ticket number.")
    reply = answer_to(await world.secretary.text(duplicate.number), world.secretary)
    assert reply.text.startswith(f"That is {duplicate.number} itself.")
    reply = answer_to(await world.secretary.text(closed.number), world.secretary)
    assert reply.text.startswith(f"{closed.number} is marked invalid:")
    reply = answer_to(await world.secretary.text(merged.number), world.secretary)
    assert reply.text.startswith(f"{merged.number} is itself marked as a duplicate.")
    reply = answer_to(await world.secretary.text("YY-1"), world.secretary)
    assert reply.text.startswith("Ticket YY-1 was not found.")

    # still at the number step: a right number now gets the preview
    shown = answer_to(await world.secretary.text(target.number), world.secretary)
    assert shown.button("Confirm merge")
    hint = answer_to(await world.secretary.text("yes"), world.secretary)
    assert "Confirm merge, Back or Cancel" in hint.text
    await world.secretary.press(h.last_to(world.secretary.id).button("Cancel"))
    assert "not changed" in h.last_to(world.secretary.id).text
    calls = await world.secretary.press(shown.button("Confirm merge"))
    assert alert(calls) == STALE
    assert (await world.load(duplicate.id)).status is TicketStatus.DISPATCHED


async def test_another_grids_number_answers_as_a_missing_one(world):
    duplicate = await world.ticket()
    elsewhere = await world.ticket(grid_id=world.grids["B"].id)
    missing = f"DX-{elsewhere.id + 100:06d}"
    await world.secretary.press(data(TicketAction.DUPLICATE, duplicate))

    foreign = answer_to(await world.secretary.text(elsewhere.number), world.secretary)
    absent = answer_to(await world.secretary.text(missing), world.secretary)

    assert foreign.text.replace(elsewhere.number, "N") == absent.text.replace(missing, "N")
    assert absent.text.startswith(f"Ticket {missing} was not found.")
    assert [b.text for b in foreign.buttons] == [b.text for b in absent.buttons]
    # /cancel ends the step; nothing changed
    cancelled, _menu = messages(await world.secretary.text("/cancel"))
    assert cancelled.text == "Cancelled. Nothing was sent."
    assert (await world.load(duplicate.id)).status is TicketStatus.DISPATCHED
    assert await world.events(elsewhere.id) == [EventKind.CREATED]


async def test_officers_and_admins_merge_across_grids_members_cannot_press(world, harness):
    a_ticket = await world.ticket()
    b_ticket = await world.ticket(grid_id=world.grids["B"].id)
    c_ticket = await world.ticket(grid_id=world.grids["C"].id)

    # the officer of grids A and B: C is another community's
    shown = await preview(world.officer, a_ticket, c_ticket.number)
    assert shown.text.startswith(f"Ticket {c_ticket.number} was not found.")
    shown = answer_to(await world.officer.text(b_ticket.number), world.officer)
    await world.officer.press(shown.button("Confirm merge"))
    assert (await world.load(a_ticket.id)).duplicate_of_id == b_ticket.id

    # a member of grid C may not start a merge of grid B's ticket
    calls = await world.member_c.press(data(TicketAction.DUPLICATE, b_ticket))
    assert alert(calls) == STALE
    assert not messages(calls)

    # a district admin reaches every grid
    admin = bh.Person(harness, User(id=ADMIN_TELEGRAM_ID, is_bot=False, first_name="Admin"))
    async with world.session_factory() as session, session.begin():
        await get_or_create_person(session, ADMIN_TELEGRAM_ID, "Admin", "en")
    shown = await preview(admin, b_ticket, c_ticket.number)
    await admin.press(shown.button("Confirm merge"))
    assert (await world.load(b_ticket.id)).duplicate_of_id == c_ticket.id
    assert (await world.load(c_ticket.id)).status is TicketStatus.DISPATCHED


async def test_pressed_in_the_team_chat_it_goes_on_in_private(world):
    original = await world.ticket()
    duplicate = await world.ticket()
    calls = await world.worker.press(
        data(TicketAction.DUPLICATE, duplicate), message_chat_id=TEAM_CHAT
    )
    assert answer_to(calls, world.worker).chat_id == world.worker.id
    shown = answer_to(await world.worker.text(original.number), world.worker)
    await world.worker.press(shown.button("确认合并"))
    assert (await world.load(duplicate.id)).status is TicketStatus.DUPLICATE
    # someone without a role in the group is told why; a forged Confirm changes nothing
    calls = await world.resident_en.press(
        data(TicketAction.DUPLICATE, original), message_chat_id=TEAM_CHAT
    )
    assert alert(calls).startswith("Only the grid's team can act on its tickets.")
    forged = MergeCb(ticket_id=original.id, original_id=duplicate.id).pack()
    for press in (forged, "u1:x:y", "u1:0:1"):
        assert alert(await world.secretary.press(press)) == STALE
    assert (await world.load(original.id)).status is TicketStatus.DISPATCHED


async def test_a_stale_confirm_is_refused(world):
    original = await world.ticket()
    duplicate = await world.ticket()

    # the duplicate was accepted after the preview
    shown = await preview(world.secretary, duplicate, original.number)
    await world.run(tickets.accept, duplicate.id, world.actor("worker"), utcnow())
    calls = await world.secretary.press(shown.button("Confirm merge"))
    assert (
        alert(calls) == f"{duplicate.number} is now being handled: this button no longer applies."
    )
    assert (await world.load(duplicate.id)).status is TicketStatus.ACCEPTED

    # the original was closed after the preview
    shown = await preview(world.secretary, duplicate, original.number)
    await world.run(tickets.mark_invalid, original.id, world.actor("worker"), utcnow(), "无效")
    calls = await world.secretary.press(shown.button("Confirm merge"))
    assert (
        alert(calls) == f"{original.number} is now marked invalid: this button no longer applies."
    )
    assert (await world.load(duplicate.id)).status is TicketStatus.ACCEPTED

    # a Confirm of an earlier preview, after Back and another original
    other = await world.ticket()
    first = await preview(world.secretary, duplicate, other.number)
    await world.secretary.press(first.button("Back"))
    second = answer_to(await world.secretary.text(str(original.id)), world.secretary)
    assert "marked invalid" in second.text
    third = await preview(world.secretary, other, duplicate.number)
    calls = await world.secretary.press(first.button("Confirm merge"))
    assert alert(calls) == STALE
    await world.secretary.press(third.button("Confirm merge"))
    assert (await world.load(other.id)).duplicate_of_id == duplicate.id
    assert (await world.load(duplicate.id)).status is TicketStatus.ACCEPTED
    merged = [e for e in await events(world, duplicate.id) if e.kind is EventKind.DUPLICATE]
    assert [(e.details, e.from_status) for e in merged] == [
        ({"merged": other.number, "new_followers": 0}, None)
    ]


async def test_two_members_merging_at_once_merge_once(world):
    original = await world.ticket()
    duplicate = await world.ticket(by="resident_en")
    first = await preview(world.secretary, duplicate, original.number)
    second = await preview(world.secretary2, duplicate, original.number)

    before = len(world.harness.session.calls)
    await asyncio.gather(
        world.secretary.press(first.button("Confirm merge")),
        world.secretary2.press(second.button("Confirm merge")),
    )

    assert sorted(answers(world, before)) == [
        f"{duplicate.number} is now marked as a duplicate: this button no longer applies.",
        "Merged.",
    ]
    assert [e.kind for e in await events(world, original.id)].count(EventKind.DUPLICATE) == 1
    assert [e.kind for e in await events(world, duplicate.id)].count(EventKind.DUPLICATE) == 1
    told = [c for c in world.harness.calls_to(world.resident_en.id) if "merged" in c.text]
    assert len(told) == 1


async def test_opposite_merges_at_once_leave_one_original(world):
    x = await world.ticket()
    y = await world.ticket()
    x_into_y = await preview(world.secretary, x, y.number)
    y_into_x = await preview(world.secretary2, y, x.number)

    before = len(world.harness.session.calls)
    await asyncio.gather(
        world.secretary.press(x_into_y.button("Confirm merge")),
        world.secretary2.press(y_into_x.button("Confirm merge")),
    )

    statuses = {(await world.load(t.id)).status for t in (x, y)}
    assert statuses == {TicketStatus.DUPLICATE, TicketStatus.DISPATCHED}
    [loser] = [text for text in answers(world, before) if text != "Merged."]
    assert loser.endswith("is now marked as a duplicate: this button no longer applies.")


async def test_a_merge_racing_an_accept_ends_one_way(world):
    original = await world.ticket()
    duplicate = await world.ticket()
    shown = await preview(world.secretary, duplicate, original.number)

    before = len(world.harness.session.calls)
    await asyncio.gather(
        world.secretary.press(shown.button("Confirm merge")),
        world.worker.press(data(TicketAction.ACCEPT, duplicate)),
    )

    stored = await world.load(duplicate.id)
    texts = answers(world, before)
    if stored.status is TicketStatus.DUPLICATE:
        assert "Merged." in texts
        assert f"工单 {duplicate.number} 当前状态：已判定为重复，此按钮已失效。" in texts
        assert stored.assignee_id is None
    else:
        assert stored.status is TicketStatus.ACCEPTED
        assert f"{duplicate.number} is now being handled: this button no longer applies." in texts
        assert await world.events(original.id) == [EventKind.CREATED]


async def test_a_merge_racing_the_originals_resolve_tells_the_movers(world):
    """Whichever lands first, nobody moved to the original misses its resolution."""
    h = world.harness
    original = await world.accepted()
    duplicate = await world.ticket(by="resident_en")
    shown = await preview(world.secretary, duplicate, original.number)
    await world.worker.press(data(TicketAction.RESOLVE, original))
    await world.worker.text("已清理")
    skip = h.last_to(world.worker.id).button("跳过")

    before = len(h.session.calls)
    await asyncio.gather(
        world.secretary.press(shown.button("Confirm merge")), world.worker.press(skip)
    )

    assert (await world.load(original.id)).status is TicketStatus.RESOLVED
    if (await world.load(duplicate.id)).status is TicketStatus.DUPLICATE:
        heard = [c.text for c in h.calls_to(world.resident_en.id)[-2:]]
        assert any("which you follow, has been resolved" in text for text in heard)
    else:
        assert f"{original.number} is now resolved: this button no longer applies." in answers(
            world, before
        )
        assert await followers(world, original.id) == set()


B_CHAT = -100888


async def bind_b_chat(world: World) -> None:
    async with world.session_factory() as session, session.begin():
        (await session.get(Grid, world.grids["B"].id)).team_chat_id = B_CHAT


async def test_a_merge_across_grids_shows_the_originals_team_what_was_merged(world):
    await bind_b_chat(world)
    duplicate = await world.ticket(by="resident_en", description="Bins <overflowing> again")
    original = await world.ticket(grid_id=world.grids["B"].id, description="垃圾桶满了")
    shown = await preview(world.officer, duplicate, original.number)

    calls = await world.officer.press(shown.button("Confirm merge"))

    assert alert(calls) == "Merged."
    for chat_id in (world.secretary_b.id, B_CHAT):  # B's team and its group, in Chinese
        told = [call for call in calls if call.chat_id == chat_id]
        assert [call.name for call in told] == ["SendMediaGroup", "SendLocation", "SendMessage"]
        assert [media.media for media in told[0].method.media] == ["report-1", "report-2"]
        assert told[1].method.latitude == pytest.approx(INSIDE_A[0])
        card = told[2]
        assert f"{duplicate.number} 已由 Qian 合并到您团队办理的 {original.number}" in card.text
        assert "Bins &lt;overflowing&gt; again" in card.text  # the duplicate's report
        assert "网格A" in card.text  # where it came from
        assert [b.text for b in card.buttons] == [f"📄 {original.number}"]
    # the button opens the original, with the team's buttons
    view = answer_to(await world.secretary_b.press(card.button(original.number)), world.secretary_b)
    assert "垃圾桶满了" in view.text
    assert view.button("接单")
    # A's team hears the one line it always did, with nothing attached
    for chat_id in (world.worker.id, TEAM_CHAT):
        assert [call.name for call in calls if call.chat_id == chat_id] == ["SendMessage"]
    # the officer who merged gets the reply only
    assert [call.name for call in calls if call.chat_id == world.officer.id] == ["SendMessage"]


async def test_a_merge_within_the_grid_sends_its_team_one_line(world):
    original = await world.ticket()
    duplicate = await world.ticket(by="resident_en")
    shown = await preview(world.secretary, duplicate, original.number)

    calls = await world.secretary.press(shown.button("Confirm merge"))

    to_team_chat = [call for call in calls if call.chat_id == TEAM_CHAT]
    assert [call.name for call in to_team_chat] == ["SendMessage"]
    assert f"{duplicate.number} 已由 Wang 合并到 {original.number}" in to_team_chat[0].text
    assert not to_team_chat[0].buttons
    for member in (world.worker, world.secretary2):
        assert [call.name for call in calls if call.chat_id == member.id] == ["SendMessage"]


async def test_the_original_accepted_after_the_preview_still_takes_the_merge(world):
    original = await world.ticket()
    duplicate = await world.ticket(by="resident_en")
    shown = await preview(world.secretary, duplicate, original.number)
    await world.worker.press(data(TicketAction.ACCEPT, original))

    calls = await world.secretary.press(shown.button("Confirm merge"))

    assert alert(calls) == "Merged."
    assert (await world.load(duplicate.id)).duplicate_of_id == original.id
    stored = await world.load(original.id)
    assert (stored.status, stored.assignee_id) == (TicketStatus.ACCEPTED, world.ids["worker"])
    assert await followers(world, original.id) == {world.ids["resident_en"]}


async def test_the_reporter_reads_the_merge_in_their_history_in_their_language(world):
    original = await world.ticket(by="resident_en")
    duplicate = await world.ticket()  # Meimei reads Chinese
    english = await world.ticket(by="resident_en")
    for ticket in (duplicate, english):
        shown = await preview(world.secretary, ticket, original.number)
        await world.secretary.press(shown.button("Confirm merge"))

    [merged] = [e for e in await events(world, duplicate.id) if e.kind is EventKind.DUPLICATE]
    assert merged.actor_id == world.ids["secretary"]
    in_english = f"Marked as a duplicate of {original.number} by the grid team"
    for reporter, ticket, line in (
        (world.reporter, duplicate, f"网格团队判定为与 {original.number} 重复"),
        (world.resident_en, english, in_english),
    ):
        listing = answer_to(await reporter.text("/mytickets"), reporter)
        view = answer_to(await reporter.press(listing.button(ticket.number)), reporter)
        assert line in view.text
        assert "Wang" not in view.text


async def test_the_originals_team_reads_a_duplicate_merged_from_another_grid(world):
    await bind_b_chat(world)
    duplicate = await world.ticket(description="楼道垃圾 <又来了>")
    original = await world.ticket(grid_id=world.grids["B"].id)
    not_found = f"未找到工单 {duplicate.number}。"
    before = answer_to(
        await world.secretary_b.text(f"/ticket {duplicate.number}"), world.secretary_b
    )
    assert before.text == not_found

    shown = await preview(world.officer, duplicate, original.number)
    await world.officer.press(shown.button("Confirm merge"))

    view = answer_to(await world.secretary_b.text(f"/ticket {duplicate.number}"), world.secretary_b)
    assert "楼道垃圾 &lt;又来了&gt;" in view.text
    assert f"Qian判定为与 {original.number} 重复" in view.text
    assert not view.buttons  # reading only
    calls = await say_in_group(world.secretary_b, B_CHAT, f"/ticket {duplicate.number}")
    assert "楼道垃圾" in next(call for call in calls if call.chat_id == B_CHAT).text
    # a button of the duplicate stays refused to them
    calls = await world.secretary_b.press(data(TicketAction.ACCEPT, duplicate))
    assert alert(calls) == "该按钮已失效。"
    assert (await world.load(duplicate.id)).status is TicketStatus.DUPLICATE
    # another grid's team learns nothing
    stranger = answer_to(await world.member_c.text(f"/ticket {duplicate.number}"), world.member_c)
    assert stranger.text == f"Ticket {duplicate.number} was not found."


async def test_an_original_passed_out_of_reach_after_the_preview_says_so(world):
    """A colleague passes the original to grid C, outside the secretary's reach, between
    the preview and Confirm: the secretary is told that it is no longer one they can merge
    into, not just that the button is no longer valid; nothing changes."""
    original = await world.ticket()
    duplicate = await world.ticket(by="resident_en")
    shown = await preview(world.secretary, duplicate, original.number)
    await world.run(
        tickets.transfer,
        original.id,
        world.actor("secretary2"),
        utcnow(),
        catalogue=CATALOGUE,
        target_grid_id=world.grids["C"].id,
    )

    calls = await world.secretary.press(shown.button("Confirm merge"))

    assert alert(calls) == (
        f"{original.number} is no longer a ticket you can merge into (it was passed to "
        f"another team or closed meanwhile): nothing was changed."
    )
    assert not messages(calls)
    stored = await world.load(duplicate.id)
    assert (stored.status, stored.duplicate_of_id) == (TicketStatus.DISPATCHED, None)
    assert await followers(world, original.id) == set()
    calls = await world.secretary.press(shown.button("Confirm merge"))  # the step ended
    assert alert(calls) == STALE
