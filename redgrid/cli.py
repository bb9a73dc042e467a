"""The ``redgrid`` command line: set up the database, load the district, check routing.

These are operator tools for the shell, so they speak English like the rest of the
server tooling; everything a resident or a grid team reads goes through gettext.

Exit codes: 0 done, 1 refused or not found, 2 bad usage, 3 ambiguous address.
"""

import asyncio
import errno
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.core import TyperGroup

from redgrid.bot.settings import MAX_INVITE_TTL_DAYS, EnvFileError, Settings, get_settings
from redgrid.models import migrate
from redgrid.models.base import MAX_ROW_ID, utcnow
from redgrid.models.db import create_engine, create_session_factory, is_sqlite
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
from redgrid.services.routing import InvalidCoordinates, RouteOutcome
from redgrid.services.tickets import MAX_ADDRESS

EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_AMBIGUOUS = 3


class _SettingsFaults(TyperGroup):
    """A bad setting ends any command with one line naming it, instead of a traceback; the
    line never repeats a value (BOT_TOKEN and DATABASE_URL hold secrets)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except EnvFileError as error:
            typer.echo(f"Bad .env: {error}.", err=True)
            raise typer.Exit(EXIT_USAGE) from None
        except ValidationError as error:
            if error.title != Settings.__name__:
                raise
            problems = "; ".join(
                f"{'.'.join(map(str, problem['loc'])).upper()}: "
                + problem["msg"].removeprefix("Value error, ")
                for problem in error.errors(include_input=False)
            )
            typer.echo(f"Bad setting (environment or .env): {problems}.", err=True)
            raise typer.Exit(EXIT_USAGE) from None


app = typer.Typer(
    cls=_SettingsFaults,
    rich_markup_mode="markdown",
    help="redgrid: run the bot; set up the database, the district, invites and the team.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
district_app = typer.Typer(
    help="The district: communities, grids, compounds.", no_args_is_help=True
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
        typer.echo(f"No database at {missing}: run `redgrid init` first.", err=True)
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
        typer.echo(f"Cannot open the database {where}: {reason}", err=True)
        raise typer.Exit(EXIT_REFUSED) from None


async def _require_current_schema(engine: AsyncEngine) -> None:
    current, head = await migrate.current_revision(engine), migrate.SCHEMA_REVISION
    if current is not None and current > head:  # revision ids are zero-padded numbers
        typer.echo(
            f"The database is at revision {current}, newer than this redgrid knows ({head}):"
            " run the newer redgrid, or go back with its `redgrid db downgrade"
            f" {head}` first.",
            err=True,
        )
        raise typer.Exit(EXIT_REFUSED)
    if current != head:
        typer.echo(
            f"The database is at revision {current or 'none'}, not {head}:"
            " run `redgrid db upgrade` (or `redgrid init`) first.",
            err=True,
        )
        raise typer.Exit(EXIT_REFUSED)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Upgrade the database schema (to the newest revision by default)."""
    with _alembic_refusals():
        before, after = _with_engine(
            lambda engine: _migrated(engine, migrate.upgrade, revision), creates_database=True
        )
    if before != after:
        typer.echo(f"Database upgraded from {before or 'none'} to {after}.")
    elif revision == "head" or revision == after:
        typer.echo(f"Nothing to do: the database is at {after}.")
    else:  # Alembic takes "upgrade" to an older revision as done
        typer.echo(
            f"Nothing done: the database is at {after or 'none'}, past {revision};"
            f" to go back, `redgrid db downgrade {revision}`."
        )


@db_app.command("downgrade")
def db_downgrade(revision: str) -> None:
    """Downgrade the database schema to REVISION ("base" drops every table)."""
    with _alembic_refusals():
        before, after = _with_engine(lambda engine: _migrated(engine, migrate.downgrade, revision))
    if before == after:
        typer.echo(f"Nothing to do: the database is at {after or 'none'}.")
    else:
        typer.echo(f"Database downgraded from {before} to {after or 'none'}.")


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
        typer.echo(f"Refused: {error}; see `redgrid db current`.", err=True)
        raise typer.Exit(EXIT_USAGE) from None


@db_app.command("current")
def db_current() -> None:
    """Print the database's schema revision and the newest one available."""
    current = _with_engine(migrate.current_revision)
    typer.echo(f"current: {current or 'none'}; head: {migrate.head_revision()}")


@app.command("run")
def run() -> None:
    """Run the bot with long polling (BOT_TOKEN; TELEGRAM_API_BASE for a self-hosted API)."""
    settings = _bot_settings()
    _with_engine(_require_current_schema)
    _require_redis(settings)
    _configure_logging()
    from redgrid.bot.app import run_polling  # aiogram only for the commands that need it

    with _telegram_refusals(settings):
        asyncio.run(run_polling(settings))


@app.command("webhook")
def webhook() -> None:
    """Run the bot behind a webhook (WEBHOOK_URL, WEBHOOK_SECRET, WEBHOOK_HOST/PORT/PATH)."""
    settings = _bot_settings()
    if settings.webhook_url is None or settings.webhook_secret is None:
        typer.echo("WEBHOOK_URL and WEBHOOK_SECRET must be set for webhook mode.", err=True)
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
        typer.echo(f"Cannot listen on {where} (WEBHOOK_HOST, WEBHOOK_PORT): {error}", err=True)
        raise typer.Exit(EXIT_REFUSED) from None


@contextmanager
def _telegram_refusals(settings: Settings) -> Iterator[None]:
    """A start Telegram refuses (a revoked token, no route to the Bot API) ends in one line;
    once running, the bot rides out Telegram's failures by itself."""
    from aiogram.exceptions import TelegramNetworkError, TelegramUnauthorizedError

    try:
        yield
    except TelegramUnauthorizedError:
        typer.echo("Telegram refused BOT_TOKEN (Unauthorized): check it with @BotFather.", err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    except TelegramNetworkError as error:
        where = settings.telegram_api_base or "api.telegram.org"
        # aiohttp names the URL of some failures, and the token is part of every URL.
        token = settings.bot_token.get_secret_value()
        reason = error.message.replace(token, "<BOT_TOKEN>")
        typer.echo(f"Cannot reach the Bot API at {where}: {reason}", err=True)
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
        typer.echo(f"Cannot reach Redis (REDIS_URL) at {where}: {error}", err=True)
        raise typer.Exit(EXIT_REFUSED) from None


def _bot_settings():
    settings = get_settings()
    if settings.bot_token is None:
        typer.echo("BOT_TOKEN is not set: put it in the environment or .env.", err=True)
        raise typer.Exit(EXIT_USAGE)
    return settings


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The ticker wakes every few seconds; a line per tick would drown everything else.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


@app.command("init")
def init() -> None:
    """Upgrade the database, and load the sample district if no district is loaded yet."""

    async def work(engine: AsyncEngine) -> str:
        await migrate.upgrade(engine)
        async with create_session_factory(engine)() as session, session.begin():
            if not await district_is_empty(session):
                return "A district is already loaded; left as it is."
            plan = parse_district_file(SAMPLE_DISTRICT.read_bytes())
            report = await import_district(session, plan)
            return (
                f"Loaded the sample district: {len(plan.communities)} communities,"
                f" {len(report.created)} grids (synthetic boundaries, see data/README.md)."
            )

    typer.echo(_with_engine(work, creates_database=True))


@district_app.command("import")
def district_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    partial: Annotated[
        bool, typer.Option(help="The file holds some grids only: retire no grid it omits.")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="Check the file, write nothing.")] = False,
) -> None:
    """Import a GeoJSON district: one feature per grid, matched by its code.

    The whole file is checked first; a file with any fault is refused and nothing is
    written. Without --partial, active grids the file omits are retired.
    """
    try:
        plan = parse_district_file(file.read_bytes())
    except DistrictFileError as error:
        typer.echo(f"Refused {file}: {len(error.problems)} problem(s):", err=True)
        for line in str(error).splitlines():
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
            typer.echo("Dry run: nothing written (no database at the current schema to compare).")
            return
        typer.echo(f"Dry run, nothing written. The import would do: {_summary(report)}")
        if report.retired:
            typer.echo(f"It would retire: {', '.join(report.retired)}")
            if not partial:
                typer.echo("Does the file hold only some grids? Then import it with --partial.")
        return

    async def work(engine: AsyncEngine):
        await _require_current_schema(engine)
        async with create_session_factory(engine)() as session, session.begin():
            return await import_district(session, plan, retire_missing=not partial)

    report = _with_engine(work)
    typer.echo(f"Imported: {_summary(report)} District revision {report.revision}.")
    if report.retired:
        typer.echo(f"Retired grids: {', '.join(report.retired)}")


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
    return (
        f"{len(report.created)} created, {len(report.updated)} updated,"
        f" {len(report.unchanged)} unchanged, {len(report.retired)} retired;"
        f" {_plural(len(report.communities_created), 'new community', 'new communities')}."
    )


def _echo_plan(plan: DistrictPlan) -> None:
    communities = _plural(len(plan.communities), "community", "communities")
    typer.echo(f"Checked {_plural(len(plan.grids), 'grid', 'grids')} in {communities}.")
    for warning in plan.warnings:
        typer.echo(f"Warning: {warning}", err=True)


@district_app.command("show")
def district_show() -> None:
    """List communities with their grids, households and compounds."""

    async def work(engine: AsyncEngine):
        await _require_current_schema(engine)
        async with create_session_factory(engine)() as session:
            return await district_overview(session)

    communities = _with_engine(work)
    if not communities:
        typer.echo("No district loaded: run `redgrid init` or `redgrid district import FILE`.")
        raise typer.Exit(EXIT_REFUSED)
    for community in communities:
        typer.echo(
            f"{community.name}: {len(community.grids)} grids, {community.households:,} households"
        )
        for grid in community.grids:
            households = f"{grid.households:,}" if grid.households else "-"
            chat = "  team chat bound" if grid.team_chat_bound else ""
            typer.echo(
                f"  {grid.code:<12} {grid.name}  households {households},"
                f" compounds {grid.compounds}{chat}"
            )
    total_grids = sum(len(c.grids) for c in communities)
    total_households = sum(c.households for c in communities)
    typer.echo(
        f"Total: {_plural(len(communities), 'community', 'communities')},"
        f" {_plural(total_grids, 'grid', 'grids')},"
        f" {total_households:,} households."
    )


@app.command("route", no_args_is_help=True)
def route(
    lat: Annotated[
        str | None, typer.Argument(metavar="LAT", help="Latitude, WGS84 degrees (a number).")
    ] = None,
    lon: Annotated[
        str | None, typer.Argument(metavar="LON", help="Longitude, WGS84 degrees (a number).")
    ] = None,
    address: Annotated[
        str | None, typer.Option("--address", "-a", help="A compound name or an address.")
    ] = None,
) -> None:
    """Which grid owns a spot: `redgrid route LAT LON` or `redgrid route --address TEXT`.

    An address is looked up as the bot looks up the one a resident types."""
    if address is not None and (lat is not None or lon is not None):
        # The shell splits an address with spaces: the rest arrives as LAT.
        typer.echo(
            "Give either LAT LON or --address TEXT; quote an address with spaces.",
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)
    if address is not None:
        address = address.strip()
        if not address:
            typer.echo("Give either LAT LON or --address TEXT.", err=True)
            raise typer.Exit(EXIT_USAGE)
        if len(address) > MAX_ADDRESS:
            typer.echo(
                f"The address is {len(address)} characters; at most {MAX_ADDRESS}.", err=True
            )
            raise typer.Exit(EXIT_USAGE)
    elif lat is None or lon is None:
        typer.echo("Give either LAT LON or --address TEXT.", err=True)
        raise typer.Exit(EXIT_USAGE)
    point = None if address is not None else (_number("latitude", lat), _number("longitude", lon))

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
        typer.echo(f"Invalid coordinates: {label} must be a number, not {text!r}.", err=True)
        raise typer.Exit(EXIT_USAGE) from None


def _route_point(index, lat: float, lon: float) -> None:
    try:
        result = index.route(lat, lon)
    except InvalidCoordinates as error:
        typer.echo(f"Invalid coordinates: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    if result.outcome is RouteOutcome.INSIDE:
        typer.echo(f"{result.grid.code}  {result.grid.name}  ({result.grid.community})")
    elif result.outcome is RouteOutcome.NEARBY:
        typer.echo(
            f"{result.grid.code}  {result.grid.name}  ({result.grid.community})"
            f"  nearest grid, {result.distance_m:.0f} m outside its boundary"
        )
    else:
        buffer = get_settings().routing_buffer_m
        typer.echo(
            f"Outside the district: no grid within {buffer:.0f} m"
            + (f" (the nearest is {_distance(result.distance_m)} away)." if len(index) else "."),
            err=True,
        )
        raise typer.Exit(EXIT_REFUSED)


def _distance(metres: float) -> str:
    return f"{metres:,.0f} m" if metres < 10_000 else f"about {metres / 1000:,.0f} km"


def _plural(count: int, word: str, words: str) -> str:
    return f"{count} {word if count == 1 else words}"


def _route_address(index, text: str) -> None:
    result = index.route_address(text)
    if not result.candidates:
        typer.echo(f"No compound matches {text!r}.", err=True)
        raise typer.Exit(EXIT_REFUSED)
    if result.grid is not None:
        best = result.candidates[0]
        typer.echo(
            f"{best.grid.code}  {best.grid.name}  ({best.grid.community})"
            f"  via {best.compound} [{best.kind}]"
        )
        return
    typer.echo(f"Ambiguous: {len(result.candidates)} candidates for {text!r}:")
    for candidate in result.candidates:
        typer.echo(
            f"  {candidate.grid.code}  {candidate.grid.name}  ({candidate.grid.community})"
            f"  via {candidate.compound} [{candidate.kind}, {candidate.score:.0f}]"
        )
    raise typer.Exit(EXIT_AMBIGUOUS)


@app.command("invite")
def invite(
    role: Annotated[
        str, typer.Option(help="secretary, grid_worker, officer or informant.", show_default=False)
    ],
    grid: Annotated[
        str | None, typer.Option(help="The grid's code (secretary, grid_worker).")
    ] = None,
    community: Annotated[
        str | None,
        typer.Option(help="The community's name (officer; informant: else the whole district)."),
    ] = None,
    ttl_days: Annotated[
        float | None, typer.Option(help="Days the code stays valid (default: INVITE_TTL_DAYS).")
    ] = None,
) -> None:
    """Create a single-use invite: print its deep link and code.

    Opening the link gives the person the role. A grid code sent as `/bind CODE` in a group
    by one of its administrators makes that group the grid's team chat instead. Codes are
    stored hashed: this is the only time the code is shown.
    """
    if role not in {r.value for r in INVITABLE_ROLES}:
        names = ", ".join(r.value for r in INVITABLE_ROLES)
        typer.echo(f"Unknown role {role!r}: use one of {names} (admins go in ADMIN_IDS).", err=True)
        raise typer.Exit(EXIT_USAGE)
    if grid is not None and community is not None:
        typer.echo("Give --grid or --community, not both.", err=True)
        raise typer.Exit(EXIT_USAGE)
    for option, value in (("--grid", grid), ("--community", community)):
        if value is not None and not value.strip():  # not "the whole district" by accident
            typer.echo(f"{option} is empty: name one, or leave the option out.", err=True)
            raise typer.Exit(EXIT_USAGE)
    settings = get_settings()
    days = settings.invite_ttl_days if ttl_days is None else ttl_days
    if not 0 < days <= MAX_INVITE_TTL_DAYS:  # NaN too
        typer.echo(f"--ttl-days must be more than 0 and at most {MAX_INVITE_TTL_DAYS}.", err=True)
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
    except InvalidInvite as error:
        typer.echo(f"Refused: {error}.", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except ScopeNotFound as error:
        typer.echo(f"Refused: {error}; see `redgrid district show`.", err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    expires = created.expires_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")
    typer.echo(
        f"Invite {created.id}: {created.role.value} of {_scope_text(scope)},"
        f" single use, valid until {expires} ({settings.timezone})."
    )
    username, problem = _bot_username(settings)
    if username is not None:
        typer.echo(f"Link: https://t.me/{username}?start={code}")
    typer.echo(f"Code: {code}")
    if username is None:
        typer.echo(f"No link: {problem}. Set BOT_USERNAME to print one.", err=True)
        typer.echo(f"The person opens the bot and sends: /start {code}")
    if created.role in GRID_ROLES:
        typer.echo(
            f"Or, in the team's group chat, `/bind {code}` sent by an administrator of the"
            " group makes it the grid's team chat."
        )


def _scope_text(scope: InviteScope) -> str:
    if scope.grid is not None:
        return f"grid {scope.grid.code} ({scope.grid.name})"
    if scope.community is not None:
        return scope.community.name
    return "the district"


def _bot_username(settings: Settings) -> tuple[str | None, str | None]:
    """The bot's username from BOT_USERNAME, else from Telegram's getMe; else why not."""
    if settings.bot_username:
        return settings.bot_username, None
    if settings.bot_token is None:
        return None, "neither BOT_USERNAME nor BOT_TOKEN is set"
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
        return None, f"could not ask Telegram for the bot's username ({error or type(error)})"
    if not username:
        return None, "Telegram returned no username for the bot"
    return username, None


def _row_id(help_text: str) -> typer.models.OptionInfo:
    """An option naming a row by the id a listing shows (``redgrid invites``, ...)."""
    return typer.Option(min=1, max=MAX_ROW_ID, help=help_text)


@app.command("invites")
def invites_list(
    all_: Annotated[bool, typer.Option("--all", help="Include used and expired invites.")] = False,
    revoke: Annotated[
        int | None, _row_id("Revoke the unused invite with this id: its link expires now.")
    ] = None,
) -> None:
    """List invites (codes are stored hashed, so only their role, scope and state), or
    revoke one by the id the list shows."""
    if revoke is not None:

        async def expire(engine: AsyncEngine):
            await _require_current_schema(engine)
            async with create_session_factory(engine)() as session, session.begin():
                invite = await revoke_invite(session, revoke, utcnow())
                return invite, await invite_scope(session, invite)

        try:
            invite, scope = _with_engine(expire)
        except InviteNotFound:
            typer.echo(f"No invite has the id {revoke}; see `redgrid invites --all`.", err=True)
            raise typer.Exit(EXIT_REFUSED) from None
        except InviteAlreadyUsed:
            typer.echo(f"Refused: invite {revoke} is already used.", err=True)
            raise typer.Exit(EXIT_REFUSED) from None
        typer.echo(f"Invite {revoke} ({invite.role.value} {_scope_text(scope)}) is revoked.")
        return

    async def work(engine: AsyncEngine):
        await _require_current_schema(engine)
        async with create_session_factory(engine)() as session:
            rows = await list_invites(session, utcnow(), active_only=not all_)
            return [(row, await invite_scope(session, row)) for row in rows]

    rows = _with_engine(work)
    if not rows:
        typer.echo("No invites." if all_ else "No usable invites (--all shows the others).")
        return
    tz = get_settings().tz
    now = utcnow()
    for row, scope in rows:
        if row.used_at is not None:
            state = f"used {row.used_at.astimezone(tz):%Y-%m-%d %H:%M}"
            state += f" by person {row.used_by_id}" if row.used_by_id else " (anonymous /bind)"
        elif row.expires_at <= now:
            state = "expired"
        else:
            state = f"valid until {row.expires_at.astimezone(tz):%Y-%m-%d %H:%M}"
        typer.echo(f"{row.id:>5}  {row.role.value:<12} {_scope_text(scope)}  {state}")


@app.command("informants")
def informants_command(
    pause: Annotated[int | None, _row_id("Pause the informant with this id.")] = None,
    resume: Annotated[int | None, _row_id("Resume a paused informant.")] = None,
    remove: Annotated[
        int | None, _row_id("Remove an informant (the role goes; a new invite brings them back).")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include removed informants.")] = False,
) -> None:
    """List the red informants with their points, or pause, resume or remove one (by the id
    the list shows)."""
    actions = [
        (person_id, status)
        for person_id, status in ((pause, "paused"), (resume, "active"), (remove, "removed"))
        if person_id is not None
    ]
    if len(actions) > 1:
        typer.echo("Give one of --pause, --resume, --remove.", err=True)
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
            typer.echo(f"No informant has the id {person_id}; see `redgrid informants`.", err=True)
            raise typer.Exit(EXIT_REFUSED) from None
        except IllegalStatusChange as error:
            typer.echo(f"Refused: informant {person_id} is {error.status.value}.", err=True)
            raise typer.Exit(EXIT_REFUSED) from None
        typer.echo(f"Informant {person_id} ({name}) is now {status}.")
        return

    async def work(engine: AsyncEngine):
        await _require_current_schema(engine)
        async with create_session_factory(engine)() as session:
            return await list_informants(session, utcnow(), include_removed=all_, tz=settings.tz)

    rows = _with_engine(work)
    if not rows:
        typer.echo("No informants." if all_ else "No informants (--all shows removed ones).")
        return
    for row in rows:
        joined = row.joined_at.astimezone(settings.tz).strftime("%Y-%m-%d")
        typer.echo(
            f"{row.person_id:>5}  {row.display_name:<20} {row.phone:<11}  {row.work_type.value:<13}"
            f" {row.community or '-':<10} {row.status.value:<7}  joined {joined}"
            f"  reports {row.reports}  points {row.points_month} this month,"
            f" {row.points_total} in all"
        )


@app.command("members")
def members_command(
    grid: Annotated[
        str | None, typer.Option(help="Only the team of the grid with this code.")
    ] = None,
    community: Annotated[
        str | None,
        typer.Option(help="Only the community's officers and the teams of its grids."),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include removed memberships.")] = False,
    remove: Annotated[
        int | None,
        _row_id(
            "Remove the membership with this id: the person is told, and the team's tickets "
            "no longer reach them."
        ),
    ] = None,
) -> None:
    """List the district's team (secretaries, grid workers, officers, admins by membership),
    or remove a membership by the id the list shows. Red informants: `redgrid informants`."""
    if grid is not None and community is not None:
        typer.echo("Give --grid or --community, not both.", err=True)
        raise typer.Exit(EXIT_USAGE)
    if remove is not None:
        if grid is not None or community is not None or all_:
            typer.echo("--remove takes the membership's id alone.", err=True)
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
    except ScopeNotFound as error:
        typer.echo(f"Refused: {error}; see `redgrid district show`.", err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    if not rows:
        typer.echo("No team members." if all_ else "No team members (--all shows removed ones).")
        return
    for row in rows:
        since = row.since.astimezone(settings.tz).strftime("%Y-%m-%d")
        name = "(erased)" if row.forgotten else row.name or "-"
        telegram_id = "-" if row.forgotten else row.telegram_id  # a tombstone, not an account
        state = "" if row.active else f"  {_removed_when(row, settings)}"
        typer.echo(
            f"{row.membership_id:>5}  {name:<20} {telegram_id:>12}  {row.role.value:<12}"
            f" {_member_scope(row)}  since {since}{state}"
        )


def _removed_when(row: MemberRow, settings: Settings) -> str:
    """Removed rows before revision 0006 kept no date."""
    if row.removed_at is None:
        return "removed (date unknown)"
    return f"removed {row.removed_at.astimezone(settings.tz).strftime('%Y-%m-%d %H:%M')}"


def _member_scope(row: MemberRow) -> str:
    if row.grid is not None:
        community = f", {row.community.name}" if row.community is not None else ""
        retired = "" if row.grid.active else ", retired"
        return f"grid {row.grid.code} ({row.grid.name}{community}{retired})"
    if row.community is not None:
        return row.community.name
    return "the district"


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
            f"No team membership has the id {membership_id}; see `redgrid members --all`.", err=True
        )
        raise typer.Exit(EXIT_REFUSED) from None
    except AlreadyRemoved:
        typer.echo(f"Refused: membership {membership_id} is already removed.", err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    except InformantMembership as error:
        typer.echo(
            f"Refused: membership {membership_id} is a red informant's; use"
            f" `redgrid informants --remove {error.person_id}`.",
            err=True,
        )
        raise typer.Exit(EXIT_REFUSED) from None
    person, membership = removal.person, removal.membership
    who = "(erased)" if person.forgotten_at is not None else person.display_name or "-"
    where = (
        f"grid {removal.grid.code}"
        if removal.grid is not None
        else removal.community.name
        if removal.community is not None
        else "the district"
    )
    typer.echo(
        f"Membership {membership_id} ({who}, {membership.role.value} of {where}) is removed."
    )
    if person.forgotten_at is None:
        typer.echo("They are told so when the bot next sends its pushes.")
    if removal.dropped_pushes:
        typer.echo(
            f"{_plural(removal.dropped_pushes, 'pending push', 'pending pushes')} about"
            " the team's tickets will not be sent to them."
        )
    if removal.grid is not None and removal.grid.team_chat_id is not None:
        typer.echo(
            f"They may still read grid {removal.grid.code}'s team chat:"
            " remove them from that group too."
        )
    if removal.gap is not None:
        typer.echo(_gap_warning(removal), err=True)


_FALLBACK_TEXT = {
    Fallback.OFFICERS: "the community's officers",
    Fallback.ADMINS: "the district admins",
    Fallback.NOBODY: "nobody (no officer or admin can be reached)",
}


def _gap_warning(removal: Removal) -> str:
    gap = removal.gap
    if gap.kind is GapKind.NO_SECRETARY:
        return f"Warning: grid {removal.grid.code} has no secretary left, only grid workers."
    if gap.kind is GapKind.NO_TEAM:
        return (
            f"Warning: grid {removal.grid.code} has no team member left:"
            f" its tickets now reach {_FALLBACK_TEXT[gap.fallback]}."
        )
    return (
        f"Warning: {removal.community.name} has no community officer left:"
        f" its own queue's tickets and overdue notices now reach {_FALLBACK_TEXT[gap.fallback]}."
    )
