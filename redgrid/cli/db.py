"""`redgrid db`: the schema migrations (upgrade, downgrade, current)."""

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from redgrid.cli.base import EXIT_USAGE, _, _revision, _with_engine, app
from redgrid.languages import N_
from redgrid.models import migrate

db_app = typer.Typer(help=N_("Database schema migrations."), no_args_is_help=True)
app.add_typer(db_app, name="db")


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
