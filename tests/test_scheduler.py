"""The ticker's jobs, run directly with a fixed clock."""

from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import update
from sqlmodel import select

from redgrid.bot.factory import create_bot
from redgrid.bot.i18n import create_i18n
from redgrid.bot.notifier import OutboxSender
from redgrid.bot.settings import Settings
from redgrid.bot.storage import DatabaseStorage
from redgrid.models import (
    FsmRecord,
    Grid,
    OutboxMessage,
    OutboxStatus,
    Role,
    Ticket,
    TicketSource,
    TicketStatus,
)
from redgrid.models.base import utcnow
from redgrid.scheduler import ticker
from redgrid.scheduler.jobs import close_unrated_tickets, purge_finished_pushes
from redgrid.services import people, tickets
from redgrid.services.categories import load_categories
from redgrid.services.district import import_district
from redgrid.services.district_file import parse_district_file
from tests.bot_harness import TOKEN, RecordingSession, messages
from tests.district_files import dumps, small_district


async def resolved_ticket(session_factory, resolved_at):
    """A ticket in grid A, resolved at ``resolved_at``, reported by a zh-speaking resident."""
    catalogue = load_categories()
    async with session_factory() as session, session.begin():
        await import_district(session, parse_district_file(dumps(small_district())))
        grid = (await session.exec(select(Grid).where(Grid.code == "A"))).one()
        reporter = await people.get_or_create_person(session, 9001, "Wang", "zh_CN")
        secretary = await people.get_or_create_person(session, 9002, "Liu", "en")
        await people.grant_role(session, secretary.id, Role.SECRETARY, grid_id=grid.id)
        actor = people.Actor(secretary.id, secretary.telegram_id, is_admin=False)
        draft = tickets.TicketDraft(
            source=TicketSource.RESIDENT,
            category="sanitation",
            description="垃圾没有清运",
            grid_id=grid.id,
        )
        created = resolved_at - timedelta(hours=5)
        ticket = await tickets.create_ticket(session, draft, reporter, catalogue, created)
        await tickets.accept(session, ticket, actor, created + timedelta(hours=1))
        await tickets.resolve(session, ticket, actor, resolved_at, note="已清运")
        return ticket.id


async def test_unrated_tickets_close_after_the_configured_days_and_the_reporter_hears(
    database_url, session_factory
):
    settings = Settings(bot_token=TOKEN, database_url=database_url, auto_close_days=3)
    now = utcnow()
    ticket_id = await resolved_ticket(session_factory, now - timedelta(days=2))
    async with session_factory() as session, session.begin():
        neighbour = await people.get_or_create_person(session, 9003, "Ann", "en")
        await tickets.follow(session, ticket_id, neighbour.id, now)
    recording = RecordingSession()
    i18n = create_i18n(settings.default_locale)
    sender = OutboxSender(create_bot(settings, session=recording), session_factory, i18n=i18n)

    assert await close_unrated_tickets(session_factory, sender, i18n, settings, now) == 0
    later = now + timedelta(days=1, minutes=1)
    assert await close_unrated_tickets(session_factory, sender, i18n, settings, later) == 1
    assert await close_unrated_tickets(session_factory, sender, i18n, settings, later) == 0

    async with session_factory() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket.status is TicketStatus.CLOSED
        assert ticket.rating is None
    notice, followed = messages(recording.calls)
    assert notice.chat_id == 9001
    assert "3 天内未评价" in notice.text
    assert followed.chat_id == 9003  # the follower is not thanked for a report they did not make
    assert followed.text == (
        f"{ticket.number}, which you follow, was closed: it was resolved and not rated within"
        " 3 days."
    )


@pytest.mark.parametrize(
    ("local_start", "catch_up"),
    [
        ("2026-11-30 08:00", set()),  # a Monday before the digest time: the cron jobs send
        ("2026-11-30 09:00", {"digest-catch-up", "summary-catch-up"}),  # restarted at 9
        ("2026-12-02 07:00", {"summary-catch-up"}),  # Wednesday: this week's, if not sent
    ],
)
def test_a_start_after_the_digest_time_catches_up_what_is_due(monkeypatch, local_start, catch_up):
    settings = Settings(bot_token=TOKEN, digest_time="08:30")

    class StartedAt(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.fromisoformat(local_start).replace(tzinfo=tz)

    monkeypatch.setattr(ticker, "datetime", StartedAt)
    app = SimpleNamespace(
        settings=settings,
        session_factory=None,
        sender=SimpleNamespace(drain=None),
        i18n=None,
        catalogue=None,
        dispatcher=SimpleNamespace(storage=None),
    )
    jobs = {job.id for job in ticker.create_ticker(app).get_jobs()}
    every_start = {
        "outbox",
        "deadlines",
        "close-unrated",
        "finished-pushes",
        "daily-digest",
        "weekly-summary",
    }
    assert every_start <= jobs
    assert jobs - every_start == (catch_up)


async def test_drafts_abandoned_for_30_days_are_deleted_every_hour(database_url, session_factory):
    """A draft nobody touched for 30 days (a description, a place: personal data) is not kept
    for ever: with the database storage the ticker deletes it, and only it; with Redis,
    its keys expire by themselves (tests/test_redis_storage.py)."""
    storage = DatabaseStorage(session_factory)
    abandoned, fresh = (StorageKey(bot_id=1, chat_id=n, user_id=n) for n in (1, 2))
    for key in (abandoned, fresh):
        await storage.set_state(key, "Complaint:description")
        await storage.set_data(key, {"category": "noise"})
    async with session_factory.begin() as session:
        await session.exec(
            update(FsmRecord)
            .where(FsmRecord.key == storage.record_key(abandoned))
            .values(updated_at=utcnow() - timedelta(days=30, minutes=1))
        )
    settings = Settings(bot_token=TOKEN, database_url=database_url)
    app = SimpleNamespace(
        settings=settings,
        session_factory=session_factory,
        sender=SimpleNamespace(drain=None),
        i18n=None,
        catalogue=None,
        dispatcher=SimpleNamespace(storage=storage),
    )
    job = ticker.create_ticker(app).get_job("abandoned-drafts")
    assert job.trigger.interval == timedelta(hours=1)
    assert await job.func(*job.args) == 1
    assert await storage.get_state(abandoned) is None
    assert await storage.get_data(fresh) == {"category": "noise"}


async def test_pushes_sent_or_failed_longer_ago_than_the_retention_are_deleted(
    database_url, session_factory
):
    """A sent push's text (names, phones, answers) is kept for OUTBOX_RETENTION_DAYS, then
    deleted; a push still owed to someone stays whatever its age."""
    settings = Settings(bot_token=TOKEN, database_url=database_url, outbox_retention_days=30)
    now = utcnow()
    ages = {
        "old sent": (31, OutboxStatus.SENT),
        "old failed": (31, OutboxStatus.FAILED),
        "old pending": (31, OutboxStatus.PENDING),
        "recent sent": (29, OutboxStatus.SENT),
    }
    async with session_factory.begin() as session:
        for label, (days, status) in ages.items():
            session.add(
                OutboxMessage(
                    chat_id=1,
                    method="sendMessage",
                    params={"text": label},
                    status=status,
                    created_at=now - timedelta(days=days),
                )
            )

    assert await purge_finished_pushes(session_factory, settings, now) == 2

    async with session_factory() as session:
        left = {row.params["text"] for row in (await session.exec(select(OutboxMessage))).all()}
    assert left == {"old pending", "recent sent"}


@pytest.mark.parametrize(
    ("days", "english", "chinese"),
    [(1, "within 1 day.", "1 天内未评价"), (0.5, "within 12 hours.", "12 小时内未评价")],
)
async def test_the_auto_close_notice_counts_its_period_in_words(
    database_url, session_factory, days, english, chinese
):
    """AUTO_CLOSE_DAYS may be 1 or a fraction: not "within 1 days", "within 0.5 days"."""
    settings = Settings(bot_token=TOKEN, database_url=database_url, auto_close_days=days)
    now = utcnow()
    ticket_id = await resolved_ticket(session_factory, now - timedelta(days=days, minutes=1))
    async with session_factory() as session, session.begin():
        neighbour = await people.get_or_create_person(session, 9003, "Ann", "en")
        await tickets.follow(session, ticket_id, neighbour.id, now)
    recording = RecordingSession()
    i18n = create_i18n(settings.default_locale)
    sender = OutboxSender(create_bot(settings, session=recording), session_factory, i18n=i18n)

    assert await close_unrated_tickets(session_factory, sender, i18n, settings, now) == 1
    notice, followed = messages(recording.calls)
    assert chinese in notice.text
    assert followed.text.endswith(english)
