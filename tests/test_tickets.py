"""The ticket loop on SQLite and PostgreSQL: report, dispatch, accept, resolve, rate."""

import asyncio
import gc
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlmodel import select

from redgrid.models import (
    EventKind,
    Grid,
    Person,
    PhotoKind,
    Priority,
    Rating,
    Role,
    Ticket,
    TicketSource,
    TicketStatus,
)
from redgrid.services import tickets
from redgrid.services.categories import load_categories
from redgrid.services.district import import_district
from redgrid.services.district_file import parse_district_file
from redgrid.services.geo import metres_per_degree
from redgrid.services.people import Actor, get_or_create_person, grant_role
from redgrid.services.tickets import (
    AlreadyTaken,
    DailyLimitReached,
    ExtensionLimitReached,
    IllegalTransition,
    NotAllowed,
    Placement,
    TicketDraft,
    TicketNotFound,
)
from tests.district_files import dumps, small_district

CATALOGUE = load_categories()
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Dongxiang
INSIDE_A = (28.2305, 116.6005)
HOUR = timedelta(hours=1)


@dataclass
class World:
    """A small district with a resident, two workers of grid A, a secretary of grid B, the
    officer of 大富社区 (grids A and B), the officer of 东铜社区 (grid C) and an admin."""

    grids: dict[str, Grid]
    resident: Actor
    neighbour: Actor
    worker_a: Actor
    worker_a2: Actor
    secretary_b: Actor
    officer: Actor
    other_officer: Actor
    admin: Actor


async def _person(session, telegram_id: int, name: str, is_admin: bool = False) -> Actor:
    person = await get_or_create_person(session, telegram_id, name, None)
    return Actor(person.id, telegram_id, is_admin)


@pytest.fixture
async def world(session_factory) -> World:
    async with session_factory() as session, session.begin():
        await import_district(session, parse_district_file(dumps(small_district())))
        grids = {g.code: g for g in (await session.exec(select(Grid))).all()}
        actors = {
            name: await _person(session, 1000 + n, name, is_admin=name == "admin")
            for n, name in enumerate(
                [
                    "resident",
                    "neighbour",
                    "worker_a",
                    "worker_a2",
                    "secretary_b",
                    "officer",
                    "other_officer",
                    "admin",
                ]
            )
        }
        for name, role, grid, community in [
            ("worker_a", Role.GRID_WORKER, "A", None),
            ("worker_a2", Role.GRID_WORKER, "A", None),
            ("secretary_b", Role.SECRETARY, "B", None),
            ("officer", Role.OFFICER, None, "A"),
            ("other_officer", Role.OFFICER, None, "C"),
        ]:
            await grant_role(
                session,
                actors[name].person_id,
                role,
                grid_id=grids[grid].id if grid else None,
                community_id=grids[community].community_id if community else None,
            )
        grids["A"].team_chat_id = -100123
        await session.flush()
    return World(grids=grids, **actors)


def draft(world: World, **fields) -> TicketDraft:
    values = {
        "source": TicketSource.RESIDENT,
        "category": "sanitation",
        "description": "  楼道堆满垃圾  ",
        "latitude": INSIDE_A[0],
        "longitude": INSIDE_A[1],
        "grid_id": world.grids["A"].id,
    } | fields
    return TicketDraft(**values)


async def run(session_factory, function, *args, **kwargs):
    """One service call in its own transaction, as a handler makes it."""
    async with session_factory() as session, session.begin():
        return await function(session, *args, **kwargs)


async def report(session_factory, world: World, *, by: Actor | None = None, now=NOW, **fields):
    async with session_factory() as session, session.begin():
        reporter = await session.get(Person, (by or world.resident).person_id)
        return await tickets.create_ticket(
            session, draft(world, **fields), reporter, CATALOGUE, now
        )


async def history(session_factory, ticket_id: int) -> list[EventKind]:
    async with session_factory() as session:
        return [event.kind for event in await tickets.ticket_history(session, ticket_id)]


async def load(session_factory, ticket_id: int) -> Ticket:
    async with session_factory() as session:
        return await session.get(Ticket, ticket_id)


async def test_a_session_reads_a_ticket_s_grid_once(engine, session_factory, world):
    """Placing the ticket, finding its team chat and naming its queue all need the grid;
    the session holds it, though nothing else refers to it in between."""
    reads = []

    def count_grid_reads(connection, cursor, statement, *rest) -> None:
        if statement.lstrip().startswith("SELECT grid."):
            reads.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count_grid_reads)
    try:
        async with session_factory() as session, session.begin():
            reporter = await session.get(Person, world.resident.person_id)
            ticket = await tickets.create_ticket(session, draft(world), reporter, CATALOGUE, NOW)
            gc.collect()
            _, team_chat_id = await tickets.ticket_team(session, ticket)
            grid = await session.get(Grid, ticket.grid_id)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count_grid_reads)
    assert team_chat_id == -100123
    assert grid.code == world.grids["A"].code
    assert len(reads) == 1


# Placement --------------------------------------------------------------------------------


async def test_placement_follows_the_category_route(session_factory, world):
    a = world.grids["A"]
    async with session_factory() as session:

        async def placed(code, grid_id):
            return await tickets.place(session, CATALOGUE.get(code), grid_id)

        assert await placed("sanitation", a.id) == Placement(a.id, a.community_id)
        assert await placed("sanitation", None) == Placement()
        assert await placed("utilities", a.id) == Placement(community_id=a.community_id)
        assert await placed("utilities", None) == Placement()
        assert await placed("enterprise", a.id) == Placement(desk="enterprise")
        assert await placed("enterprise", None) == Placement(desk="enterprise")
        with pytest.raises(tickets.GridNotInService, match="no active grid"):
            await placed("sanitation", 9999)


# Creating ---------------------------------------------------------------------------------


async def test_create_numbers_places_and_sets_deadlines_from_the_category(session_factory, world):
    ticket = await report(
        session_factory,
        world,
        photos=[("file-1", "u1"), ("file-2", "u2")],
        address=" 湖滨花园3栋 ",
        contact_consent=True,
        routing="inside",
    )

    assert ticket.number == f"DX-{ticket.id:06d}"
    assert ticket.description == "楼道堆满垃圾"
    assert ticket.address == "湖滨花园3栋"
    assert (ticket.grid_id, ticket.community_id, ticket.desk) == (
        world.grids["A"].id,
        world.grids["A"].community_id,
        None,
    )
    assert ticket.status is TicketStatus.DISPATCHED
    assert ticket.priority is Priority.NORMAL
    assert ticket.respond_by == NOW + 24 * HOUR
    assert ticket.resolve_by == NOW + 168 * HOUR
    async with session_factory() as session:
        photos = await tickets.ticket_photos(session, ticket.id)
        assert [(p.kind, p.position, p.file_id) for p in photos] == [
            (PhotoKind.REPORT, 0, "file-1"),
            (PhotoKind.REPORT, 1, "file-2"),
        ]
        assert {p.added_by_id for p in photos} == {world.resident.person_id}
        [created] = await tickets.ticket_history(session, ticket.id)
    assert created.kind is EventKind.CREATED
    assert created.actor_id == world.resident.person_id
    assert (created.from_status, created.to_status) == (None, TicketStatus.DISPATCHED)
    assert created.details == {
        "placement": {
            "grid_id": world.grids["A"].id,
            "community_id": world.grids["A"].community_id,
            "desk": None,
        },
        "routing": "inside",
    }


async def test_deadlines_per_priority(session_factory, world):
    for code, priority, respond, resolve in [
        ("safety", Priority.URGENT, 2, 24),
        ("dispute", Priority.COMPLEX, 24, 360),
        ("utilities", Priority.URGENT, 2, 48),  # its own resolve deadline
    ]:
        ticket = await report(session_factory, world, category=code)
        assert ticket.priority is priority
        assert (ticket.respond_by, ticket.resolve_by) == (
            NOW + respond * HOUR,
            NOW + resolve * HOUR,
        )


async def test_desk_ticket_has_no_grid_or_community(session_factory, world):
    ticket = await report(session_factory, world, category="enterprise")
    assert (ticket.grid_id, ticket.community_id, ticket.desk) == (None, None, "enterprise")


async def test_number_prefix_is_configurable(session_factory, world):
    async with session_factory() as session, session.begin():
        reporter = await session.get(Person, world.resident.person_id)
        ticket = await tickets.create_ticket(
            session, draft(world), reporter, CATALOGUE, NOW, number_prefix="FZ"
        )
    assert ticket.number == f"FZ-{ticket.id:06d}"


async def test_create_refuses_bad_drafts(session_factory, world):
    for fields, message in [
        ({"description": "x" * 1001}, "longer than 1000"),
        ({"description": "   "}, "description is empty"),
        ({"photos": [(f"f{n}", f"u{n}") for n in range(6)]}, "at most 5 photos"),
        ({"longitude": None}, "latitude and longitude"),
        ({"address": "路" * 201}, "address is longer"),
    ]:
        with pytest.raises(ValueError, match=message):
            await report(session_factory, world, **fields)
    async with session_factory() as session:
        assert await session.get(Ticket, 1) is None


async def test_description_of_exactly_1000_characters_is_fine(session_factory, world):
    ticket = await report(session_factory, world, description="好" * 1000)
    assert len(ticket.description) == 1000


async def test_daily_limit_counts_from_local_midnight(session_factory, world):
    for _ in range(10):
        await report(session_factory, world)
    with pytest.raises(DailyLimitReached) as raised:
        await report(session_factory, world)
    assert raised.value.limit == 10

    local_midnight = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # 00:00 on 3 March in Shanghai
    with pytest.raises(DailyLimitReached):
        await report(session_factory, world, now=local_midnight - timedelta(seconds=1))
    await report(session_factory, world, now=local_midnight)
    # The limit is per reporter, and per kind: the same person's informant reports have
    # their own.
    await report(session_factory, world, by=world.neighbour)
    await report(
        session_factory,
        world,
        now=local_midnight - timedelta(seconds=1),
        source=TicketSource.INFORMANT,
    )


# The loop ---------------------------------------------------------------------------------


async def test_full_loop_accept_resolve_rate_closes(session_factory, world):
    ticket = await report(session_factory, world)
    later = NOW + 3 * HOUR

    accepted = await run(session_factory, tickets.accept, ticket.id, world.worker_a, later)
    assert accepted.status is TicketStatus.ACCEPTED
    assert accepted.assignee_id == world.worker_a.person_id
    assert accepted.accepted_at == later

    resolved = await run(
        session_factory,
        tickets.resolve,
        ticket.id,
        world.worker_a,
        later + HOUR,
        "已清理",
        photo=("done-file", "done-unique"),
    )
    assert resolved.status is TicketStatus.RESOLVED
    assert (resolved.resolution_note, resolved.resolved_at) == ("已清理", later + HOUR)

    closed = await run(
        session_factory,
        tickets.rate,
        ticket.id,
        world.resident,
        later + 2 * HOUR,
        Rating.SATISFIED,
        catalogue=CATALOGUE,
        comment="谢谢",
    )
    assert closed.status is TicketStatus.CLOSED
    assert (closed.rating, closed.rating_comment) == (Rating.SATISFIED, "谢谢")
    assert closed.closed_at == later + 2 * HOUR
    assert closed.updated_at == later + 2 * HOUR

    async with session_factory() as session:
        events = await tickets.ticket_history(session, ticket.id)
        photos = await tickets.ticket_photos(session, ticket.id, PhotoKind.RESOLUTION)
    assert [(e.kind, e.from_status, e.to_status) for e in events] == [
        (EventKind.CREATED, None, TicketStatus.DISPATCHED),
        (EventKind.ACCEPTED, TicketStatus.DISPATCHED, TicketStatus.ACCEPTED),
        (EventKind.RESOLVED, TicketStatus.ACCEPTED, TicketStatus.RESOLVED),
        (EventKind.RATED, TicketStatus.RESOLVED, TicketStatus.CLOSED),
    ]
    assert [e.actor_id for e in events] == [
        world.resident.person_id,
        world.worker_a.person_id,
        world.worker_a.person_id,
        world.resident.person_id,
    ]
    assert events[-1].details == {"rating": "satisfied"}
    assert [(p.file_id, p.position) for p in photos] == [("done-file", 0)]


async def test_unsatisfied_rating_sends_the_ticket_back_for_rework(session_factory, world):
    ticket = await report(session_factory, world)
    await run(session_factory, tickets.accept, ticket.id, world.worker_a, NOW)
    await run(session_factory, tickets.resolve, ticket.id, world.worker_a, NOW + HOUR, "修好了")
    rated_at = NOW + 5 * HOUR

    reworked = await run(
        session_factory,
        tickets.rate,
        ticket.id,
        world.resident,
        rated_at,
        Rating.UNSATISFIED,
        catalogue=CATALOGUE,
        comment="还是很脏",
    )

    assert reworked.status is TicketStatus.ACCEPTED
    assert reworked.rework_count == 1
    assert reworked.resolved_at is None
    assert reworked.resolve_by == rated_at + 168 * HOUR
    assert reworked.rating is Rating.UNSATISFIED
    assert reworked.assignee_id == world.worker_a.person_id
    async with session_factory() as session:
        rework = (await tickets.ticket_history(session, ticket.id))[-1]
    assert (rework.kind, rework.from_status, rework.to_status) == (
        EventKind.REWORK,
        TicketStatus.RESOLVED,
        TicketStatus.ACCEPTED,
    )
    assert (rework.note, rework.details) == ("还是很脏", {"rating": "unsatisfied"})

    # Second round: a second resolution photo gets the next position; the latest rating wins.
    await run(
        session_factory,
        tickets.resolve,
        ticket.id,
        world.worker_a,
        rated_at + HOUR,
        "重新清理",
        photo=("f1", "u1"),
    )
    await run(
        session_factory,
        tickets.rate,
        ticket.id,
        world.resident,
        rated_at + 2 * HOUR,
        Rating.BASICALLY_SATISFIED,
        catalogue=CATALOGUE,
    )
    closed = await load(session_factory, ticket.id)
    assert (closed.status, closed.rating, closed.rework_count) == (
        TicketStatus.CLOSED,
        Rating.BASICALLY_SATISFIED,
        1,
    )
    assert await history(session_factory, ticket.id) == [
        EventKind.CREATED,
        EventKind.ACCEPTED,
        EventKind.RESOLVED,
        EventKind.REWORK,
        EventKind.RESOLVED,
        EventKind.RATED,
    ]


async def test_extensions_are_capped_in_each_round_of_work(session_factory, world):
    ticket = await report(session_factory, world)
    await run(session_factory, tickets.accept, ticket.id, world.worker_a, NOW)

    async def extend() -> Ticket:
        return await run(
            session_factory, tickets.extend, ticket.id, world.worker_a, NOW, HOUR, "wait", limit=2
        )

    await extend()
    second = await extend()
    with pytest.raises(ExtensionLimitReached):
        await extend()
    assert (await run(session_factory, tickets.get_ticket, ticket.number)).resolve_by == (
        second.resolve_by
    )
    # Unsatisfied: a rework is a new round, with a fresh deadline and fresh extensions.
    await run(session_factory, tickets.resolve, ticket.id, world.worker_a, NOW, "done")
    await run(
        session_factory,
        tickets.rate,
        ticket.id,
        world.resident,
        NOW,
        Rating.UNSATISFIED,
        catalogue=CATALOGUE,
    )
    await extend()
    await extend()
    with pytest.raises(ExtensionLimitReached):
        await extend()
    other = await report(session_factory, world)
    await run(session_factory, tickets.accept, other.id, world.worker_a, NOW)
    with pytest.raises(ExtensionLimitReached):  # MAX_EXTENSIONS=0: never
        await run(
            session_factory, tickets.extend, other.id, world.worker_a, NOW, HOUR, "x", limit=0
        )


async def test_illegal_transitions_raise_and_change_nothing(session_factory, world):
    ticket = await report(session_factory, world)
    team, resident = world.worker_a, world.resident

    with pytest.raises(IllegalTransition) as raised:
        await run(session_factory, tickets.resolve, ticket.id, team, NOW, "done")
    assert (raised.value.from_status, raised.value.action) == (TicketStatus.DISPATCHED, "resolve")
    assert raised.value.ticket_number == ticket.number
    with pytest.raises(IllegalTransition):
        await run(session_factory, tickets.extend, ticket.id, team, NOW, 2 * HOUR, "rain", limit=2)
    with pytest.raises(IllegalTransition):
        await run(
            session_factory,
            tickets.rate,
            ticket.id,
            resident,
            NOW,
            Rating.SATISFIED,
            catalogue=CATALOGUE,
        )

    await run(session_factory, tickets.accept, ticket.id, team, NOW)
    with pytest.raises(IllegalTransition):  # rating an accepted ticket
        await run(
            session_factory,
            tickets.rate,
            ticket.id,
            resident,
            NOW,
            Rating.SATISFIED,
            catalogue=CATALOGUE,
        )

    await run(session_factory, tickets.resolve, ticket.id, team, NOW, "done")
    await run(
        session_factory,
        tickets.rate,
        ticket.id,
        resident,
        NOW,
        Rating.SATISFIED,
        catalogue=CATALOGUE,
    )
    for action, args in [
        (tickets.accept, ()),
        (tickets.resolve, ("again",)),
        (tickets.mark_invalid, ("spam",)),
        (tickets.move_to_consultation, ()),
        (tickets.ask_reporter, ("where?",)),
    ]:
        with pytest.raises(IllegalTransition) as raised:
            await run(session_factory, action, ticket.id, team, NOW, *args)
        assert raised.value.from_status is TicketStatus.CLOSED
    with pytest.raises(IllegalTransition):
        await run(
            session_factory,
            tickets.transfer,
            ticket.id,
            team,
            NOW,
            catalogue=CATALOGUE,
            target_grid_id=world.grids["B"].id,
        )
    with pytest.raises(IllegalTransition):
        await run(session_factory, tickets.add_comment, ticket.id, resident, NOW, "hello?")
    with pytest.raises(IllegalTransition):
        await run(
            session_factory,
            tickets.rate,
            ticket.id,
            resident,
            NOW,
            Rating.UNSATISFIED,
            catalogue=CATALOGUE,
        )

    assert await history(session_factory, ticket.id) == [
        EventKind.CREATED,
        EventKind.ACCEPTED,
        EventKind.RESOLVED,
        EventKind.RATED,
    ]


async def test_two_members_racing_to_accept_exactly_one_wins(session_factory, world):
    ticket = await report(session_factory, world)
    both_loaded = asyncio.Barrier(2)

    async def attempt(actor: Actor) -> tuple[str, int, str]:
        async with session_factory() as session, session.begin():
            loaded = await session.get(Ticket, ticket.id)
            assert loaded.status is TicketStatus.DISPATCHED
            await both_loaded.wait()  # both have seen it waiting: a real race
            try:
                accepted = await tickets.accept(session, loaded, actor, NOW)
            except AlreadyTaken as taken:
                return "lost", taken.assignee.id, taken.ticket_number
            return "won", accepted.assignee_id, accepted.number

    outcomes = await asyncio.gather(attempt(world.worker_a), attempt(world.worker_a2))

    assert sorted(outcome for outcome, _, _ in outcomes) == ["lost", "won"]
    [winner_id] = {person_id for _, person_id, _ in outcomes}  # the loser names the winner
    assert {number for _, _, number in outcomes} == {ticket.number}
    assert winner_id in (world.worker_a.person_id, world.worker_a2.person_id)
    stored = await load(session_factory, ticket.id)
    assert (stored.status, stored.assignee_id) == (TicketStatus.ACCEPTED, winner_id)
    assert await history(session_factory, ticket.id) == [EventKind.CREATED, EventKind.ACCEPTED]


async def test_accepting_an_accepted_ticket_names_who_has_it(session_factory, world):
    ticket = await report(session_factory, world)
    await run(session_factory, tickets.accept, ticket.id, world.worker_a, NOW)
    async with session_factory() as session, session.begin():
        with pytest.raises(AlreadyTaken) as raised:
            await tickets.accept(session, ticket.id, world.worker_a2, NOW)
        assert raised.value.assignee.display_name == "worker_a"


# Permissions ------------------------------------------------------------------------------


async def test_only_the_team_officer_and_admin_may_act(session_factory, world):
    ticket = await report(session_factory, world)
    for outsider in (world.secretary_b, world.resident, world.other_officer):
        with pytest.raises(NotAllowed):
            await run(session_factory, tickets.accept, ticket.id, outsider, NOW)
        with pytest.raises(NotAllowed):
            await run(session_factory, tickets.ask_reporter, ticket.id, outsider, NOW, "?")

    for insider in (world.officer, world.admin, world.worker_a):
        other = await report(session_factory, world)
        accepted = await run(session_factory, tickets.accept, other.id, insider, NOW)
        assert accepted.assignee_id == insider.person_id

    with pytest.raises(NotAllowed):  # only the reporter rates
        await run(
            session_factory,
            tickets.rate,
            ticket.id,
            world.worker_a,
            NOW,
            Rating.SATISFIED,
            catalogue=CATALOGUE,
        )
    with pytest.raises(NotAllowed):  # only the reporter answers
        await run(session_factory, tickets.answer_question, ticket.id, world.neighbour, NOW, "x")
    with pytest.raises(NotAllowed):  # strangers cannot comment
        await run(session_factory, tickets.add_comment, ticket.id, world.neighbour, NOW, "x")


async def test_desk_and_district_queue_tickets_are_for_admins(session_factory, world):
    desk = await report(session_factory, world, category="enterprise")
    nowhere = await report(session_factory, world, grid_id=None)
    for ticket in (desk, nowhere):
        for member in (world.worker_a, world.officer):
            with pytest.raises(NotAllowed):
                await run(session_factory, tickets.accept, ticket.id, member, NOW)
        await run(session_factory, tickets.accept, ticket.id, world.admin, NOW)


# Transfer, extend, invalid, duplicate, consultation ---------------------------------------


async def test_transfer_to_another_grid_then_up_to_the_community(session_factory, world):
    ticket = await report(session_factory, world)
    await run(session_factory, tickets.accept, ticket.id, world.worker_a, NOW)
    later = NOW + 5 * HOUR
    b = world.grids["B"]

    moved = await run(
        session_factory,
        tickets.transfer,
        ticket.id,
        world.worker_a,
        later,
        catalogue=CATALOGUE,
        target_grid_id=b.id,
        note="不在本网格",
    )

    assert moved.status is TicketStatus.DISPATCHED
    assert (moved.grid_id, moved.community_id) == (b.id, b.community_id)
    assert (moved.assignee_id, moved.accepted_at) == (None, None)
    assert moved.respond_by == later + 24 * HOUR
    assert moved.resolve_by == NOW + 168 * HOUR
    async with session_factory() as session:
        event = (await tickets.ticket_history(session, ticket.id))[-1]
    assert (event.kind, event.from_status, event.to_status, event.note) == (
        EventKind.TRANSFERRED,
        TicketStatus.ACCEPTED,
        TicketStatus.DISPATCHED,
        "不在本网格",
    )
    assert event.details == {
        "from_grid": world.grids["A"].id,
        "from_community": world.grids["A"].community_id,
        "from_desk": None,
        "to_grid": b.id,
        "to_community": False,
    }
    with pytest.raises(NotAllowed):  # grid A's team let it go
        await run(session_factory, tickets.accept, ticket.id, world.worker_a, later)

    with pytest.raises(ValueError, match="already in that queue"):
        await run(
            session_factory,
            tickets.transfer,
            ticket.id,
            world.secretary_b,
            later,
            catalogue=CATALOGUE,
            target_grid_id=b.id,
        )
    up = await run(
        session_factory,
        tickets.transfer,
        ticket.id,
        world.secretary_b,
        later + HOUR,
        catalogue=CATALOGUE,
        to_community=True,
    )
    assert (up.grid_id, up.community_id, up.status) == (
        None,
        b.community_id,
        TicketStatus.DISPATCHED,
    )
    assert up.respond_by == later + 25 * HOUR
    with pytest.raises(NotAllowed):
        await run(session_factory, tickets.accept, ticket.id, world.secretary_b, later)
    await run(session_factory, tickets.accept, ticket.id, world.officer, later)
    with pytest.raises(ValueError, match="not in a grid queue"):
        await run(
            session_factory,
            tickets.transfer,
            ticket.id,
            world.officer,
            later,
            catalogue=CATALOGUE,
            to_community=True,
        )


async def test_transfer_to_a_grid_of_another_community_and_argument_checks(session_factory, world):
    ticket = await report(session_factory, world)
    c = world.grids["C"]
    moved = await run(
        session_factory,
        tickets.transfer,
        ticket.id,
        world.officer,
        NOW,
        catalogue=CATALOGUE,
        target_grid_id=c.id,
    )
    assert (moved.grid_id, moved.community_id) == (c.id, c.community_id)
    for arguments in ({}, {"target_grid_id": c.id, "to_community": True}):
        with pytest.raises(ValueError, match="either a target grid or to_community"):
            await run(
                session_factory,
                tickets.transfer,
                ticket.id,
                world.admin,
                NOW,
                catalogue=CATALOGUE,
                **arguments,
            )


async def test_extend_moves_the_resolve_deadline_with_a_reason(session_factory, world):
    ticket = await report(session_factory, world)
    await run(session_factory, tickets.accept, ticket.id, world.worker_a, NOW)

    extended = await run(
        session_factory,
        tickets.extend,
        ticket.id,
        world.worker_a,
        NOW,
        timedelta(days=2),
        "等配件",
        limit=2,
    )

    assert extended.resolve_by == NOW + 168 * HOUR + timedelta(days=2)
    assert extended.status is TicketStatus.ACCEPTED
    async with session_factory() as session:
        event = (await tickets.ticket_history(session, ticket.id))[-1]
    assert (event.kind, event.note) == (EventKind.EXTENDED, "等配件")
    assert event.details == {
        "old_resolve_by": (NOW + 168 * HOUR).isoformat(),
        "new_resolve_by": extended.resolve_by.isoformat(),
    }
    for extra, reason, message in [
        (timedelta(minutes=30), "short", "an extension is between"),
        (timedelta(days=31), "long", "an extension is between"),
        (timedelta(days=1), "  ", "reason is empty"),
    ]:
        with pytest.raises(ValueError, match=message):
            await run(
                session_factory,
                tickets.extend,
                ticket.id,
                world.worker_a,
                NOW,
                extra,
                reason,
                limit=2,
            )


async def test_invalid_and_duplicate(session_factory, world):
    original = await report(session_factory, world)
    spam = await report(session_factory, world)
    copy = await report(session_factory, world)

    invalid = await run(session_factory, tickets.mark_invalid, spam.id, world.worker_a, NOW, "测试")
    assert invalid.status is TicketStatus.INVALID

    with pytest.raises(ValueError, match="itself"):
        await run(
            session_factory, tickets.mark_duplicate, copy.id, world.worker_a, NOW, copy.number
        )
    with pytest.raises(TicketNotFound):
        await run(session_factory, tickets.mark_duplicate, copy.id, world.worker_a, NOW, "DX-9999")
    with pytest.raises(tickets.OriginalNotOpen):
        await run(session_factory, tickets.mark_duplicate, copy.id, world.worker_a, NOW, spam.id)
    elsewhere = await report(session_factory, world, grid_id=world.grids["B"].id)
    with pytest.raises(TicketNotFound):  # another grid's ticket, as if there were none
        await run(
            session_factory, tickets.mark_duplicate, copy.id, world.worker_a, NOW, elsewhere.number
        )
    await run(session_factory, tickets.accept, copy.id, world.worker_a, NOW)
    merge = await run(
        session_factory,
        tickets.mark_duplicate,
        copy.id,
        world.worker_a,
        NOW,
        original.number.lower(),
    )
    duplicate = merge.duplicate
    assert (duplicate.status, duplicate.duplicate_of_id) == (TicketStatus.DUPLICATE, original.id)
    assert merge.new_followers == 0  # the same resident reported both
    later = await report(session_factory, world)
    with pytest.raises(tickets.OriginalNotOpen):  # a duplicate cannot take duplicates
        await run(
            session_factory, tickets.mark_duplicate, later.id, world.officer, NOW, duplicate.id
        )
    async with session_factory() as session:
        event = (await tickets.ticket_history(session, copy.id))[-1]
    assert (event.kind, event.from_status, event.details) == (
        EventKind.DUPLICATE,
        TicketStatus.ACCEPTED,
        {"duplicate_of": original.number},
    )


async def test_consultation_flag_keeps_the_status_and_is_recorded_once(session_factory, world):
    ticket = await report(session_factory, world)
    for _ in range(2):
        flagged = await run(
            session_factory, tickets.move_to_consultation, ticket.id, world.worker_a, NOW, "议一议"
        )
        assert (flagged.in_consultation, flagged.status) == (True, TicketStatus.DISPATCHED)
    assert await history(session_factory, ticket.id) == [
        EventKind.CREATED,
        EventKind.CONSULTATION,
    ]


# Closing unrated --------------------------------------------------------------------------


async def resolved_ticket(session_factory, world, resolved_at: datetime) -> Ticket:
    ticket = await report(session_factory, world)
    await run(session_factory, tickets.accept, ticket.id, world.worker_a, resolved_at)
    return await run(session_factory, tickets.resolve, ticket.id, world.worker_a, resolved_at, "ok")


async def test_close_unrated_closes_old_resolved_tickets_once(session_factory, world):
    old = await resolved_ticket(session_factory, world, NOW)
    recent = await resolved_ticket(session_factory, world, NOW + 2 * 24 * HOUR)
    still_open = await report(session_factory, world)
    sweep_at = NOW + 3 * 24 * HOUR

    closed = await run(session_factory, tickets.close_unrated, sweep_at, timedelta(days=3))

    assert [t.id for t in closed] == [old.id]
    assert closed[0].status is TicketStatus.CLOSED
    assert (closed[0].closed_at, closed[0].rating) == (sweep_at, None)
    assert await run(session_factory, tickets.close_unrated, sweep_at, timedelta(days=3)) == []
    assert (await load(session_factory, recent.id)).status is TicketStatus.RESOLVED
    assert (await load(session_factory, still_open.id)).status is TicketStatus.DISPATCHED
    async with session_factory() as session:
        last = (await tickets.ticket_history(session, old.id))[-1]
    assert (last.kind, last.note, last.actor_id) == (EventKind.CLOSED, "unrated", None)
    assert (await history(session_factory, old.id)).count(EventKind.CLOSED) == 1


async def test_close_unrated_from_two_processes_closes_each_ticket_once(session_factory, world):
    old = await resolved_ticket(session_factory, world, NOW)
    sweep_at = NOW + 4 * 24 * HOUR

    results = await asyncio.gather(
        run(session_factory, tickets.close_unrated, sweep_at, timedelta(days=3)),
        run(session_factory, tickets.close_unrated, sweep_at, timedelta(days=3)),
    )

    assert sorted(len(closed) for closed in results) == [0, 1]
    assert (await history(session_factory, old.id)).count(EventKind.CLOSED) == 1


# Reporter side: comments, photos, questions, following -------------------------------------


async def _add_while_another_holds_the_ticket(session_factory, world, ticket, limit):
    """The reporter adds two photos and has not committed yet when a follower adds two:
    the follower's call must wait for the commit, then see the reporter's photos."""
    async with session_factory() as first:
        await tickets.add_photos(
            first, ticket.id, world.resident, NOW, [("r1", "ur1"), ("r2", "ur2")], limit=limit
        )
        second = asyncio.create_task(
            run(
                session_factory,
                tickets.add_photos,
                ticket.id,
                world.neighbour,
                NOW,
                [("n1", "un1"), ("n2", "un2")],
                limit=limit,
            )
        )
        for _ in range(20):  # let the second call run up to the lock
            await asyncio.sleep(0.01)
        assert not second.done()
        await first.commit()
    return await asyncio.gather(second, return_exceptions=True)


async def test_two_people_adding_photos_at_once_both_succeed_in_order(session_factory, world):
    ticket = await report(session_factory, world, photos=[("f0", "u0")])
    await run(session_factory, tickets.follow, ticket.id, world.neighbour.person_id, NOW)
    [added] = await _add_while_another_holds_the_ticket(session_factory, world, ticket, 10)
    assert [p.position for p in added] == [3, 4]
    async with session_factory() as session:
        photos = await tickets.ticket_photos(session, ticket.id, PhotoKind.REPORT)
    assert [(p.file_id, p.position) for p in photos] == [
        ("f0", 0),
        ("r1", 1),
        ("r2", 2),
        ("n1", 3),
        ("n2", 4),
    ]


async def test_photos_past_the_cap_keep_those_that_fit_even_in_a_race(session_factory, world):
    ticket = await report(session_factory, world, photos=[("f0", "u0")])
    await run(session_factory, tickets.follow, ticket.id, world.neighbour.person_id, NOW)
    [added] = await _add_while_another_holds_the_ticket(session_factory, world, ticket, 4)
    assert [(p.file_id, p.position) for p in added] == [("n1", 3)]
    async with session_factory() as session:
        photos = await tickets.ticket_photos(session, ticket.id, PhotoKind.REPORT)
    assert [p.file_id for p in photos] == ["f0", "r1", "r2", "n1"]  # the follower's first
    assert (await history(session_factory, ticket.id)).count(EventKind.PHOTO) == 3
    with pytest.raises(tickets.PhotoLimitReached) as full:  # none fits: nothing added
        await run(
            session_factory,
            tickets.add_photos,
            ticket.id,
            world.resident,
            NOW,
            [("x", "ux")],
            limit=4,
        )
    assert (full.value.limit, full.value.room) == (4, 0)
    closed = await report(session_factory, world)
    await run(session_factory, tickets.mark_invalid, closed.id, world.worker_a, NOW, "测试")
    with pytest.raises(IllegalTransition):
        await run(
            session_factory,
            tickets.add_photos,
            closed.id,
            world.resident,
            NOW,
            [("x", "ux")],
            limit=9,
        )


async def test_reporter_and_followers_add_comments_and_photos(session_factory, world):
    ticket = await report(session_factory, world, photos=[("f0", "u0")])
    assert await run(session_factory, tickets.follow, ticket.id, world.neighbour.person_id, NOW)
    assert not await run(session_factory, tickets.follow, ticket.id, world.neighbour.person_id, NOW)
    with pytest.raises(ValueError, match="reporter"):
        await run(session_factory, tickets.follow, ticket.id, world.resident.person_id, NOW)

    await run(session_factory, tickets.add_comment, ticket.id, world.resident, NOW, "越来越多")
    [photo] = await run(
        session_factory,
        tickets.add_photos,
        ticket.id,
        world.neighbour,
        NOW,
        [("f1", "u1")],
        limit=10,
    )
    assert (photo.kind, photo.position, photo.added_by_id) == (
        PhotoKind.REPORT,
        1,
        world.neighbour.person_id,
    )
    question = await run(
        session_factory, tickets.ask_reporter, ticket.id, world.worker_a, NOW, "具体几楼？"
    )
    answer = await run(
        session_factory, tickets.answer_question, ticket.id, world.resident, NOW, "三楼"
    )
    assert (question.note, answer.note) == ("具体几楼？", "三楼")
    assert await history(session_factory, ticket.id) == [
        EventKind.CREATED,
        EventKind.FOLLOWED,
        EventKind.COMMENT,
        EventKind.PHOTO,
        EventKind.QUESTION,
        EventKind.ANSWER,
    ]

    async with session_factory() as session:
        own = await tickets.reporter_tickets(session, world.resident.person_id)
        followed = await tickets.reporter_tickets(session, world.neighbour.person_id)
    assert [(t.ticket.id, t.following) for t in own] == [(ticket.id, False)]
    assert [(t.ticket.id, t.following) for t in followed] == [(ticket.id, True)]


async def test_reporter_tickets_newest_first_with_a_limit(session_factory, world):
    made = [
        await report(session_factory, world, now=NOW + n * HOUR, by=world.neighbour)
        for n in range(3)
    ]
    async with session_factory() as session:
        listed = await tickets.reporter_tickets(session, world.neighbour.person_id, limit=2)
    assert [t.ticket.id for t in listed] == [made[2].id, made[1].id]


async def test_audience_of_grid_community_and_desk_tickets(session_factory, world):
    grid_ticket = await report(session_factory, world)
    await run(session_factory, tickets.follow, grid_ticket.id, world.neighbour.person_id, NOW)
    community_ticket = await report(session_factory, world, category="utilities")
    desk_ticket = await report(session_factory, world, category="enterprise")

    async with session_factory() as session:
        audience = await tickets.ticket_audience(session, grid_ticket)
        community = await tickets.ticket_audience(session, community_ticket)
        desk = await tickets.ticket_audience(session, desk_ticket)

    assert audience.reporter.id == world.resident.person_id
    assert [p.id for p in audience.followers] == [world.neighbour.person_id]
    assert [p.id for p in audience.team] == [world.worker_a.person_id, world.worker_a2.person_id]
    assert audience.team_chat_id == -100123
    assert [p.id for p in community.team] == [world.officer.person_id]
    assert community.team_chat_id is None
    assert (desk.team, desk.team_chat_id) == ((), None)


# Queries ----------------------------------------------------------------------------------


def offset(metres_north: float, metres_east: float) -> dict[str, float]:
    per_lon, per_lat = metres_per_degree(INSIDE_A[0])
    return {
        "latitude": INSIDE_A[0] + metres_north / per_lat,
        "longitude": INSIDE_A[1] + metres_east / per_lon,
    }


async def test_nearby_open_tickets_of_the_same_category(session_factory, world):
    near = await report(session_factory, world, **offset(90, 0))
    newer_near = await report(session_factory, world, now=NOW + HOUR, **offset(0, -60))
    await report(session_factory, world, **offset(150, 0))  # too far
    await report(session_factory, world, **offset(80, 80))  # in the box, 113 m away
    await report(session_factory, world, category="noise", **offset(10, 0))
    stale = await report(session_factory, world, now=NOW - timedelta(days=15), **offset(10, 0))
    gone = await report(session_factory, world, **offset(20, 0))
    await run(session_factory, tickets.mark_invalid, gone.id, world.worker_a, NOW, "重复")
    assert stale.created_at < NOW - timedelta(days=14)

    async with session_factory() as session:
        found = await tickets.nearby_open_tickets(
            session, "sanitation", INSIDE_A[0], INSIDE_A[1], NOW + 2 * HOUR
        )
    assert [t.id for t in found] == [newer_near.id, near.id]


async def test_team_queue_is_ordered_by_the_nearest_deadline(session_factory, world):
    normal = await report(session_factory, world)  # respond within 24 h
    urgent = await report(session_factory, world, category="safety")  # within 2 h
    working = await report(session_factory, world, now=NOW - 24 * HOUR)
    await run(session_factory, tickets.accept, working.id, world.worker_a, NOW)  # resolve 144 h
    finished = await report(session_factory, world)
    await run(session_factory, tickets.accept, finished.id, world.worker_a, NOW)
    await run(session_factory, tickets.resolve, finished.id, world.worker_a, NOW, "ok")
    in_b = await report(session_factory, world, grid_id=world.grids["B"].id)
    community = await report(session_factory, world, category="utilities")  # 2 h, no grid
    desk = await report(session_factory, world, category="enterprise", now=NOW - HOUR)

    async with session_factory() as session:
        team = await tickets.team_queue(session, world.worker_a)
        officer = await tickets.team_queue(session, world.officer)
        admin = await tickets.team_queue(session, world.admin)
        resident = await tickets.team_queue(session, world.resident)

    assert [t.id for t in team] == [urgent.id, normal.id, working.id]
    assert [t.id for t in officer] == [urgent.id, community.id, normal.id, in_b.id, working.id]
    assert [t.id for t in admin] == [
        urgent.id,
        community.id,
        desk.id,
        normal.id,
        in_b.id,
        working.id,
    ]
    assert resident == []


async def test_get_ticket_by_id_or_number(session_factory, world):
    ticket = await report(session_factory, world)
    digits = str(ticket.id)
    async with session_factory() as session:
        for reference in (
            ticket.id,
            ticket.number,
            ticket.number.lower(),
            f"dx-{digits}",
            digits,
            f" DX-{ticket.id:09d} ",
        ):
            assert (await tickets.get_ticket(session, reference)).id == ticket.id
        for missing in ("FZ-" + digits, "DX-", "abc", "DX-99999999999", 999_999, "-1"):
            with pytest.raises(TicketNotFound):
                await tickets.get_ticket(session, missing)
