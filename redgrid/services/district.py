"""The district in the database: importing a checked file, describing it, routing over it.

The caller owns the transaction (``async with session.begin()``): an import either
writes all of a file or, on any error, nothing.
"""

import asyncio
from collections import defaultdict
from dataclasses import dataclass

import shapely
from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.models import Community, Compound, DistrictRevision, Grid
from redgrid.models.base import utcnow
from redgrid.services.district_file import DistrictPlan, PlannedGrid
from redgrid.services.routing import CompoundEntry, DistrictIndex, GridShape


@dataclass(frozen=True, slots=True)
class ImportReport:
    created: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    retired: tuple[str, ...]
    communities_created: tuple[str, ...]
    revision: int

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.retired)


async def import_district(
    session: AsyncSession, plan: DistrictPlan, *, retire_missing: bool = True
) -> ImportReport:
    """Write a checked plan: grids are matched by code, so importing again never duplicates.

    With ``retire_missing`` the file is the whole district, and active grids it does not
    name are retired (kept for the tickets that point at them, no longer routed to).
    """
    communities, communities_created = await _communities_by_name(session, plan.communities)
    existing = {grid.code: grid for grid in (await session.exec(select(Grid))).all()}
    compounds_of = await _compounds_by_grid(session, [g.id for g in existing.values()])
    now = utcnow()
    created, updated, unchanged = [], [], []
    for planned in plan.grids:
        community_id = communities[planned.community].id
        grid = existing.get(planned.code)
        if grid is None:
            grid = Grid(code=planned.code, name="", community_id=community_id, boundary="")
            session.add(grid)
            created.append(planned.code)
        elif _grid_differs(grid, planned, community_id, compounds_of[grid.id]):
            updated.append(planned.code)
        else:
            unchanged.append(planned.code)
            continue
        grid.name, grid.community_id, grid.households = (
            planned.name,
            community_id,
            planned.households,
        )
        grid.boundary, grid.active, grid.updated_at = planned.boundary_geojson, True, now
        await session.flush()
        await _replace_compounds(session, grid.id, compounds_of[grid.id], planned)
    retired = []
    if retire_missing:
        named = {grid.code for grid in plan.grids}
        retired = sorted(code for code, g in existing.items() if g.active and code not in named)
        for code in retired:
            existing[code].active, existing[code].updated_at = False, now
    report_changed = bool(created or updated or retired)
    revision = await _bump_revision(session) if report_changed else await district_revision(session)
    await session.flush()
    return ImportReport(
        created=tuple(created),
        updated=tuple(updated),
        unchanged=tuple(unchanged),
        retired=tuple(retired),
        communities_created=communities_created,
        revision=revision,
    )


async def _communities_by_name(
    session: AsyncSession, names: tuple[str, ...]
) -> tuple[dict[str, Community], tuple[str, ...]]:
    found = {c.name: c for c in (await session.exec(select(Community))).all()}
    missing = tuple(name for name in names if name not in found)
    for name in missing:
        found[name] = Community(name=name)
        session.add(found[name])
    await session.flush()
    return found, missing


async def _compounds_by_grid(
    session: AsyncSession, grid_ids: list[int]
) -> defaultdict[int | None, dict[str, Compound]]:
    by_grid: defaultdict[int | None, dict[str, Compound]] = defaultdict(dict)
    if grid_ids:
        rows = await session.exec(select(Compound).where(col(Compound.grid_id).in_(grid_ids)))
        for compound in rows.all():
            by_grid[compound.grid_id][compound.name] = compound
    return by_grid


def _grid_differs(
    grid: Grid, planned: PlannedGrid, community_id: int, compounds: dict[str, Compound]
) -> bool:
    stored_compounds = {name: tuple(c.aliases) for name, c in compounds.items()}
    planned_compounds = {c.name: c.aliases for c in planned.compounds}
    return (
        not grid.active
        or grid.name != planned.name
        or grid.community_id != community_id
        or grid.households != planned.households
        or grid.boundary != planned.boundary_geojson
        or stored_compounds != planned_compounds
    )


async def _replace_compounds(
    session: AsyncSession, grid_id: int, current: dict[str, Compound], planned: PlannedGrid
) -> None:
    wanted = {c.name: c for c in planned.compounds}
    for name, compound in current.items():
        if name not in wanted:
            await session.delete(compound)
    for name, compound in wanted.items():
        if name in current:
            current[name].aliases = list(compound.aliases)
        else:
            session.add(Compound(name=name, aliases=list(compound.aliases), grid_id=grid_id))


async def _bump_revision(session: AsyncSession) -> int:
    result = await session.exec(
        update(DistrictRevision)
        .where(DistrictRevision.id == 1)
        .values(revision=DistrictRevision.revision + 1, changed_at=utcnow())
        .returning(DistrictRevision.revision)
    )
    revision = result.scalar_one_or_none()
    if revision is None:
        session.add(DistrictRevision(id=1, revision=1))
        revision = 1
    return revision


async def district_revision(session: AsyncSession) -> int:
    """The number that grows with every import that changed something; 0 before the first."""
    result = await session.exec(_REVISION)
    return result.one_or_none() or 0


# Built once: routing reads it for every place a resident gives.
_REVISION = select(DistrictRevision.revision).where(DistrictRevision.id == 1)


async def district_is_empty(session: AsyncSession) -> bool:
    return (await session.exec(select(func.count()).select_from(Grid))).one() == 0


@dataclass(frozen=True, slots=True)
class GridSummary:
    code: str
    name: str
    households: int | None
    compounds: int
    team_chat_bound: bool


@dataclass(frozen=True, slots=True)
class CommunitySummary:
    name: str
    grids: tuple[GridSummary, ...]

    @property
    def households(self) -> int:
        return sum(grid.households or 0 for grid in self.grids)


async def district_overview(session: AsyncSession) -> tuple[CommunitySummary, ...]:
    """Active grids by community, in name and code order, for ``redgrid district show``."""
    compound_counts = (
        select(Compound.grid_id, func.count().label("n")).group_by(Compound.grid_id).subquery()
    )
    rows = await session.exec(
        select(Community.name, Grid, func.coalesce(compound_counts.c.n, 0))
        .join(Grid, Grid.community_id == Community.id)
        .outerjoin(compound_counts, compound_counts.c.grid_id == Grid.id)
        .where(Grid.active)
        .order_by(Community.name, Grid.code)
    )
    grouped: dict[str, list[GridSummary]] = defaultdict(list)
    for community, grid, compounds in rows.all():
        grouped[community].append(
            GridSummary(
                grid.code, grid.name, grid.households, compounds, grid.team_chat_id is not None
            )
        )
    return tuple(CommunitySummary(name, tuple(grids)) for name, grids in grouped.items())


async def build_routing_index(session: AsyncSession, *, buffer_m: float) -> DistrictIndex:
    """A routing index over the active grids and their compounds."""
    rows = (
        await session.exec(
            select(Grid.id, Grid.code, Grid.name, Community.name, Grid.boundary)
            .join(Community, Grid.community_id == Community.id)
            .where(Grid.active)
        )
    ).all()
    geometries = shapely.from_geojson([row[4] for row in rows])
    grids = [
        GridShape(grid_id, code, name, community, geometry)
        for (grid_id, code, name, community, _), geometry in zip(rows, geometries, strict=True)
    ]
    compound_rows = await session.exec(
        select(Compound.name, Compound.aliases, Compound.grid_id)
        .join(Grid, Compound.grid_id == Grid.id)
        .where(Grid.active)
    )
    compounds = [
        CompoundEntry(name, tuple(aliases), grid_id) for name, aliases, grid_id in compound_rows
    ]
    return DistrictIndex(grids, compounds, buffer_m=buffer_m)


class RoutingCache:
    """One routing index per process, rebuilt when the district revision moves.

    Checking the revision is one indexed read per lookup; it is what lets an import run
    from the command line reach every running bot instance without a restart.
    """

    def __init__(self, *, buffer_m: float) -> None:
        self._buffer_m = buffer_m
        self._index: DistrictIndex | None = None
        self._revision: int | None = None
        self._lock = asyncio.Lock()

    async def index(self, session: AsyncSession) -> DistrictIndex:
        revision = await district_revision(session)
        if self._index is None or revision != self._revision:
            async with self._lock:
                if self._index is None or revision != self._revision:
                    self._index = await build_routing_index(session, buffer_m=self._buffer_m)
                    self._revision = revision
        return self._index
