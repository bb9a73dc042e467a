"""People and their roles: who someone is, what they may act on, and PIPL's /mydata and /forget.

The caller owns the transaction; these functions only flush.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, delete, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.models import (
    Membership,
    Person,
    Role,
    Ticket,
    TicketEvent,
    TicketFollower,
    TicketPhoto,
)
from redgrid.models.base import utcnow
from redgrid.services import retention

SUPPORTED_LOCALES = ("zh_CN", "en")
TEAM_ROLES = (Role.SECRETARY, Role.GRID_WORKER)
# Person columns are this wide; Telegram names can be longer.
MAX_DISPLAY_NAME = 128


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting, as the services need it; the handler builds it once per update."""

    person_id: int
    telegram_id: int
    is_admin: bool


async def get_or_create_person(
    session: AsyncSession, telegram_id: int, display_name: str, locale: str | None
) -> Person:
    """The person with this Telegram id, created on first contact.

    Two updates from a new user can arrive at once: the insert does nothing when the other
    one won, and both then read the same row. (Known people are read without an insert,
    which on PostgreSQL would use up a sequence number every time.) ``locale`` is only
    stored for a new person; a saved choice is changed with ``set_locale``. A forgotten
    person's Telegram id was replaced by a tombstone, so someone who returns after /forget
    starts afresh.
    """
    _require_supported(locale)
    display_name = display_name[:MAX_DISPLAY_NAME]
    person = (await session.exec(_BY_TELEGRAM_ID, params={"telegram_id": telegram_id})).first()
    if person is None:
        person = await _create_person(session, telegram_id, display_name, locale)
    if person.display_name != display_name:
        person.display_name = display_name
        await session.flush()
    return person


def _require_supported(locale: str | None) -> None:
    if locale is not None and locale not in SUPPORTED_LOCALES:
        raise ValueError(f"unsupported locale {locale!r}; use one of {SUPPORTED_LOCALES}")


async def _create_person(
    session: AsyncSession, telegram_id: int, display_name: str, locale: str | None
) -> Person:
    """Insert a new person; if another update of theirs won the race, read its row."""
    _require_supported(locale)
    dialect = (await session.connection()).dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    statement = (
        insert(Person)
        .values(
            telegram_id=telegram_id,
            display_name=display_name[:MAX_DISPLAY_NAME],
            locale=locale,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["telegram_id"])
        .returning(Person)
    )
    person = (await session.exec(statement)).scalars().first()
    if person is None:
        params = {"telegram_id": telegram_id}
        person = (await session.exec(_BY_TELEGRAM_ID, params=params)).one()
    return person


@dataclass(frozen=True, slots=True)
class Identified:
    person: Person
    is_admin: bool
    # The values of the query's extra columns (see ``identify_query``); None for a person
    # created by this call.
    also: tuple[Any, ...] | None


def identify_query(*also: ColumnElement[Any]) -> Select:
    """The query ``identify`` runs, reading ``also`` (scalar subqueries with their own bind
    parameters) in the same round trip. Build it once and keep it."""
    return _IDENTIFY.add_columns(*also)


async def identify(
    session: AsyncSession,
    telegram_id: int,
    display_name: str,
    locale: str | None,
    admin_telegram_ids: Collection[int],
    *,
    query: Select | None = None,
    params: dict[str, Any] | None = None,
) -> Identified:
    """The person behind an update and whether they are an admin, in one query for people
    the bot knows (it runs for every update). Writing to the bot shows they can be reached
    again, so a mark of being unreachable is cleared."""
    row = (
        await session.exec(
            query if query is not None else _IDENTIFY,
            params={"telegram_id": telegram_id, **(params or {})},
        )
    ).one_or_none()
    if row is None:
        person = await _create_person(session, telegram_id, display_name, locale)
        admin, also = False, None
    else:
        person, admin, *rest = row
        also = tuple(rest)
        if person.display_name != display_name[:MAX_DISPLAY_NAME]:
            person.display_name = display_name[:MAX_DISPLAY_NAME]
    if person.unreachable_at is not None:
        person.unreachable_at = None
    return Identified(person, admin or telegram_id in admin_telegram_ids, also)


# Built once: they run for every update, and building a statement costs more than running it.
_BY_TELEGRAM_ID = select(Person).where(Person.telegram_id == bindparam("telegram_id"))
_IDENTIFY = select(
    Person,
    select(Membership.id)
    .where(
        Membership.person_id == Person.id,
        Membership.role == Role.ADMIN,
        col(Membership.active),
    )
    .exists(),
).where(Person.telegram_id == bindparam("telegram_id"))


async def mark_unreachable(session: AsyncSession, person: Person | None, now: datetime) -> None:
    """Telegram refused to deliver to this person (they blocked the bot)."""
    if person is not None and person.unreachable_at is None:
        person.unreachable_at = now
        await session.flush()


async def set_locale(session: AsyncSession, person: Person, locale: str) -> None:
    if locale not in SUPPORTED_LOCALES:
        raise ValueError(f"unsupported locale {locale!r}; use one of {SUPPORTED_LOCALES}")
    person.locale = locale
    session.add(person)
    await session.flush()


async def set_phone(session: AsyncSession, person: Person, phone: str) -> None:
    """The number a resident lets the grid team call them on (the caller checked it)."""
    person.phone = phone
    session.add(person)
    await session.flush()


async def memberships(session: AsyncSession, person_id: int) -> list[Membership]:
    """The person's active roles, oldest first."""
    rows = await session.exec(_MEMBERSHIPS, params={"person_id": person_id})
    return list(rows.all())


# Built once: the roles are read on most updates (menus, permission checks).
_MEMBERSHIPS = (
    select(Membership)
    .where(Membership.person_id == bindparam("person_id"), col(Membership.active))
    .order_by(col(Membership.id))
)


async def grant_role(
    session: AsyncSession,
    person_id: int,
    role: Role,
    grid_id: int | None = None,
    community_id: int | None = None,
) -> Membership:
    """Give a role in a scope; granting it again re-activates or returns the same row."""
    _check_scope(role, grid_id, community_id)
    existing = (
        await session.exec(
            select(Membership)
            .where(
                Membership.person_id == person_id,
                Membership.role == role,
                Membership.grid_id == grid_id,
                Membership.community_id == community_id,
            )
            .order_by(col(Membership.active).desc(), col(Membership.id))
        )
    ).first()
    if existing is None:
        existing = Membership(
            person_id=person_id, role=role, grid_id=grid_id, community_id=community_id
        )
        session.add(existing)
    existing.active = True
    existing.removed_at = None
    await session.flush()
    return existing


def _check_scope(role: Role, grid_id: int | None, community_id: int | None) -> None:
    """The same rule the database enforces, with a message a person can read."""
    if role in TEAM_ROLES:
        valid = grid_id is not None and community_id is None
    elif role is Role.OFFICER:
        valid = community_id is not None and grid_id is None
    elif role is Role.ADMIN:
        valid = grid_id is None and community_id is None
    else:
        valid = grid_id is None
    if not valid:
        raise ValueError(
            f"role {role} cannot be held with grid_id={grid_id}, community_id={community_id}"
        )


async def is_admin(
    session: AsyncSession, person: Person, admin_telegram_ids: Collection[int]
) -> bool:
    """Admins are named in the settings or hold an active admin membership."""
    if person.telegram_id in admin_telegram_ids:
        return True
    return any(m.role is Role.ADMIN for m in await memberships(session, person.id))


async def team_members(session: AsyncSession, grid_id: int) -> list[Person]:
    """The grid's secretaries and grid workers."""
    rows = await session.exec(_TEAM_MEMBERS, params={"grid_id": grid_id})
    return list(rows.all())


async def community_officers(session: AsyncSession, community_id: int) -> list[Person]:
    rows = await session.exec(_COMMUNITY_OFFICERS, params={"community_id": community_id})
    return list(rows.all())


async def district_admins(
    session: AsyncSession, admin_telegram_ids: Collection[int]
) -> list[Person]:
    """Admins from the settings (who have opened the bot) and by membership."""
    rows = await session.exec(_DISTRICT_ADMINS, params={"telegram_ids": list(admin_telegram_ids)})
    return list(rows.all())


async def never_met(session: AsyncSession, telegram_ids: Collection[int]) -> list[int]:
    """Which of ``telegram_ids`` never wrote to the bot (no person row): Telegram lets a
    bot write to nobody first, so no push can reach them yet."""
    met = await session.exec(
        select(Person.telegram_id).where(col(Person.telegram_id).in_(list(telegram_ids)))
    )
    return sorted(set(telegram_ids) - set(met.all()))


def _holders(*conditions: Any) -> Select:
    """The query for people who can be reached with an active membership matching
    ``conditions``, each once, by id. Someone who blocked the bot is left out until they
    write to it again."""
    holders = select(Membership.person_id).where(col(Membership.active), *conditions)
    return (
        select(Person)
        .where(
            col(Person.id).in_(holders),
            col(Person.forgotten_at).is_(None),
            col(Person.unreachable_at).is_(None),
        )
        .order_by(col(Person.id))
    )


# Built once: a ticket's team is looked up for every push about it, and building a
# statement costs more than running it.
_TEAM_MEMBERS = _holders(
    col(Membership.role).in_(TEAM_ROLES), Membership.grid_id == bindparam("grid_id")
)
_COMMUNITY_OFFICERS = _holders(
    Membership.role == Role.OFFICER, Membership.community_id == bindparam("community_id")
)
_DISTRICT_ADMINS = (
    select(Person)
    .where(
        or_(
            col(Person.telegram_id).in_(bindparam("telegram_ids", expanding=True)),
            col(Person.id).in_(
                select(Membership.person_id).where(
                    Membership.role == Role.ADMIN, col(Membership.active)
                )
            ),
        ),
        col(Person.forgotten_at).is_(None),
        col(Person.unreachable_at).is_(None),
    )
    .order_by(col(Person.id))
)


async def can_handle(session: AsyncSession, actor: Actor, ticket: Ticket) -> bool:
    """Whether the actor may act on the ticket as its team.

    Grid members handle their grid's tickets; an officer handles everything of the
    community (its queue and its grids' tickets carry its ``community_id``); admins handle
    everything, desks and the district queue included.
    """
    if actor.is_admin:
        return True
    return covers(await memberships(session, actor.person_id), ticket)


async def left_team_of(session: AsyncSession, person_id: int, ticket: Ticket) -> bool:
    """Whether a role the person no longer holds covered the ticket: they were taken off
    its team (``redgrid members --remove``), and a button of theirs is refused saying so."""
    removed = await session.exec(
        select(Membership).where(Membership.person_id == person_id, ~col(Membership.active))
    )
    return covers(removed.all(), ticket)


def covers(roles: Collection[Membership], ticket: Ticket) -> bool:
    """Whether one of ``roles`` puts the ticket in its holder's hands (admins aside)."""
    # The role-scope rule guarantees team roles a grid and officers a community, so an
    # empty ticket field never matches.
    return any(
        (m.role in TEAM_ROLES and m.grid_id == ticket.grid_id)
        or (m.role is Role.OFFICER and m.community_id == ticket.community_id)
        for m in roles
    )


async def forget_person(session: AsyncSession, person: Person, now: datetime) -> None:
    """Erase a person (PIPL): name, phone, language, roles, follows and the pushes that
    carried them (``retention.forget_pushes``) go.

    The row stays, because tickets and their history point at it, but its Telegram id
    becomes a negative tombstone (real user ids are positive) so nothing links it back to
    the account. Tickets stay, now reported by a nameless row.
    """
    await retention.forget_pushes(session, person.id, person.telegram_id)
    await session.exec(
        update(Membership)
        .where(col(Membership.person_id) == person.id, col(Membership.active))
        .values(active=False, removed_at=now)
    )
    await session.exec(delete(TicketFollower).where(col(TicketFollower.person_id) == person.id))
    person.telegram_id = -person.id
    person.display_name = ""
    person.phone = None
    person.locale = None
    person.forgotten_at = now
    session.add(person)
    await session.flush()


async def export_person_data(session: AsyncSession, person: Person) -> dict[str, Any]:
    """Everything stored about the person, as JSON-ready data, for /mydata."""
    roles = (
        await session.exec(
            select(Membership).where(Membership.person_id == person.id).order_by(col(Membership.id))
        )
    ).all()
    tickets = (
        await session.exec(
            select(Ticket).where(Ticket.reporter_id == person.id).order_by(col(Ticket.id))
        )
    ).all()
    photos = (
        await session.exec(
            select(TicketPhoto, Ticket.number)
            .join(Ticket, col(TicketPhoto.ticket_id) == Ticket.id)
            .where(TicketPhoto.added_by_id == person.id)
            .order_by(col(TicketPhoto.id))
        )
    ).all()
    events = (
        await session.exec(
            select(TicketEvent, Ticket.number)
            .join(Ticket, col(TicketEvent.ticket_id) == Ticket.id)
            .where(TicketEvent.actor_id == person.id)
            .order_by(col(TicketEvent.id))
        )
    ).all()
    follows = (
        await session.exec(
            select(TicketFollower, Ticket.number)
            .join(Ticket, col(TicketFollower.ticket_id) == Ticket.id)
            .where(TicketFollower.person_id == person.id)
            .order_by(col(TicketFollower.created_at))
        )
    ).all()
    return {
        "profile": {
            "id": person.id,
            "telegram_id": person.telegram_id,
            "display_name": person.display_name,
            "phone": person.phone,
            "locale": person.locale,
            "created_at": _iso(person.created_at),
            "forgotten_at": _iso(person.forgotten_at),
        },
        "memberships": [
            {
                "role": m.role.value,
                "grid_id": m.grid_id,
                "community_id": m.community_id,
                "active": m.active,
                "created_at": _iso(m.created_at),
                "removed_at": _iso(m.removed_at),
            }
            for m in roles
        ],
        "tickets": [
            {
                "number": t.number,
                "source": t.source.value,
                "category": t.category,
                "status": t.status.value,
                "description": t.description,
                "latitude": t.latitude,
                "longitude": t.longitude,
                "address": t.address,
                "contact_consent": t.contact_consent,
                "rating": t.rating.value if t.rating else None,
                "rating_comment": t.rating_comment,
                "created_at": _iso(t.created_at),
            }
            for t in tickets
        ],
        "photos": [
            {
                "ticket": number,
                "kind": photo.kind.value,
                "file_id": photo.file_id,
                "file_unique_id": photo.file_unique_id,
                "created_at": _iso(photo.created_at),
            }
            for photo, number in photos
        ],
        "events": [
            {
                "ticket": number,
                "kind": event.kind.value,
                "from_status": event.from_status.value if event.from_status else None,
                "to_status": event.to_status.value if event.to_status else None,
                "note": event.note,
                "details": event.details,
                "created_at": _iso(event.created_at),
            }
            for event, number in events
        ],
        "follows": [
            {"ticket": number, "created_at": _iso(follow.created_at)} for follow, number in follows
        ],
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
