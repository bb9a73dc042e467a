"""Deadlines as rows: reminders before them, overdue notices at them, escalation after.

Every change to a ticket calls ``sync_alarms``, which makes the pending alarms match the
ticket's current deadlines and status: a dispatched ticket has respond and resolve
alarms, an accepted one resolve alarms, a resolved or closed one none. So extend,
transfer and rework move the reminders with the deadlines, and nothing reminds anyone of
a ticket that is done. An alarm that already fired for a deadline is never made again.

The sweep claims due alarms atomically (PostgreSQL ``FOR UPDATE SKIP LOCKED``; on SQLite,
which has one writer at a time, a conditional update), so several bot instances fire
each alarm once, and an alarm missed while the bot was down fires at the next sweep.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.models import AlarmKind, DeadlineAlarm, Ticket, TicketStatus


@dataclass(frozen=True, slots=True)
class DeadlinePolicy:
    """When to remind and escalate; ``REMINDER_SHARE`` and ``ESCALATION_GRACE_HOURS``."""

    reminder_share: float = 0.8  # remind when this share of the window has passed
    escalation_grace: timedelta = timedelta(hours=24)  # overdue this long: tell the district


# Set once at start-up from the settings (``configure``); every sync uses it.
_policy = DeadlinePolicy()


def configure(policy: DeadlinePolicy) -> None:
    global _policy
    _policy = policy


def current_policy() -> DeadlinePolicy:
    return _policy


_RESPOND = (AlarmKind.RESPOND_REMINDER, AlarmKind.RESPOND_OVERDUE, AlarmKind.RESPOND_ESCALATION)
_RESOLVE = (AlarmKind.RESOLVE_REMINDER, AlarmKind.RESOLVE_OVERDUE, AlarmKind.RESOLVE_ESCALATION)


def _wanted(ticket: Ticket, now: datetime) -> dict[AlarmKind, tuple[datetime, datetime]]:
    """Alarm kind → (deadline, due time) for the ticket as it stands."""
    families = []
    if ticket.status is TicketStatus.DISPATCHED:
        families.append((_RESPOND, ticket.respond_by))
    if ticket.status in (TicketStatus.DISPATCHED, TicketStatus.ACCEPTED):
        families.append((_RESOLVE, ticket.resolve_by))
    wanted = {}
    for (reminder, overdue, escalation), deadline in families:
        window = max(deadline - now, timedelta(0))
        wanted[reminder] = (deadline, deadline - (1 - _policy.reminder_share) * window)
        wanted[overdue] = (deadline, deadline)
        wanted[escalation] = (deadline, deadline + _policy.escalation_grace)
    return wanted


async def sync_alarms(
    session: AsyncSession, ticket: Ticket, now: datetime, *, new_ticket: bool = False
) -> None:
    """Make the ticket's alarms match its deadlines and status (see the module docstring).

    A reminder's window starts when its deadline was set: the reminder for a deadline set
    now falls when ``reminder_share`` of the time until it has passed. ``new_ticket``: the
    ticket was created in this transaction, so it has no alarms yet to look up.
    """
    wanted = _wanted(ticket, now)
    existing = (
        []
        if new_ticket
        else (await session.exec(_ALARMS_OF_TICKET, params={"ticket_id": ticket.id})).all()
    )
    kept: set[AlarmKind] = set()
    for alarm in existing:
        deadline = wanted.get(alarm.kind, (None,))[0]
        if alarm.deadline_at == deadline:
            kept.add(alarm.kind)
        elif alarm.fired_at is None:
            await session.delete(alarm)
    await session.flush()  # the deletes (and the ticket) before the new rows
    added = [
        {"ticket_id": ticket.id, "kind": kind, "deadline_at": deadline, "due_at": due}
        for kind, (deadline, due) in wanted.items()
        if kind not in kept
    ]
    if added:
        # One statement for all of them (the ORM would insert them one by one on SQLite).
        await session.exec(_ADD_ALARM, params=[{**row, "created_at": now} for row in added])


_ALARMS_OF_TICKET = select(DeadlineAlarm).where(DeadlineAlarm.ticket_id == bindparam("ticket_id"))
_ADD_ALARM = insert(DeadlineAlarm.__table__)


async def claim_due_alarms(
    session: AsyncSession, now: datetime, *, limit: int = 100
) -> list[DeadlineAlarm]:
    """Take up to ``limit`` due alarms for this caller, oldest first; nobody else gets them.

    Call inside a transaction and stage the notices in the same one: if it rolls back,
    the alarms are due again.
    """
    due = (
        select(DeadlineAlarm)
        .where(col(DeadlineAlarm.fired_at).is_(None), DeadlineAlarm.due_at <= now)
        .order_by(col(DeadlineAlarm.due_at), col(DeadlineAlarm.id))
        .limit(limit)
    )
    dialect = (await session.connection()).dialect.name
    if dialect == "postgresql":
        alarms = (await session.exec(due.with_for_update(skip_locked=True))).all()
        if alarms:
            await session.exec(
                update(DeadlineAlarm)
                .where(col(DeadlineAlarm.id).in_([alarm.id for alarm in alarms]))
                .values(fired_at=now)
                .execution_options(synchronize_session=False)
            )
        for alarm in alarms:
            alarm.fired_at = now
        return list(alarms)
    claimed = []
    for alarm in (await session.exec(due)).all():
        result = await session.exec(
            update(DeadlineAlarm)
            .where(col(DeadlineAlarm.id) == alarm.id, col(DeadlineAlarm.fired_at).is_(None))
            .values(fired_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            alarm.fired_at = now
            claimed.append(alarm)
    return claimed
