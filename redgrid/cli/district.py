"""`redgrid init`, `redgrid district import` and `show`, `redgrid route`: loading the
district and asking it which grid owns a spot."""

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from redgrid.bot.settings import get_settings
from redgrid.cli.base import (
    EXIT_AMBIGUOUS,
    EXIT_REFUSED,
    EXIT_USAGE,
    _,
    _missing_database_file,
    _require_current_schema,
    _with_engine,
    app,
    ngettext,
)
from redgrid.languages import N_
from redgrid.models import migrate
from redgrid.models.db import create_session_factory
from redgrid.paths import SAMPLE_DISTRICT
from redgrid.services.district import (
    ImportReport,
    build_routing_index,
    district_is_empty,
    district_overview,
    import_district,
)
from redgrid.services.district_file import DistrictFileError, DistrictPlan, parse_district_file
from redgrid.services.routing import InvalidCoordinates, MatchKind, RouteOutcome
from redgrid.services.tickets import MAX_ADDRESS

district_app = typer.Typer(
    help=N_("The district: communities, grids, compounds."), no_args_is_help=True
)
app.add_typer(district_app, name="district")


@app.command(
    "init",
    help=N_("Upgrade the database, and load the sample district if no district is loaded yet."),
)
def init() -> None:
    async def work(engine: AsyncEngine) -> str:
        await migrate.upgrade(engine)
        async with create_session_factory(engine)() as session, session.begin():
            if not await district_is_empty(session):
                return _("A district is already loaded; left as it is.")
            plan = parse_district_file(SAMPLE_DISTRICT.read_bytes())
            report = await import_district(session, plan)
            return _(
                "Loaded the sample district: {communities}, {grids}"
                " (synthetic boundaries, see data/README.md)."
            ).format(
                communities=_communities(len(plan.communities)),
                grids=_grids(len(report.created)),
            )

    typer.echo(_with_engine(work, creates_database=True))


@district_app.command(
    "import",
    help=N_(
        "Import a GeoJSON district: one feature per grid, matched by its code.\n\n"
        "The whole file is checked first; a file with any fault is refused and nothing is"
        " written. Without --partial, active grids the file omits are retired."
    ),
)
def district_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    partial: Annotated[
        bool, typer.Option(help=N_("The file holds some grids only: retire no grid it omits."))
    ] = False,
    dry_run: Annotated[bool, typer.Option(help=N_("Check the file, write nothing."))] = False,
) -> None:
    try:
        plan = parse_district_file(file.read_bytes())
    except DistrictFileError as error:
        count = len(error.problems)
        typer.echo(
            ngettext(
                "Refused {file}: {count} problem:", "Refused {file}: {count} problems:", count
            ).format(file=file, count=count),
            err=True,
        )
        for line in str(error).splitlines():  # the file checker's own words, in English
            typer.echo(f"  - {line}", err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    _echo_plan(plan)
    if dry_run:
        report = (
            None
            if _missing_database_file(get_settings().database_url) is not None
            else _with_engine(lambda engine: _rehearse_import(engine, plan, partial))
        )
        if report is None:
            typer.echo(
                _("Dry run: nothing written (no database at the current schema to compare).")
            )
            return
        typer.echo(
            _("Dry run, nothing written. The import would do: {summary}").format(
                summary=_summary(report)
            )
        )
        if report.retired:
            typer.echo(_("It would retire: {codes}").format(codes=", ".join(report.retired)))
            if not partial:
                typer.echo(_("Does the file hold only some grids? Then import it with --partial."))
        return

    async def work(engine: AsyncEngine):
        await _require_current_schema(engine)
        async with create_session_factory(engine)() as session, session.begin():
            return await import_district(session, plan, retire_missing=not partial)

    report = _with_engine(work)
    typer.echo(
        _("Imported: {summary} District revision {revision}.").format(
            summary=_summary(report), revision=report.revision
        )
    )
    if report.retired:
        typer.echo(_("Retired grids: {codes}").format(codes=", ".join(report.retired)))


async def _rehearse_import(
    engine: AsyncEngine, plan: DistrictPlan, partial: bool
) -> ImportReport | None:
    """The import, rolled back: a dry run shows the grids a real one would retire."""
    if await migrate.current_revision(engine) != migrate.SCHEMA_REVISION:
        return None
    async with create_session_factory(engine)() as session:
        try:
            return await import_district(session, plan, retire_missing=not partial)
        finally:
            await session.rollback()


def _summary(report: ImportReport) -> str:
    new = len(report.communities_created)
    return _(
        "{created} created, {updated} updated, {unchanged} unchanged, {retired} retired;"
        " {new_communities}."
    ).format(
        created=len(report.created),
        updated=len(report.updated),
        unchanged=len(report.unchanged),
        retired=len(report.retired),
        new_communities=ngettext("{count} new community", "{count} new communities", new).format(
            count=new
        ),
    )


def _echo_plan(plan: DistrictPlan) -> None:
    typer.echo(
        _("Checked {grids} in {communities}.").format(
            grids=_grids(len(plan.grids)), communities=_communities(len(plan.communities))
        )
    )
    for warning in plan.warnings:  # the file checker's own words, in English
        typer.echo(_("Warning: {warning}").format(warning=warning), err=True)


def _grids(count: int) -> str:
    return ngettext("{count} grid", "{count} grids", count).format(count=count)


def _communities(count: int) -> str:
    return ngettext("{count} community", "{count} communities", count).format(count=count)


def _households(count: int) -> str:
    return ngettext("{count} household", "{count} households", count).format(count=f"{count:,}")


@district_app.command(
    "show", help=N_("List communities with their grids, households and compounds.")
)
def district_show() -> None:
    async def work(engine: AsyncEngine):
        await _require_current_schema(engine)
        async with create_session_factory(engine)() as session:
            return await district_overview(session)

    communities = _with_engine(work)
    if not communities:
        typer.echo(_("No district loaded: run `redgrid init` or `redgrid district import FILE`."))
        raise typer.Exit(EXIT_REFUSED)
    for community in communities:
        typer.echo(
            _("{community}: {grids}, {households}").format(
                community=community.name,
                grids=_grids(len(community.grids)),
                households=_households(community.households),
            )
        )
        for grid in community.grids:
            households = f"{grid.households:,}" if grid.households else "-"
            details = _("households {households}, compounds {compounds}").format(
                households=households, compounds=grid.compounds
            )
            chat = "  " + _("team chat bound") if grid.team_chat_bound else ""
            typer.echo(f"  {grid.code:<12} {grid.name}  {details}{chat}")
    typer.echo(
        _("Total: {communities}, {grids}, {households}.").format(
            communities=_communities(len(communities)),
            grids=_grids(sum(len(c.grids) for c in communities)),
            households=_households(sum(c.households for c in communities)),
        )
    )


@app.command(
    "route",
    no_args_is_help=True,
    help=N_(
        "Which grid owns a spot: `redgrid route LAT LON` or `redgrid route --address TEXT`.\n\n"
        "An address is looked up as the bot looks up the one a resident types."
    ),
)
def route(
    lat: Annotated[
        str | None, typer.Argument(metavar="LAT", help=N_("Latitude, WGS84 degrees (a number)."))
    ] = None,
    lon: Annotated[
        str | None,
        typer.Argument(metavar="LON", help=N_("Longitude, WGS84 degrees (a number).")),
    ] = None,
    address: Annotated[
        str | None, typer.Option("--address", "-a", help=N_("A compound name or an address."))
    ] = None,
) -> None:
    if address is not None and (lat is not None or lon is not None):
        # The shell splits an address with spaces: the rest arrives as LAT.
        typer.echo(
            _("Give either LAT LON or --address TEXT; quote an address with spaces."), err=True
        )
        raise typer.Exit(EXIT_USAGE)
    if address is not None:
        address = address.strip()
        if not address:
            typer.echo(_("Give either LAT LON or --address TEXT."), err=True)
            raise typer.Exit(EXIT_USAGE)
        if len(address) > MAX_ADDRESS:
            typer.echo(
                ngettext(
                    "The address is {count} character; at most {limit}.",
                    "The address is {count} characters; at most {limit}.",
                    len(address),
                ).format(count=len(address), limit=MAX_ADDRESS),
                err=True,
            )
            raise typer.Exit(EXIT_USAGE)
    elif lat is None or lon is None:
        typer.echo(_("Give either LAT LON or --address TEXT."), err=True)
        raise typer.Exit(EXIT_USAGE)
    point = (
        None
        if address is not None
        else (_number(N_("latitude"), lat), _number(N_("longitude"), lon))
    )

    async def work(engine: AsyncEngine):
        await _require_current_schema(engine)
        async with create_session_factory(engine)() as session:
            return await build_routing_index(session, buffer_m=get_settings().routing_buffer_m)

    index = _with_engine(work)
    if point is None:
        _route_address(index, address)
    else:
        _route_point(index, *point)


def _number(label: str, text: str) -> float:
    """A coordinate as typed; a word where a number belongs is bad usage, in one line."""
    try:
        return float(text)
    except ValueError:
        typer.echo(
            _("Invalid coordinates: {coordinate} must be a number, not {text}.").format(
                coordinate=_(label), text=repr(text)
            ),
            err=True,
        )
        raise typer.Exit(EXIT_USAGE) from None


def _route_point(index, lat: float, lon: float) -> None:
    try:
        result = index.route(lat, lon)
    except InvalidCoordinates:
        typer.echo(
            _(
                "Invalid coordinates {lat}, {lon}: the latitude must be a number from -90 to 90,"
                " the longitude from -180 to 180."
            ).format(lat=lat, lon=lon),
            err=True,
        )
        raise typer.Exit(EXIT_USAGE) from None
    grid = result.grid
    if result.outcome is RouteOutcome.INSIDE:
        typer.echo(f"{grid.code}  {grid.name}  ({grid.community})")
    elif result.outcome is RouteOutcome.NEARBY:
        outside = _("nearest grid, {distance} m outside its boundary").format(
            distance=f"{result.distance_m:.0f}"
        )
        typer.echo(f"{grid.code}  {grid.name}  ({grid.community})  {outside}")
    else:
        buffer = f"{get_settings().routing_buffer_m:.0f}"
        typer.echo(
            _(
                "Outside the district: no grid within {buffer} m (the nearest is {distance} away)."
            ).format(buffer=buffer, distance=_distance(result.distance_m))
            if len(index)
            else _("Outside the district: no grid within {buffer} m.").format(buffer=buffer),
            err=True,
        )
        raise typer.Exit(EXIT_REFUSED)


def _distance(metres: float) -> str:
    if metres < 10_000:
        return _("{metres} m").format(metres=f"{metres:,.0f}")
    return _("about {kilometres} km").format(kilometres=f"{metres / 1000:,.0f}")


# How an address matched a compound's name.
_MATCH_KINDS = {
    MatchKind.EXACT: N_("exact"),
    MatchKind.NORMALISED: N_("normalised"),
    MatchKind.FUZZY: N_("fuzzy"),
}


def _route_address(index, text: str) -> None:
    result = index.route_address(text)
    if not result.candidates:
        typer.echo(_("No compound matches {address}.").format(address=repr(text)), err=True)
        raise typer.Exit(EXIT_REFUSED)
    if result.grid is not None:
        best = result.candidates[0]
        via = _("via {compound} [{match}]").format(
            compound=best.compound, match=_(_MATCH_KINDS[best.kind])
        )
        typer.echo(f"{best.grid.code}  {best.grid.name}  ({best.grid.community})  {via}")
        return
    count = len(result.candidates)
    typer.echo(
        ngettext(
            "Ambiguous: {count} candidate for {address}:",
            "Ambiguous: {count} candidates for {address}:",
            count,
        ).format(count=count, address=repr(text))
    )
    for candidate in result.candidates:
        via = _("via {compound} [{match}, {score}]").format(
            compound=candidate.compound,
            match=_(_MATCH_KINDS[candidate.kind]),
            score=f"{candidate.score:.0f}",
        )
        grid = candidate.grid
        typer.echo(f"  {grid.code}  {grid.name}  ({grid.community})  {via}")
    raise typer.Exit(EXIT_AMBIGUOUS)
