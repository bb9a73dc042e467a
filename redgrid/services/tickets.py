"""A ticket's closed loop: 点单 report → 派单 dispatch → 接单 accept → 办结 resolve → 评单 rate.

Every status change is one conditional UPDATE that requires the status the actor saw
(``UPDATE ticket SET ... WHERE id = :id AND status = :seen``): when two people act at once
the database lets exactly one of them win, on SQLite and PostgreSQL alike, and the loser is
told what the ticket is now. Every change appends a TicketEvent.

The caller owns the transaction; these functions only flush. Time, limits and the category
catalogue are passed in, so nothing here reads the settings.
"""

import math
import re
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, bindparam, case, exists, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.models import (
    OPEN_STATUSES,
    EventKind,
    Grid,
    Person,
    PhotoKind,
    Rating,
    Role,
    Ticket,
    TicketEvent,
    TicketFollower,
    TicketPhoto,
    TicketSource,
    TicketStatus,
)
from redgrid.models.base import MAX_ROW_ID, UTCDateTime
from redgrid.services import deadlines, people
from redgrid.services.categories import Category, CategoryCatalogue, RouteKind
from redgrid.services.geo import metres_per_degree
from redgrid.services.people import Actor

MAX_DESCRIPTION = 1000
MAX_TEXT = 1000
MAX_PHOTOS = 5
MAX_ADDRESS = 200
MIN_EXTENSION = timedelta(hours=1)
MAX_EXTENSION = timedelta(days=30)
DISTRICT_TZ = ZoneInfo("Asia/Shanghai")
# Ticket ids are 32-bit integers; a longer "number" cannot be one.
_NUMBER = re.compile(r"(?:([A-Za-z]{1,8})-)?0*(\d{1,10})")
_PREFIX = re.compile(r"[A-Z]{1,8}")


class TicketError(Exception):
    """The ticket did not change; the reason is one a person can be told."""


class TicketNotFound(TicketError):  # noqa: N818 - the name is the public interface
    def __init__(self, reference: int | str) -> None:
        super().__init__(f"no ticket {reference!r}")
        self.reference = reference


class IllegalTransition(TicketError):  # noqa: N818
    """The action does not apply to the ticket as it is now (perhaps someone else just
    moved it: ``from_status`` is the status after reloading)."""

    def __init__(self, ticket_number: str | None, from_status: TicketStatus, action: str) -> None:
        super().__init__(f"{ticket_number} is {from_status}: cannot {action}")
        self.ticket_number = ticket_number
        self.from_status = from_status
        self.action = action


class AlreadyTaken(TicketError):  # noqa: N818
    """Someone accepted the ticket first; ``assignee`` says who."""

    def __init__(self, ticket_number: str | None, assignee: Person | None) -> None:
        super().__init__(f"{ticket_number} was already accepted")
        self.ticket_number = ticket_number
        self.assignee = assignee


class NotAllowed(TicketError):  # noqa: N818
    """The actor may not do this to this ticket."""


class DailyLimitReached(TicketError):  # noqa: N818
    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} tickets a day")
        self.limit = limit


class ExtensionLimitReached(TicketError):  # noqa: N818
    """The ticket's deadline was already extended as often as one round of work allows."""

    def __init__(self, ticket_number: str | None, limit: int) -> None:
        super().__init__(f"{ticket_number} was already extended {limit} times")
        self.limit = limit


class PhotoLimitReached(TicketError):  # noqa: N818
    """The ticket would hold more photos than allowed; ``room`` is how many still fit."""

    def __init__(self, ticket_number: str | None, limit: int, room: int) -> None:
        super().__init__(f"{ticket_number} holds at most {limit} photos; {room} more fit")
        self.limit = limit
        self.room = room


class SameTicket(TicketError, ValueError):  # noqa: N818
    """A ticket named as its own original."""

    def __init__(self, ticket_number: str | None) -> None:
        super().__init__(f"{ticket_number} cannot duplicate itself")
        self.ticket_number = ticket_number


class OriginalNotOpen(TicketError):  # noqa: N818
    """The ticket named as the original is closed, or itself a duplicate: it cannot carry
    on in the duplicate's place."""

    def __init__(self, original_number: str | None, status: TicketStatus) -> None:
        super().__init__(f"{original_number} is {status}: it cannot take a duplicate")
        self.original_number = original_number
        self.status = status


class GridNotInService(TicketError, ValueError):  # noqa: N818 - reads as what happened
    """The grid a report was routed to was retired (by a district import) in the meantime."""


@dataclass(slots=True)
class TicketDraft:
    """A report as the conversation collected it; ``routing`` says how ``grid_id`` was
    found (e.g. "inside", "nearby", "address") and is kept in the CREATED event."""

    source: TicketSource
    category: str
    description: str
    photos: list[tuple[str, str]] = field(default_factory=list)  # (file_id, file_unique_id)
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = None
    grid_id: int | None = None
    contact_consent: bool = False
    routing: str | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """The queue a ticket waits in.

    ``grid_id`` is the grid queue; ``community_id`` the responsible community, set whenever
    known (also for a grid's ticket, so its officer oversees it); ``desk`` a district desk.
    Nothing set: the district's general queue.
    """

    grid_id: int | None = None
    community_id: int | None = None
    desk: str | None = None


@dataclass(frozen=True, slots=True)
class ReporterTicket:
    """A ticket in someone's "my tickets": their own, or one they follow."""

    ticket: Ticket
    following: bool


@dataclass(frozen=True, slots=True)
class Merge:
    """A duplicate merged into its original; ``new_followers``: people who follow the
    original because of it (the rest already did, or reported it)."""

    duplicate: Ticket
    original: Ticket
    new_followers: int

    @property
    def across_queues(self) -> bool:
        """The two tickets wait in different queues: the original's team never got the
        duplicate's report."""
        return _queue(self.duplicate) != _queue(self.original)


@dataclass(frozen=True, slots=True)
class Audience:
    """Who hears about a ticket; ``team`` are the people who can act on it."""

    reporter: Person | None  # None once the reporter was forgotten
    followers: tuple[Person, ...]
    team: tuple[Person, ...]
    team_chat_id: int | None


def _queue(ticket: Ticket) -> Placement:
    return Placement(ticket.grid_id, ticket.community_id, ticket.desk)


async def place(session: AsyncSession, category: Category, grid_id: int | None) -> Placement:
    """Where a ticket of ``category`` found in ``grid_id`` (None: no grid found) goes."""
    if category.routes_to.kind is RouteKind.DESK:
        return Placement(desk=category.routes_to.desk)
    if grid_id is None:
        return Placement()
    grid = await session.get(Grid, grid_id)
    if grid is None or not grid.active:
        raise GridNotInService(f"no active grid {grid_id}")
    if category.routes_to.kind is RouteKind.COMMUNITY:
        return Placement(community_id=grid.community_id)
    return Placement(grid_id=grid.id, community_id=grid.community_id)


async def create_ticket(
    session: AsyncSession,
    draft: TicketDraft,
    reporter: Person,
    catalogue: CategoryCatalogue,
    now: datetime,
    *,
    number_prefix: str = "DX",
    daily_limit: int = 10,
    tz: ZoneInfo = DISTRICT_TZ,
) -> Ticket:
    """点单 and 派单: file the report and put it in its queue with its deadlines."""
    if not _PREFIX.fullmatch(number_prefix):
        raise ValueError(f"number prefix must be 1-8 capital letters, not {number_prefix!r}")
    category = catalogue.get(draft.category)
    description = _text(draft.description, "description", MAX_DESCRIPTION)
    if len(draft.photos) > MAX_PHOTOS:
        raise ValueError(f"at most {MAX_PHOTOS} photos, not {len(draft.photos)}")
    if (draft.latitude is None) != (draft.longitude is None):
        raise ValueError("latitude and longitude go together")
    address = draft.address.strip() if draft.address else None
    if address is not None and len(address) > MAX_ADDRESS:
        raise ValueError(f"address is longer than {MAX_ADDRESS} characters")
    if await tickets_filed_today(session, reporter.id, now, tz, source=draft.source) >= daily_limit:
        raise DailyLimitReached(daily_limit)
    placement = await place(session, category, draft.grid_id)
    ticket = Ticket(
        source=draft.source,
        category=category.code,
        description=description,
        latitude=draft.latitude,
        longitude=draft.longitude,
        address=address or None,
        grid_id=placement.grid_id,
        community_id=placement.community_id,
        desk=placement.desk,
        status=TicketStatus.DISPATCHED,
        priority=category.priority,
        respond_by=now + category.respond,
        resolve_by=now + category.resolve,
        reporter_id=reporter.id,
        contact_consent=draft.contact_consent,
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    await session.flush()
    ticket.number = f"{number_prefix}-{ticket.id:06d}"
    for position, (file_id, unique_id) in enumerate(draft.photos):
        session.add(
            TicketPhoto(
                ticket_id=ticket.id,
                kind=PhotoKind.REPORT,
                position=position,
                file_id=file_id,
                file_unique_id=unique_id,
                added_by_id=reporter.id,
                created_at=now,
            )
        )
    details: dict[str, Any] = {"placement": asdict(placement)}
    if draft.routing is not None:
        details["routing"] = draft.routing
    _record(
        session,
        ticket,
        EventKind.CREATED,
        reporter.id,
        now,
        None,
        TicketStatus.DISPATCHED,
        details=details,
    )
    await session.flush()
    await deadlines.sync_alarms(session, ticket, now, new_ticket=True)
    return ticket


async def accept(
    session: AsyncSession, ticket: Ticket | int, actor: Actor, now: datetime
) -> Ticket:
    """接单: the actor takes the ticket. Of two racing members exactly one wins; the other
    gets AlreadyTaken naming the winner."""
    ticket = await _load(session, ticket)
    await _require_team(session, actor, ticket)
    try:
        await _transition(
            session,
            ticket,
            "accept",
            {TicketStatus.DISPATCHED},
            now,
            status=TicketStatus.ACCEPTED,
            assignee_id=actor.person_id,
            accepted_at=now,
        )
    except IllegalTransition:
        if ticket.status is TicketStatus.ACCEPTED:
            winner = await session.get(Person, ticket.assignee_id) if ticket.assignee_id else None
            raise AlreadyTaken(ticket.number, winner) from None
        raise
    _record(
        session,
        ticket,
        EventKind.ACCEPTED,
        actor.person_id,
        now,
        TicketStatus.DISPATCHED,
        TicketStatus.ACCEPTED,
    )
    await session.flush()
    return ticket


async def transfer(
    session: AsyncSession,
    ticket: Ticket | int,
    actor: Actor,
    now: datetime,
    *,
    catalogue: CategoryCatalogue,
    target_grid_id: int | None = None,
    to_community: bool = False,
    note: str | None = None,
) -> Ticket:
    """Send the ticket to another grid (placed by its category's rules) or up to its
    community's queue. The new team gets a full response window; nobody is assigned."""
    ticket = await _load(session, ticket)
    await _require_team(session, actor, ticket)
    if to_community == (target_grid_id is not None):
        raise ValueError("give either a target grid or to_community, not both or neither")
    category = catalogue.shown(ticket.category, ticket.priority)
    if to_community:
        if ticket.grid_id is None or ticket.community_id is None:
            raise ValueError(f"{ticket.number} is not in a grid queue under a community")
        target = Placement(community_id=ticket.community_id)
    else:
        target = await place(session, category, target_grid_id)
    current = _queue(ticket)
    if target == current:
        raise ValueError(f"{ticket.number} is already in that queue")
    before = await _transition(
        session,
        ticket,
        "transfer",
        OPEN_STATUSES,
        now,
        # The queue the actor saw: two transfers at once must not both win.
        col(Ticket.grid_id).is_not_distinct_from(current.grid_id),
        col(Ticket.community_id).is_not_distinct_from(current.community_id),
        col(Ticket.desk).is_not_distinct_from(current.desk),
        status=TicketStatus.DISPATCHED,
        grid_id=target.grid_id,
        community_id=target.community_id,
        desk=target.desk,
        assignee_id=None,
        accepted_at=None,
        respond_by=now + category.respond,
        # The new queue's team decides for itself whether it goes to their consultation.
        in_consultation=False,
    )
    details = {
        "from_grid": current.grid_id,
        "from_community": current.community_id,
        "from_desk": current.desk,
        "to_grid": target.grid_id,
        "to_community": to_community,
    }
    _record(
        session,
        ticket,
        EventKind.TRANSFERRED,
        actor.person_id,
        now,
        before,
        TicketStatus.DISPATCHED,
        note=_optional_text(note, "note"),
        details=details,
    )
    await session.flush()
    return ticket


async def extend(
    session: AsyncSession,
    ticket: Ticket | int,
    actor: Actor,
    now: datetime,
    extra: timedelta,
    reason: str,
    *,
    limit: int,
) -> Ticket:
    """Move the resolve deadline later, with a reason the history keeps; at most ``limit``
    times in one round of work."""
    if not MIN_EXTENSION <= extra <= MAX_EXTENSION:
        raise ValueError(f"an extension is between {MIN_EXTENSION} and {MAX_EXTENSION}")
    reason = _text(reason, "reason", MAX_TEXT)
    ticket = await _load(session, ticket)
    await _require_team(session, actor, ticket)
    # The status first: the limit means nothing for a ticket no longer being worked on.
    if ticket.status is not TicketStatus.ACCEPTED:
        raise IllegalTransition(ticket.number, ticket.status, "extend")
    if await extensions_this_round(session, ticket.id) >= limit:
        raise ExtensionLimitReached(ticket.number, limit)
    old_deadline = ticket.resolve_by
    await _transition(
        session,
        ticket,
        "extend",
        {TicketStatus.ACCEPTED},
        now,
        Ticket.resolve_by == old_deadline,  # two extensions at once must not lose one
        resolve_by=old_deadline + extra,
    )
    details = {
        "old_resolve_by": old_deadline.isoformat(),
        "new_resolve_by": ticket.resolve_by.isoformat(),
    }
    _record(session, ticket, EventKind.EXTENDED, actor.person_id, now, note=reason, details=details)
    await session.flush()
    return ticket


async def extensions_this_round(session: AsyncSession, ticket_id: int) -> int:
    """How often the resolve deadline was extended since the ticket's last rework (which
    gave it a fresh deadline), or ever if it had none. Two extensions racing past the limit
    cannot both land: each is conditional on the deadline it saw."""
    last_rework = (
        select(func.max(TicketEvent.id))
        .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == EventKind.REWORK)
        .scalar_subquery()
    )
    counted = select(func.count()).where(
        TicketEvent.ticket_id == ticket_id,
        TicketEvent.kind == EventKind.EXTENDED,
        col(TicketEvent.id) > func.coalesce(last_rework, 0),
    )
    return (await session.exec(counted)).one()


async def resolve(
    session: AsyncSession,
    ticket: Ticket | int,
    actor: Actor,
    now: datetime,
    note: str,
    photo: tuple[str, str] | None = None,
) -> Ticket:
    """办结: the team says it is done, with a note and optionally a photo of the result."""
    note = _text(note, "resolution note", MAX_TEXT)
    ticket = await _load(session, ticket)
    await _require_team(session, actor, ticket)
    await _transition(
        session,
        ticket,
        "resolve",
        {TicketStatus.ACCEPTED},
        now,
        status=TicketStatus.RESOLVED,
        resolution_note=note,
        resolved_at=now,
    )
    if photo is not None:
        await _add_photo(session, ticket, PhotoKind.RESOLUTION, photo, actor.person_id, now)
    _record(
        session,
        ticket,
        EventKind.RESOLVED,
        actor.person_id,
        now,
        TicketStatus.ACCEPTED,
        TicketStatus.RESOLVED,
        note=note,
        details={"photo": photo is not None},
    )
    await session.flush()
    return ticket


async def rate(
    session: AsyncSession,
    ticket: Ticket | int,
    actor: Actor,
    now: datetime,
    rating: Rating,
    *,
    catalogue: CategoryCatalogue,
    comment: str | None = None,
) -> Ticket:
    """评单 by the reporter. Satisfied closes the ticket; unsatisfied sends it back for
    rework (退回重办) with a fresh resolve deadline."""
    comment = _optional_text(comment, "comment")
    ticket = await _load(session, ticket)
    _require_reporter(actor, ticket)
    rated = {"rating": rating, "rating_comment": comment}
    if rating is Rating.UNSATISFIED:
        resolve_window = catalogue.shown(ticket.category, ticket.priority).resolve
        await _transition(
            session,
            ticket,
            "rate",
            {TicketStatus.RESOLVED},
            now,
            status=TicketStatus.ACCEPTED,
            rework_count=Ticket.rework_count + 1,
            resolved_at=None,
            resolve_by=now + resolve_window,
            **rated,
        )
        kind, to_status = EventKind.REWORK, TicketStatus.ACCEPTED
    else:
        await _transition(
            session,
            ticket,
            "rate",
            {TicketStatus.RESOLVED},
            now,
            status=TicketStatus.CLOSED,
            closed_at=now,
            **rated,
        )
        kind, to_status = EventKind.RATED, TicketStatus.CLOSED
    _record(
        session,
        ticket,
        kind,
        actor.person_id,
        now,
        TicketStatus.RESOLVED,
        to_status,
        note=comment,
        details={"rating": rating.value},
    )
    await session.flush()
    return ticket


async def close_unrated(session: AsyncSession, now: datetime, after: timedelta) -> list[Ticket]:
    """Close resolved tickets nobody rated within ``after``. Each close is conditional, so
    two processes running this at once close (and record) each ticket once."""
    due = await session.exec(
        select(Ticket)
        .where(Ticket.status == TicketStatus.RESOLVED, col(Ticket.resolved_at) <= now - after)
        .order_by(col(Ticket.id))
    )
    closed = []
    for ticket in due.all():
        if await _update_if(
            session,
            ticket,
            now,
            Ticket.status == TicketStatus.RESOLVED,
            status=TicketStatus.CLOSED,
            closed_at=now,
        ):
            _record(
                session,
                ticket,
                EventKind.CLOSED,
                None,
                now,
                TicketStatus.RESOLVED,
                TicketStatus.CLOSED,
                note="unrated",
            )
            closed.append(ticket)
    await session.flush()
    return closed


async def mark_invalid(
    session: AsyncSession, ticket: Ticket | int, actor: Actor, now: datetime, note: str
) -> Ticket:
    """Not a real problem (spam, test, outside the district): ends the ticket."""
    note = _text(note, "note", MAX_TEXT)
    ticket = await _load(session, ticket)
    await _require_team(session, actor, ticket)
    before = await _transition(
        session, ticket, "mark invalid", OPEN_STATUSES, now, status=TicketStatus.INVALID
    )
    _record(
        session,
        ticket,
        EventKind.INVALID,
        actor.person_id,
        now,
        before,
        TicketStatus.INVALID,
        note=note,
    )
    await session.flush()
    return ticket


async def merge_target(
    session: AsyncSession, ticket: Ticket | int, actor: Actor, original: Ticket | int | str
) -> Ticket:
    """The ticket ``ticket`` would be merged into, named by id or as people type its
    number: the checks of ``mark_duplicate``, changing nothing.

    The actor must be able to act on both tickets; a ticket outside their reach answers as
    a missing one (TicketNotFound), so typing numbers tells nobody what other grids hold.
    """
    ticket = await _load(session, ticket)
    await _require_team(session, actor, ticket)
    _require_open(ticket, "mark duplicate")
    reference = original
    if isinstance(original, str):
        original = await get_ticket(session, original)
    else:
        original = await _load(session, original)
    if not await people.can_handle(session, actor, original):
        raise TicketNotFound(reference)
    if original.id == ticket.id:
        raise SameTicket(ticket.number)
    if not original.status.is_open:
        raise OriginalNotOpen(original.number, original.status)
    return original


async def readable_by_team(session: AsyncSession, actor: Actor, ticket: Ticket) -> bool:
    """Whether the actor may read the ticket as its team: they can act on it, or it is a
    duplicate merged into a ticket they can act on (whose history names it, and whose new
    followers reported it), perhaps in another grid. A duplicate takes no actions, so for
    it this is reading only."""
    if await people.can_handle(session, actor, ticket):
        return True
    original = await merged_into(session, ticket)
    return original is not None and await people.can_handle(session, actor, original)


async def merged_into(session: AsyncSession, ticket: Ticket) -> Ticket | None:
    """The ticket a duplicate was merged into (where its work goes on); None for any other."""
    if ticket.duplicate_of_id is None:
        return None
    return await session.get(Ticket, ticket.duplicate_of_id)


async def mark_duplicate(
    session: AsyncSession,
    ticket: Ticket | int,
    actor: Actor,
    now: datetime,
    original: Ticket | int | str,
    note: str | None = None,
) -> Merge:
    """The same problem as another open ticket, which carries on in its place: the
    duplicate is closed, and its reporter and followers follow the original.

    One conditional UPDATE closes the duplicate only if it is still as the actor saw it
    and the original is still open. On PostgreSQL both rows are locked first, in id order,
    so two merges of the same pair in opposite directions neither deadlock nor both win,
    and an Accept or Resolve of the original waits for the merge; SQLite serialises writers.
    """
    note = _optional_text(note, "note")
    ticket = await _load(session, ticket)
    original = await merge_target(session, ticket, actor, original)
    await session.exec(
        select(Ticket.id)
        .where(col(Ticket.id).in_([ticket.id, original.id]))
        .order_by(col(Ticket.id))
        .with_for_update()
    )
    seen = ticket.status
    other = aliased(Ticket)
    original_open = exists().where(
        other.id == original.id,
        col(other.status).in_(OPEN_STATUSES),
        col(other.duplicate_of_id).is_(None),
    )
    if not await _update_if(
        session,
        ticket,
        now,
        Ticket.status == seen,
        original_open,
        status=TicketStatus.DUPLICATE,
        duplicate_of_id=original.id,
    ):
        if ticket.status != seen:
            raise IllegalTransition(ticket.number, ticket.status, "mark duplicate")
        await session.refresh(original)
        raise OriginalNotOpen(original.number, original.status)
    await session.refresh(original)
    original.updated_at = now
    reporter = await session.get(Person, ticket.reporter_id)
    movers = [reporter] if reporter is not None and reporter.forgotten_at is None else []
    movers.extend((await session.exec(_FOLLOWERS, params={"ticket_id": ticket.id})).all())
    added = 0
    for person in movers:
        if person.id != original.reporter_id:
            added += await _add_follower(session, original.id, person.id, now)
    _record(
        session,
        ticket,
        EventKind.DUPLICATE,
        actor.person_id,
        now,
        seen,
        TicketStatus.DUPLICATE,
        note=note,
        details={"duplicate_of": original.number},
    )
    _record(
        session,
        original,
        EventKind.DUPLICATE,
        actor.person_id,
        now,
        details={"merged": ticket.number, "new_followers": added},
    )
    await session.flush()
    return Merge(duplicate=ticket, original=original, new_followers=added)


async def move_to_consultation(
    session: AsyncSession,
    ticket: Ticket | int,
    actor: Actor,
    now: datetime,
    note: str | None = None,
) -> Ticket:
    """Put an open ticket on the neighbour consultation's list (邻里会商); the status stays.
    Moving it again changes nothing and records nothing."""
    note = _optional_text(note, "note")
    ticket = await _load(session, ticket)
    await _require_team(session, actor, ticket)
    if not ticket.status.is_open:
        raise IllegalTransition(ticket.number, ticket.status, "move to consultation")
    moved = await _update_if(
        session,
        ticket,
        now,
        col(Ticket.status).in_(OPEN_STATUSES),
        col(Ticket.in_consultation).is_(False),
        in_consultation=True,
    )
    if moved:
        _record(session, ticket, EventKind.CONSULTATION, actor.person_id, now, note=note)
        await session.flush()
    elif not ticket.status.is_open:
        raise IllegalTransition(ticket.number, ticket.status, "move to consultation")
    return ticket


async def add_comment(
    session: AsyncSession, ticket: Ticket | int, actor: Actor, now: datetime, text: str
) -> TicketEvent:
    """More detail from the reporter or a follower while the team works on it."""
    text = _text(text, "comment", MAX_TEXT)
    ticket = await _load(session, ticket)
    await _require_reporter_or_follower(session, actor, ticket)
    _require_open(ticket, "comment")
    event = _record(session, ticket, EventKind.COMMENT, actor.person_id, now, note=text)
    ticket.updated_at = now
    await session.flush()
    return event


async def add_photos(
    session: AsyncSession,
    ticket: Ticket | int,
    actor: Actor,
    now: datetime,
    photos: Sequence[tuple[str, str]],
    *,
    limit: int,
) -> list[TicketPhoto]:
    """More photos of the problem (``(file_id, file_unique_id)`` pairs) from the reporter or
    a follower: as many as fit under ``limit`` report photos, the first ones first; the
    caller tells the person how many were left out. None fitting raises
    ``PhotoLimitReached`` (nothing is added).

    The ticket is locked first (``_lock``), so two people adding at once are served one
    after the other: the second sees the first one's photos, both for the positions and
    for the limit."""
    if not photos:
        raise ValueError("no photos to add")
    ticket = await _load(session, ticket)
    await _require_reporter_or_follower(session, actor, ticket)
    await _lock(session, ticket)
    _require_open(ticket, "add a photo")
    room = max(0, limit - await report_photo_count(session, ticket.id))
    if not room:
        raise PhotoLimitReached(ticket.number, limit, room)
    added = []
    for photo in photos[:room]:
        added.append(
            await _add_photo(session, ticket, PhotoKind.REPORT, photo, actor.person_id, now)
        )
        await session.flush()  # the next photo's position follows this one's
        _record(
            session,
            ticket,
            EventKind.PHOTO,
            actor.person_id,
            now,
            details={"position": added[-1].position},
        )
    ticket.updated_at = now
    await session.flush()
    return added


async def report_photo_count(session: AsyncSession, ticket_id: int) -> int:
    """The photos of the problem a ticket holds (the team's photo of the result aside)."""
    return (
        await session.exec(
            select(func.count())
            .select_from(TicketPhoto)
            .where(TicketPhoto.ticket_id == ticket_id, TicketPhoto.kind == PhotoKind.REPORT)
        )
    ).one()


async def ask_reporter(
    session: AsyncSession, ticket: Ticket | int, actor: Actor, now: datetime, question: str
) -> TicketEvent:
    """The team asks the reporter through the bot, which keeps the reporter's identity hidden."""
    question = _text(question, "question", MAX_TEXT)
    ticket = await _load(session, ticket)
    await _require_team(session, actor, ticket)
    _require_open(ticket, "ask the reporter")
    event = _record(session, ticket, EventKind.QUESTION, actor.person_id, now, note=question)
    ticket.updated_at = now
    await session.flush()
    return event


async def answer_question(
    session: AsyncSession, ticket: Ticket | int, actor: Actor, now: datetime, text: str
) -> TicketEvent:
    text = _text(text, "answer", MAX_TEXT)
    ticket = await _load(session, ticket)
    _require_reporter(actor, ticket)
    _require_open(ticket, "answer")
    event = _record(session, ticket, EventKind.ANSWER, actor.person_id, now, note=text)
    ticket.updated_at = now
    await session.flush()
    return event


async def awaiting_answer(session: AsyncSession, reporter_id: int) -> Ticket | None:
    """The reporter's open ticket with a question from its team not answered yet (no
    answer since), the one asked most recently when there are several."""
    question, answer = aliased(TicketEvent), aliased(TicketEvent)
    answered = exists().where(
        answer.ticket_id == question.ticket_id,
        answer.kind == EventKind.ANSWER,
        col(answer.id) > question.id,
    )
    found = await session.exec(
        select(Ticket)
        .join(question, col(question.ticket_id) == Ticket.id)
        .where(
            Ticket.reporter_id == reporter_id,
            col(Ticket.status).in_(OPEN_STATUSES),
            question.kind == EventKind.QUESTION,
            ~answered,
        )
        .order_by(col(question.id).desc())
        .limit(1)
    )
    return found.first()


async def asker_on_the_team(
    session: AsyncSession, ticket: Ticket, admin_telegram_ids: Collection[int] = ()
) -> Person | None:
    """Who asked the ticket's latest question, while they may still act on it: the answer
    goes to them besides the team (an officer or an admin who asked is on no grid's team),
    but not once they were taken off the team or the ticket went to another queue."""
    asked = await session.exec(
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == EventKind.QUESTION)
        .order_by(col(TicketEvent.id).desc())
        .limit(1)
    )
    event = asked.first()
    asker = await session.get(Person, event.actor_id) if event and event.actor_id else None
    if asker is None or asker.forgotten_at is not None:
        return None
    actor = Actor(
        asker.id, asker.telegram_id, await people.is_admin(session, asker, admin_telegram_ids)
    )
    return asker if await people.can_handle(session, actor, ticket) else None


async def follow(
    session: AsyncSession, ticket: Ticket | int, person_id: int, now: datetime
) -> bool:
    """Follow someone else's ticket instead of filing a duplicate; True if newly following."""
    ticket = await _load(session, ticket)
    if ticket.reporter_id == person_id:
        raise ValueError("the reporter already hears about their own ticket")
    if not await _add_follower(session, ticket.id, person_id, now):
        return False
    _record(session, ticket, EventKind.FOLLOWED, person_id, now)
    await session.flush()
    return True


async def _add_follower(
    session: AsyncSession, ticket_id: int, person_id: int, now: datetime
) -> bool:
    """Follow the ticket unless already following; True if newly following."""
    dialect = (await session.connection()).dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    result = await session.exec(
        insert(TicketFollower)
        .values(ticket_id=ticket_id, person_id=person_id, created_at=now)
        .on_conflict_do_nothing(index_elements=["ticket_id", "person_id"])
    )
    return result.rowcount == 1


def is_ticket_number(text: str) -> bool:
    """Whether ``text`` is written as a ticket number ("DX-000123", "000123", "123")."""
    return _NUMBER.fullmatch(text.strip()) is not None


async def get_ticket(session: AsyncSession, id_or_number: int | str) -> Ticket:
    """A ticket by id or by number as people type it: "DX-000123", "dx-123", "123"."""
    ticket = None
    if isinstance(id_or_number, int):
        ticket = await session.get(Ticket, id_or_number)
    elif match := _NUMBER.fullmatch(id_or_number.strip()):
        prefix, digits = match.groups()
        if int(digits) <= MAX_ROW_ID:
            ticket = await session.get(Ticket, int(digits))
        if ticket is not None and prefix and not ticket.number.startswith(f"{prefix.upper()}-"):
            ticket = None
    if ticket is None:
        raise TicketNotFound(id_or_number)
    return ticket


async def ticket_history(session: AsyncSession, ticket_id: int) -> list[TicketEvent]:
    rows = await session.exec(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(col(TicketEvent.id))
    )
    return list(rows.all())


def queues_at_events(ticket: Ticket, events: list[TicketEvent]) -> list[Placement]:
    """The queue the ticket sat in at each of ``events`` (its history, oldest first), so
    the history can say whose team acted then. Walked back from the queue it is in now:
    a transfer was made from the queue it left, which its details name. A transfer
    recorded before ``from_community`` and ``from_desk`` were kept, out of a queue without
    a grid, reads as the district's."""
    queue = _queue(ticket)
    queues = []
    for event in reversed(events):
        if event.kind is EventKind.TRANSFERRED:
            queue = Placement(
                event.details.get("from_grid"),
                event.details.get("from_community"),
                event.details.get("from_desk"),
            )
        queues.append(queue)
    queues.reverse()
    return queues


async def ticket_photos(
    session: AsyncSession, ticket_id: int, kind: PhotoKind | None = None
) -> list[TicketPhoto]:
    if kind is None:
        rows = await session.exec(_PHOTOS, params={"ticket_id": ticket_id})
    else:
        rows = await session.exec(_PHOTOS_OF_KIND, params={"ticket_id": ticket_id, "kind": kind})
    return list(rows.all())


_PHOTOS = (
    select(TicketPhoto)
    .where(TicketPhoto.ticket_id == bindparam("ticket_id"))
    .order_by(col(TicketPhoto.kind), col(TicketPhoto.position))
)
_PHOTOS_OF_KIND = _PHOTOS.where(TicketPhoto.kind == bindparam("kind"))


def _reporters_own_or_followed(person_id: int) -> ColumnElement[bool]:
    followed = select(TicketFollower.ticket_id).where(TicketFollower.person_id == person_id)
    return or_(Ticket.reporter_id == person_id, col(Ticket.id).in_(followed))


async def reporter_tickets(
    session: AsyncSession, person_id: int, limit: int = 20, offset: int = 0
) -> list[ReporterTicket]:
    """The person's own tickets and the ones they follow, newest first; ``offset`` skips
    the newest ones (a later page)."""
    rows = await session.exec(
        select(Ticket)
        .where(_reporters_own_or_followed(person_id))
        .order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc())
        .limit(limit)
        .offset(offset)
    )
    return [ReporterTicket(ticket, ticket.reporter_id != person_id) for ticket in rows.all()]


async def count_reporter_tickets(session: AsyncSession, person_id: int) -> int:
    """How many tickets ``reporter_tickets`` pages through."""
    query = select(func.count()).select_from(Ticket).where(_reporters_own_or_followed(person_id))
    return (await session.exec(query)).one()


async def _in_team_queue(session: AsyncSession, actor: Actor) -> list[ColumnElement[bool]] | None:
    """The conditions for the open tickets the actor can handle; None when they handle none."""
    conditions = [col(Ticket.status).in_(OPEN_STATUSES)]
    if actor.is_admin:
        return conditions
    roles = await people.memberships(session, actor.person_id)
    grids = [m.grid_id for m in roles if m.role in people.TEAM_ROLES]
    communities = [m.community_id for m in roles if m.role is Role.OFFICER]
    if not grids and not communities:
        return None
    conditions.append(
        or_(col(Ticket.grid_id).in_(grids), col(Ticket.community_id).in_(communities))
    )
    return conditions


async def team_queue(session: AsyncSession, actor: Actor) -> list[Ticket]:
    """Open tickets the actor can handle, the most pressing deadline first: the response
    deadline while waiting for acceptance, then the resolve deadline."""
    conditions = await _in_team_queue(session, actor)
    if conditions is None:
        return []
    return await _most_pressing_first(session, select(Ticket).where(*conditions))


async def team_queue_size(session: AsyncSession, actor: Actor) -> int:
    """How many tickets ``team_queue`` lists, counted without loading them."""
    conditions = await _in_team_queue(session, actor)
    if conditions is None:
        return 0
    return (await session.exec(select(func.count()).select_from(Ticket).where(*conditions))).one()


async def team_chat_queue(session: AsyncSession, chat_id: int) -> tuple[Grid, list[Ticket]] | None:
    """The grid whose team chat is the group ``chat_id``, and the open tickets of its queue
    (whose cards that group gets), ordered as ``team_queue``; None for any other group."""
    grid = (await session.exec(select(Grid).where(Grid.team_chat_id == chat_id))).one_or_none()
    if grid is None:
        return None
    query = select(Ticket).where(col(Ticket.status).in_(OPEN_STATUSES), Ticket.grid_id == grid.id)
    return grid, await _most_pressing_first(session, query)


async def _most_pressing_first(session: AsyncSession, query: Select) -> list[Ticket]:
    """The tickets of ``query``, the response deadline first while waiting for acceptance,
    then the resolve deadline."""
    deadline = case(
        (Ticket.status == TicketStatus.DISPATCHED, Ticket.respond_by), else_=Ticket.resolve_by
    )
    rows = await session.exec(query.order_by(deadline, col(Ticket.id)))
    return list(rows.all())


async def nearby_open_tickets(
    session: AsyncSession,
    category: str,
    lat: float,
    lon: float,
    now: datetime,
    radius_m: float = 100,
    max_age: timedelta = timedelta(days=14),
) -> list[Ticket]:
    """Open recent tickets of the same category around a spot, newest first: the
    "is this already reported?" hint that offers following instead of a duplicate."""
    metres_per_lon, metres_per_lat = metres_per_degree(lat)
    d_lat, d_lon = radius_m / metres_per_lat, radius_m / metres_per_lon
    params = {
        "category": category,
        "since": now - max_age,
        "south": lat - d_lat,
        "north": lat + d_lat,
        "west": lon - d_lon,
        "east": lon + d_lon,
    }
    rows = await session.exec(_NEARBY, params=params)
    return [
        ticket
        for ticket in rows.all()
        if math.hypot(
            (ticket.longitude - lon) * metres_per_lon, (ticket.latitude - lat) * metres_per_lat
        )
        <= radius_m
    ]


# Built once: it runs for every place a resident gives, and building a statement costs
# more than running it.
_NEARBY = (
    select(Ticket)
    .where(
        Ticket.category == bindparam("category"),
        col(Ticket.status).in_(OPEN_STATUSES),
        col(Ticket.created_at) >= bindparam("since", type_=UTCDateTime),
        col(Ticket.latitude).between(bindparam("south"), bindparam("north")),
        col(Ticket.longitude).between(bindparam("west"), bindparam("east")),
    )
    .order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc())
)


async def ticket_audience(
    session: AsyncSession, ticket: Ticket, admin_telegram_ids: Collection[int] = ()
) -> Audience:
    """Who hears about the ticket: its reporter and followers, and the people who can act
    on it: the grid's team; when nobody of it can be reached (they blocked the bot), or
    for a community queue, the community's officers; for a desk or the district queue, or
    when no officer can be reached either, the district admins."""
    reporter = await session.get(Person, ticket.reporter_id)
    followers = await session.exec(_FOLLOWERS, params={"ticket_id": ticket.id})
    team, team_chat_id = await ticket_team(session, ticket, admin_telegram_ids)
    return Audience(
        reporter=reporter if reporter is not None and reporter.forgotten_at is None else None,
        followers=tuple(followers.all()),
        team=team,
        team_chat_id=team_chat_id,
    )


async def ticket_team(
    session: AsyncSession, ticket: Ticket, admin_telegram_ids: Collection[int] = ()
) -> tuple[tuple[Person, ...], int | None]:
    """``Audience.team`` and ``Audience.team_chat_id`` alone, for a push to the team."""
    team: list[Person] = []
    team_chat_id = None
    if ticket.grid_id is not None:
        team = await people.team_members(session, ticket.grid_id)
        grid = await session.get(Grid, ticket.grid_id)
        team_chat_id = grid.team_chat_id if grid is not None else None
    if not team and ticket.community_id is not None and ticket.desk is None:
        team = await people.community_officers(session, ticket.community_id)
    if not team:
        team = await people.district_admins(session, admin_telegram_ids)
    return tuple(team), team_chat_id


_FOLLOWERS = (
    select(Person)
    .join(TicketFollower, col(TicketFollower.person_id) == Person.id)
    .where(TicketFollower.ticket_id == bindparam("ticket_id"), col(Person.forgotten_at).is_(None))
    .order_by(col(Person.id))
)


async def _load(session: AsyncSession, ticket: Ticket | int) -> Ticket:
    if isinstance(ticket, Ticket):
        return ticket
    found = await session.get(Ticket, ticket)
    if found is None:
        raise TicketNotFound(ticket)
    return found


async def _lock(session: AsyncSession, ticket: Ticket) -> None:
    """Hold the ticket's row until the transaction ends, and read it afresh: on
    PostgreSQL ``SELECT ... FOR UPDATE``; SQLite has one writer at a time, so a write that
    changes nothing takes the database's write lock, and a second writer waits for the
    commit. (The driver opens the transaction at the first write: what was read before
    is not a snapshot that the wait would leave stale.)"""
    if (await session.connection()).dialect.name == "postgresql":
        await session.exec(select(Ticket.id).where(col(Ticket.id) == ticket.id).with_for_update())
    else:
        await session.exec(
            update(Ticket)
            .where(col(Ticket.id) == ticket.id)
            .values(updated_at=Ticket.updated_at)
            .execution_options(synchronize_session=False)
        )
    await session.refresh(ticket)


async def _update_if(
    session: AsyncSession, ticket: Ticket, now: datetime, *conditions: Any, **values: Any
) -> bool:
    """One conditional UPDATE of the ticket; True when it matched. The ticket is reloaded
    either way, so it shows the winner's change when this call lost.

    A ticket leaving the open states (resolved, closed, invalid, a duplicate) leaves the
    neighbour consultation's list in the same UPDATE: ``in_consultation`` means "on the
    list", whichever way the ticket ended."""
    status = values.get("status")
    if status is not None and status not in OPEN_STATUSES:
        values["in_consultation"] = False
    result = await session.exec(
        update(Ticket)
        .where(col(Ticket.id) == ticket.id, *conditions)
        .values(updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(ticket)
    if result.rowcount != 1:
        return False
    # Deadlines or status may have moved: the reminders follow them.
    await deadlines.sync_alarms(session, ticket, now)
    return True


async def _transition(
    session: AsyncSession,
    ticket: Ticket,
    action: str,
    allowed: Collection[TicketStatus],
    now: datetime,
    *conditions: Any,
    **values: Any,
) -> TicketStatus:
    """Apply ``values`` if the ticket is still in the status the actor saw (one of
    ``allowed``) and meets ``conditions``; returns that status, else IllegalTransition
    with the status it has now."""
    seen = ticket.status
    if seen not in allowed or not await _update_if(
        session, ticket, now, Ticket.status == seen, *conditions, **values
    ):
        raise IllegalTransition(ticket.number, ticket.status, action)
    return seen


def _record(
    session: AsyncSession,
    ticket: Ticket,
    kind: EventKind,
    actor_id: int | None,
    now: datetime,
    from_status: TicketStatus | None = None,
    to_status: TicketStatus | None = None,
    *,
    note: str | None = None,
    details: dict[str, Any] | None = None,
) -> TicketEvent:
    event = TicketEvent(
        ticket_id=ticket.id,
        kind=kind,
        actor_id=actor_id,
        from_status=from_status,
        to_status=to_status,
        note=note,
        details=details or {},
        created_at=now,
    )
    session.add(event)
    return event


async def _add_photo(
    session: AsyncSession,
    ticket: Ticket,
    kind: PhotoKind,
    photo: tuple[str, str],
    added_by_id: int,
    now: datetime,
) -> TicketPhoto:
    last = (
        await session.exec(
            select(func.max(TicketPhoto.position)).where(
                TicketPhoto.ticket_id == ticket.id, TicketPhoto.kind == kind
            )
        )
    ).one()
    file_id, unique_id = photo
    added = TicketPhoto(
        ticket_id=ticket.id,
        kind=kind,
        position=0 if last is None else last + 1,
        file_id=file_id,
        file_unique_id=unique_id,
        added_by_id=added_by_id,
        created_at=now,
    )
    session.add(added)
    return added


async def _require_team(session: AsyncSession, actor: Actor, ticket: Ticket) -> None:
    if not await people.can_handle(session, actor, ticket):
        raise NotAllowed(f"person {actor.person_id} is not on the team of {ticket.number}")


def _require_reporter(actor: Actor, ticket: Ticket) -> None:
    if actor.person_id != ticket.reporter_id:
        raise NotAllowed(f"only the reporter of {ticket.number} may do this")


async def _require_reporter_or_follower(
    session: AsyncSession, actor: Actor, ticket: Ticket
) -> None:
    if actor.person_id == ticket.reporter_id:
        return
    if await session.get(TicketFollower, (ticket.id, actor.person_id)) is None:
        raise NotAllowed(f"only the reporter or a follower of {ticket.number} may do this")


def _require_open(ticket: Ticket, action: str) -> None:
    if not ticket.status.is_open:
        raise IllegalTransition(ticket.number, ticket.status, action)


def _text(value: str, what: str, limit: int) -> str:
    text = value.strip()
    if not text:
        raise ValueError(f"{what} is empty")
    if len(text) > limit:
        raise ValueError(f"{what} is longer than {limit} characters")
    return text


def _optional_text(value: str | None, what: str) -> str | None:
    return _text(value, what, MAX_TEXT) if value is not None and value.strip() else None


async def transfer_grids(session: AsyncSession, ticket: Ticket, limit: int = 40) -> list[Grid]:
    """The active grids of the ticket's community other than its own, by code: where a
    team most often passes a ticket it got by mistake."""
    if ticket.community_id is None:
        return []
    query = select(Grid).where(Grid.community_id == ticket.community_id, col(Grid.active))
    if ticket.grid_id is not None:
        query = query.where(Grid.id != ticket.grid_id)
    rows = await session.exec(query.order_by(col(Grid.code)).limit(limit))
    return list(rows.all())


async def active_grid_by_code(session: AsyncSession, code: str) -> Grid | None:
    """An active grid by its code as people type it (any case, spaces around)."""
    rows = await session.exec(
        select(Grid).where(func.upper(Grid.code) == code.strip().upper(), col(Grid.active))
    )
    return rows.first()


# Built once: constructing a statement costs more than running it from the cache.
_FILED_SINCE = (
    select(func.count())
    .select_from(Ticket)
    .where(
        Ticket.reporter_id == bindparam("reporter_id"),
        Ticket.source == bindparam("source"),
        Ticket.created_at >= bindparam("since", type_=UTCDateTime),
    )
)


async def tickets_filed_today(
    session: AsyncSession,
    reporter_id: int,
    now: datetime,
    tz: ZoneInfo = DISTRICT_TZ,
    *,
    source: TicketSource,
) -> int:
    """How many tickets of ``source`` the person filed since local midnight: what
    ``create_ticket``'s daily limit counts, so a conversation can stop someone at the limit
    before they type. Each source has its own limit: an informant's reports from the road
    do not use up the complaints they may raise as a resident, nor the other way round."""
    local_midnight = datetime.combine(now.astimezone(tz).date(), time(), tzinfo=tz)
    params = {"reporter_id": reporter_id, "since": local_midnight, "source": source}
    return (await session.exec(_FILED_SINCE, params=params)).one()
