"""People, roles and PIPL's /mydata and /forget, on SQLite and PostgreSQL."""

import asyncio
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func
from sqlmodel import select

from redgrid.models import (
    Grid,
    Membership,
    Person,
    Role,
    Ticket,
    TicketFollower,
    TicketSource,
)
from redgrid.services import people, tickets
from redgrid.services.categories import load_categories
from redgrid.services.district import import_district
from redgrid.services.district_file import parse_district_file
from redgrid.services.people import Actor
from tests.district_files import dumps, small_district

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
async def grids(session_factory) -> dict[str, Grid]:
    async with session_factory() as session, session.begin():
        await import_district(session, parse_district_file(dumps(small_district())))
        return {g.code: g for g in (await session.exec(select(Grid))).all()}


async def new_person(session_factory, telegram_id: int, name: str = "someone") -> Person:
    async with session_factory() as session, session.begin():
        return await people.get_or_create_person(session, telegram_id, name, None)


async def test_get_or_create_person_creates_once_and_follows_name_changes(session_factory):
    async with session_factory() as session, session.begin():
        created = await people.get_or_create_person(session, 42, "张三", "zh_CN")
        assert (created.telegram_id, created.display_name, created.locale) == (42, "张三", "zh_CN")
    async with session_factory() as session, session.begin():
        again = await people.get_or_create_person(session, 42, "张三丰", "en")
        assert again.id == created.id
        assert (again.display_name, again.locale) == ("张三丰", "zh_CN")  # locale: set_locale
    async with session_factory() as session, session.begin():
        long_name = await people.get_or_create_person(session, 43, "名" * 300, None)
        assert len(long_name.display_name) == 128
        with pytest.raises(ValueError, match="unsupported locale"):
            await people.get_or_create_person(session, 44, "x", "fr")


async def test_two_first_updates_at_once_make_one_person(session_factory):
    both_ready = asyncio.Barrier(2)

    async def first_contact() -> int:
        async with session_factory() as session, session.begin():
            await both_ready.wait()
            return (await people.get_or_create_person(session, 777, "新用户", None)).id

    ids = await asyncio.gather(first_contact(), first_contact())

    assert ids[0] == ids[1]
    async with session_factory() as session:
        count = (await session.exec(select(func.count()).select_from(Person))).one()
    assert count == 1


async def test_set_locale(session_factory):
    person = await new_person(session_factory, 5)
    async with session_factory() as session, session.begin():
        person = await session.get(Person, person.id)
        await people.set_locale(session, person, "en")
        with pytest.raises(ValueError, match="unsupported locale"):
            await people.set_locale(session, person, "zh-hans")
    async with session_factory() as session:
        assert (await session.get(Person, person.id)).locale == "en"


async def test_grant_role_is_idempotent_and_reactivates(session_factory, grids):
    person = await new_person(session_factory, 7)
    a = grids["A"]
    async with session_factory() as session, session.begin():
        first = await people.grant_role(session, person.id, Role.GRID_WORKER, grid_id=a.id)
        again = await people.grant_role(session, person.id, Role.GRID_WORKER, grid_id=a.id)
        assert again.id == first.id
        first.active = False
        await session.flush()
        assert await people.memberships(session, person.id) == []
        revived = await people.grant_role(session, person.id, Role.GRID_WORKER, grid_id=a.id)
        assert (revived.id, revived.active) == (first.id, True)
        officer = await people.grant_role(
            session, person.id, Role.OFFICER, community_id=a.community_id
        )
        assert [m.id for m in await people.memberships(session, person.id)] == [
            first.id,
            officer.id,
        ]
        for role, scope in [
            (Role.GRID_WORKER, {}),
            (Role.OFFICER, {"grid_id": a.id}),
            (Role.ADMIN, {"community_id": a.community_id}),
            (Role.INFORMANT, {"grid_id": a.id}),
        ]:
            with pytest.raises(ValueError, match=f"role {role} cannot be held"):
                await people.grant_role(session, person.id, role, **scope)
    async with session_factory() as session:
        rows = (await session.exec(select(func.count()).select_from(Membership))).one()
    assert rows == 2


async def test_teams_officers_and_admins(session_factory, grids):
    a, c = grids["A"], grids["C"]
    secretary = await new_person(session_factory, 11)
    worker = await new_person(session_factory, 12)
    retired_worker = await new_person(session_factory, 13)
    officer = await new_person(session_factory, 14)
    member_admin = await new_person(session_factory, 15)
    settings_admin = await new_person(session_factory, 16)
    async with session_factory() as session, session.begin():
        await people.grant_role(session, secretary.id, Role.SECRETARY, grid_id=a.id)
        await people.grant_role(session, worker.id, Role.GRID_WORKER, grid_id=a.id)
        old = await people.grant_role(session, retired_worker.id, Role.GRID_WORKER, grid_id=a.id)
        old.active = False
        await people.grant_role(session, worker.id, Role.INFORMANT)
        await people.grant_role(session, officer.id, Role.OFFICER, community_id=a.community_id)
        await people.grant_role(session, member_admin.id, Role.ADMIN)

    async with session_factory() as session:
        team = await people.team_members(session, a.id)
        assert [p.id for p in team] == [secretary.id, worker.id]
        assert await people.team_members(session, c.id) == []
        officers = await people.community_officers(session, a.community_id)
        assert [p.id for p in officers] == [officer.id]
        assert await people.community_officers(session, c.community_id) == []
        admins = await people.district_admins(session, {16, 999})
        assert [p.id for p in admins] == [member_admin.id, settings_admin.id]
        no_settings_admins = await people.district_admins(session, ())
        assert [p.id for p in no_settings_admins] == [member_admin.id]
        assert await people.is_admin(session, settings_admin, {16})
        assert await people.is_admin(session, member_admin, set())
        assert not await people.is_admin(session, officer, {16})


async def test_can_handle_by_grid_community_and_admin(session_factory, grids):
    a, b, c = grids["A"], grids["B"], grids["C"]
    worker = await new_person(session_factory, 21)
    officer = await new_person(session_factory, 22)
    resident = await new_person(session_factory, 23)
    async with session_factory() as session, session.begin():
        await people.grant_role(session, worker.id, Role.GRID_WORKER, grid_id=a.id)
        await people.grant_role(session, officer.id, Role.OFFICER, community_id=a.community_id)

    in_a = Ticket(grid_id=a.id, community_id=a.community_id)
    in_b = Ticket(grid_id=b.id, community_id=b.community_id)
    in_c = Ticket(grid_id=c.id, community_id=c.community_id)
    community_queue = Ticket(grid_id=None, community_id=a.community_id)
    desk = Ticket(desk="enterprise")
    district_queue = Ticket()
    as_worker = Actor(worker.id, 21, is_admin=False)
    as_officer = Actor(officer.id, 22, is_admin=False)
    as_resident = Actor(resident.id, 23, is_admin=False)
    as_admin = Actor(resident.id, 23, is_admin=True)
    expected = {
        as_worker: [True, False, False, False, False, False],
        as_officer: [True, True, False, True, False, False],
        as_resident: [False] * 6,
        as_admin: [True] * 6,
    }
    async with session_factory() as session:
        for actor, answers in expected.items():
            got = [
                await people.can_handle(session, actor, ticket)
                for ticket in (in_a, in_b, in_c, community_queue, desk, district_queue)
            ]
            assert got == answers, actor


async def reported_and_followed(session_factory, grids, reporter: Person, follower: Person):
    """A ticket by ``reporter`` that ``follower`` follows, and one by ``follower``."""
    catalogue = load_categories()
    async with session_factory() as session, session.begin():

        async def file(person: Person, text: str) -> Ticket:
            draft = tickets.TicketDraft(
                source=TicketSource.RESIDENT,
                category="noise",
                description=text,
                photos=[(f"file-{text}", f"unique-{text}")],
                grid_id=grids["A"].id,
                contact_consent=True,
            )
            return await tickets.create_ticket(session, draft, person, catalogue, NOW)

        theirs = await file(await session.get(Person, reporter.id), "半夜装修")
        own = await file(await session.get(Person, follower.id), "广场舞太吵")
        await tickets.follow(session, theirs.id, follower.id, NOW)
        return theirs, own


async def test_forget_person_erases_identity_but_keeps_tickets(session_factory, grids):
    person = await new_person(session_factory, 31, "李四")
    other = await new_person(session_factory, 32, "王五")
    async with session_factory() as session, session.begin():
        stored = await session.get(Person, person.id)
        stored.phone, stored.locale = "13800000000", "zh_CN"
        await people.grant_role(session, person.id, Role.GRID_WORKER, grid_id=grids["A"].id)
    theirs, own = await reported_and_followed(session_factory, grids, other, person)

    async with session_factory() as session, session.begin():
        await people.forget_person(session, await session.get(Person, person.id), NOW)

    async with session_factory() as session:
        forgotten = await session.get(Person, person.id)
        assert forgotten.telegram_id == -person.id
        assert (forgotten.display_name, forgotten.phone, forgotten.locale) == ("", None, None)
        assert forgotten.forgotten_at == NOW
        assert await people.memberships(session, person.id) == []
        assert await people.team_members(session, grids["A"].id) == []
        follows = await session.exec(
            select(TicketFollower).where(TicketFollower.person_id == person.id)
        )
        assert follows.all() == []
        kept = await session.get(Ticket, own.id)
        assert (kept.reporter_id, kept.description) == (person.id, "广场舞太吵")
        audience = await tickets.ticket_audience(session, kept)
        assert audience.reporter is None
        assert (await tickets.ticket_audience(session, theirs)).followers == ()
    # Coming back after /forget starts afresh.
    returning = await new_person(session_factory, 31, "李四")
    assert returning.id != person.id


async def test_export_person_data_lists_everything_stored(session_factory, grids):
    person = await new_person(session_factory, 41, "赵六")
    other = await new_person(session_factory, 42, "钱七")
    async with session_factory() as session, session.begin():
        await people.grant_role(session, person.id, Role.INFORMANT)
    theirs, own = await reported_and_followed(session_factory, grids, other, person)
    async with session_factory() as session, session.begin():
        await tickets.add_comment(
            session, theirs.id, Actor(person.id, 41, is_admin=False), NOW, "我也听到了"
        )

    async with session_factory() as session:
        data = await people.export_person_data(session, await session.get(Person, person.id))

    assert json.loads(json.dumps(data, ensure_ascii=False)) == data
    assert data["profile"]["telegram_id"] == 41
    assert data["profile"]["display_name"] == "赵六"
    assert data["profile"]["created_at"].startswith("20")
    assert [m["role"] for m in data["memberships"]] == ["informant"]
    [ticket] = data["tickets"]
    assert (ticket["number"], ticket["description"], ticket["category"]) == (
        own.number,
        "广场舞太吵",
        "noise",
    )
    assert ticket["status"] == "dispatched"
    assert [(p["ticket"], p["file_id"]) for p in data["photos"]] == [
        (own.number, "file-广场舞太吵")
    ]
    assert [(e["ticket"], e["kind"]) for e in data["events"]] == [
        (own.number, "created"),
        (theirs.number, "followed"),
        (theirs.number, "comment"),
    ]
    assert data["events"][-1]["note"] == "我也听到了"
    assert [f["ticket"] for f in data["follows"]] == [theirs.number]
