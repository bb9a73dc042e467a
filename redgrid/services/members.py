"""The district's team as the admin manages it from the shell: who holds which role where,
and taking a role away.

Removing deactivates the membership (the row stays: tickets' history names its people).
In the same transaction the pending pushes that would still put the scope's work in the
former member's hands are dropped: a ticket card with the team's buttons, a colleague's
note about a ticket. Pushes about a ticket they reported or follow stay (they hear of
those as a resident), and so do pushes without a ticket (a digest, an earlier farewell):
nothing in such a row tells team work from the rest, and none of them carries a button
that acts on a ticket. Red informants are removed through their own profile
(``services/informants.py``), which takes the membership with it.

The caller owns the transaction; these functions only flush.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, false, func, true, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.models import (
    Community,
    Grid,
    Membership,
    OutboxMessage,
    OutboxStatus,
    Person,
    Role,
    Ticket,
    TicketFollower,
)
from redgrid.services import people
from redgrid.services.invites import ScopeNotFound, find_community

# The roles ``redgrid members`` shows and removes; informants have ``redgrid informants``.
TEAM_ROLES = (Role.SECRETARY, Role.GRID_WORKER, Role.OFFICER, Role.ADMIN)
DROPPED_PUSH = "not sent: the recipient left the team"


class MembershipNotFound(Exception):  # noqa: N818 - the name is the public interface
    """No team membership has this id."""


class AlreadyRemoved(Exception):  # noqa: N818
    pass


class InformantMembership(Exception):  # noqa: N818
    """The id is a red informant's role: it goes with their profile."""

    def __init__(self, membership: Membership) -> None:
        super().__init__(f"membership {membership.id} is a red informant's")
        self.person_id = membership.person_id  # read now: the caller rolls back


@dataclass(frozen=True, slots=True)
class MemberRow:
    membership_id: int
    person_id: int
    name: str
    telegram_id: int
    forgotten: bool
    role: Role
    grid: Grid | None
    community: Community | None
    active: bool
    since: datetime
    removed_at: datetime | None  # None for an active row, or one removed before it was kept


async def find_any_grid(session: AsyncSession, code: str) -> Grid:
    """The grid with this code, retired or not (a retired grid's team may still be listed)."""
    code = code.strip()
    for candidate in dict.fromkeys((code, code.upper())):
        grid = (await session.exec(select(Grid).where(Grid.code == candidate))).one_or_none()
        if grid is not None:
            return grid
    raise ScopeNotFound(f"no grid with code {code!r}")


async def list_members(
    session: AsyncSession,
    *,
    grid_code: str | None = None,
    community_name: str | None = None,
    include_removed: bool = False,
) -> list[MemberRow]:
    """Team memberships, district admins first, then by community and grid (a community's
    officers before its grids). ``community_name`` takes the officers and the teams of
    the community's grids. Raises ``ScopeNotFound`` for an unknown grid or community."""
    community_id = func.coalesce(Membership.community_id, Grid.community_id)
    query = (
        select(Membership, Person, Grid, Community)
        .join(Person, col(Person.id) == Membership.person_id)
        .outerjoin(Grid, col(Grid.id) == Membership.grid_id)
        .outerjoin(Community, col(Community.id) == community_id)
        .where(col(Membership.role).in_(TEAM_ROLES))
        .order_by(
            col(Community.name).nulls_first(),
            col(Grid.code).nulls_first(),
            col(Membership.id),
        )
    )
    if grid_code is not None:
        query = query.where(Membership.grid_id == (await find_any_grid(session, grid_code)).id)
    if community_name is not None:
        query = query.where(community_id == (await find_community(session, community_name)).id)
    if not include_removed:
        query = query.where(col(Membership.active))
    rows = (await session.exec(query)).all()
    return [
        MemberRow(
            membership_id=membership.id,
            person_id=person.id,
            name=person.display_name,
            telegram_id=person.telegram_id,
            forgotten=person.forgotten_at is not None,
            role=membership.role,
            grid=grid,
            community=community,
            active=membership.active,
            since=membership.created_at,
            removed_at=membership.removed_at,
        )
        for membership, person, grid, community in rows
    ]


class GapKind(StrEnum):
    NO_SECRETARY = "no_secretary"  # the grid's team has workers only
    NO_TEAM = "no_team"  # nobody in the grid's team can be reached
    NO_OFFICER = "no_officer"  # nobody among the community's officers can be reached


class Fallback(StrEnum):
    """Who a grid's or community's tickets reach instead (``tickets.ticket_team``)."""

    OFFICERS = "officers"
    ADMINS = "admins"
    NOBODY = "nobody"


@dataclass(frozen=True, slots=True)
class Gap:
    kind: GapKind
    fallback: Fallback | None = None


@dataclass(frozen=True, slots=True)
class Removal:
    membership: Membership
    person: Person
    grid: Grid | None
    community: Community | None
    dropped_pushes: int
    gap: Gap | None  # what the scope lacks now, if anything


async def remove_membership(
    session: AsyncSession,
    membership_id: int,
    admin_telegram_ids: Collection[int],
    now: datetime,
) -> Removal:
    """Deactivate a team membership and drop the pending pushes of its work (see the
    module's notes); say what its grid or community lacks now."""
    membership = await session.get(Membership, membership_id)
    if membership is None or membership.role not in (*TEAM_ROLES, Role.INFORMANT):
        raise MembershipNotFound(f"no team membership has the id {membership_id}")
    if membership.role is Role.INFORMANT:
        raise InformantMembership(membership)
    if not membership.active:
        raise AlreadyRemoved(f"membership {membership_id} is already removed")
    membership.active = False
    membership.removed_at = now
    session.add(membership)
    await session.flush()
    person = await session.get(Person, membership.person_id)
    grid = await session.get(Grid, membership.grid_id) if membership.grid_id else None
    community_id = grid.community_id if grid is not None else membership.community_id
    community = await session.get(Community, community_id) if community_id else None
    dropped = await _drop_team_pushes(session, membership, person, admin_telegram_ids)
    gap = await _gap(session, membership, grid, admin_telegram_ids)
    return Removal(membership, person, grid, community, dropped, gap)


def _left_scope(membership: Membership) -> ColumnElement[bool]:
    """The tickets the membership put in its holder's hands."""
    if membership.role is Role.ADMIN:
        return true()
    if membership.role is Role.OFFICER:
        return Ticket.community_id == membership.community_id
    if membership.grid_id is not None:
        return Ticket.grid_id == membership.grid_id
    return false()


async def _drop_team_pushes(
    session: AsyncSession,
    membership: Membership,
    person: Person,
    admin_telegram_ids: Collection[int],
) -> int:
    """Mark failed the person's pending pushes about the scope's tickets that they can no
    longer act on (another role of theirs may still cover a ticket); returns how many."""
    if await people.is_admin(session, person, admin_telegram_ids):
        return 0
    follows = select(TicketFollower.ticket_id).where(TicketFollower.person_id == person.id)
    tickets = (
        await session.exec(
            select(Ticket).where(
                col(Ticket.id).in_(
                    select(OutboxMessage.ticket_id).where(
                        OutboxMessage.person_id == person.id,
                        OutboxMessage.status == OutboxStatus.PENDING,
                    )
                ),
                _left_scope(membership),
                Ticket.reporter_id != person.id,
                col(Ticket.id).not_in(follows),
            )
        )
    ).all()
    remaining = await people.memberships(session, person.id)
    lost = [ticket.id for ticket in tickets if not people.covers(remaining, ticket)]
    if not lost:
        return 0
    result = await session.exec(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.person_id) == person.id,
            col(OutboxMessage.status) == OutboxStatus.PENDING,
            col(OutboxMessage.ticket_id).in_(lost),
        )
        .values(status=OutboxStatus.FAILED, last_error=DROPPED_PUSH)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


async def _gap(
    session: AsyncSession,
    membership: Membership,
    grid: Grid | None,
    admin_telegram_ids: Collection[int],
) -> Gap | None:
    """What the membership's grid or community lacks after its removal, judged as
    ``tickets.ticket_team`` picks whom a ticket reaches."""
    if grid is not None:
        if not await people.team_members(session, grid.id):
            if await people.community_officers(session, grid.community_id):
                return Gap(GapKind.NO_TEAM, Fallback.OFFICERS)
            return Gap(GapKind.NO_TEAM, await _admins_or_nobody(session, admin_telegram_ids))
        secretaries = select(Membership.id).where(
            Membership.grid_id == grid.id,
            Membership.role == Role.SECRETARY,
            col(Membership.active),
            col(Membership.person_id).in_(
                select(Person.id).where(col(Person.forgotten_at).is_(None))
            ),
        )
        if (await session.exec(secretaries)).first() is None:
            return Gap(GapKind.NO_SECRETARY)
        return None
    if membership.role is Role.OFFICER and not await people.community_officers(
        session, membership.community_id
    ):
        return Gap(GapKind.NO_OFFICER, await _admins_or_nobody(session, admin_telegram_ids))
    return None


async def _admins_or_nobody(session: AsyncSession, admin_telegram_ids: Collection[int]) -> Fallback:
    admins = await people.district_admins(session, admin_telegram_ids)
    return Fallback.ADMINS if admins else Fallback.NOBODY
