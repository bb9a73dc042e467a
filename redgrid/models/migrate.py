"""Schema migrations, run through Alembic on an async engine.

One code path for the command line, ``redgrid init`` and the tests: Alembic gets a live
connection from our engine, so the URL and the SQLite pragmas are the app's own.

Alembic is imported by the functions that need it only: the bot checks the schema at
start-up with ``current_revision`` (one query of Alembic's version table) against
``SCHEMA_REVISION``, and so never loads Alembic, about 11 MB of its memory.
"""

from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from redgrid.paths import resource

if TYPE_CHECKING:
    from alembic.config import Config

# The newest revision in migrations/versions: the schema this code is written for. Bump it
# with every new migration (tests/test_migrations.py fails until it matches).
SCHEMA_REVISION = "0006"
VERSION_TABLE = "alembic_version"  # Alembic's default, which migrations/env.py keeps


def alembic_config(connection: Connection | None = None) -> "Config":
    from alembic.config import Config

    config = Config(str(resource("alembic.ini")))
    config.set_main_option("script_location", str(resource("migrations")))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    from alembic import command

    async with engine.begin() as connection:
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    from alembic import command

    async with engine.begin() as connection:
        await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    """The database's schema revision; None for a database never migrated (or all the way
    down). Read as Alembic reads it, without Alembic."""
    async with engine.connect() as connection:
        return await connection.run_sync(_read_revision)


def _read_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    revisions = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    if len(revisions) > 1:
        raise RuntimeError(f"the database is at several revisions at once: {revisions}")
    return revisions[0][0] if revisions else None


def head_revision() -> str | None:
    """The newest revision among the migration scripts, as Alembic sees them."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
