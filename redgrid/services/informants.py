"""Red informants (红色信息员): joining, reports from the road, and the 评单 that rewards them.

The role itself is a ``Membership`` given by a single-use invite (``services/invites.py``);
the ``InformantProfile`` is what the informant tells the bot afterwards (the name shown on
the leaderboard, a phone number, the kind of work, the home community) and whether they
may report now (active, paused, removed). Someone who holds the role but has no profile
yet is asked for it before their first report.

A report is a ticket (``TicketSource.INFORMANT``) made by ``tickets.create_ticket``, routed
by its location alone: a spot outside every grid (beyond the routing buffer) is refused and
nothing is filed. When the team has closed the report (resolved, invalid or duplicate) it
grades it; a valid report earns points by its priority. ``report_grade.ticket_id`` is
unique and the grade is one ``INSERT ... ON CONFLICT DO NOTHING``, so a report's points
are granted once even when two members press at the same moment.

Also here, pure: ``normalise_phone`` and ``exif_gps`` (the location a camera wrote into a
JPEG, for a photo sent as a file).

The caller owns the transaction; these functions only flush.
"""

import re
import struct
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.models import (
    Community,
    EventKind,
    Grade,
    InformantProfile,
    InformantStatus,
    Invite,
    Membership,
    Person,
    Priority,
    ReportGrade,
    Role,
    Ticket,
    TicketEvent,
    TicketSource,
    TicketStatus,
    WorkType,
)
from redgrid.services import people, tickets
from redgrid.services.categories import CategoryCatalogue
from redgrid.services.people import Actor
from redgrid.services.routing import DistrictIndex, PointRoute, RouteOutcome
from redgrid.services.tickets import DISTRICT_TZ, MAX_DESCRIPTION, MAX_PHOTOS, NotAllowed

MAX_NAME = 20
# Statuses in which the team is done with a report and grades it.
GRADABLE = frozenset(
    {TicketStatus.RESOLVED, TicketStatus.CLOSED, TicketStatus.INVALID, TicketStatus.DUPLICATE}
)
# A report the team closed as invalid or duplicate cannot be graded valid.
GRADES_FOR = {
    TicketStatus.RESOLVED: (Grade.VALID, Grade.DUPLICATE, Grade.INVALID),
    TicketStatus.CLOSED: (Grade.VALID, Grade.DUPLICATE, Grade.INVALID),
    TicketStatus.INVALID: (Grade.DUPLICATE, Grade.INVALID),
    TicketStatus.DUPLICATE: (Grade.DUPLICATE, Grade.INVALID),
}
_PHONE = re.compile(r"(?:\+?86)?(1[3-9][0-9]{9})")
_PHONE_NOISE = re.compile(r"[\s\-()]")


class InformantError(Exception):
    """Nothing changed; the reason is one a person can be told."""


class InvalidPhone(InformantError):  # noqa: N818 - the name is the public interface
    """Not a mainland China mobile number."""


class InvalidName(InformantError):  # noqa: N818
    """Empty, too long, or not a plain line of text."""


class NotAnInformant(InformantError):  # noqa: N818
    """The person holds no active informant role (never had one, or was removed)."""


class ProfileMissing(InformantError):  # noqa: N818
    """The person holds the role but has not told us their profile yet."""


class InformantPaused(InformantError):  # noqa: N818
    pass


class InformantNotFound(InformantError):  # noqa: N818
    pass


class IllegalStatusChange(InformantError):  # noqa: N818
    def __init__(self, status: InformantStatus, wanted: InformantStatus) -> None:
        super().__init__(f"an informant who is {status} cannot become {wanted}")
        self.status = status
        self.wanted = wanted


class OutsideDistrict(InformantError):  # noqa: N818
    """The spot is outside every grid and the routing buffer: nothing is filed."""


class NotAReport(InformantError):  # noqa: N818
    """Only informant reports are graded."""


class NotGradable(InformantError):  # noqa: N818
    """The report is still open, or the grade does not fit how the team closed it."""

    def __init__(self, status: TicketStatus, grade: Grade) -> None:
        super().__init__(f"a {status} report cannot be graded {grade}")
        self.status = status
        self.grade = grade


class AlreadyGraded(InformantError):  # noqa: N818
    """Read the grade from here: the row may expire with the caller's rollback."""

    def __init__(self, existing: ReportGrade) -> None:
        super().__init__(f"ticket {existing.ticket_id} was already graded {existing.grade}")
        self.grade = existing.grade
        self.points = existing.points


class Standing(StrEnum):
    """Where a person stands as an informant, for the conversation to say the right thing."""

    NONE = "none"  # no informant role (never, or removed)
    NEEDS_PROFILE = "needs_profile"  # the role, but no profile yet (or re-invited)
    ACTIVE = "active"
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class PointsTable:
    """Points a valid report earns, by its category's priority (from the settings)."""

    urgent: int = 3
    normal: int = 1
    complex: int = 2

    def for_priority(self, priority: Priority) -> int:
        return {
            Priority.URGENT: self.urgent,
            Priority.NORMAL: self.normal,
            Priority.COMPLEX: self.complex,
        }[priority]


@dataclass(frozen=True, slots=True)
class Voice:
    file_id: str
    unique_id: str
    duration: int = 0


@dataclass(slots=True)
class ReportDraft:
    """A report as the conversation collected it. The grid is found again from the
    location when it is filed, with the district as it is then."""

    category: str
    photos: list[tuple[str, str]]  # (file_id, file_unique_id)
    latitude: float
    longitude: float
    note: str | None = None
    voice: Voice | None = None


@dataclass(frozen=True, slots=True)
class InformantRow:
    """One informant as admins see them."""

    person_id: int
    display_name: str
    phone: str
    work_type: WorkType
    community: str | None
    status: InformantStatus
    joined_at: datetime
    points_month: int
    points_total: int
    reports: int


@dataclass(frozen=True, slots=True)
class LeaderRow:
    rank: int
    person_id: int
    name: str
    points: int
    valid: int


@dataclass(frozen=True, slots=True)
class InformantStats:
    points_month: int
    points_total: int
    reports: int
    graded: dict[Grade, int] = field(default_factory=dict)
    rank_district: int | None = None
    rank_community: int | None = None
    community: str | None = None


# Pure checks ------------------------------------------------------------------------------


def normalise_phone(text: str) -> str:
    """A mainland China mobile number as 11 digits: "+86 138-0013-8000", "8613800138000",
    "１３８００１３８０００" (full-width, as some keyboards type) all give "13800138000"."""
    compact = _PHONE_NOISE.sub("", unicodedata.normalize("NFKC", text or ""))
    match = _PHONE.fullmatch(compact)
    if match is None:
        raise InvalidPhone(f"{text!r} is not a mainland China mobile number")
    return match.group(1)


def clean_name(text: str) -> str:
    """The name to show on the leaderboard: one line, spaces collapsed, 1-20 characters."""
    if any(unicodedata.category(char) in ("Cc", "Cf") for char in text or ""):
        raise InvalidName("control characters")
    name = " ".join((text or "").split())
    if not name:
        raise InvalidName("empty")
    if len(name) > MAX_NAME:
        raise InvalidName(f"longer than {MAX_NAME} characters")
    return name


def month_bounds(now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The first instant of the month ``now`` falls in, in ``tz``, and of the next one."""
    local = now.astimezone(tz)
    start = datetime(local.year, local.month, 1, tzinfo=tz)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return start, datetime(year, month, 1, tzinfo=tz)


def locate(index: DistrictIndex, latitude: float, longitude: float) -> PointRoute:
    """The grid that owns the spot (inside, or nearest within the buffer); OutsideDistrict
    otherwise. Raises routing's InvalidCoordinates for a bad latitude or longitude."""
    route = index.route(latitude, longitude)
    if route.outcome is RouteOutcome.OUTSIDE or route.grid is None:
        raise OutsideDistrict(f"{latitude}, {longitude} is outside the district")
    return route


# Who someone is ---------------------------------------------------------------------------


async def informant_membership(session: AsyncSession, person_id: int) -> Membership | None:
    """The person's active informant role (the newest, if they hold several scopes)."""
    rows = await session.exec(
        select(Membership)
        .where(
            Membership.person_id == person_id,
            Membership.role == Role.INFORMANT,
            col(Membership.active),
        )
        .order_by(col(Membership.id).desc())
    )
    return rows.first()


async def get_profile(session: AsyncSession, person_id: int) -> InformantProfile | None:
    rows = await session.exec(
        select(InformantProfile).where(InformantProfile.person_id == person_id)
    )
    return rows.one_or_none()


async def standing(session: AsyncSession, person_id: int) -> Standing:
    if await informant_membership(session, person_id) is None:
        return Standing.NONE
    profile = await get_profile(session, person_id)
    if profile is None or profile.status is InformantStatus.REMOVED:
        return Standing.NEEDS_PROFILE
    if profile.status is InformantStatus.PAUSED:
        return Standing.PAUSED
    return Standing.ACTIVE


async def require_active(session: AsyncSession, person_id: int) -> InformantProfile:
    """The profile of an informant who may report now, else the error saying why not."""
    found = await standing(session, person_id)
    if found is Standing.NONE:
        raise NotAnInformant(f"person {person_id} is not an informant")
    if found is Standing.NEEDS_PROFILE:
        raise ProfileMissing(f"person {person_id} has no informant profile yet")
    if found is Standing.PAUSED:
        raise InformantPaused(f"person {person_id} is paused")
    return await get_profile(session, person_id)


async def may_manage(session: AsyncSession, actor: Actor, profile: InformantProfile) -> bool:
    """Admins manage every informant; a community officer those who joined with an invite
    they created, while they serve that invite's community (``_managed_by``). A former
    admin or officer manages nobody, whoever invited them."""
    if actor.is_admin:
        return True
    if profile.invited_by_telegram_id != actor.telegram_id:
        return False
    managed = await session.exec(
        select(InformantProfile.id).where(InformantProfile.id == profile.id, _managed_by(actor))
    )
    return managed.first() is not None


def _managed_by(actor: Actor) -> ColumnElement[bool]:
    """The informants ``actor`` (not an admin) manages, as a condition on their profile:
    the profile names the actor as its inviter, and the actor holds an active officer role
    in the community of the newest invite of theirs the informant used.

    The invite's community, not the informant's home community: the invite is what the
    officer was entitled to create (checked against their role when it was made), while
    the home community is the informant's own answer, which may be another community or
    none (outside the district). Judged by the home, an officer would lose an informant
    they recruited the moment that informant lives next door."""
    invite_community = (
        select(Invite.community_id)
        .where(
            Invite.used_by_id == InformantProfile.person_id,
            Invite.role == Role.INFORMANT,
            Invite.created_by_telegram_id == actor.telegram_id,
        )
        .order_by(col(Invite.used_at).desc(), col(Invite.id).desc())
        .limit(1)
        .correlate(InformantProfile)
        .scalar_subquery()
    )
    serves_it = (
        select(Membership.id)
        .where(
            Membership.person_id == actor.person_id,
            Membership.role == Role.OFFICER,
            col(Membership.active),
            Membership.community_id == invite_community,
        )
        .exists()
    )
    return and_(InformantProfile.invited_by_telegram_id == actor.telegram_id, serves_it)


# Joining ----------------------------------------------------------------------------------


async def create_profile(
    session: AsyncSession,
    person_id: int,
    *,
    display_name: str,
    phone: str,
    work_type: WorkType | str,
    community_id: int | None,
    now: datetime,
) -> InformantProfile:
    """Record the profile of someone who holds the informant role; an informant who was
    removed and invited again fills it in anew and is active again. A paused informant
    who redeems another invite stays paused: only who manages them lifts a pause."""
    if await informant_membership(session, person_id) is None:
        raise NotAnInformant(f"person {person_id} is not an informant")
    name, number, work = clean_name(display_name), normalise_phone(phone), WorkType(work_type)
    if community_id is not None and await session.get(Community, community_id) is None:
        raise ValueError(f"no community {community_id}")
    inviter = (
        await session.exec(
            select(Invite.created_by_telegram_id)
            .where(Invite.used_by_id == person_id, Invite.role == Role.INFORMANT)
            .order_by(col(Invite.used_at).desc(), col(Invite.id).desc())
            .limit(1)
        )
    ).first()
    profile = await get_profile(session, person_id)
    if profile is None:
        profile = InformantProfile(
            person_id=person_id, display_name=name, phone=number, work_type=work, joined_at=now
        )
    elif profile.status is InformantStatus.REMOVED:
        profile.joined_at = now
    profile.display_name, profile.phone, profile.work_type = name, number, work
    profile.community_id = community_id
    if profile.status is not InformantStatus.PAUSED:
        profile.status = InformantStatus.ACTIVE
    profile.invited_by_telegram_id = inviter
    profile.updated_at = now
    session.add(profile)
    await session.flush()
    return profile


async def home_community_hint(session: AsyncSession, person_id: int) -> int | None:
    """The community the invite named, offered first as the home community."""
    membership = await informant_membership(session, person_id)
    return membership.community_id if membership is not None else None


# Managing ---------------------------------------------------------------------------------

_ALLOWED_FROM = {
    InformantStatus.PAUSED: {InformantStatus.ACTIVE},
    InformantStatus.ACTIVE: {InformantStatus.PAUSED},
    InformantStatus.REMOVED: {InformantStatus.ACTIVE, InformantStatus.PAUSED},
}


async def set_status(
    session: AsyncSession,
    person_id: int,
    status: InformantStatus | str,
    now: datetime,
    *,
    by: Actor | None,
) -> InformantProfile:
    """Pause, resume or remove an informant. ``by`` None is the operator at the shell.

    Removing also takes the role away (the membership is deactivated): coming back needs
    a new invite. A removed informant cannot be resumed.
    """
    status = InformantStatus(status)
    profile = await get_profile(session, person_id)
    if profile is None:
        raise InformantNotFound(f"no informant with person id {person_id}")
    if by is not None and not await may_manage(session, by, profile):
        raise NotAllowed(f"person {by.person_id} may not manage informant {person_id}")
    if profile.status not in _ALLOWED_FROM[status]:
        raise IllegalStatusChange(profile.status, status)
    profile.status = status
    profile.updated_at = now
    session.add(profile)
    if status is InformantStatus.REMOVED:
        await session.exec(
            update(Membership)
            .where(
                col(Membership.person_id) == person_id,
                col(Membership.role) == Role.INFORMANT,
                col(Membership.active),
            )
            .values(active=False, removed_at=now)
        )
    await session.flush()
    return profile


async def list_informants(
    session: AsyncSession,
    now: datetime,
    *,
    by: Actor | None = None,
    include_removed: bool = False,
    tz: ZoneInfo = DISTRICT_TZ,
) -> list[InformantRow]:
    """Informants by id, with this month's and all their points; ``by`` (not None, not
    an admin) sees only those they manage (see ``may_manage``)."""
    query = select(InformantProfile, Community.name).outerjoin(
        Community, col(Community.id) == InformantProfile.community_id
    )
    if not include_removed:
        query = query.where(InformantProfile.status != InformantStatus.REMOVED)
    if by is not None and not by.is_admin:
        query = query.where(_managed_by(by))
    rows = (await session.exec(query.order_by(col(InformantProfile.person_id)))).all()
    start, end = month_bounds(now, tz)
    in_month = col(ReportGrade.graded_at) >= start, col(ReportGrade.graded_at) < end
    month = dict(
        (
            await session.exec(
                select(ReportGrade.informant_id, func.sum(ReportGrade.points))
                .where(*in_month)
                .group_by(col(ReportGrade.informant_id))
            )
        ).all()
    )
    total = dict(
        (
            await session.exec(
                select(ReportGrade.informant_id, func.sum(ReportGrade.points)).group_by(
                    col(ReportGrade.informant_id)
                )
            )
        ).all()
    )
    reports = dict(
        (
            await session.exec(
                select(Ticket.reporter_id, func.count())
                .where(Ticket.source == TicketSource.INFORMANT)
                .group_by(col(Ticket.reporter_id))
            )
        ).all()
    )
    return [
        InformantRow(
            person_id=profile.person_id,
            display_name=profile.display_name,
            phone=profile.phone,
            work_type=profile.work_type,
            community=community,
            status=profile.status,
            joined_at=profile.joined_at,
            points_month=int(month.get(profile.person_id) or 0),
            points_total=int(total.get(profile.person_id) or 0),
            reports=int(reports.get(profile.person_id) or 0),
        )
        for profile, community in rows
    ]


# Reports ----------------------------------------------------------------------------------


async def recent_categories(session: AsyncSession, person_id: int, limit: int = 4) -> list[str]:
    """The categories of the informant's own recent reports, the latest first."""
    latest = func.max(Ticket.created_at)
    rows = await session.exec(
        select(Ticket.category, latest)
        .where(Ticket.reporter_id == person_id, Ticket.source == TicketSource.INFORMANT)
        .group_by(col(Ticket.category))
        .order_by(latest.desc(), col(Ticket.category))
        .limit(limit)
    )
    return [category for category, _latest in rows.all()]


def ordered_categories(catalogue: CategoryCatalogue, recent: list[str]) -> list[str]:
    """Category codes with the recent ones first (those still in the catalogue), then the
    others in the catalogue's order."""
    known = [category.code for category in catalogue.all]
    first = [code for code in recent if code in known]
    return first + [code for code in known if code not in first]


def report_description(draft: ReportDraft) -> str:
    """The note, else a language-neutral line: every recipient reads the same text."""
    if draft.note and draft.note.strip():
        return draft.note.strip()
    parts = [f"📷 ×{len(draft.photos)}"]
    if draft.voice is not None:
        minutes, seconds = divmod(max(draft.voice.duration, 0), 60)
        parts.append(f"🎤 {minutes}:{seconds:02d}")
    return " · ".join(parts)


async def file_report(
    session: AsyncSession,
    reporter: Person,
    draft: ReportDraft,
    index: DistrictIndex,
    catalogue: CategoryCatalogue,
    now: datetime,
    *,
    number_prefix: str = "DX",
    daily_limit: int = 30,
    tz: ZoneInfo = DISTRICT_TZ,
) -> Ticket:
    """点单 from the road: the report becomes a ticket routed by its location alone."""
    await require_active(session, reporter.id)
    if not draft.photos:
        raise ValueError("a report needs at least one photo")
    if len(draft.photos) > MAX_PHOTOS:
        raise ValueError(f"at most {MAX_PHOTOS} photos")
    if draft.note is not None and len(draft.note.strip()) > MAX_DESCRIPTION:
        raise ValueError(f"the note is longer than {MAX_DESCRIPTION} characters")
    route = locate(index, draft.latitude, draft.longitude)
    ticket = await tickets.create_ticket(
        session,
        tickets.TicketDraft(
            source=TicketSource.INFORMANT,
            category=draft.category,
            description=report_description(draft),
            photos=list(draft.photos),
            latitude=draft.latitude,
            longitude=draft.longitude,
            grid_id=route.grid.grid_id,
            contact_consent=False,
            routing=route.outcome.value,
        ),
        reporter,
        catalogue,
        now,
        number_prefix=number_prefix,
        daily_limit=daily_limit,
        tz=tz,
    )
    if draft.voice is not None:
        # The voice note stays on Telegram's servers; the history keeps its file id.
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                kind=EventKind.COMMENT,
                actor_id=reporter.id,
                details={
                    "voice": draft.voice.file_id,
                    "voice_unique_id": draft.voice.unique_id,
                    "duration": draft.voice.duration,
                },
                created_at=now,
            )
        )
        await session.flush()
    return ticket


async def voice_note(session: AsyncSession, ticket_id: int) -> str | None:
    """The file id of the report's voice note, if it has one."""
    events = await tickets.ticket_history(session, ticket_id)
    for event in events:
        if event.kind is EventKind.COMMENT and event.details.get("voice"):
            return str(event.details["voice"])
    return None


async def my_reports(
    session: AsyncSession, person_id: int, limit: int = 20
) -> list[tuple[Ticket, ReportGrade | None]]:
    """The informant's reports, newest first, each with its grade if it has one."""
    rows = await session.exec(
        select(Ticket, ReportGrade)
        .outerjoin(ReportGrade, col(ReportGrade.ticket_id) == Ticket.id)
        .where(Ticket.reporter_id == person_id, Ticket.source == TicketSource.INFORMANT)
        .order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc())
        .limit(limit)
    )
    return list(rows.all())


# 评单: grading ----------------------------------------------------------------------------


async def grade_of(session: AsyncSession, ticket_id: int) -> ReportGrade | None:
    rows = await session.exec(select(ReportGrade).where(ReportGrade.ticket_id == ticket_id))
    return rows.one_or_none()


async def gradable(session: AsyncSession, ticket: Ticket) -> bool:
    """Whether the report waits for its grade (an informant's, closed by the team, and
    not graded yet)."""
    return (
        ticket.source is TicketSource.INFORMANT
        and ticket.status in GRADABLE
        and await grade_of(session, ticket.id) is None
    )


async def grade_report(
    session: AsyncSession,
    ticket: Ticket,
    actor: Actor,
    grade: Grade | str,
    points: PointsTable,
    now: datetime,
) -> ReportGrade:
    """The team grades a report it has closed. Only those who may act on the ticket as its
    team grade it (its grid's members; the officer and admins who can act on it too);
    a valid report earns points by its priority, once."""
    grade = Grade(grade)
    if ticket.source is not TicketSource.INFORMANT:
        raise NotAReport(f"{ticket.number} is not an informant report")
    if not await people.can_handle(session, actor, ticket):
        raise NotAllowed(f"person {actor.person_id} is not on the team of {ticket.number}")
    if grade not in GRADES_FOR.get(ticket.status, ()):
        raise NotGradable(ticket.status, grade)
    earned = points.for_priority(ticket.priority) if grade is Grade.VALID else 0
    dialect = (await session.connection()).dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    result = await session.exec(
        insert(ReportGrade)
        .values(
            ticket_id=ticket.id,
            informant_id=ticket.reporter_id,
            grade=grade,
            points=earned,
            graded_by_id=actor.person_id,
            graded_at=now,
        )
        .on_conflict_do_nothing(index_elements=["ticket_id"])
    )
    graded = await grade_of(session, ticket.id)
    if result.rowcount != 1:
        raise AlreadyGraded(graded)
    return graded


# Leaderboard and one's own figures --------------------------------------------------------


async def leaderboard(
    session: AsyncSession,
    now: datetime,
    *,
    tz: ZoneInfo = DISTRICT_TZ,
    community_id: int | None = None,
    limit: int | None = 10,
) -> list[LeaderRow]:
    """This month's points (in the district's time zone), highest first, for the district
    or one home community. Equal points share a rank (1, 2, 2, 4); removed informants and
    those without points this month are not listed."""
    start, end = month_bounds(now, tz)
    points = func.sum(ReportGrade.points)
    valid = func.sum(case((ReportGrade.grade == Grade.VALID, 1), else_=0))
    query = (
        select(ReportGrade.informant_id, InformantProfile.display_name, points, valid)
        .join(InformantProfile, col(InformantProfile.person_id) == ReportGrade.informant_id)
        .where(
            col(ReportGrade.graded_at) >= start,
            col(ReportGrade.graded_at) < end,
            InformantProfile.status != InformantStatus.REMOVED,
        )
        .group_by(col(ReportGrade.informant_id), col(InformantProfile.display_name))
        .having(points > 0)
    )
    if community_id is not None:
        query = query.where(InformantProfile.community_id == community_id)
    rows = sorted(
        ((int(p), int(v), name, person_id) for person_id, name, p, v in await session.exec(query)),
        key=lambda row: (-row[0], -row[1], row[2], row[3]),
    )
    board: list[LeaderRow] = []
    for position, (total, valid_count, name, person_id) in enumerate(rows, start=1):
        rank = board[-1].rank if board and board[-1].points == total else position
        board.append(LeaderRow(rank, person_id, name, total, valid_count))
    return board if limit is None else board[:limit]


async def informant_stats(
    session: AsyncSession, person_id: int, now: datetime, *, tz: ZoneInfo = DISTRICT_TZ
) -> InformantStats:
    """The informant's own figures: points this month and in all, reports, grades, ranks."""
    start, end = month_bounds(now, tz)
    grades = (
        await session.exec(
            select(ReportGrade.grade, ReportGrade.points, ReportGrade.graded_at).where(
                ReportGrade.informant_id == person_id
            )
        )
    ).all()
    counted: dict[Grade, int] = {grade: 0 for grade in Grade}
    for grade, _points, _at in grades:
        counted[grade] += 1
    reports = (
        await session.exec(
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.reporter_id == person_id, Ticket.source == TicketSource.INFORMANT)
        )
    ).one()
    profile = await get_profile(session, person_id)
    community_id = profile.community_id if profile is not None else None
    community = await session.get(Community, community_id) if community_id is not None else None
    district = await leaderboard(session, now, tz=tz, limit=None)
    local = (
        await leaderboard(session, now, tz=tz, community_id=community_id, limit=None)
        if community_id is not None
        else []
    )
    return InformantStats(
        points_month=sum(p for _g, p, at in grades if start <= at < end),
        points_total=sum(p for _g, p, _at in grades),
        reports=int(reports),
        graded=counted,
        rank_district=_rank_of(district, person_id),
        rank_community=_rank_of(local, person_id),
        community=community.name if community is not None else None,
    )


def _rank_of(board: list[LeaderRow], person_id: int) -> int | None:
    return next((row.rank for row in board if row.person_id == person_id), None)


# PIPL: /mydata and /forget ----------------------------------------------------------------


async def export_informant(session: AsyncSession, person_id: int) -> dict[str, Any] | None:
    """The informant profile and the grades of the person's reports, JSON-ready."""
    profile = await get_profile(session, person_id)
    if profile is None:
        return None
    grades = (
        await session.exec(
            select(ReportGrade, Ticket.number)
            .join(Ticket, col(Ticket.id) == ReportGrade.ticket_id)
            .where(ReportGrade.informant_id == person_id)
            .order_by(col(ReportGrade.id))
        )
    ).all()
    return {
        "display_name": profile.display_name,
        "phone": profile.phone,
        "work_type": profile.work_type.value,
        "community_id": profile.community_id,
        "status": profile.status.value,
        "joined_at": profile.joined_at.isoformat(),
        "grades": [
            {
                "ticket": number,
                "grade": grade.grade.value,
                "points": grade.points,
                "graded_at": grade.graded_at.isoformat(),
            }
            for grade, number in grades
        ],
    }


async def forget_informant(session: AsyncSession, person_id: int, now: datetime) -> None:
    """Erase the profile's name and phone (PIPL); the grades stay, nameless, like tickets."""
    profile = await get_profile(session, person_id)
    if profile is None:
        return
    profile.display_name = ""
    profile.phone = ""
    profile.status = InformantStatus.REMOVED
    profile.invited_by_telegram_id = None
    profile.updated_at = now
    session.add(profile)
    await session.flush()


# EXIF: the location a camera wrote into a JPEG --------------------------------------------

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8, 13: 4}
_GPS_IFD_POINTER = 0x8825
_MAX_ENTRIES = 512


def exif_gps(data: bytes) -> tuple[float, float] | None:
    """(latitude, longitude) from a JPEG's EXIF GPS tags, or None when it has none.

    Pure and defensive: reads the APP1 "Exif" segments before the image data (stdlib
    only), and gives None, never an error, for anything malformed, truncated or absurd
    (0, 0 is what some phones write without a fix).
    """
    try:
        return _jpeg_gps(bytes(data))
    except (IndexError, KeyError, ValueError, ZeroDivisionError, struct.error, OverflowError):
        return None


def _jpeg_gps(data: bytes) -> tuple[float, float] | None:
    if data[:2] != b"\xff\xd8":
        return None
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            position += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no metadata after this
            return None
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        if length < 2 or position + 2 + length > len(data):
            return None
        segment = data[position + 4 : position + 2 + length]
        if marker == 0xE1 and segment.startswith(b"Exif\x00\x00"):
            found = _tiff_gps(segment[6:])
            if found is not None:
                return found
        position += 2 + length
    return None


def _tiff_gps(tiff: bytes) -> tuple[float, float] | None:
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or struct.unpack(order + "H", tiff[2:4])[0] != 42:
        return None
    ifd0 = _ifd(tiff, order, struct.unpack(order + "I", tiff[4:8])[0])
    pointer = ifd0.get(_GPS_IFD_POINTER)
    if pointer is None or pointer[0] not in (4, 13):
        return None
    gps = _ifd(tiff, order, struct.unpack(order + "I", pointer[1][:4])[0])
    latitude = _degrees(gps.get(2), order)
    longitude = _degrees(gps.get(4), order)
    if latitude is None or longitude is None:
        return None
    if _reference(gps.get(1)) == "S":
        latitude = -latitude
    if _reference(gps.get(3)) == "W":
        longitude = -longitude
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    if latitude == 0 and longitude == 0:
        return None
    return latitude, longitude


def _ifd(tiff: bytes, order: str, offset: int) -> dict[int, tuple[int, bytes]]:
    """The entries of the IFD at ``offset``: tag -> (type, the value's bytes)."""
    if offset < 8 or offset + 2 > len(tiff):
        raise ValueError("IFD offset out of range")
    count = struct.unpack(order + "H", tiff[offset : offset + 2])[0]
    if count > _MAX_ENTRIES:
        raise ValueError("too many IFD entries")
    entries = {}
    for number in range(count):
        start = offset + 2 + 12 * number
        entry = tiff[start : start + 12]
        if len(entry) < 12:
            raise ValueError("truncated IFD")
        tag, kind, items = struct.unpack(order + "HHI", entry[:8])
        size = _TYPE_SIZES.get(kind)
        if size is None:
            continue
        length = size * items
        if length <= 4:
            value = entry[8 : 8 + length]
        else:
            at = struct.unpack(order + "I", entry[8:12])[0]
            value = tiff[at : at + length]
            if len(value) < length:
                raise ValueError("value out of range")
        entries[tag] = (kind, value)
    return entries


def _degrees(entry: tuple[int, bytes] | None, order: str) -> float | None:
    """Degrees, minutes, seconds as RATIONALs (some writers give fewer parts)."""
    if entry is None or entry[0] != 5 or not 1 <= len(entry[1]) // 8 <= 3:
        return None
    value = entry[1]
    total = 0.0
    for part in range(len(value) // 8):
        numerator, denominator = struct.unpack(order + "II", value[8 * part : 8 * part + 8])
        total += numerator / denominator / 60**part
    return total


def _reference(entry: tuple[int, bytes] | None) -> str | None:
    if entry is None or entry[0] != 2:
        return None
    return entry[1].split(b"\x00", 1)[0].decode("ascii", "replace").strip().upper() or None
