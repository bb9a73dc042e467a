"""Red informants' service on SQLite and PostgreSQL (profiles, reports, grades, the
leaderboard), and its pure parts: phone numbers, names, month bounds and the EXIF reader."""

import asyncio
import random
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from redgrid.models import (
    Community,
    EventKind,
    Grade,
    Grid,
    InformantStatus,
    Membership,
    Person,
    Priority,
    ReportGrade,
    Role,
    Ticket,
    TicketSource,
    TicketStatus,
    WorkType,
)
from redgrid.services import informants, tickets
from redgrid.services.categories import load_categories
from redgrid.services.district import build_routing_index, import_district
from redgrid.services.district_file import parse_district_file
from redgrid.services.informants import (
    AlreadyGraded,
    IllegalStatusChange,
    InformantPaused,
    InvalidName,
    InvalidPhone,
    NotAnInformant,
    NotAReport,
    NotGradable,
    OutsideDistrict,
    PointsTable,
    ProfileMissing,
    ReportDraft,
    Standing,
    Voice,
    exif_gps,
    normalise_phone,
)
from redgrid.services.invites import create_invite, redeem_invite
from redgrid.services.people import Actor, get_or_create_person, grant_role
from redgrid.services.tickets import DailyLimitReached, NotAllowed, TicketDraft
from tests.district_files import dumps, small_district

CATALOGUE = load_categories()
TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Dongxiang
INSIDE_A = (28.2305, 116.6005)
INSIDE_C = (28.2305, 116.6205)
NEAR_A = (28.2305, 116.5992)  # about 80 m west of grid A
FAR = (28.5, 116.9)
POINTS = PointsTable(urgent=3, normal=1, complex=2)


# Pure: phone numbers, names, months -------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+86 138 0013 8000",
        "+8613800138000",
        "8613800138000",
        "86-138-0013-8000",
        "１３８００１３８０００",  # full-width, as some Chinese keyboards type
        " (138) 0013-8000 ",
    ],
)
def test_mainland_mobile_numbers_are_normalised(typed):
    assert normalise_phone(typed) == "13800138000"


@pytest.mark.parametrize(
    "typed",
    ["", "12800138000", "1380013800", "138001380001", "+1 555 123 4567", "0791-8888888",
     "+85 13800138000", "abc", "1380013800x", "８６１２３"],
)  # fmt: skip
def test_other_numbers_are_refused(typed):
    with pytest.raises(InvalidPhone):
        normalise_phone(typed)


def test_names_are_one_short_line():
    assert informants.clean_name("  小王   骑手 ") == "小王 骑手"
    assert informants.clean_name("x" * 20) == "x" * 20
    for bad in ("", "   ", "x" * 21, "a\nb", "a\u200bb", "\x07"):
        with pytest.raises(InvalidName):
            informants.clean_name(bad)


def test_month_bounds_follow_the_district_clock():
    # 2026-11-30 17:00 UTC is already 1 December in Dongxiang
    start, end = informants.month_bounds(datetime(2026, 11, 30, 17, 0, tzinfo=UTC), TZ)
    assert (start, end) == (datetime(2026, 12, 1, tzinfo=TZ), datetime(2027, 1, 1, tzinfo=TZ))
    start, end = informants.month_bounds(datetime(2026, 11, 30, 15, 59, tzinfo=UTC), TZ)
    assert (start, end) == (datetime(2026, 11, 1, tzinfo=TZ), datetime(2026, 12, 1, tzinfo=TZ))


def test_points_by_priority_and_category_order():
    assert [POINTS.for_priority(p) for p in Priority] == [3, 1, 2]
    order = informants.ordered_categories(CATALOGUE, ["safety", "gone", "noise"])
    assert order[:2] == ["safety", "noise"]
    assert sorted(order) == sorted(c.code for c in CATALOGUE.all)


def test_a_report_without_a_note_describes_itself_in_no_language():
    draft = ReportDraft("sanitation", [("f", "u"), ("g", "v")], *INSIDE_A)
    assert informants.report_description(draft) == "📷 ×2"
    draft.voice = Voice("voice", "uv", 75)
    assert informants.report_description(draft) == "📷 ×2 · 🎤 1:15"
    draft.note = "  井盖缺失  "
    assert informants.report_description(draft) == "井盖缺失"


# Pure: EXIF GPS ---------------------------------------------------------------------------


def _rationals(order: str, value: float) -> bytes:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60 * 10_000)
    return struct.pack(order + "6I", degrees, 1, minutes, 1, seconds, 10_000)


def exif_jpeg(
    lat: float | None,
    lon: float | None,
    *,
    order: str = "<",
    lat_ref: bytes = b"N",
    lon_ref: bytes = b"E",
    with_pointer: bool = True,
    before: bytes = b"",
    denominator_zero: bool = False,
) -> bytes:
    """A small JPEG whose APP1 holds a TIFF with IFD0 → GPS IFD, as cameras write it."""
    mark = b"II" if order == "<" else b"MM"
    gps_offset, data_offset = 26, 80
    ifd0 = struct.pack(order + "H", 1 if with_pointer else 0)
    if with_pointer:
        ifd0 += struct.pack(order + "HHII", 0x8825, 4, 1, gps_offset)
    ifd0 += struct.pack(order + "I", 0)
    tiff = mark + struct.pack(order + "HI", 42, 8) + ifd0
    tiff += b"\x00" * (gps_offset - len(tiff))
    entries = [(1, 2, 2, lat_ref.ljust(4, b"\x00"))]
    if lat is not None:
        entries.append((2, 5, 3, struct.pack(order + "I", data_offset)))
    entries.append((3, 2, 2, lon_ref.ljust(4, b"\x00")))
    if lon is not None:
        entries.append((4, 5, 3, struct.pack(order + "I", data_offset + 24)))
    gps = struct.pack(order + "H", len(entries))
    for tag, kind, count, value in entries:
        gps += struct.pack(order + "HHI", tag, kind, count) + value
    gps += struct.pack(order + "I", 0)
    tiff += gps
    tiff += b"\x00" * (data_offset - len(tiff))
    tiff += _rationals(order, abs(lat or 0)) + _rationals(order, abs(lon or 0))
    if denominator_zero:
        tiff = tiff[:-4] + struct.pack(order + "I", 0)
    payload = b"Exif\x00\x00" + tiff
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    scan = b"\xff\xda\x00\x08" + bytes(6) + b"\x12\x34\x56" + b"\xff\xd9"
    return b"\xff\xd8" + app0 + before + app1 + scan


def xmp_segment() -> bytes:
    payload = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>"
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


@pytest.mark.parametrize("order", ["<", ">"])
def test_exif_gps_in_either_byte_order(order):
    lat, lon = exif_gps(exif_jpeg(28.2305, 116.6005, order=order))
    assert lat == pytest.approx(28.2305, abs=1e-6)
    assert lon == pytest.approx(116.6005, abs=1e-6)


def test_exif_gps_south_and_west_and_other_segments_first():
    lat, lon = exif_gps(exif_jpeg(33.8688, 151.2093, lat_ref=b"S", lon_ref=b"W"))
    assert (lat, lon) == (pytest.approx(-33.8688, abs=1e-6), pytest.approx(-151.2093, abs=1e-6))
    # an XMP APP1 and a fill byte before the EXIF one
    lat, _lon = exif_gps(exif_jpeg(28.2305, 116.6005, before=xmp_segment() + b"\xff"))
    assert lat == pytest.approx(28.2305, abs=1e-6)


def test_exif_without_a_usable_location_gives_none():
    assert exif_gps(exif_jpeg(28.2, 116.6, with_pointer=False)) is None
    assert exif_gps(exif_jpeg(None, 116.6)) is None
    assert exif_gps(exif_jpeg(0, 0)) is None  # what phones write without a fix
    assert exif_gps(exif_jpeg(95.0, 116.6)) is None
    assert exif_gps(exif_jpeg(28.2, 116.6, denominator_zero=True)) is None
    assert exif_gps(b"") is None
    assert exif_gps(b"\x89PNG\r\n\x1a\n" + bytes(40)) is None
    assert exif_gps(b"\xff\xd8\xff\xd9") is None


def test_exif_reader_never_raises_on_damaged_files():
    good = exif_jpeg(28.2305, 116.6005, order=">")
    for length in range(len(good)):
        result = exif_gps(good[:length])
        assert result is None or result == exif_gps(good)
    rng = random.Random(4)
    for _ in range(2000):
        damaged = bytearray(good)
        for _ in range(rng.randint(1, 6)):
            damaged[rng.randrange(2, len(damaged))] = rng.randrange(256)
        result = exif_gps(bytes(damaged))
        assert result is None or (-90 <= result[0] <= 90 and -180 <= result[1] <= 180)


# The database ----------------------------------------------------------------------------


@dataclass
class World:
    grids: dict[str, Grid]
    index: object
    rider: Person
    courier: Person
    resident: Person
    secretary_a: Actor
    secretary_b: Actor
    officer: Actor
    admin: Actor


async def make_person(session, telegram_id: int, name: str) -> Person:
    return await get_or_create_person(session, telegram_id, name, "zh_CN")


async def actor_with(session, telegram_id, name, role, **scope) -> Actor:
    person = await make_person(session, telegram_id, name)
    await grant_role(session, person.id, role, **scope)
    return Actor(person.id, telegram_id, False)


@pytest.fixture
async def world(session_factory) -> World:
    async with session_factory() as session, session.begin():
        await import_district(session, parse_district_file(dumps(small_district())))
        grids = {grid.code: grid for grid in (await session.exec(select(Grid))).all()}
        dafu = grids["A"].community_id
        officer = await actor_with(session, 203, "Qian", Role.OFFICER, community_id=dafu)
        rider = await make_person(session, 101, "Rider")
        _invite, code = await create_invite(
            session,
            Role.INFORMANT,
            community_name="大富社区",
            by=officer,
            ttl=timedelta(days=7),
            now=NOW,
        )
        await redeem_invite(session, code, rider, NOW)
        await informants.create_profile(
            session,
            rider.id,
            display_name="小王",
            phone="+86 138 0013 8000",
            work_type=WorkType.FOOD_DELIVERY,
            community_id=dafu,
            now=NOW,
        )
        courier = await make_person(session, 102, "Courier")
        await grant_role(session, courier.id, Role.INFORMANT)
        await informants.create_profile(
            session,
            courier.id,
            display_name="老李",
            phone="13900139000",
            work_type="courier",
            community_id=grids["C"].community_id,
            now=NOW,
        )
        resident = await make_person(session, 103, "Resident")
        secretary_a = await actor_with(session, 201, "Wang", Role.SECRETARY, grid_id=grids["A"].id)
        secretary_b = await actor_with(session, 202, "Liu", Role.SECRETARY, grid_id=grids["B"].id)
        admin_person = await make_person(session, 1, "Admin")
        index = await build_routing_index(session, buffer_m=300)
    return World(
        grids,
        index,
        rider,
        courier,
        resident,
        secretary_a,
        secretary_b,
        officer,
        Actor(admin_person.id, 1, True),
    )


async def file(session_factory, world, who=None, *, at=NOW, latlon=INSIDE_A, **fields) -> Ticket:
    values = {"category": "sanitation", "photos": [("p1", "u1")]} | fields
    async with session_factory() as session, session.begin():
        reporter = await session.get(Person, (who or world.rider).id)
        return await informants.file_report(
            session, reporter, ReportDraft(latitude=latlon[0], longitude=latlon[1], **values),
            world.index, CATALOGUE, at, tz=TZ,
        )  # fmt: skip


async def run(session_factory, function, *args, **kwargs):
    async with session_factory() as session, session.begin():
        return await function(session, *args, **kwargs)


async def closed(session_factory, world, ticket: Ticket, how: str = "resolve") -> Ticket:
    """The grid team accepts and resolves the report (or marks it invalid)."""
    team = world.secretary_a if ticket.grid_id == world.grids["A"].id else world.admin
    if how == "invalid":
        return await run(session_factory, tickets.mark_invalid, ticket.id, team, NOW, "假的")
    await run(session_factory, tickets.accept, ticket.id, team, NOW)
    return await run(session_factory, tickets.resolve, ticket.id, team, NOW, "已处理")


async def grade(session_factory, ticket: Ticket, actor: Actor, value: Grade, at=NOW):
    async with session_factory() as session, session.begin():
        loaded = await session.get(Ticket, ticket.id)
        return await informants.grade_report(session, loaded, actor, value, POINTS, at)


async def test_joining_records_the_profile_and_who_invited(session_factory, world):
    async with session_factory() as session:
        profile = await informants.get_profile(session, world.rider.id)
        assert (profile.display_name, profile.phone, profile.work_type) == (
            "小王",
            "13800138000",
            WorkType.FOOD_DELIVERY,
        )
        assert profile.invited_by_telegram_id == 203
        assert profile.status is InformantStatus.ACTIVE
        assert await informants.home_community_hint(session, world.rider.id) == (
            world.grids["A"].community_id
        )
        assert await informants.standing(session, world.rider.id) is Standing.ACTIVE
        assert await informants.standing(session, world.resident.id) is Standing.NONE
    async with session_factory() as session:
        with pytest.raises(NotAnInformant):
            await informants.create_profile(
                session, world.resident.id, display_name="x", phone="13800138000",
                work_type="other", community_id=None, now=NOW,
            )  # fmt: skip
        with pytest.raises(InvalidPhone):
            await informants.create_profile(
                session, world.rider.id, display_name="x", phone="12345",
                work_type="other", community_id=None, now=NOW,
            )  # fmt: skip


async def test_pause_resume_remove_and_rejoin(session_factory, world):
    stranger = world.secretary_a
    inviter = world.officer  # created the rider's invite, an officer of its community
    with pytest.raises(NotAllowed):
        await run(
            session_factory, informants.set_status, world.rider.id, "paused", NOW, by=stranger
        )
    await run(session_factory, informants.set_status, world.rider.id, "paused", NOW, by=inviter)
    async with session_factory() as session:
        assert await informants.standing(session, world.rider.id) is Standing.PAUSED
        with pytest.raises(InformantPaused):
            await informants.require_active(session, world.rider.id)
    with pytest.raises(IllegalStatusChange):
        await run(session_factory, informants.set_status, world.rider.id, "paused", NOW, by=None)
    await run(session_factory, informants.set_status, world.rider.id, "active", NOW, by=None)
    # the courier joined without an invite of the officer's: only admins manage him
    with pytest.raises(NotAllowed):
        await run(
            session_factory, informants.set_status, world.courier.id, "removed", NOW, by=inviter
        )
    await run(
        session_factory, informants.set_status, world.courier.id, "removed", NOW, by=world.admin
    )
    async with session_factory() as session:
        assert await informants.standing(session, world.courier.id) is Standing.NONE
        roles = (
            await session.exec(select(Membership).where(Membership.person_id == world.courier.id))
        ).all()
        assert [m.active for m in roles] == [False]
        listed = await informants.list_informants(session, NOW, by=inviter, tz=TZ)
        assert [row.person_id for row in listed] == [world.rider.id]
        listed = await informants.list_informants(session, NOW, include_removed=True, tz=TZ)
        assert [row.status for row in listed] == [InformantStatus.ACTIVE, InformantStatus.REMOVED]
    with pytest.raises(IllegalStatusChange):
        await run(session_factory, informants.set_status, world.courier.id, "active", NOW, by=None)
    # a new invitation: the role is back, the profile must be given again
    async with session_factory() as session, session.begin():
        await grant_role(session, world.courier.id, Role.INFORMANT)
        assert await informants.standing(session, world.courier.id) is Standing.NEEDS_PROFILE
        with pytest.raises(ProfileMissing):
            await informants.require_active(session, world.courier.id)
        await informants.create_profile(
            session, world.courier.id, display_name="李师傅", phone="13900139000",
            work_type="ride_hailing", community_id=None, now=NOW + timedelta(days=1),
        )  # fmt: skip
        assert await informants.standing(session, world.courier.id) is Standing.ACTIVE


async def test_a_report_is_routed_by_its_location(session_factory, world):
    ticket = await file(session_factory, world, photos=[("p1", "u1"), ("p2", "u2")])
    assert (ticket.source, ticket.grid_id) == (TicketSource.INFORMANT, world.grids["A"].id)
    assert ticket.description == "📷 ×2"
    assert ticket.contact_consent is False
    near = await file(session_factory, world, latlon=NEAR_A, note="路灯坏了")
    assert (near.grid_id, near.description) == (world.grids["A"].id, "路灯坏了")
    async with session_factory() as session:
        [created] = [e for e in await tickets.ticket_history(session, near.id)]
        assert created.details["routing"] == "nearby"
    # a category that routes to the community queue keeps its rule
    utilities = await file(
        session_factory, world, category="utilities", latlon=INSIDE_C, at=NOW + timedelta(1)
    )
    assert (utilities.grid_id, utilities.community_id) == (None, world.grids["C"].community_id)
    with pytest.raises(OutsideDistrict):
        await file(session_factory, world, latlon=FAR)
    with pytest.raises(ValueError, match="photo"):
        await file(session_factory, world, photos=[])
    with pytest.raises(NotAnInformant):
        await file(session_factory, world, world.resident)
    async with session_factory() as session:
        count = len((await session.exec(select(Ticket))).all())
        assert count == 3
        assert await informants.recent_categories(session, world.rider.id) == [
            "utilities",
            "sanitation",
        ]


async def test_a_voice_note_is_kept_by_file_id(session_factory, world):
    ticket = await file(session_factory, world, voice=Voice("voice-1", "uv1", 12))
    async with session_factory() as session:
        assert await informants.voice_note(session, ticket.id) == "voice-1"
        kinds = [e.kind for e in await tickets.ticket_history(session, ticket.id)]
        assert kinds == [EventKind.CREATED, EventKind.COMMENT]
    other = await file(session_factory, world)
    async with session_factory() as session:
        assert await informants.voice_note(session, other.id) is None


async def test_paused_informants_and_the_daily_limit(session_factory, world):
    await run(session_factory, informants.set_status, world.rider.id, "paused", NOW, by=None)
    with pytest.raises(InformantPaused):
        await file(session_factory, world)
    await run(session_factory, informants.set_status, world.rider.id, "active", NOW, by=None)
    async with session_factory() as session, session.begin():
        rider = await session.get(Person, world.rider.id)
        draft = ReportDraft("sanitation", [("p", "u")], *INSIDE_A)
        await informants.file_report(
            session, rider, draft, world.index, CATALOGUE, NOW, daily_limit=1, tz=TZ
        )
        with pytest.raises(DailyLimitReached):
            await informants.file_report(
                session, rider, draft, world.index, CATALOGUE, NOW, daily_limit=1, tz=TZ
            )


async def test_grading_earns_points_once_and_only_from_the_team(session_factory, world):
    report = await file(session_factory, world, category="safety")  # urgent
    with pytest.raises(NotGradable):  # still open
        await grade(session_factory, report, world.secretary_a, Grade.VALID)
    report = await closed(session_factory, world, report)
    for outsider in (world.secretary_b, Actor(world.rider.id, 101, False)):
        with pytest.raises(NotAllowed):
            await grade(session_factory, report, outsider, Grade.VALID)
    graded = await grade(session_factory, report, world.secretary_a, Grade.VALID)
    assert (graded.grade, graded.points, graded.informant_id) == (Grade.VALID, 3, world.rider.id)
    with pytest.raises(AlreadyGraded) as already:
        await grade(session_factory, report, world.officer, Grade.INVALID)
    assert (already.value.grade, already.value.points) == (Grade.VALID, 3)

    normal = await closed(session_factory, world, await file(session_factory, world))
    assert (await grade(session_factory, normal, world.officer, Grade.VALID)).points == 1
    dispute = await closed(
        session_factory, world, await file(session_factory, world, category="dispute")
    )
    assert (await grade(session_factory, dispute, world.secretary_a, Grade.DUPLICATE)).points == 0
    invalid = await closed(session_factory, world, await file(session_factory, world), "invalid")
    with pytest.raises(NotGradable):  # marked invalid: it cannot be valid
        await grade(session_factory, invalid, world.secretary_a, Grade.VALID)
    assert (await grade(session_factory, invalid, world.secretary_a, Grade.INVALID)).points == 0
    async with session_factory() as session, session.begin():
        resident = await session.get(Person, world.resident.id)
        complaint = await tickets.create_ticket(
            session,
            TicketDraft(TicketSource.RESIDENT, "sanitation", "垃圾", grid_id=world.grids["A"].id),
            resident,
            CATALOGUE,
            NOW,
        )
        await tickets.mark_invalid(session, complaint, world.secretary_a, NOW, "x")
        with pytest.raises(NotAReport):
            await informants.grade_report(
                session, complaint, world.secretary_a, Grade.INVALID, POINTS, NOW
            )
    async with session_factory() as session:
        stats = await informants.informant_stats(session, world.rider.id, NOW, tz=TZ)
        assert (stats.points_month, stats.points_total, stats.reports) == (4, 4, 4)
        assert stats.graded == {Grade.VALID: 2, Grade.DUPLICATE: 1, Grade.INVALID: 1}
        assert (stats.rank_district, stats.rank_community, stats.community) == (1, 1, "大富社区")


async def test_two_members_grading_at_once_grant_the_points_once(session_factory, world):
    report = await closed(session_factory, world, await file(session_factory, world))
    both_loaded = asyncio.Barrier(2)

    async def attempt(actor: Actor) -> str:
        async with session_factory() as session, session.begin():
            loaded = await session.get(Ticket, report.id)
            await both_loaded.wait()
            try:
                await informants.grade_report(session, loaded, actor, Grade.VALID, POINTS, NOW)
            except AlreadyGraded:
                return "lost"
            return "won"

    outcomes = await asyncio.gather(attempt(world.secretary_a), attempt(world.officer))
    assert sorted(outcomes) == ["lost", "won"]
    async with session_factory() as session:
        [row] = (await session.exec(select(ReportGrade))).all()
        assert row.points == 1


async def test_the_leaderboard_is_this_month_in_district_time(session_factory, world):
    dafu = world.grids["A"].community_id
    rider_reports = [await file(session_factory, world) for _ in range(3)]
    courier_report = await file(session_factory, world, world.courier, category="safety")
    for ticket in [*rider_reports, courier_report]:
        await closed(session_factory, world, ticket)
    # rider: 1 point last month (31 October, 23:30 in Dongxiang), 2 this month
    last_month = datetime(2026, 10, 31, 15, 30, tzinfo=UTC)
    await grade(session_factory, rider_reports[0], world.secretary_a, Grade.VALID, last_month)
    for ticket in rider_reports[1:]:
        await grade(session_factory, ticket, world.secretary_a, Grade.VALID)
    await grade(session_factory, courier_report, world.secretary_a, Grade.VALID)  # urgent: 3
    async with session_factory() as session:
        board = await informants.leaderboard(session, NOW, tz=TZ)
        assert [(r.rank, r.name, r.points, r.valid) for r in board] == [
            (1, "老李", 3, 1),
            (2, "小王", 2, 2),
        ]
        local = await informants.leaderboard(session, NOW, tz=TZ, community_id=dafu)
        assert [(r.rank, r.name) for r in local] == [(1, "小王")]
        # November, seen on 1 November 00:10 local time: only the 3 this-month grades
        october = await informants.leaderboard(session, last_month, tz=TZ)
        assert [(r.name, r.points) for r in october] == [("小王", 1)]
    # a tie shares the rank
    extra = await closed(session_factory, world, await file(session_factory, world))
    await grade(session_factory, extra, world.secretary_a, Grade.VALID)
    async with session_factory() as session:
        board = await informants.leaderboard(session, NOW, tz=TZ)
        assert [(r.rank, r.points) for r in board] == [(1, 3), (1, 3)]
    # removed informants leave the board, their grades stay
    await run(session_factory, informants.set_status, world.courier.id, "removed", NOW, by=None)
    async with session_factory() as session:
        assert [r.name for r in await informants.leaderboard(session, NOW, tz=TZ)] == ["小王"]
        rows = await informants.list_informants(session, NOW, tz=TZ)
        assert [(r.display_name, r.points_month, r.points_total, r.reports) for r in rows] == [
            ("小王", 3, 4, 4)
        ]


async def test_mydata_and_forget(session_factory, world):
    report = await closed(session_factory, world, await file(session_factory, world))
    await grade(session_factory, report, world.secretary_a, Grade.VALID)
    async with session_factory() as session:
        exported = await informants.export_informant(session, world.rider.id)
        assert exported["phone"] == "13800138000"
        assert exported["grades"] == [
            {"ticket": report.number, "grade": "valid", "points": 1, "graded_at": NOW.isoformat()}
        ]
        assert await informants.export_informant(session, world.resident.id) is None
    await run(session_factory, informants.forget_informant, world.rider.id, NOW)
    async with session_factory() as session:
        profile = await informants.get_profile(session, world.rider.id)
        assert (profile.display_name, profile.phone, profile.status) == (
            "",
            "",
            InformantStatus.REMOVED,
        )
        assert await informants.leaderboard(session, NOW, tz=TZ) == []
        assert (await session.get(Ticket, report.id)).status is TicketStatus.RESOLVED
        assert await session.get(Community, world.grids["A"].community_id) is not None
