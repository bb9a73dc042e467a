"""What each queue has open, for the morning digest and the officers' weekly summary."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.models import OPEN_STATUSES, Community, Grid, ScheduledRun, Ticket, TicketStatus
from redgrid.models.base import utcnow


def current_deadline(ticket: Ticket) -> datetime:
    """The deadline the team is working to: accepting, then resolving."""
    return ticket.respond_by if ticket.status is TicketStatus.DISPATCHED else ticket.resolve_by


@dataclass
class QueueDigest:
    """Open tickets of one queue (a grid, a community, a desk or the district)."""

    example: Ticket  # any ticket of the queue: who receives the digest follows from it
    open: list[Ticket] = field(default_factory=list)
    due_today: list[Ticket] = field(default_factory=list)
    overdue: list[Ticket] = field(default_factory=list)


async def open_queue_digests(
    session: AsyncSession, now: datetime, tz: ZoneInfo
) -> list[QueueDigest]:
    """Every queue with open tickets; queues with nothing open are left out."""
    tickets = (
        await session.exec(
            select(Ticket).where(col(Ticket.status).in_(OPEN_STATUSES)).order_by(col(Ticket.id))
        )
    ).all()
    today = now.astimezone(tz).date()
    queues: dict[tuple, QueueDigest] = {}
    for ticket in tickets:
        key = (ticket.grid_id, None if ticket.grid_id else ticket.community_id, ticket.desk)
        digest = queues.setdefault(key, QueueDigest(example=ticket))
        digest.open.append(ticket)
        deadline = current_deadline(ticket)
        if deadline < now:
            digest.overdue.append(ticket)
        elif deadline.astimezone(tz).date() == today:
            digest.due_today.append(ticket)
    for digest in queues.values():
        digest.overdue.sort(key=current_deadline)
        digest.due_today.sort(key=current_deadline)
    return list(queues.values())


@dataclass(frozen=True, slots=True)
class QueueWeek:
    received: int = 0
    resolved: int = 0
    open: int = 0
    overdue: int = 0


@dataclass(frozen=True, slots=True)
class CommunityWeek:
    grids: list[tuple[Grid, QueueWeek]]  # each active grid, by code
    own: QueueWeek  # the community's own queue: its categories, and what grids sent up


async def community_week(session: AsyncSession, community_id: int, now: datetime) -> CommunityWeek:
    """Per grid of a community, and for the community's own queue: tickets received and
    resolved in the last 7 days, open and overdue now."""
    since = now - timedelta(days=7)
    grids = (
        await session.exec(
            select(Grid)
            .where(Grid.community_id == community_id, col(Grid.active))
            .order_by(col(Grid.code))
        )
    ).all()
    tickets = (
        await session.exec(
            select(Ticket).where(Ticket.community_id == community_id, col(Ticket.desk).is_(None))
        )
    ).all()
    counts: defaultdict[int | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for ticket in tickets:
        queue_counts = counts[ticket.grid_id]  # None: the community's own queue
        queue_counts["received"] += ticket.created_at >= since
        queue_counts["resolved"] += bool(ticket.resolved_at and ticket.resolved_at >= since)
        if ticket.status in OPEN_STATUSES:
            queue_counts["open"] += 1
            queue_counts["overdue"] += current_deadline(ticket) < now
    return CommunityWeek(
        grids=[(grid, QueueWeek(**counts[grid.id])) for grid in grids],
        own=QueueWeek(**counts[None]),
    )


async def communities_with_grids(session: AsyncSession) -> list[Community]:
    return list(
        (
            await session.exec(
                select(Community)
                .where(col(Community.id).in_(select(Grid.community_id).where(col(Grid.active))))
                .order_by(col(Community.name))
            )
        ).all()
    )


async def claim_run(session: AsyncSession, job: str, period: str) -> bool:
    """True for the one caller that starts ``job`` for ``period``; False for all others."""
    dialect = (await session.connection()).dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    result = await session.exec(
        insert(ScheduledRun)
        .values(job=job, period=period, started_at=utcnow())
        .on_conflict_do_nothing(index_elements=["job", "period"])
    )
    return result.rowcount == 1
