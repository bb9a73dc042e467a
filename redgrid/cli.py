"""The ``redgrid`` command line: set up the database, load the district, check routing.

It speaks the operator's language, chosen once as the command starts: a ``zh`` or ``en``
locale in the environment, else DEFAULT_LOCALE (``operator_locale``). Its output and its
help texts are msgids of the bot's catalogues; ids, codes, URLs and times print as they are.

Exit codes: 0 done, 1 refused or not found, 2 bad usage, 3 ambiguous address.
"""

import asyncio
import errno
import gettext
import logging
import os
import unicodedata
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.core import TyperCommand, TyperGroup

from redgrid.bot.settings import (
    MAX_INVITE_TTL_DAYS,
    EnvFileError,
    SettingError,
    Settings,
    default_locale_leniently,
    get_settings,
)
from redgrid.languages import N_, catalogue, environment_locale
from redgrid.models import migrate
from redgrid.models.base import MAX_ROW_ID, utcnow
from redgrid.models.db import create_engine, create_session_factory, is_sqlite
from redgrid.models.informants import InformantStatus, WorkType
from redgrid.models.people import Role
from redgrid.paths import SAMPLE_DISTRICT
from redgrid.services.district import (
    ImportReport,
    build_routing_index,
    district_is_empty,
    district_overview,
    import_district,
)
from redgrid.services.district_file import DistrictFileError, DistrictPlan, parse_district_file
from redgrid.services.informants import (
    IllegalStatusChange,
    InformantNotFound,
    list_informants,
    set_status,
)
from redgrid.services.invites import (
    GRID_ROLES,
    INVITABLE_ROLES,
    InvalidInvite,
    InviteAlreadyUsed,
    InviteNotFound,
    InviteScope,
    ScopeNotFound,
    create_invite,
    invite_scope,
    list_invites,
    revoke_invite,
)
from redgrid.services.members import (
    AlreadyRemoved,
    Fallback,
    GapKind,
    InformantMembership,
    MemberRow,
    MembershipNotFound,
    Removal,
    list_members,
    remove_membership,
)
from redgrid.services.routing import InvalidCoordinates, MatchKind, RouteOutcome
from redgrid.services.tickets import MAX_ADDRESS

EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_AMBIGUOUS = 3

# The operator's language, set once as the command starts (``_speak``); English until then.
_language: gettext.NullTranslations = gettext.NullTranslations()


def _(message: str) -> str:
    return _language.gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return _language.ngettext(singular, plural, count)


def operator_locale(environ: Mapping[str, str] = os.environ) -> str:
    """The language the command speaks: a ``zh`` or ``en`` locale in the environment, else
    DEFAULT_LOCALE (zh_CN unless set). Servers often run with ``C.UTF-8``, and redgrid is
    Chinese first; a developer with ``LANG=en_US.UTF-8`` reads English. DEFAULT_LOCALE is
    read alone, so that a wrong setting can be named in the chosen language."""
    return environment_locale(environ) or default_locale_leniently()


def _speak(locale: str) -> None:
    global _language
    _language = catalogue(locale)


def _translate_help(command: TyperCommand | TyperGroup) -> None:
    """Typer builds the click commands afresh for each run, their help texts English
    msgids; this says them in the chosen language before click shows any of them."""
    for item in (command, *command.params):
        if getattr(item, "help", None):
            item.help = _(item.help)
    if isinstance(command, TyperGroup):
        for subcommand in command.commands.values():
            _translate_help(subcommand)


# Pydantic's own words for the faults settings can have besides ours (bounds, numbers),
# said again in the operator's language.
_PYDANTIC_FAULTS = {
    "greater_than": N_("must be more than {gt}"),
    "greater_than_equal": N_("must be at least {ge}"),
    "less_than": N_("must be less than {lt}"),
    "less_than_equal": N_("must be at most {le}"),
    "int_parsing": N_("must be a whole number"),
    "float_parsing": N_("must be a number"),
}


def _setting_fault(problem: Mapping) -> str:
    context = problem.get("ctx", {})
    error = context.get("error")
    if isinstance(error, SettingError):
        fault = _(error.template).format(**error.values)
    elif problem["type"] in _PYDANTIC_FAULTS:
        fault = _(_PYDANTIC_FAULTS[problem["type"]]).format(**context)
    else:  # pydantic's English, rather than nothing
        fault = problem["msg"].removeprefix("Value error, ")
    setting = ".".join(map(str, problem["loc"])).upper()
    return _("{setting}: {fault}").format(setting=setting, fault=fault)


class _Redgrid(TyperGroup):
    """The whole command. It speaks the operator's language, help texts included. A bad
    setting ends any command with one line naming it, instead of a traceback; the line
    never repeats a value (BOT_TOKEN and DATABASE_URL hold secrets)."""

    def main(self, *args, **kwargs):
        _speak(operator_locale())
        _translate_help(self)
        return super().main(*args, **kwargs)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except EnvFileError as error:
            typer.echo(
                _("Bad .env: not UTF-8 text (byte {byte}): save it as UTF-8.").format(
                    byte=error.byte
                ),
                err=True,
            )
            raise typer.Exit(EXIT_USAGE) from None
        except ValidationError as error:
            if error.title != Settings.__name__:
                raise
            problems = _("; ").join(
                _setting_fault(problem) for problem in error.errors(include_input=False)
            )
            typer.echo(
                _("Bad setting (environment or .env): {problems}.").format(problems=problems),
                err=True,
            )
            raise typer.Exit(EXIT_USAGE) from None


app = typer.Typer(
    cls=_Redgrid,
    rich_markup_mode="markdown",
    help=N_("redgrid: run the bot; set up the database, the district, invites and the team."),
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help=N_("Database schema migrations."), no_args_is_help=True)
district_app = typer.Typer(
    help=N_("The district: communities, grids, compounds."), no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(district_app, name="district")

T = TypeVar("T")


def _with_engine(
    work: Callable[[AsyncEngine], Awaitable[T]], *, creates_database: bool = False
) -> T:
    """Run one async unit of work against the configured database, then close the engine.

    Opening a SQLite file that is not there creates it: only the commands that set up the
    database (``creates_database``) may; the others refuse, leaving no empty file behind."""

    url = get_settings().database_url
    if not creates_database and (missing := _missing_database_file(url)) is not None:
        typer.echo(
            _("No database at {path}: run `redgrid init` first.").format(path=missing), err=True
        )
        raise typer.Exit(EXIT_REFUSED)

    async def main() -> T:
        engine = create_engine(url)
        try:
            await _connect_once(engine, url)
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _missing_database_file(url: str) -> str | None:
    """The path of the SQLite file the URL names when no such file exists, else None (a
    PostgreSQL server says for itself that a database is missing)."""
    if not is_sqlite(url):
        return None
    parsed = make_url(url)
    if parsed.database in (None, "", ":memory:") or parsed.query.get("uri") == "true":
        return None
    return None if Path(parsed.database).exists() else parsed.database


async def _connect_once(engine: AsyncEngine, url: str) -> None:
    """Fail with one line when the database cannot be reached (refused, unknown host, wrong
    role or password, no such database), before any work starts."""
    try:
        async with engine.connect():
            pass
    except (OSError, DBAPIError) as error:
        reason = error.orig if isinstance(error, DBAPIError) else error
        where = make_url(url).render_as_string(hide_password=True)
        typer.echo(
            _("Cannot open the database {url}: {reason}").format(url=where, reason=reason),
            err=True,
        )
        raise typer.Exit(EXIT_REFUSED) from None


async def _require_current_schema(engine: AsyncEngine) -> None:
    current, head = await migrate.current_revision(engine), migrate.SCHEMA_REVISION
    if current is not None and current > head:  # revision ids are zero-padded numbers
        typer.echo(
            _(
                "The database is at revision {current}, newer than this redgrid knows"
                " ({head}): run the newer redgrid, or go back with its `redgrid db downgrade"
                " {head}` first."
            ).format(current=current, head=head),
            err=True,
        )
        raise typer.Exit(EXIT_REFUSED)
    if current != head:
        typer.echo(
            _(
                "The database is at revision {current}, not {head}:"
                " run `redgrid db upgrade` (or `redgrid init`) first."
            ).format(current=_revision(current), head=head),
            err=True,
        )
        raise typer.Exit(EXIT_REFUSED)


def _revision(revision: str | None) -> str:
    """A schema revision as said to the operator: an empty database has none."""
    return revision or _("none")


@db_app.command(
    "upgrade", help=N_("Upgrade the database schema (to the newest revision by default).")
)
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    with _alembic_refusals():
        before, after = _with_engine(
            lambda engine: _migrated(engine, migrate.upgrade, revision), creates_database=True
        )
    if before != after:
        typer.echo(
            _("Database upgraded from {before} to {after}.").format(
                before=_revision(before), after=after
            )
        )
    elif revision == "head" or revision == after:
        typer.echo(_("Nothing to do: the database is at {revision}.").format(revision=after))
    else:  # Alembic takes "upgrade" to an older revision as done
        typer.echo(
            _(
                "Nothing done: the database is at {after}, past {revision};"
                " to go back, `redgrid db downgrade {revision}`."
            ).format(after=_revision(after), revision=revision)
        )


@db_app.command(
    "downgrade", help=N_('Downgrade the database schema to REVISION ("base" drops every table).')
)
def db_downgrade(revision: str) -> None:
    with _alembic_refusals():
        before, after = _with_engine(lambda engine: _migrated(engine, migrate.downgrade, revision))
    if before == after:
        typer.echo(
            _("Nothing to do: the database is at {revision}.").format(revision=_revision(after))
        )
    else:
        typer.echo(
            _("Database downgraded from {before} to {after}.").format(
                before=before, after=_revision(after)
            )
        )


async def _migrated(
    engine: AsyncEngine, step: Callable[[AsyncEngine, str], Awaitable[None]], revision: str
) -> tuple[str | None, str | None]:
    """The schema revision before and after: the revision asked for may not be where
    Alembic left the database."""
    before = await migrate.current_revision(engine)
    await step(engine, revision)
    return before, await migrate.current_revision(engine)


@contextmanager
def _alembic_refusals() -> Iterator[None]:
    """A revision Alembic does not know (a typo, a downgrade "up") is bad usage, not a crash."""
    from alembic.util import CommandError

    try:
        yield
    except CommandError as error:
        typer.echo(_("Refused: {reason}; see `redgrid db current`.").format(reason=error), err=True)
        raise typer.Exit(EXIT_USAGE) from None


@db_app.command(
    "current", help=N_("Print the database's schema revision and the newest one available.")
)
def db_current() -> None:
    current = _with_engine(migrate.current_revision)
    typer.echo(
        _("current: {current}; head: {head}").format(
            current=_revision(current), head=migrate.head_revision()
        )
    )


@app.command(
    "run",
    help=N_("Run the bot with long polling (BOT_TOKEN; TELEGRAM_API_BASE for a self-hosted API)."),
)
def run() -> None:
    settings = _bot_settings()
    _with_engine(_require_current_schema)
    _require_redis(settings)
    _configure_logging()
    from redgrid.bot.app import run_polling  # aiogram only for the commands that need it

    with _telegram_refusals(settings):
        asyncio.run(run_polling(settings))


@app.command(
    "webhook",
    help=N_("Run the bot behind a webhook (WEBHOOK_URL, WEBHOOK_SECRET, WEBHOOK_HOST/PORT/PATH)."),
)
def webhook() -> None:
    settings = _bot_settings()
    if settings.webhook_url is None or settings.webhook_secret is None:
        typer.echo(_("WEBHOOK_URL and WEBHOOK_SECRET must be set for webhook mode."), err=True)
        raise typer.Exit(EXIT_USAGE)
    _with_engine(_require_current_schema)
    _require_redis(settings)
    _configure_logging()
    from redgrid.bot.app import run_webhook

    try:
        with _telegram_refusals(settings):
            run_webhook(settings)
    except OSError as error:
        if error.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise
        where = f"{settings.webhook_host}:{settings.webhook_port}"
        typer.echo(
            _("Cannot listen on {address} (WEBHOOK_HOST, WEBHOOK_PORT): {reason}").format(
                address=where, reason=error
            ),
            err=True,
        )
        raise typer.Exit(EXIT_REFUSED) from None


@contextmanager
def _telegram_refusals(settings: Settings) -> Iterator[None]:
    """A start Telegram refuses (a revoked token, no route to the Bot API) ends in one line;
    once running, the bot rides out Telegram's failures by itself."""
    from aiogram.exceptions import TelegramNetworkError, TelegramUnauthorizedError

    try:
        yield
    except TelegramUnauthorizedError:
        typer.echo(
            _("Telegram refused BOT_TOKEN (Unauthorized): check it with @BotFather."), err=True
        )
        raise typer.Exit(EXIT_REFUSED) from None
    except TelegramNetworkError as error:
        where = settings.telegram_api_base or "api.telegram.org"
        # aiohttp names the URL of some failures, and the token is part of every URL.
        token = settings.bot_token.get_secret_value()
        reason = error.message.replace(token, "<BOT_TOKEN>")
        typer.echo(
            _("Cannot reach the Bot API at {url}: {reason}").format(url=where, reason=reason),
            err=True,
        )
        raise typer.Exit(EXIT_REFUSED) from None


def _require_redis(settings: Settings) -> None:
    """With REDIS_URL, Redis holds every conversation: unreachable, the bot would start and
    fail every update, so it does not start."""
    if settings.redis_url is None:
        return
    from urllib.parse import urlsplit

    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    url = settings.redis_url.get_secret_value()

    async def ping() -> None:
        client = Redis.from_url(url)
        try:
            await client.ping()
        finally:
            await client.aclose()

    try:
        asyncio.run(ping())
    except (RedisError, OSError, ValueError) as error:
        where = urlsplit(url).netloc.rpartition("@")[2]  # never the password
        typer.echo(
            _("Cannot reach Redis (REDIS_URL) at {address}: {reason}").format(
                address=where, reason=error
            ),
            err=True,
        )
        raise typer.Exit(EXIT_REFUSED) from None


def _bot_settings():
    settings = get_settings()
    if settings.bot_token is None:
        typer.echo(_("BOT_TOKEN is not set: put it in the environment or .env."), err=True)
        raise typer.Exit(EXIT_USAGE)
    return settings


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The ticker wakes every few seconds; a line per tick would drown everything else.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


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


@app.command(
    "invite",
    help=N_(
        "Create a single-use invite: print its deep link and code.\n\n"
        "Opening the link gives the person the role. A grid code sent as `/bind CODE` in a"
        " group by one of its administrators makes that group the grid's team chat instead."
        " Codes are stored hashed: this is the only time the code is shown."
    ),
)
def invite(
    role: Annotated[
        str,
        typer.Option(
            help=N_(
                "secretary (party branch secretary), grid_worker (grid worker), officer"
                " (community officer) or informant (red informant)."
            ),
            show_default=False,
        ),
    ],
    grid: Annotated[
        str | None, typer.Option(help=N_("The grid's code (secretary, grid_worker)."))
    ] = None,
    community: Annotated[
        str | None,
        typer.Option(
            help=N_("The community's name (officer; informant: else the whole district).")
        ),
    ] = None,
    ttl_days: Annotated[
        float | None,
        typer.Option(help=N_("Days the code stays valid (default: INVITE_TTL_DAYS).")),
    ] = None,
) -> None:
    if role not in {r.value for r in INVITABLE_ROLES}:
        names = ", ".join(r.value for r in INVITABLE_ROLES)
        typer.echo(
            _("Unknown role {role}: use one of {roles} (admins go in ADMIN_IDS).").format(
                role=repr(role), roles=names
            ),
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)
    if grid is not None and community is not None:
        typer.echo(_("Give --grid or --community, not both."), err=True)
        raise typer.Exit(EXIT_USAGE)
    for option, value in (("--grid", grid), ("--community", community)):
        if value is not None and not value.strip():  # not "the whole district" by accident
            typer.echo(
                _("{option} is empty: name one, or leave the option out.").format(option=option),
                err=True,
            )
            raise typer.Exit(EXIT_USAGE)
    settings = get_settings()
    days = settings.invite_ttl_days if ttl_days is None else ttl_days
    if not 0 < days <= MAX_INVITE_TTL_DAYS:  # NaN too
        typer.echo(
            _("--ttl-days must be more than 0 and at most {limit}.").format(
                limit=MAX_INVITE_TTL_DAYS
            ),
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)

    async def work(engine: AsyncEngine):
        await _require_current_schema(engine)
        async with create_session_factory(engine)() as session, session.begin():
            invite, code = await create_invite(
                session,
                role,
                grid_code=grid,
                community_name=community,
                ttl=timedelta(days=days),
                now=utcnow(),
            )
            return invite, await invite_scope(session, invite), code

    try:
        created, scope, code = _with_engine(work)
    except InvalidInvite:  # the role and the options do not go together
        typer.echo(_(_INVITE_SCOPE_RULES[Role(role)]), err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except ScopeNotFound:
        typer.echo(
            _scope_not_found(grid, community, N_("no active grid with code {code}")), err=True
        )
        raise typer.Exit(EXIT_REFUSED) from None
    expires = created.expires_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")
    typer.echo(
        _("Invite {id}: {role} of {scope}, single use, valid until {time} ({timezone}).").format(
            id=created.id,
            role=_role(created.role),
            scope=_scope_text(scope),
            time=expires,
            timezone=settings.timezone,
        )
    )
    username, problem = _bot_username(settings)
    if username is not None:
        typer.echo(_("Link: {url}").format(url=f"https://t.me/{username}?start={code}"))
    typer.echo(_("Code: {code}").format(code=code))
    if username is None:
        typer.echo(
            _("No link: {reason}. Set BOT_USERNAME to print one.").format(reason=problem),
            err=True,
        )
        typer.echo(_("The person opens the bot and sends: /start {code}").format(code=code))
    if created.role in GRID_ROLES:
        typer.echo(
            _(
                "Or, in the team's group chat, `/bind {code}` sent by an administrator of the"
                " group makes it the grid's team chat."
            ).format(code=code)
        )


# What each invitable role needs besides itself: the one reason create_invite refuses an
# invite the command's own checks let through.
_INVITE_SCOPE_RULES = {
    Role.SECRETARY: N_("Refused: a secretary invite needs a grid (--grid) and no community."),
    Role.GRID_WORKER: N_("Refused: a grid_worker invite needs a grid (--grid) and no community."),
    Role.OFFICER: N_("Refused: an officer invite needs a community (--community) and no grid."),
    Role.INFORMANT: N_(
        "Refused: an informant invite is for the district or a community, not a grid."
    ),
}


def _scope_not_found(grid: str | None, community: str | None, no_grid: str) -> str:
    """The refusal of a --grid or --community that names nothing; ``no_grid`` says which
    grids were looked in."""
    if grid is not None:
        fault = _(no_grid).format(code=repr(grid.strip()))
    else:
        fault = _("no community named {name}").format(name=repr((community or "").strip()))
    return _("Refused: {reason}; see `redgrid district show`.").format(reason=fault)


# Roles by the names `redgrid invite --role` takes.
_ROLES = {
    Role.SECRETARY: N_("secretary"),
    Role.GRID_WORKER: N_("grid_worker"),
    Role.OFFICER: N_("officer"),
    Role.INFORMANT: N_("informant"),
    Role.ADMIN: N_("admin"),
}


def _role(role: Role) -> str:
    return _(_ROLES[role])


def _scope_text(scope: InviteScope) -> str:
    if scope.grid is not None:
        return _("grid {code} ({name})").format(code=scope.grid.code, name=scope.grid.name)
    if scope.community is not None:
        return scope.community.name
    return _("the district")


def _column(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns, a Chinese character taking two."""
    cells = sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
    return text + " " * (width - cells)


def _bot_username(settings: Settings) -> tuple[str | None, str | None]:
    """The bot's username from BOT_USERNAME, else from Telegram's getMe; else why not."""
    if settings.bot_username:
        return settings.bot_username, None
    if settings.bot_token is None:
        return None, _("neither BOT_USERNAME nor BOT_TOKEN is set")
    import aiohttp
    from aiogram.exceptions import TelegramAPIError

    from redgrid.bot.factory import create_bot

    async def ask() -> str | None:
        bot = create_bot(settings)
        try:
            return (await asyncio.wait_for(bot.me(), timeout=20)).username
        finally:
            await bot.session.close()

    try:
        username = asyncio.run(ask())
    except (TelegramAPIError, aiohttp.ClientError, OSError, TimeoutError) as error:
        return None, _("could not ask Telegram for the bot's username ({reason})").format(
            reason=error or type(error)
        )
    if not username:
        return None, _("Telegram returned no username for the bot")
    return username, None


def _row_id(help_text: str) -> typer.models.OptionInfo:
    """An option naming a row by the id a listing shows (``redgrid invites``, ...)."""
    return typer.Option(min=1, max=MAX_ROW_ID, help=help_text)


@app.command(
    "invites",
    help=N_(
        "List invites (codes are stored hashed, so only their role, scope and state), or"
        " revoke one by the id the list shows."
    ),
)
def invites_list(
    all_: Annotated[
        bool, typer.Option("--all", help=N_("Include used and expired invites."))
    ] = False,
    revoke: Annotated[
        int | None, _row_id(N_("Revoke the unused invite with this id: its link expires now."))
    ] = None,
) -> None:
    if revoke is not None:

        async def expire(engine: AsyncEngine):
            await _require_current_schema(engine)
            async with create_session_factory(engine)() as session, session.begin():
                invite = await revoke_invite(session, revoke, utcnow())
                return invite, await invite_scope(session, invite)

        try:
            invite, scope = _with_engine(expire)
        except InviteNotFound:
            typer.echo(
                _("No invite has the id {id}; see `redgrid invites --all`.").format(id=revoke),
                err=True,
            )
            raise typer.Exit(EXIT_REFUSED) from None
        except InviteAlreadyUsed:
            typer.echo(_("Refused: invite {id} is already used.").format(id=revoke), err=True)
            raise typer.Exit(EXIT_REFUSED) from None
        typer.echo(
            _("Invite {id} ({role} {scope}) is revoked.").format(
                id=revoke, role=_role(invite.role), scope=_scope_text(scope)
            )
        )
        return

    async def work(engine: AsyncEngine):
        await _require_current_schema(engine)
        async with create_session_factory(engine)() as session:
            rows = await list_invites(session, utcnow(), active_only=not all_)
            return [(row, await invite_scope(session, row)) for row in rows]

    rows = _with_engine(work)
    if not rows:
        typer.echo(_("No invites.") if all_ else _("No usable invites (--all shows the others)."))
        return
    tz = get_settings().tz
    now = utcnow()
    for row, scope in rows:
        if row.used_at is not None:
            used = f"{row.used_at.astimezone(tz):%Y-%m-%d %H:%M}"
            state = (
                _("used {time} by person {id}").format(time=used, id=row.used_by_id)
                if row.used_by_id
                else _("used {time} (anonymous /bind)").format(time=used)
            )
        elif row.expires_at <= now:
            state = _("expired")
        else:
            state = _("valid until {time}").format(
                time=f"{row.expires_at.astimezone(tz):%Y-%m-%d %H:%M}"
            )
        typer.echo(f"{row.id:>5}  {_column(_role(row.role), 12)} {_scope_text(scope)}  {state}")


@app.command(
    "informants",
    help=N_(
        "List the red informants with their points, or pause, resume or remove one (by the id"
        " the list shows)."
    ),
)
def informants_command(
    pause: Annotated[int | None, _row_id(N_("Pause the informant with this id."))] = None,
    resume: Annotated[int | None, _row_id(N_("Resume a paused informant."))] = None,
    remove: Annotated[
        int | None,
        _row_id(N_("Remove an informant (the role goes; a new invite brings them back).")),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help=N_("Include removed informants."))] = False,
) -> None:
    actions = [
        (person_id, status)
        for person_id, status in (
            (pause, InformantStatus.PAUSED),
            (resume, InformantStatus.ACTIVE),
            (remove, InformantStatus.REMOVED),
        )
        if person_id is not None
    ]
    if len(actions) > 1:
        typer.echo(_("Give one of --pause, --resume, --remove."), err=True)
        raise typer.Exit(EXIT_USAGE)
    settings = get_settings()

    if actions:
        [(person_id, status)] = actions

        async def change(engine: AsyncEngine):
            await _require_current_schema(engine)
            async with create_session_factory(engine)() as session, session.begin():
                profile = await set_status(session, person_id, status, utcnow(), by=None)
                return profile.display_name

        try:
            name = _with_engine(change)
        except InformantNotFound:
            typer.echo(
                _("No informant has the id {id}; see `redgrid informants`.").format(id=person_id),
                err=True,
            )
            raise typer.Exit(EXIT_REFUSED) from None
        except IllegalStatusChange as error:
            typer.echo(
                _("Refused: informant {id} is {status}.").format(
                    id=person_id, status=_(_STATUSES[error.status])
                ),
                err=True,
            )
            raise typer.Exit(EXIT_REFUSED) from None
        typer.echo(
            _("Informant {id} ({name}) is now {status}.").format(
                id=person_id, name=name, status=_(_STATUSES[status])
            )
        )
        return

    async def work(engine: AsyncEngine):
        await _require_current_schema(engine)
        async with create_session_factory(engine)() as session:
            return await list_informants(session, utcnow(), include_removed=all_, tz=settings.tz)

    rows = _with_engine(work)
    if not rows:
        typer.echo(_("No informants.") if all_ else _("No informants (--all shows removed ones)."))
        return
    for row in rows:
        record = _(
            "joined {date}  reports {reports}  points {month} this month, {total} in all"
        ).format(
            date=row.joined_at.astimezone(settings.tz).strftime("%Y-%m-%d"),
            reports=row.reports,
            month=row.points_month,
            total=row.points_total,
        )
        typer.echo(
            f"{row.person_id:>5}  {_column(row.display_name, 20)} {row.phone:<11}"
            f"  {_column(_(_WORK_TYPES[row.work_type]), 19)} {_column(row.community or '-', 10)}"
            f" {_column(_(_STATUSES[row.status]), 7)}  {record}"
        )


# The bot's words for them (handlers/informant/shared.py).
_STATUSES = {
    InformantStatus.ACTIVE: N_("active"),
    InformantStatus.PAUSED: N_("paused"),
    InformantStatus.REMOVED: N_("removed"),
}
_WORK_TYPES = {
    WorkType.FOOD_DELIVERY: N_("food delivery rider"),
    WorkType.COURIER: N_("courier"),
    WorkType.RIDE_HAILING: N_("ride-hailing driver"),
    WorkType.OTHER: N_("other work"),
}


@app.command(
    "members",
    help=N_(
        "List the district's team (secretaries, grid workers, officers, admins by membership),"
        " or remove a membership by the id the list shows. Red informants: `redgrid informants`."
    ),
)
def members_command(
    grid: Annotated[
        str | None, typer.Option(help=N_("Only the team of the grid with this code."))
    ] = None,
    community: Annotated[
        str | None,
        typer.Option(help=N_("Only the community's officers and the teams of its grids.")),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help=N_("Include removed memberships."))] = False,
    remove: Annotated[
        int | None,
        _row_id(
            N_(
                "Remove the membership with this id: the person is told, and the team's"
                " tickets no longer reach them."
            )
        ),
    ] = None,
) -> None:
    if grid is not None and community is not None:
        typer.echo(_("Give --grid or --community, not both."), err=True)
        raise typer.Exit(EXIT_USAGE)
    if remove is not None:
        if grid is not None or community is not None or all_:
            typer.echo(_("--remove takes the membership's id alone."), err=True)
            raise typer.Exit(EXIT_USAGE)
        _remove_member(remove)
        return
    settings = get_settings()

    async def work(engine: AsyncEngine):
        await _require_current_schema(engine)
        async with create_session_factory(engine)() as session:
            return await list_members(
                session, grid_code=grid, community_name=community, include_removed=all_
            )

    try:
        rows = _with_engine(work)
    except ScopeNotFound:
        typer.echo(_scope_not_found(grid, community, N_("no grid with code {code}")), err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    if not rows:
        typer.echo(
            _("No team members.") if all_ else _("No team members (--all shows removed ones).")
        )
        return
    for row in rows:
        since = _("since {date}").format(
            date=row.since.astimezone(settings.tz).strftime("%Y-%m-%d")
        )
        name = _("(erased)") if row.forgotten else row.name or "-"
        telegram_id = "-" if row.forgotten else row.telegram_id  # a tombstone, not an account
        state = "" if row.active else f"  {_removed_when(row, settings)}"
        typer.echo(
            f"{row.membership_id:>5}  {_column(name, 20)} {telegram_id:>12}"
            f"  {_column(_role(row.role), 12)} {_member_scope(row)}  {since}{state}"
        )


def _removed_when(row: MemberRow, settings: Settings) -> str:
    """Removed rows before revision 0006 kept no date."""
    if row.removed_at is None:
        return _("removed (date unknown)")
    return _("removed {time}").format(
        time=row.removed_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")
    )


def _member_scope(row: MemberRow) -> str:
    if row.grid is not None:
        details = [row.grid.name]
        if row.community is not None:
            details.append(row.community.name)
        if not row.grid.active:
            details.append(_("retired"))
        return _("grid {code} ({name})").format(code=row.grid.code, name=_(", ").join(details))
    if row.community is not None:
        return row.community.name
    return _("the district")


def _remove_member(membership_id: int) -> None:
    """Deactivate the membership and stage the person's farewell in one transaction; the
    running bot sends it."""
    settings = get_settings()
    # aiogram only for this part: the farewell is rendered and staged as the bot's pushes are.
    from redgrid.bot.i18n import create_i18n
    from redgrid.bot.notifier import Notifier
    from redgrid.bot.pushes import locale_of
    from redgrid.handlers.invites import farewell_text

    i18n = create_i18n(settings.default_locale)

    async def work(engine: AsyncEngine) -> Removal:
        await _require_current_schema(engine)
        async with create_session_factory(engine)() as session, session.begin():
            removal = await remove_membership(session, membership_id, settings.admin_ids, utcnow())
            person = removal.person
            if person.forgotten_at is None:
                scope = InviteScope(grid=removal.grid, community=removal.community)
                with i18n.context(), i18n.use_locale(locale_of(person, settings)):
                    text = farewell_text(removal.membership.role, scope)
                Notifier(session).message(person.telegram_id, text, person_id=person.id)
            return removal

    try:
        removal = _with_engine(work)
    except MembershipNotFound:
        typer.echo(
            _("No team membership has the id {id}; see `redgrid members --all`.").format(
                id=membership_id
            ),
            err=True,
        )
        raise typer.Exit(EXIT_REFUSED) from None
    except AlreadyRemoved:
        typer.echo(
            _("Refused: membership {id} is already removed.").format(id=membership_id), err=True
        )
        raise typer.Exit(EXIT_REFUSED) from None
    except InformantMembership as error:
        typer.echo(
            _(
                "Refused: membership {id} is a red informant's; use"
                " `redgrid informants --remove {person_id}`."
            ).format(id=membership_id, person_id=error.person_id),
            err=True,
        )
        raise typer.Exit(EXIT_REFUSED) from None
    person, membership = removal.person, removal.membership
    who = _("(erased)") if person.forgotten_at is not None else person.display_name or "-"
    where = (
        _("grid {code}").format(code=removal.grid.code)
        if removal.grid is not None
        else removal.community.name
        if removal.community is not None
        else _("the district")
    )
    typer.echo(
        _("Membership {id} ({name}, {role} of {scope}) is removed.").format(
            id=membership_id, name=who, role=_role(membership.role), scope=where
        )
    )
    if person.forgotten_at is None:
        typer.echo(_("They are told so when the bot next sends its pushes."))
    if removal.dropped_pushes:
        typer.echo(
            ngettext(
                "{count} pending push about the team's tickets will not be sent to them.",
                "{count} pending pushes about the team's tickets will not be sent to them.",
                removal.dropped_pushes,
            ).format(count=removal.dropped_pushes)
        )
    if removal.grid is not None and removal.grid.team_chat_id is not None:
        typer.echo(
            _(
                "They may still read grid {code}'s team chat: remove them from that group too."
            ).format(code=removal.grid.code)
        )
    if removal.gap is not None:
        typer.echo(_gap_warning(removal), err=True)


_FALLBACK_TEXT = {
    Fallback.OFFICERS: N_("the community's officers"),
    Fallback.ADMINS: N_("the district admins"),
    Fallback.NOBODY: N_("nobody (no officer or admin can be reached)"),
}


def _gap_warning(removal: Removal) -> str:
    gap = removal.gap
    if gap.kind is GapKind.NO_SECRETARY:
        return _("Warning: grid {code} has no secretary left, only grid workers.").format(
            code=removal.grid.code
        )
    if gap.kind is GapKind.NO_TEAM:
        return _(
            "Warning: grid {code} has no team member left: its tickets now reach {fallback}."
        ).format(code=removal.grid.code, fallback=_(_FALLBACK_TEXT[gap.fallback]))
    return _(
        "Warning: {community} has no community officer left: its own queue's tickets and"
        " overdue notices now reach {fallback}."
    ).format(community=removal.community.name, fallback=_(_FALLBACK_TEXT[gap.fallback]))
