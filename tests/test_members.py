"""``redgrid members``: the district's team listed and a member removed from the shell, and
what the removal means in the bot (through the real dispatcher), on SQLite and PostgreSQL.

The command runs in a thread of its own, as a shell beside the running bot would."""

import asyncio
from datetime import timedelta

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.utils.i18n import I18n
from sqlmodel import col, select
from typer.testing import CliRunner

from redgrid.bot.i18n import create_i18n
from redgrid.bot.notifier import Notifier
from redgrid.bot.pushes import push_to_reporter, push_to_team
from redgrid.bot.settings import Settings, get_settings
from redgrid.cli import EXIT_REFUSED, EXIT_USAGE, app
from redgrid.handlers.callbacks import ChoiceCb, GradeCb, MergeCb, TicketAction, VoiceCb
from redgrid.models import (
    EventKind,
    Membership,
    OutboxMessage,
    OutboxStatus,
    Role,
    TicketEvent,
    TicketSource,
    TicketStatus,
)
from redgrid.models.base import utcnow
from redgrid.services import informants, tickets
from redgrid.services.members import DROPPED_PUSH
from redgrid.services.people import grant_role
from tests.bot_harness import BOT_ID, TOKEN, bot_harness, messages
from tests.test_team import (
    CATALOGUE,
    TEAM_CHAT,
    World,
    alert,
    answer_to,
    build_world,
    data,
    say_in_group,
)

runner = CliRunner()
LEFT_EN = "You are no longer on this ticket's team"
LEFT_ZH = "您已不在该工单所属的工作团队中"


@pytest.fixture
async def world(database_url, session_factory) -> World:
    settings = Settings(bot_token=TOKEN, database_url=database_url, admin_ids=frozenset({1}))
    async with bot_harness(settings, session_factory) as harness:
        yield await build_world(harness, session_factory)


@pytest.fixture
def redgrid(settings_env, database_url, monkeypatch):
    """``await redgrid(ARGS...)``: the command against this test's database, in a thread."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ADMIN_IDS", "1")

    def invoke(*args: str):
        get_settings.cache_clear()  # each command is a new process: it reads the environment
        return runner.invoke(app, list(args), catch_exceptions=False)

    async def run(*args: str):
        return await asyncio.to_thread(invoke, *args)

    return run


async def membership_id(world: World, name: str, role: Role | None = None) -> int:
    async with world.session_factory() as session:
        query = select(Membership.id).where(Membership.person_id == world.ids[name])
        if role is not None:
            query = query.where(Membership.role == role)
        return (await session.exec(query)).one()


async def remove(redgrid, world: World, name: str):
    result = await redgrid("members", "--remove", str(await membership_id(world, name)))
    assert result.exit_code == 0, result.output
    return result


# The command ------------------------------------------------------------------------------


async def test_members_lists_the_team_and_filters_it(world, redgrid):
    listed = await redgrid("members")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert len(lines) == 6  # residents hold no membership
    wang = next(line for line in lines if "Wang" in line)
    assert str(world.secretary.id) in wang
    assert "secretary" in wang
    assert "grid A (网格A, 大富社区)" in wang
    assert "since 20" in wang
    officer = next(line for line in lines if "Qian" in line)
    assert "officer" in officer
    assert officer.split("officer")[1].strip().startswith("大富社区")

    grid_a = (await redgrid("members", "--grid", "a")).output
    assert {"Wang", "Chen", "Zhang"} == {n for n in PEOPLE_NAMES if n in grid_a}
    community = (await redgrid("members", "--community", "大富")).output
    assert {"Wang", "Chen", "Zhang", "Liu", "Qian"} == {n for n in PEOPLE_NAMES if n in community}

    unknown = await redgrid("members", "--grid", "ZZ")
    assert unknown.exit_code == EXIT_REFUSED
    assert "no grid with code 'ZZ'" in unknown.output
    both = await redgrid("members", "--grid", "A", "--community", "大富")
    assert both.exit_code == EXIT_USAGE
    mixed = await redgrid("members", "--remove", "1", "--all")
    assert mixed.exit_code == EXIT_USAGE


PEOPLE_NAMES = ("Wang", "Chen", "Zhang", "Liu", "Zhao", "Qian")


async def test_members_in_a_chinese_shell(world, redgrid, monkeypatch):
    """The team as a Chinese district office reads it: the bot's words for roles."""
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    lines = (await redgrid("members", "--grid", "A")).output.splitlines()
    wang = next(line for line in lines if "Wang" in line)
    assert "支部书记" in wang
    assert "网格 A（网格A，大富社区）" in wang
    assert " 起" in wang
    zhang = next(line for line in lines if "Zhang" in line)
    membership_id = zhang.split()[0]
    removed = await redgrid("members", "--remove", membership_id)
    assert f"成员身份 {membership_id}（Zhang，网格员，网格 A）已移除。" in removed.output
    assert "机器人下次推送消息时会通知本人。" in removed.output
    unknown = await redgrid("members", "--grid", "ZZ")
    assert unknown.output == "已拒绝：没有编码为 'ZZ' 的网格；请查看 `redgrid district show`。\n"


async def test_remove_tells_the_person_in_their_language_once(world, redgrid):
    h = world.harness
    zhang = await membership_id(world, "worker")

    removed = await redgrid("members", "--remove", str(zhang))

    assert removed.exit_code == 0, removed.output
    assert f"Membership {zhang} (Zhang, grid_worker of grid A) is removed." in removed.output
    assert "Zhang" not in (await redgrid("members")).output
    [line] = [
        line for line in (await redgrid("members", "--all")).output.splitlines() if "Zhang" in line
    ]
    async with world.session_factory() as session:
        stored = await session.get(Membership, zhang)
    assert not stored.active
    assert utcnow() - stored.removed_at < timedelta(minutes=1)
    when = stored.removed_at.astimezone(world.harness.settings.tz).strftime("%Y-%m-%d %H:%M")
    assert line.endswith(f"removed {when}")
    # staged in the outbox by the command, sent by the running bot
    assert not h.calls_to(world.worker.id)
    await h.sender.drain()
    [farewell] = h.calls_to(world.worker.id)
    assert "您已不再担任网格A（A）的网格员" in farewell.text

    again = await redgrid("members", "--remove", str(zhang))
    assert again.exit_code == EXIT_REFUSED
    assert again.output.strip() == f"Refused: membership {zhang} is already removed."
    unknown = await redgrid("members", "--remove", "99999")
    assert unknown.exit_code == EXIT_REFUSED
    assert unknown.output.strip() == (
        "No team membership has the id 99999; see `redgrid members --all`."
    )
    await h.sender.drain()
    assert len(h.calls_to(world.worker.id)) == 1  # told once

    async with world.session_factory() as session, session.begin():
        informant = await grant_role(session, world.ids["resident_en"], Role.INFORMANT)
    refused = await redgrid("members", "--remove", str(informant.id))
    assert refused.exit_code == EXIT_REFUSED
    assert f"redgrid informants --remove {world.ids['resident_en']}" in refused.output


async def test_removal_warns_when_a_scope_is_left_without_its_people(world, redgrid):
    first = await remove(redgrid, world, "secretary")
    assert "Warning" not in first.output  # Chen is still the grid's secretary
    assert "They may still read grid A's team chat" in first.output

    last_secretary = await remove(redgrid, world, "secretary2")
    assert "Warning: grid A has no secretary left, only grid workers." in last_secretary.output

    last_member = await remove(redgrid, world, "worker")
    assert (
        "Warning: grid A has no team member left: its tickets now reach the community's officers."
    ) in last_member.output

    officer = await remove(redgrid, world, "officer")
    assert (
        "Warning: 大富社区 has no community officer left: its own queue's tickets and overdue"
        " notices now reach nobody (no officer or admin can be reached)."
    ) in officer.output

    alone = await remove(redgrid, world, "secretary_b")
    assert "Warning: grid B has no team member left: its tickets now reach nobody" in alone.output


# The bot after a removal ------------------------------------------------------------------


async def test_a_removed_member_pressing_an_old_card_is_refused_politely(world, redgrid):
    waiting = await world.ticket()
    accepted = await world.accepted()
    await remove(redgrid, world, "worker")

    for ticket, action in ((waiting, TicketAction.ACCEPT), (accepted, TicketAction.RESOLVE)):
        for chat_id in (world.worker.id, TEAM_CHAT):
            calls = await world.worker.press(data(action, ticket), message_chat_id=chat_id)
            assert alert(calls).startswith(LEFT_ZH)
            assert not messages(calls)
    assert (await world.load(waiting.id)).status is TicketStatus.DISPATCHED
    assert (await world.load(accepted.id)).status is TicketStatus.ACCEPTED
    # a stranger still learns nothing from a forged button
    calls = await world.member_c.press(data(TicketAction.ACCEPT, waiting))
    assert alert(calls) == "This button is no longer valid."


async def test_a_removed_member_pressing_a_grade_or_queue_button_is_told_why(world, redgrid):
    """The informant grading buttons, a report's voice note and the /queue list's ticket
    buttons give a removed member the same line as the team's other buttons."""
    report = await world.ticket(source=TicketSource.INFORMANT)
    async with world.session_factory() as session, session.begin():
        session.add(
            TicketEvent(
                ticket_id=report.id,
                kind=EventKind.COMMENT,
                actor_id=world.ids["reporter"],
                details={"voice": "voice-1"},
            )
        )
    queue = answer_to(await world.worker.text("/queue"), world.worker)
    await world.run(tickets.mark_invalid, report.id, world.actor("secretary2"), utcnow(), "无效")
    open_ticket = await world.ticket()
    [group_queue] = messages(await say_in_group(world.worker, TEAM_CHAT, "/queue"))
    await remove(redgrid, world, "worker")

    presses = [
        (GradeCb(ticket_id=report.id, grade="invalid").pack(), world.worker.id),
        (VoiceCb(ticket_id=report.id).pack(), world.worker.id),
        (queue.button(report.number), world.worker.id),
        (group_queue.button(open_ticket.number), TEAM_CHAT),
    ]
    for button, chat_id in presses:
        calls = await world.worker.press(button, message_chat_id=chat_id)
        assert alert(calls).startswith(LEFT_ZH), button
        assert not messages(calls)
    # a stranger still learns nothing
    for button, _chat_id in presses:
        calls = await world.member_c.press(button)
        assert alert(calls) == "This button is no longer valid."
        assert not messages(calls)
    async with world.session_factory() as session:
        assert await informants.grade_of(session, report.id) is None


async def test_a_removed_member_sending_grade_is_told_why_as_the_button_does(world, redgrid):
    """/grade NUMBER answered a removed member "not found" while the grading button told
    them they had left the team; now both say so. A stranger still learns nothing."""
    report = await world.ticket(source=TicketSource.INFORMANT)
    await world.run(tickets.mark_invalid, report.id, world.actor("secretary2"), utcnow(), "无效")
    await remove(redgrid, world, "worker")

    command = f"/grade {report.number}"
    for calls in (
        await world.worker.text(command),
        await say_in_group(world.worker, TEAM_CHAT, command),
    ):
        [reply] = messages(calls)
        assert reply.text.startswith(LEFT_ZH)
        assert not reply.buttons
    [reply] = messages(await world.worker.text("/grade DX-999999"))
    assert "未找到" in reply.text
    [reply] = messages(await world.member_c.text(f"/grade {report.number}"))
    assert reply.text == f"Ticket {report.number} was not found."
    async with world.session_factory() as session:
        assert await informants.grade_of(session, report.id) is None


async def test_a_removed_member_sending_ticket_is_told_why_as_the_buttons_do(world, redgrid):
    """/ticket NUMBER answered a removed member "not found" while the card's buttons told
    them they had left the team; now it says so too, in private and in the team's chat. A
    stranger, a number that does not exist and another group still learn nothing."""
    ticket = await world.accepted()
    await remove(redgrid, world, "worker")

    command = f"/ticket {ticket.number}"
    for calls in (
        await world.worker.text(command),
        await say_in_group(world.worker, TEAM_CHAT, command),
    ):
        [reply] = messages(calls)
        assert reply.text.startswith(LEFT_ZH)
        assert not reply.buttons
    [reply] = messages(await world.worker.text("/ticket DX-999999"))
    assert "未找到" in reply.text
    [reply] = messages(await say_in_group(world.worker, -100999, command))
    assert "未找到" in reply.text
    [reply] = messages(await world.member_c.text(command))
    assert reply.text == f"Ticket {ticket.number} was not found."


async def test_a_removed_member_mid_step_is_stopped_before_the_next_question(world, redgrid):
    """Removed while Resolve waits for the note: the note is refused, no photo is asked
    for. Removed while it waits for the photo: the photo is refused. Removed while Extend
    offers the days: the press is refused, no reason is asked for."""
    h = world.harness
    ticket = await world.load((await world.accepted()).id)
    await world.secretary.press(data(TicketAction.RESOLVE, ticket))
    assert "What was done" in h.last_to(world.secretary.id).text
    await remove(redgrid, world, "secretary")

    reply = answer_to(await world.secretary.text("清理完毕"), world.secretary)

    assert reply.text.startswith(LEFT_EN)
    assert "photo" not in reply.text
    reply = answer_to(await world.secretary.sticker(), world.secretary)
    assert "did not understand" in reply.text  # the step is over

    await world.secretary2.press(data(TicketAction.RESOLVE, ticket))
    prompt = answer_to(await world.secretary2.text("清理完毕"), world.secretary2)
    assert "photo" in prompt.text
    await remove(redgrid, world, "secretary2")
    reply = answer_to(await world.secretary2.photo("result-1"), world.secretary2)
    assert reply.text.startswith(LEFT_EN)
    calls = await world.secretary2.press(prompt.button("Skip"))
    assert "no longer valid" in alert(calls)  # the step ended with the refused photo

    await world.worker.press(data(TicketAction.EXTEND, ticket))
    days = h.last_to(world.worker.id)
    await remove(redgrid, world, "worker")
    calls = await world.worker.press(days.button("延期 3 天"))
    assert alert(calls).startswith(LEFT_ZH)
    assert not messages(calls)

    stored = await world.load(ticket.id)
    assert (stored.status, stored.resolution_note) == (TicketStatus.ACCEPTED, None)
    assert stored.resolve_by == ticket.resolve_by  # not extended


async def test_a_removed_member_is_stopped_at_the_next_input_of_every_team_step(world, redgrid):
    """Transfer (the grid, the note), Invalid (the reason), Ask (the question) and
    Duplicate (the number, Confirm): taken off the team half-way, the member is told so
    at the next press or text, in their language; the step ends and nothing is written."""
    h, worker = world.harness, world.worker
    ticket = await world.accepted()
    original = await world.ticket()
    key = StorageKey(bot_id=BOT_ID, chat_id=worker.id, user_id=worker.id)
    to_b = ChoiceCb(kind="tr", index=world.grids["B"].id).pack()
    merge = MergeCb(ticket_id=ticket.id, original_id=original.id).pack()

    def press(button: str):
        return lambda: worker.press(button)

    def say(text: str):
        return lambda: worker.text(text)

    flows = [
        ([press(data(TicketAction.TRANSFER, ticket))], press(to_b)),
        ([press(data(TicketAction.TRANSFER, ticket)), press(to_b)], say("请B网格处理")),
        ([press(data(TicketAction.INVALID, ticket))], say("重复反映")),
        ([press(data(TicketAction.ASK, ticket))], say("几楼？")),
        ([press(data(TicketAction.DUPLICATE, ticket))], say(original.number)),
        ([press(data(TicketAction.DUPLICATE, ticket)), say(original.number)], press(merge)),
    ]
    for begin, refused in flows:
        await world.run(
            grant_role, world.ids["worker"], Role.GRID_WORKER, grid_id=world.grids["A"].id
        )
        for step in begin:
            await step()
        assert await h.storage.get_state(key) is not None
        await remove(redgrid, world, "worker")

        calls = await refused()
        told = [call.method.text for call in calls if call.name == "AnswerCallbackQuery"]
        told += [call.text for call in messages(calls) if call.chat_id == worker.id]
        assert any(text and text.startswith(LEFT_ZH) for text in told), told
        assert await h.storage.get_state(key) is None
    stored = await world.load(ticket.id)
    assert (stored.status, stored.grid_id) == (TicketStatus.ACCEPTED, world.grids["A"].id)
    assert await world.events(ticket.id) == [EventKind.CREATED, EventKind.ACCEPTED]
    assert await world.events(original.id) == [EventKind.CREATED]


async def test_an_answer_reaches_the_asker_only_while_they_may_act_on_the_ticket(world, redgrid):
    """The reporter's answer goes to the ticket's team as it is now, and to whoever asked
    while they may still act on it (an officer or an admin who asked is on no grid's
    team): a member removed since the question, or whose ticket went to another grid,
    does not get the reporter's words, nor, with consent, their name and phone."""
    h = world.harness

    async def ask(asker, ticket, question: str):
        await asker.press(data(TicketAction.ASK, ticket))
        await asker.text(question)
        return h.last_to(world.reporter.id).button("回复")

    async def answer(button, text: str) -> None:
        await world.reporter.press(button)
        await world.reporter.text(text)

    removed = await world.accepted(contact_consent=True)
    transferred = await world.accepted(contact_consent=True)
    by_officer = await world.accepted(contact_consent=True)
    to_removed = await ask(world.worker, removed, "几楼？")
    to_moved = await ask(world.secretary2, transferred, "哪个门？")
    to_officer = await ask(world.officer, by_officer, "几点？")
    await remove(redgrid, world, "worker")
    await world.run(
        tickets.transfer,
        transferred.id,
        world.actor("secretary"),
        utcnow(),
        catalogue=CATALOGUE,
        target_grid_id=world.grids["C"].id,
    )

    async def pushed(person, ticket) -> list[OutboxMessage]:
        async with world.session_factory() as session:
            rows = await session.exec(
                select(OutboxMessage).where(
                    OutboxMessage.chat_id == person.id, OutboxMessage.ticket_id == ticket.id
                )
            )
            return list(rows.all())

    await answer(to_removed, "五楼")
    assert await pushed(world.worker, removed) == []
    assert "五楼" in h.last_to(world.secretary.id).text  # the team hears it
    await answer(to_moved, "东门")
    assert await pushed(world.secretary2, transferred) == []
    assert "东门" in h.last_to(world.member_c.id).text  # the ticket's team now
    await answer(to_officer, "三点")
    assert "三点" in h.last_to(world.officer.id).text


async def stage_unsent(world: World, i18n: I18n, stage) -> None:
    """Pushes written to the outbox and committed, not yet sent (the bot was down, or
    Telegram asked it to wait)."""
    async with world.session_factory() as session:
        notifier = Notifier(session)
        with i18n.context():
            await stage(session, notifier)
        await session.commit()


async def test_pending_team_pushes_to_a_removed_member_are_not_sent(world, redgrid):
    h, settings = world.harness, world.harness.settings
    i18n = create_i18n(settings.default_locale)
    in_grid = await world.ticket()
    own = await world.ticket(by="secretary")  # Wang reported it: he hears of it as a resident
    followed = await world.ticket()
    await world.run(tickets.follow, followed.id, world.ids["secretary"], utcnow())

    async def stage(session, notifier):
        await push_to_team(
            session, notifier, i18n, settings, CATALOGUE, in_grid, lambda: "🆕 New ticket"
        )
        for ticket in (own, followed):
            await push_to_reporter(
                session, notifier, i18n, settings, ticket, lambda: "News for the reporter"
            )

    await stage_unsent(world, i18n, stage)

    removed = await remove(redgrid, world, "secretary")
    assert "1 pending push about the team's tickets will not be sent to them." in removed.output
    await h.sender.drain()

    to_wang = [call.text for call in h.calls_to(world.secretary.id)]
    assert len(to_wang) == 3
    assert "News for the reporter" in to_wang[0]  # his own ticket
    assert "News for the reporter" in to_wang[1]  # the one he follows
    assert to_wang[2].startswith("You are no longer a party branch secretary of grid 网格A (A)")
    assert "New ticket" in h.last_to(world.secretary2.id).text  # the rest of the team get it
    async with world.session_factory() as session:
        dropped = (
            await session.exec(
                select(OutboxMessage).where(col(OutboxMessage.status) == OutboxStatus.FAILED)
            )
        ).all()
    assert [(row.person_id, row.ticket_id, row.last_error) for row in dropped] == [
        (world.ids["secretary"], in_grid.id, DROPPED_PUSH)
    ]


async def test_a_membership_removed_before_dates_were_kept_is_listed_without_one(world, redgrid):
    """Rows deactivated before revision 0006 have no removal date: listed as unknown. A
    role granted again is active with no removal date."""
    zhang = await membership_id(world, "worker")
    async with world.session_factory() as session, session.begin():
        stored = await session.get(Membership, zhang)
        stored.active = False  # as an old removal left it: no date
    [line] = [
        line for line in (await redgrid("members", "--all")).output.splitlines() if "Zhang" in line
    ]
    assert line.endswith("removed (date unknown)")

    await remove(redgrid, world, "secretary")
    async with world.session_factory() as session, session.begin():
        wang = await membership_id(world, "secretary")
        again = await grant_role(
            session, world.ids["secretary"], Role.SECRETARY, grid_id=stored.grid_id
        )
        assert (again.id, again.active, again.removed_at) == (wang, True, None)
