"""The ticker's jobs. Each reads its work from the database and claims it atomically, so
a restart loses nothing and several bot instances do each piece of work once."""

import html
import logging
from dataclasses import asdict
from datetime import datetime, timedelta

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.notifier import Notifier, OutboxSender
from redgrid.bot.pushes import (
    duration_words,
    local_time,
    locale_of,
    push_to_followers,
    push_to_reporter,
    push_to_team,
    queue_name,
)
from redgrid.bot.settings import Settings
from redgrid.models import AlarmKind, Community, DeadlineAlarm, Person, Ticket
from redgrid.models.base import utcnow
from redgrid.services import deadlines, people, retention
from redgrid.services.categories import CategoryCatalogue
from redgrid.services.digest import (
    CommunityWeek,
    QueueDigest,
    QueueWeek,
    claim_run,
    communities_with_grids,
    community_week,
    current_deadline,
    open_queue_digests,
)
from redgrid.services.tickets import close_unrated, ticket_audience, ticket_team

logger = logging.getLogger(__name__)


async def close_unrated_tickets(
    session_factory: async_sessionmaker[AsyncSession],
    sender: OutboxSender,
    i18n: I18n,
    settings: Settings,
    now: datetime | None = None,
) -> int:
    """Close resolved tickets nobody rated within ``AUTO_CLOSE_DAYS``, and tell the reporter."""
    now = now or utcnow()
    async with session_factory() as session:
        notifier = Notifier(session)
        period = timedelta(days=settings.auto_close_days)
        closed = await close_unrated(session, now, period)
        with i18n.context():
            for ticket in closed:
                audience = await ticket_audience(session, ticket, settings.admin_ids)
                await push_to_reporter(
                    session,
                    notifier,
                    i18n,
                    settings,
                    ticket,
                    lambda ticket=ticket: _(
                        "Ticket {number} was closed: it was resolved and not rated within"
                        " {period}. Thank you for reporting it."
                    ).format(number=ticket.number, period=duration_words(period)),
                    followers=False,
                    audience=audience,
                )
                await push_to_followers(
                    session,
                    notifier,
                    i18n,
                    settings,
                    ticket,
                    lambda ticket=ticket: _(
                        "{number}, which you follow, was closed: it was resolved and not rated"
                        " within {period}."
                    ).format(number=ticket.number, period=duration_words(period)),
                    audience=audience,
                )
        await session.commit()
    if notifier.staged:
        await sender.deliver(notifier.staged)
    if closed:
        logger.info("closed %d unrated tickets", len(closed))
    return len(closed)


async def purge_finished_pushes(
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    now: datetime | None = None,
) -> int:
    """Delete pushes sent or failed more than ``OUTBOX_RETENTION_DAYS`` ago (their text
    is personal data that has done its job)."""
    keep = timedelta(days=settings.outbox_retention_days)
    async with session_factory.begin() as session:
        purged = await retention.purge_finished_pushes(session, now or utcnow(), keep)
    if purged:
        logger.info(
            "deleted %d pushes older than %s days", purged, f"{settings.outbox_retention_days:g}"
        )
    return purged


REMINDERS = (AlarmKind.RESPOND_REMINDER, AlarmKind.RESOLVE_REMINDER)
OVERDUES = (AlarmKind.RESPOND_OVERDUE, AlarmKind.RESOLVE_OVERDUE)
# An overdue notice this late (the bot was down at the deadline) says how late it is.
LATE_NOTICE = timedelta(hours=1)


def _alarm_headline(alarm: DeadlineAlarm, ticket: Ticket, settings: Settings, now: datetime) -> str:
    """The alarm's first line: the deadline in local time, and how long is left before it
    or how long it is overdue (an overdue notice says so only when it comes late, after
    the bot was down at the deadline)."""
    late = now - alarm.deadline_at
    if alarm.kind in OVERDUES and late >= LATE_NOTICE:
        template = {
            AlarmKind.RESPOND_OVERDUE: _(
                "🔴 Overdue: {number} was not accepted by {time}, {late} ago."
            ),
            AlarmKind.RESOLVE_OVERDUE: _(
                "🔴 Overdue: {number} was not resolved by {time}, {late} ago."
            ),
        }[alarm.kind]
    else:
        template = {
            AlarmKind.RESPOND_REMINDER: _("⏰ Reminder: accept {number} by {time} ({left} left)."),
            AlarmKind.RESOLVE_REMINDER: _("⏰ Reminder: resolve {number} by {time} ({left} left)."),
            AlarmKind.RESPOND_OVERDUE: _("🔴 Overdue: {number} was not accepted by {time}."),
            AlarmKind.RESOLVE_OVERDUE: _("🔴 Overdue: {number} was not resolved by {time}."),
            AlarmKind.RESPOND_ESCALATION: _(
                "🚨 Escalated to the district: {number} is still not accepted, {late} overdue"
                " (due {time})."
            ),
            AlarmKind.RESOLVE_ESCALATION: _(
                "🚨 Escalated to the district: {number} is still not resolved, {late} overdue"
                " (due {time})."
            ),
        }[alarm.kind]
    return template.format(
        number=ticket.number,
        time=local_time(alarm.deadline_at, settings),
        left=duration_words(-late),
        late=duration_words(late),
    )


async def _alarm_recipients(
    session: AsyncSession, alarm: DeadlineAlarm, ticket: Ticket, settings: Settings
) -> list[list[Person] | None]:
    """Who hears an alarm: the team for a reminder; the team and the community officers at
    the deadline; the district admins after the grace. None stands for the whole team.
    A grid with no reachable member hands its tickets to the officers, who then hear the
    overdue notice once, as the team."""
    if alarm.kind in REMINDERS:
        return [None]
    if alarm.kind in OVERDUES:
        officers = (
            await people.community_officers(session, ticket.community_id)
            if ticket.community_id is not None and ticket.grid_id is not None
            else []
        )
        team, _team_chat_id = await ticket_team(session, ticket, settings.admin_ids)
        on_team = {person.id for person in team}
        return [None, [officer for officer in officers if officer.id not in on_team]]
    admins = await people.district_admins(session, settings.admin_ids)
    if not admins:
        logger.warning(
            "escalation of %s reaches nobody: no district admin (ADMIN_IDS) has opened the bot",
            ticket.number,
        )
    return [admins]


async def sweep_deadlines(
    session_factory: async_sessionmaker[AsyncSession],
    sender: OutboxSender,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
    now: datetime | None = None,
    *,
    batch: int = 100,
) -> int:
    """Fire every due alarm once: claim a batch, stage its notices, commit, repeat.

    Each alarm's notices are staged in a savepoint of their own: an alarm that fails (a
    ticket the code cannot render) is logged and dropped, and the batch goes on, so one
    broken ticket cannot hold back every reminder of the district, tick after tick.
    """
    now = now or utcnow()
    fired = 0
    while True:
        async with session_factory() as session:
            notifier = Notifier(session)
            alarms = await deadlines.claim_due_alarms(session, now, limit=batch)
            with i18n.context():
                for alarm in alarms:
                    if alarm.kind in REMINDERS and now >= alarm.deadline_at:
                        continue  # the bot was down past the deadline: the overdue notice says it
                    staged = len(notifier.staged)
                    try:
                        async with session.begin_nested():
                            await _stage_alarm(
                                session, notifier, i18n, settings, catalogue, alarm, now
                            )
                    except Exception:
                        logger.exception(
                            "alarm %s of ticket %s dropped: its notices could not be made",
                            alarm.id,
                            alarm.ticket_id,
                        )
                        del notifier.staged[staged:]  # rolled back with the savepoint
            await session.commit()
        if notifier.staged:
            await sender.deliver(notifier.staged)
        fired += len(alarms)
        if len(alarms) < batch:
            return fired


async def _stage_alarm(
    session: AsyncSession,
    notifier: Notifier,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
    alarm: DeadlineAlarm,
    now: datetime,
) -> None:
    ticket = await session.get(Ticket, alarm.ticket_id)
    for recipients in await _alarm_recipients(session, alarm, ticket, settings):
        await push_to_team(
            session,
            notifier,
            i18n,
            settings,
            catalogue,
            ticket,
            lambda: _alarm_headline(alarm, ticket, settings, now),
            to=recipients,
        )


# A digest lists this many tickets of each kind (overdue, due today), the most pressing
# first, so that it stays far within Telegram's 4096 characters; /queue has the rest.
DIGEST_LISTED = 20


def _digest_line(ticket: Ticket, settings: Settings, now: datetime) -> str:
    deadline = current_deadline(ticket)
    if deadline < now:
        return _("{number} · due {time}, overdue by {late}").format(
            number=ticket.number,
            time=local_time(deadline, settings),
            late=duration_words(now - deadline),
        )
    return _("{number} · due {time}").format(
        number=ticket.number, time=local_time(deadline, settings)
    )


def _digest_section(
    heading: str, listed: list[Ticket], settings: Settings, now: datetime
) -> list[str]:
    lines = [heading]
    lines.extend(_digest_line(ticket, settings, now) for ticket in listed[:DIGEST_LISTED])
    if len(listed) > DIGEST_LISTED:
        lines.append(_("…and {count} more.").format(count=len(listed) - DIGEST_LISTED))
    return lines


def _digest_text(digest: QueueDigest, queue: str, settings: Settings, now: datetime) -> str:
    lines = [
        _("☀️ Good morning. Open tickets: {open}, due today: {today}, overdue: {overdue}.").format(
            open=len(digest.open), today=len(digest.due_today), overdue=len(digest.overdue)
        ),
        _("Queue: {queue}").format(queue=html.escape(queue)),
    ]
    if digest.overdue:
        lines.extend(_digest_section(_("🔴 Overdue:"), digest.overdue, settings, now))
    if digest.due_today:
        lines.extend(_digest_section(_("🟠 Due today:"), digest.due_today, settings, now))
    lines.append(_("Send /queue for the whole list."))
    return "\n".join(lines)


async def send_daily_digests(
    session_factory: async_sessionmaker[AsyncSession],
    sender: OutboxSender,
    i18n: I18n,
    settings: Settings,
    now: datetime | None = None,
) -> int:
    """Each queue with open tickets gets its digest once a day, whichever instance runs
    first (a team with nothing open gets nothing); returns how many were staged. The
    digest names its queue: the admins get one per desk, and officers may get several."""
    now = now or utcnow()
    period = now.astimezone(settings.tz).date().isoformat()
    async with session_factory() as session:
        if not await claim_run(session, "daily-digest", period):
            return 0
        notifier = Notifier(session)
        for digest in await open_queue_digests(session, now, settings.tz):
            audience = await ticket_audience(session, digest.example, settings.admin_ids)
            chats = [(p.telegram_id, locale_of(p, settings), p.id) for p in audience.team]
            if audience.team_chat_id is not None:
                chats.append((audience.team_chat_id, settings.default_locale, None))
            for chat_id, locale, person_id in chats:
                with i18n.context(), i18n.use_locale(locale):
                    queue = await queue_name(session, digest.example)
                    text = _digest_text(digest, queue, settings, now)
                    notifier.message(chat_id, text, person_id=person_id)
        await session.commit()
    if notifier.staged:
        await sender.deliver(notifier.staged)
    return len(notifier.staged)


def _week_text(community: Community, week: CommunityWeek) -> str:
    lines = [_("📊 The week in {community}:").format(community=html.escape(community.name))]
    lines.extend(
        _(
            "{code} {name}: received {received}, resolved {resolved}, open {open},"
            " overdue {overdue}"
        ).format(code=html.escape(grid.code), name=html.escape(grid.name), **asdict(counts))
        for grid, counts in week.grids
    )
    if week.own != QueueWeek():
        lines.append(
            _(
                "The community's own queue: received {received}, resolved {resolved},"
                " open {open}, overdue {overdue}"
            ).format(**asdict(week.own))
        )
    return "\n".join(lines)


async def send_weekly_summaries(
    session_factory: async_sessionmaker[AsyncSession],
    sender: OutboxSender,
    i18n: I18n,
    settings: Settings,
    now: datetime | None = None,
) -> int:
    """Each community officer gets the week of their community's grids and its own
    queue, once a week."""
    now = now or utcnow()
    year, week_number, _weekday = now.astimezone(settings.tz).isocalendar()
    async with session_factory() as session:
        if not await claim_run(session, "weekly-summary", f"{year}-W{week_number:02d}"):
            return 0
        notifier = Notifier(session)
        for community in await communities_with_grids(session):
            officers = await people.community_officers(session, community.id)
            if not officers:
                continue
            week = await community_week(session, community.id, now)
            for officer in officers:
                with i18n.context(), i18n.use_locale(locale_of(officer, settings)):
                    text = _week_text(community, week)
                notifier.message(officer.telegram_id, text, person_id=officer.id)
        await session.commit()
    if notifier.staged:
        await sender.deliver(notifier.staged)
    return len(notifier.staged)
