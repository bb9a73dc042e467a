"""What every command shares: the operator's language and the command group that speaks
it, the refusals of bad settings, the database connection, and the formatting of listings."""

import asyncio
import gettext
import os
import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.core import TyperCommand, TyperGroup

from redgrid.bot.settings import (
    EnvFileError,
    SettingError,
    Settings,
    default_locale_leniently,
    get_settings,
)
from redgrid.languages import N_, catalogue, environment_locale
from redgrid.models import migrate
from redgrid.models.base import MAX_ROW_ID
from redgrid.models.db import create_engine, is_sqlite
from redgrid.models.people import Role

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


def _column(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns, a Chinese character taking two."""
    cells = sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
    return text + " " * (width - cells)


def _row_id(help_text: str) -> typer.models.OptionInfo:
    """An option naming a row by the id a listing shows (``redgrid invites``, ...)."""
    return typer.Option(min=1, max=MAX_ROW_ID, help=help_text)
