"""Deadlines as rows: alarms follow the ticket, fire once, reach the right people."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlmodel import col, select

from redgrid.bot.factory import create_bot
from redgrid.bot.i18n import create_i18n
from redgrid.bot.notifier import Notifier, OutboxSender
from redgrid.bot.pacing import Limits, SendPacer
from redgrid.bot.pushes import push_to_team
from redgrid.bot.settings import Settings
from redgrid.models import (
    AlarmKind,
    DeadlineAlarm,
    Grid,
    OutboxMessage,
    OutboxStatus,
    Person,
    Rating,
    Role,
    Ticket,
    TicketSource,
)
from redgrid.models.base import utcnow
from redgrid.scheduler import jobs
from redgrid.scheduler.jobs import send_daily_digests, send_weekly_summaries, sweep_deadlines
from redgrid.services import people, tickets
from redgrid.services.categories import load_categories
from redgrid.services.district import import_district
from redgrid.services.district_file import parse_district_file
from tests.bot_harness import TOKEN, RecordingSession, messages
from tests.district_files import dumps, small_district

CATALOGUE = load_categories()
SECRETARY, OFFICER, ADMIN, RESIDENT = 9101, 9102, 9103, 9104


class World:
    def __init__(self, database_url, session_factory) -> None:
        self.settings = Settings(
            bot_token=TOKEN, database_url=database_url, admin_ids=frozenset({ADMIN})
        )
        self.session_factory = session_factory
        self.recording = RecordingSession()
        no_limits = SendPacer(Limits(per_second=10_000, private_chat_interval=0, spacing=0))
        self.i18n = create_i18n(self.settings.default_locale)
        self.sender = OutboxSender(
            create_bot(self.settings, session=self.recording),
            session_factory,
            i18n=self.i18n,
            pacer=no_limits,
            admin_telegram_ids=self.settings.admin_ids,
        )
        self.start = utcnow().replace(microsecond=0)

    async def setup(self) -> None:
        async with self.session_factory() as session, session.begin():
            await import_district(session, parse_district_file(dumps(small_district())))
            grid = (await session.exec(select(Grid).where(Grid.code == "A"))).one()
            self.grid_id, self.community_id = grid.id, grid.community_id
            secretary = await people.get_or_create_person(session, SECRETARY, "Liu", "en")
            await people.grant_role(session, secretary.id, Role.SECRETARY, grid_id=grid.id)
            officer = await people.get_or_create_person(session, OFFICER, "Zhao", "zh_CN")
            await people.grant_role(
                session, officer.id, Role.OFFICER, community_id=grid.community_id
            )
            await people.get_or_create_person(session, ADMIN, "Admin", "zh_CN")
            self.secretary = people.Actor(secretary.id, SECRETARY, is_admin=False)

    async def file(self, category="safety") -> int:
        """An urgent ticket (2 h to accept, 24 h to resolve) filed at ``self.start``."""
        async with self.session_factory() as session, session.begin():
            reporter = await people.get_or_create_person(session, RESIDENT, "Wang", "zh_CN")
            draft = tickets.TicketDraft(
                source=TicketSource.RESIDENT,
                category=category,
                description="电线裸露",
                grid_id=self.grid_id,
            )
            ticket = await tickets.create_ticket(session, draft, reporter, CATALOGUE, self.start)
            return ticket.id

    async def alarms(self, ticket_id, *, pending_only=True) -> dict[AlarmKind, DeadlineAlarm]:
        async with self.session_factory() as session:
            query = select(DeadlineAlarm).where(DeadlineAlarm.ticket_id == ticket_id)
            if pending_only:
                query = query.where(col(DeadlineAlarm.fired_at).is_(None))
            return {alarm.kind: alarm for alarm in (await session.exec(query)).all()}

    async def sweep(self, at) -> int:
        return await sweep_deadlines(
            self.session_factory, self.sender, self.i18n, self.settings, CATALOGUE, at
        )

    def told(self, chat_id) -> list[str]:
        return [call.text for call in messages(self.recording.calls) if call.chat_id == chat_id]


@pytest.fixture
async def world(database_url, session_factory):
    built = World(database_url, session_factory)
    await built.setup()
    return built


async def test_a_new_ticket_gets_respond_and_resolve_alarms(world):
    ticket_id = await world.file()
    alarms = await world.alarms(ticket_id)
    start = world.start
    assert alarms[AlarmKind.RESPOND_REMINDER].due_at == start + timedelta(minutes=96)  # 80% of 2 h
    assert alarms[AlarmKind.RESPOND_OVERDUE].due_at == start + timedelta(hours=2)
    assert alarms[AlarmKind.RESPOND_ESCALATION].due_at == start + timedelta(hours=26)
    assert alarms[AlarmKind.RESOLVE_REMINDER].due_at == start + timedelta(hours=24 * 0.8)
    assert alarms[AlarmKind.RESOLVE_OVERDUE].due_at == start + timedelta(hours=24)
    assert alarms[AlarmKind.RESOLVE_ESCALATION].due_at == start + timedelta(hours=48)


async def test_accept_extend_and_resolve_move_the_alarms(world):
    ticket_id = await world.file()
    async with world.session_factory() as session, session.begin():
        await tickets.accept(session, ticket_id, world.secretary, world.start + timedelta(hours=1))
    assert set(await world.alarms(ticket_id)) == {
        AlarmKind.RESOLVE_REMINDER,
        AlarmKind.RESOLVE_OVERDUE,
        AlarmKind.RESOLVE_ESCALATION,
    }
    later = world.start + timedelta(hours=4)
    async with world.session_factory() as session, session.begin():
        await tickets.extend(
            session, ticket_id, world.secretary, later, timedelta(days=1), "等待配件", limit=2
        )
    alarms = await world.alarms(ticket_id)
    new_deadline = world.start + timedelta(hours=48)
    assert alarms[AlarmKind.RESOLVE_OVERDUE].due_at == new_deadline
    assert alarms[AlarmKind.RESOLVE_REMINDER].due_at == new_deadline - 0.2 * (new_deadline - later)
    async with world.session_factory() as session, session.begin():
        await tickets.resolve(session, ticket_id, world.secretary, later, note="已修复")
    assert await world.alarms(ticket_id) == {}


async def test_the_sweep_reminds_then_escalates_each_once(world):
    ticket_id = await world.file()
    assert await world.sweep(world.start + timedelta(minutes=90)) == 0
    assert await world.sweep(world.start + timedelta(minutes=100)) == 1
    assert any("Reminder: accept DX-" in text for text in world.told(SECRETARY))
    assert world.told(OFFICER) == []
    assert await world.sweep(world.start + timedelta(minutes=100)) == 0  # fired already

    assert await world.sweep(world.start + timedelta(hours=2, seconds=1)) == 1
    assert any("Overdue" in text for text in world.told(SECRETARY))
    assert any("超期" in text for text in world.told(OFFICER))  # the officer reads Chinese
    assert world.told(ADMIN) == []

    assert await world.sweep(world.start + timedelta(hours=26, seconds=1)) >= 1
    assert any("已上报区级" in text for text in world.told(ADMIN))
    fired = await world.alarms(ticket_id, pending_only=False)
    assert fired[AlarmKind.RESPOND_ESCALATION].fired_at is not None


async def test_an_escalation_no_admin_can_receive_is_logged(world, caplog):
    """Escalations go to the admins of ADMIN_IDS who have opened the bot; with none, the
    deployment must hear of it rather than the escalation vanish without a trace."""
    world.settings = world.settings.model_copy(update={"admin_ids": frozenset({424})})
    await world.file()
    assert await world.sweep(world.start + timedelta(hours=26, seconds=1)) >= 1
    assert world.told(ADMIN) == []
    assert "reaches nobody" in caplog.text


async def test_down_past_a_deadline_the_overdue_notice_goes_out_once_at_start(world):
    await world.file()
    # The bot was stopped before the reminder and starts after the respond deadline.
    assert await world.sweep(world.start + timedelta(hours=3)) == 2
    secretary_texts = world.told(SECRETARY)
    assert sum("Overdue" in text for text in secretary_texts) == 1
    assert not any("Reminder" in text for text in secretary_texts)
    assert await world.sweep(world.start + timedelta(hours=3)) == 0


async def test_two_instances_sweeping_at_once_send_each_alarm_once(world):
    for _ in range(5):
        await world.file()
    at = world.start + timedelta(hours=3)
    other = OutboxSender(
        world.sender.bot, world.session_factory, i18n=world.i18n, pacer=world.sender.pacer
    )
    first, second = await asyncio.gather(
        world.sweep(at),
        sweep_deadlines(world.session_factory, other, world.i18n, world.settings, CATALOGUE, at),
    )
    assert first + second == 10  # five reminders (silent, past due) and five overdue
    overdue = [text for text in world.told(SECRETARY) if "Overdue" in text]
    assert len(overdue) == 5


async def test_a_ticket_whose_category_was_removed_does_not_stop_the_alarms(world):
    retired = await world.file()
    await world.file()
    async with world.session_factory() as session, session.begin():
        (await session.get(Ticket, retired)).category = "retired_code"  # gone from the file
    assert await world.sweep(world.start + timedelta(hours=3)) == 4
    overdue = [text for text in world.told(SECRETARY) if "Overdue" in text]
    assert len(overdue) == 2
    assert any("❔ retired_code" in text for text in overdue)


async def test_an_alarm_that_fails_is_dropped_and_the_others_still_go(world, monkeypatch, caplog):
    """A ticket the sweep cannot notify about (here: the second push of its overdue notice
    fails, after the first was staged) loses that alarm only, with nothing half-staged; the
    other tickets' alarms in the same batch go out."""
    poisoned, healthy = await world.file(), await world.file()
    real_push = jobs.push_to_team

    async def failing_push(session, notifier, i18n, settings, catalogue, ticket, text, **kw):
        await real_push(session, notifier, i18n, settings, catalogue, ticket, text, **kw)
        if ticket.id == poisoned and kw.get("to") is not None:  # the officers' copy
            raise RuntimeError("cannot render this ticket")

    monkeypatch.setattr(jobs, "push_to_team", failing_push)
    assert await world.sweep(world.start + timedelta(hours=3)) == 4
    overdue = [text for text in world.told(SECRETARY) if "Overdue" in text]
    numbers = {ticket_id: f"DX-{ticket_id:06d}" for ticket_id in (poisoned, healthy)}
    assert [numbers[healthy] in text for text in overdue] == [True]
    assert not any(numbers[poisoned] in text for text in world.told(OFFICER))
    assert "dropped" in caplog.text
    async with world.session_factory() as session:
        outbox = (await session.exec(select(OutboxMessage))).all()
    assert {row.ticket_id for row in outbox} == {healthy}
    assert set(await world.alarms(poisoned)) == set(await world.alarms(healthy))  # both fired


async def test_the_daily_digest_goes_once_and_only_to_teams_with_work(world):
    await world.file()
    at = world.start + timedelta(hours=3)
    staged = await send_daily_digests(
        world.session_factory, world.sender, world.i18n, world.settings, at
    )
    assert staged == 1  # the secretary of grid A; no other grid has anything open
    [digest] = world.told(SECRETARY)
    assert "Open tickets: 1" in digest
    assert "overdue: 1" in digest
    again = await send_daily_digests(
        world.session_factory, world.sender, world.i18n, world.settings, at
    )
    assert again == 0


async def test_closed_tickets_send_no_reminders(world):
    ticket_id = await world.file()
    async with world.session_factory() as session, session.begin():
        await tickets.mark_invalid(session, ticket_id, world.secretary, world.start, "重复上报")
    assert await world.sweep(world.start + timedelta(days=3)) == 0
    async with world.session_factory() as session:
        assert (await session.get(Ticket, ticket_id)).status.value == "invalid"


async def stage_new_ticket(world, ticket_id, **options) -> list[OutboxMessage]:
    """The new ticket's push to its team, staged and committed, not sent yet."""
    async with world.session_factory() as session:
        notifier = Notifier(session)
        ticket = await session.get(Ticket, ticket_id)
        with world.i18n.context():
            await push_to_team(
                session,
                notifier,
                world.i18n,
                world.settings,
                CATALOGUE,
                ticket,
                lambda: "New complaint",
                **options,
            )
        await session.commit()
    return notifier.staged


async def send(world, rows: list[OutboxMessage]) -> None:
    await world.sender.deliver(rows)
    await world.sender.wait_idle()


async def push_new_ticket(world, ticket_id, **options) -> None:
    await send(world, await stage_new_ticket(world, ticket_id, **options))


async def test_a_blocked_sole_secretary_hands_the_ticket_to_the_officer(world):
    ticket_id = await world.file()
    world.recording.blocked.add(SECRETARY)
    await push_new_ticket(world, ticket_id)
    assert world.told(SECRETARY) == []
    [handed_over] = world.told(OFFICER)
    assert "DX-000001" in handed_over
    async with world.session_factory() as session:
        secretary = await session.get(Person, world.secretary.person_id)
        assert secretary.unreachable_at is not None
        ticket = await session.get(Ticket, ticket_id)
        audience = await tickets.ticket_audience(session, ticket, world.settings.admin_ids)
        assert [p.telegram_id for p in audience.team] == [OFFICER]  # until they write again


async def test_a_sole_secretary_whose_account_is_gone_is_handed_over_like_a_block(world):
    """Telegram answers 400 "chat not found" for a deleted account: as good as a block."""
    ticket_id = await world.file()
    world.recording.gone.add(SECRETARY)
    await push_new_ticket(world, ticket_id)
    [handed_over] = world.told(OFFICER)
    assert "DX-000001" in handed_over
    async with world.session_factory() as session:
        secretary = await session.get(Person, world.secretary.person_id)
        assert secretary.unreachable_at is not None


TEAM_CHAT = -100901


async def bind_team_chat(world) -> None:
    async with world.session_factory() as session, session.begin():
        (await session.get(Grid, world.grid_id)).team_chat_id = TEAM_CHAT


async def speaks(world, telegram_id: int, locale: str) -> None:
    async with world.session_factory() as session, session.begin():
        found = await session.exec(select(Person).where(Person.telegram_id == telegram_id))
        found.one().locale = locale


def card_to(world, chat_id) -> list:
    return [call for call in messages(world.recording.calls) if call.chat_id == chat_id]


async def test_a_handed_over_card_speaks_its_new_readers_language(world):
    """The secretary reads English, the officer Chinese: the officer gets the card and its
    buttons in Chinese, not a copy of the secretary's English."""
    ticket_id = await world.file()
    world.recording.blocked.add(SECRETARY)
    await push_new_ticket(world, ticket_id)
    [card] = card_to(world, OFFICER)
    assert "DX-000001" in card.text
    assert "状态：" in card.text
    assert "Status:" not in card.text
    card.button("接单")


async def test_a_team_groups_card_handed_over_speaks_its_new_readers_language(world):
    """The group's copy is in the district's language; lost with the group when nobody in
    the team can be reached any more, it reaches an English-speaking officer in English."""
    await bind_team_chat(world)
    await speaks(world, OFFICER, "en")
    ticket_id = await world.file()
    rows = await stage_new_ticket(world, ticket_id)
    async with world.session_factory() as session, session.begin():
        secretary = await session.get(Person, world.secretary.person_id)
        await people.mark_unreachable(session, secretary, utcnow())
    world.recording.blocked.add(TEAM_CHAT)
    await send(world, rows)
    [card] = card_to(world, OFFICER)
    assert "DX-000001" in card.text
    assert "Status: waiting to be accepted" in card.text
    assert "状态" not in card.text
    card.button("Accept")


async def test_the_news_of_a_members_own_action_is_not_handed_back_to_them(world):
    """A team of one with a group: the news of what the secretary did went to the group
    only. Lost with the group, it goes to nobody: not back to the secretary, and not to
    the officer either (the one who can act on it knows)."""
    await bind_team_chat(world)
    ticket_id = await world.file()
    world.recording.blocked.add(TEAM_CHAT)
    await push_new_ticket(world, ticket_id, exclude_person_id=world.secretary.person_id)
    told = world.told(SECRETARY)
    assert [text for text in told if "DX-000001" in text] == []
    assert told  # the removal, and only that
    assert world.told(OFFICER) == []


async def test_no_commit_records_a_block_without_its_hand_over(world):
    """The failure, the mark and the officer's copy are one transaction: a crash between
    them cannot leave a push failed and nobody told."""
    ticket_id = await world.file()
    world.recording.blocked.add(SECRETARY)
    seen = []

    def snapshot(session: Session) -> None:
        session.flush()
        failed = session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.chat_id == SECRETARY, OutboxMessage.status == OutboxStatus.FAILED
            )
        ).all()
        marked = session.scalars(
            select(Person.unreachable_at).where(Person.telegram_id == SECRETARY)
        ).one()
        handed_over = session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.chat_id == OFFICER)
        ).all()
        seen.append((len(failed), marked is not None, len(handed_over)))

    event.listen(Session, "before_commit", snapshot)
    try:
        await push_new_ticket(world, ticket_id)
    finally:
        event.remove(Session, "before_commit", snapshot)
    assert any(failed for failed, _, _ in seen)
    for failed, marked, handed_over in seen:
        assert not failed or (marked and handed_over == failed)


async def push_card_with_media(world, ticket_id, *, later: timedelta = timedelta(0)) -> None:
    """The new ticket's push with its album and map pin (three rows to each recipient),
    sent ``later`` than it was staged (a restart, a 429: the rows waited)."""
    async with world.session_factory() as session:
        notifier = Notifier(session)
        ticket = await session.get(Ticket, ticket_id)
        ticket.latitude, ticket.longitude = 28.2314, 116.6021
        with world.i18n.context():
            await push_to_team(
                session,
                notifier,
                world.i18n,
                world.settings,
                CATALOGUE,
                ticket,
                lambda: "New complaint",
                with_media=True,
                report_photos=["photo-1", "photo-2"],
            )
        for row in notifier.staged:
            row.created_at -= later
        await session.commit()
    await world.sender.deliver(notifier.staged)
    await world.sender.wait_idle()


def pushed_to(world, chat_id) -> list[str]:
    return [call.name for call in world.recording.calls if call.chat_id == chat_id]


async def test_a_push_of_several_rows_is_handed_over_once_and_whole(world):
    """Album, map pin and card are one push: when the whole team has blocked the bot, the
    officer gets it once, in order, at once, however long the rows waited. (The members'
    rows alternate, as Telegram's interval between messages to one person has them.)"""
    world.sender.pacer = SendPacer(Limits(per_second=10_000, private_chat_interval=0.05))
    async with world.session_factory() as session, session.begin():
        worker = await people.get_or_create_person(session, 9105, "Sun", "zh_CN")
        await people.grant_role(session, worker.id, Role.GRID_WORKER, grid_id=world.grid_id)
    ticket_id = await world.file()
    world.recording.blocked.update({SECRETARY, 9105})

    await push_card_with_media(world, ticket_id, later=timedelta(minutes=1))

    assert pushed_to(world, OFFICER) == ["SendMediaGroup", "SendLocation", "SendMessage"]
    await world.sender.drain()  # nothing else was owed to anyone
    await world.sender.wait_idle()
    assert pushed_to(world, OFFICER) == ["SendMediaGroup", "SendLocation", "SendMessage"]
    async with world.session_factory() as session:
        rows = (await session.exec(select(OutboxMessage))).all()
    tried = [row for row in rows if row.chat_id in (SECRETARY, 9105)]
    assert [row.status for row in tried] == [OutboxStatus.FAILED] * 6
    assert sum(row.attempts for row in tried) == 2  # one refusal each; the rest given up


async def test_a_push_nobody_can_take_over_is_logged_as_an_error(world, caplog):
    """The secretary, the officer and the admin all blocked the bot: the push is lost, and
    the operator reads which ticket's, and why, in the log."""
    ticket_id = await world.file()
    world.recording.blocked.update({SECRETARY, OFFICER, ADMIN})

    await push_card_with_media(world, ticket_id)

    assert [call for call in world.recording.calls if call.chat_id > 0] == []
    [error] = [record for record in caplog.records if record.levelname == "ERROR"]
    assert "DX-000001" in error.getMessage()
    assert "nobody who can act on it can be reached" in error.getMessage()


async def test_a_blocked_member_of_a_team_changes_nothing_for_the_others(world):
    async with world.session_factory() as session, session.begin():
        worker = await people.get_or_create_person(session, 9105, "Sun", "zh_CN")
        await people.grant_role(session, worker.id, Role.GRID_WORKER, grid_id=world.grid_id)
    ticket_id = await world.file()
    world.recording.blocked.add(SECRETARY)
    await push_new_ticket(world, ticket_id)
    assert len(world.told(9105)) == 1  # their own copy, not a second one
    assert world.told(OFFICER) == []


async def test_a_grid_without_a_reachable_team_tells_its_officer_once_when_overdue(world):
    ticket_id = await world.file()
    world.recording.blocked.add(SECRETARY)
    await push_new_ticket(world, ticket_id)  # the officer now stands in for the team
    assert await world.sweep(world.start + timedelta(minutes=100)) == 1
    assert await world.sweep(world.start + timedelta(hours=2, seconds=1)) == 1
    await world.sender.wait_idle()
    told = world.told(OFFICER)
    assert sum("提醒" in text for text in told) == 1
    assert sum("超期" in text for text in told) == 1


async def test_writing_to_the_bot_again_makes_a_person_reachable(world):
    ticket_id = await world.file()
    world.recording.blocked.add(SECRETARY)
    await push_new_ticket(world, ticket_id)
    async with world.session_factory() as session, session.begin():
        await people.identify(session, SECRETARY, "Liu", "en", world.settings.admin_ids)
    async with world.session_factory() as session:
        ticket = await session.get(Ticket, ticket_id)
        audience = await tickets.ticket_audience(session, ticket, world.settings.admin_ids)
        assert [p.telegram_id for p in audience.team] == [SECRETARY]


async def test_the_weekly_summary_reaches_community_officers_once_a_week(world):
    await world.file()
    async with world.session_factory() as session, session.begin():
        (await session.get(Grid, world.grid_id)).name = "R&F<1>"  # markup-like, escaped
    at = world.start + timedelta(hours=3)
    staged = await send_weekly_summaries(
        world.session_factory, world.sender, world.i18n, world.settings, at
    )
    assert staged == 1
    [summary] = world.told(OFFICER)
    assert "大富社区" in summary
    assert "A R&amp;F&lt;1&gt;：受理 1，办结 0，在办 1，超期 1" in summary
    assert world.told(SECRETARY) == []
    again = await send_weekly_summaries(
        world.session_factory, world.sender, world.i18n, world.settings, at
    )
    assert again == 0


async def test_a_reminder_says_how_long_is_left(world):
    """An absolute time alone makes the reader work out how much time they have."""
    await bind_team_chat(world)
    await world.file()
    assert await world.sweep(world.start + timedelta(minutes=96)) == 1
    [reminder] = world.told(SECRETARY)
    assert "(24 minutes left)" in reminder.splitlines()[0]
    [in_group] = world.told(TEAM_CHAT)
    assert "（还剩 24 分钟）" in in_group.splitlines()[0]


async def test_a_late_overdue_notice_and_an_escalation_say_how_long_overdue(world):
    """The bot was down for a day: the overdue notice that comes late says how late, and
    the escalation always says how long the ticket has been overdue."""
    await world.file()
    assert await world.sweep(world.start + timedelta(hours=27, minutes=30)) == 5
    respond_overdue, resolve_overdue = (
        text.splitlines()[0] for text in world.told(SECRETARY) if "Overdue" in text
    )
    assert "was not accepted by" in respond_overdue
    assert respond_overdue.endswith(", 1 day 1 hour ago.")
    assert resolve_overdue.endswith(", 3 hours 30 minutes ago.")
    [escalation] = world.told(ADMIN)  # the respond deadline's; the resolve one is due later
    assert "仍未接单，已超期 1 天 1 小时（时限" in escalation.splitlines()[0]


async def test_an_overdue_notice_on_time_does_not_count_minutes(world):
    await world.file()
    assert await world.sweep(world.start + timedelta(hours=2, seconds=30)) == 2  # + reminder
    [overdue] = world.told(SECRETARY)
    assert overdue.startswith("🔴 Overdue: DX-000001 was not accepted by ")
    assert " ago" not in overdue.splitlines()[0]


async def file_many(world, count, *, category="safety", grid_id=-1) -> None:
    """``count`` tickets filed at ``self.start`` (in grid A unless told otherwise)."""
    async with world.session_factory() as session, session.begin():
        reporter = await people.get_or_create_person(session, RESIDENT, "Wang", "zh_CN")
        for _ in range(count):
            draft = tickets.TicketDraft(
                source=TicketSource.RESIDENT,
                category=category,
                description="电线裸露",
                grid_id=world.grid_id if grid_id == -1 else grid_id,
            )
            await tickets.create_ticket(
                session, draft, reporter, CATALOGUE, world.start, daily_limit=1000
            )


async def digests(world, at) -> int:
    return await send_daily_digests(
        world.session_factory, world.sender, world.i18n, world.settings, at
    )


async def test_a_digest_names_its_queue_for_readers_of_several(world):
    """The admins hold every desk and the district's general queue: each digest says
    which queue it counts, or they read two "good mornings" with different numbers."""
    await file_many(world, 1, category="enterprise")
    await file_many(world, 2, grid_id=None)
    assert await digests(world, world.start + timedelta(hours=1)) == 2
    desk, general = world.told(ADMIN)
    assert "在办工单 1 件" in desk
    assert "承办：区级助企服务专席" in desk
    assert "在办工单 2 件" in general
    assert "承办：区级综合队列" in general


async def test_a_digest_of_many_tickets_fits_one_message(world):
    """Telegram refuses a message over 4096 characters: a queue with 150 overdue tickets
    lists the most overdue and points to /queue for the rest."""
    await file_many(world, 150)
    await digests(world, world.start + timedelta(hours=3))
    [digest] = world.told(SECRETARY)
    assert len(digest) <= 4096
    assert "Open tickets: 150, due today: 0, overdue: 150." in digest
    assert "DX-000001 · due " in digest
    assert "…and 130 more." in digest
    assert digest.endswith("Send /queue for the whole list.")


async def test_an_overdue_ticket_in_the_digest_says_how_long_overdue(world):
    await world.file()
    await digests(world, world.start + timedelta(hours=5))
    [digest] = world.told(SECRETARY)
    assert "DX-000001 · due " in digest
    assert ", overdue by 3 hours" in digest


async def test_the_weekly_summary_counts_the_communitys_own_queue(world):
    """Tickets in the community's queue (its categories, or sent up by a grid) are the
    officers' own work: the summary counts them too, not only the grids'."""
    await file_many(world, 2, category="utilities")  # routed to the community
    at = world.start + timedelta(hours=3)
    assert await send_weekly_summaries(
        world.session_factory, world.sender, world.i18n, world.settings, at
    )
    [summary] = world.told(OFFICER)
    assert "社区本级：受理 2，办结 0，在办 2，超期 2" in summary
    assert "A 网格A：受理 0，办结 0，在办 0，超期 0" in summary


async def test_a_reworked_tickets_alarms_do_not_show_the_rejected_resolution(world):
    """Sent back by the reporter, the ticket is being handled again: its overdue notice
    must not show the old resolution as if it were the result (the history keeps it)."""
    ticket_id = await world.file()
    async with world.session_factory() as session, session.begin():
        await tickets.accept(session, ticket_id, world.secretary, world.start)
        await tickets.resolve(session, ticket_id, world.secretary, world.start, note="已修复")
        reporter = people.Actor(
            (await session.get(Ticket, ticket_id)).reporter_id, RESIDENT, is_admin=False
        )
        await tickets.rate(
            session, ticket_id, reporter, world.start, Rating.UNSATISFIED, catalogue=CATALOGUE
        )
    assert await world.sweep(world.start + timedelta(hours=24, seconds=1)) >= 1
    [overdue] = [text for text in world.told(SECRETARY) if "Overdue" in text]
    assert "Status: being handled" in overdue
    assert "已修复" not in overdue
