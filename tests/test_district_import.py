"""Importing a district into the database, again and again, on SQLite and PostgreSQL."""

import copy

from sqlalchemy import func
from sqlmodel import select

from redgrid.models import Community, Compound, Grid
from redgrid.services.district import (
    RoutingCache,
    build_routing_index,
    district_is_empty,
    district_overview,
    district_revision,
    import_district,
)
from redgrid.services.district_file import parse_district_file
from redgrid.services.routing import RouteOutcome
from tests.district_files import dumps, small_district

INSIDE_A = (28.2305, 116.6005)
INSIDE_C_SECOND_PART = (28.235, 116.645)


async def run_import(session_factory, document, **options):
    async with session_factory() as session, session.begin():
        return await import_district(session, parse_district_file(dumps(document)), **options)


async def count(session_factory, table) -> int:
    async with session_factory() as session:
        return (await session.exec(select(func.count()).select_from(table))).one()


async def test_first_import_writes_communities_grids_and_compounds(session_factory):
    async with session_factory() as session:
        assert await district_is_empty(session)
        assert await district_revision(session) == 0

    report = await run_import(session_factory, small_district())

    assert report.created == ("A", "B", "C")
    assert report.communities_created == ("大富社区", "东铜社区")
    assert report.revision == 1
    assert await count(session_factory, Community) == 2
    assert await count(session_factory, Grid) == 3
    async with session_factory() as session:
        lakeside = (await session.exec(select(Compound).where(Compound.name == "湖滨花园"))).one()
        assert lakeside.aliases == ["湖滨小区", "Lakeside Garden"]
        assert not await district_is_empty(session)


async def test_reimporting_the_same_file_changes_nothing(session_factory):
    await run_import(session_factory, small_district())
    report = await run_import(session_factory, small_district())

    assert report.unchanged == ("A", "B", "C")
    assert not report.changed
    assert report.revision == 1
    assert await count(session_factory, Grid) == 3
    assert await count(session_factory, Compound) == 2
    assert await count(session_factory, Community) == 2


async def test_reimport_updates_by_code_and_retires_what_the_file_omits(session_factory):
    await run_import(session_factory, small_district())
    changed = copy.deepcopy(small_district())
    a, b, _c = changed["features"]
    a["properties"]["name"] = "湖滨网格"
    a["properties"]["compounds"] = ["湖滨花园|Lakeside", "新城公寓"]
    changed["features"] = [a, b]

    report = await run_import(session_factory, changed)

    assert report.updated == ("A",)
    assert report.unchanged == ("B",)
    assert report.retired == ("C",)
    assert report.revision == 2
    async with session_factory() as session:
        grids = {g.code: g for g in (await session.exec(select(Grid))).all()}
        assert grids["A"].name == "湖滨网格"
        assert grids["C"].active is False
        names = (await session.exec(select(Compound.name, Compound.aliases))).all()
        assert sorted(names) == [("东铜新村", []), ("新城公寓", []), ("湖滨花园", ["Lakeside"])]
        index = await build_routing_index(session, buffer_m=0)
        assert index.route(*INSIDE_C_SECOND_PART).outcome is RouteOutcome.OUTSIDE

    # The retired grid comes back when a later file names it again.
    report = await run_import(session_factory, small_district())
    assert report.updated == ("A", "C")
    async with session_factory() as session:
        c = (await session.exec(select(Grid).where(Grid.code == "C"))).one()
        assert c.active is True


async def test_partial_import_retires_nothing(session_factory):
    await run_import(session_factory, small_district())
    only_b = copy.deepcopy(small_district())
    only_b["features"] = [only_b["features"][1]]
    only_b["features"][0]["properties"]["households"] = 321

    report = await run_import(session_factory, only_b, retire_missing=False)

    assert report.updated == ("B",)
    assert report.retired == ()
    async with session_factory() as session:
        active = (await session.exec(select(func.count()).where(Grid.active))).one()
        assert active == 3


async def test_routing_index_uses_database_ids_and_sees_the_next_import(session_factory):
    await run_import(session_factory, small_district())
    cache = RoutingCache(buffer_m=300)
    async with session_factory() as session:
        index = await cache.index(session)
        grid_a = (await session.exec(select(Grid).where(Grid.code == "A"))).one()
        routed = index.route(*INSIDE_A)
        assert routed.outcome is RouteOutcome.INSIDE
        assert (routed.grid.grid_id, routed.grid.code) == (grid_a.id, "A")
        assert routed.grid.community == "大富社区"
        assert index.route(*INSIDE_C_SECOND_PART).grid.code == "C"
        assert index.route_address("湖滨小区").grid.code == "A"
        assert await cache.index(session) is index  # unchanged revision: no rebuild

    moved = copy.deepcopy(small_district())
    moved["features"][0]["properties"]["compounds"] = []
    moved["features"][1]["properties"]["compounds"] = ["湖滨花园"]
    await run_import(session_factory, moved)
    async with session_factory() as session:
        rebuilt = await cache.index(session)
        assert rebuilt is not index
        assert rebuilt.route_address("湖滨花园").grid.code == "B"


async def test_overview_lists_active_grids_by_community(session_factory):
    await run_import(session_factory, small_district())
    async with session_factory() as session:
        overview = await district_overview(session)
    assert [c.name for c in overview] == sorted(["大富社区", "东铜社区"])
    by_name = {c.name: c for c in overview}
    assert [g.code for g in by_name["大富社区"].grids] == ["A", "B"]
    assert by_name["大富社区"].households == 800
    assert by_name["大富社区"].grids[0].compounds == 1
    assert by_name["东铜社区"].grids[0].households is None
