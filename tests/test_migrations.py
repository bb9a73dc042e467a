"""The migrations build exactly the schema the models describe, and undo cleanly."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlmodel import SQLModel

import redgrid.models  # noqa: F401  (registers the tables)
from redgrid.models import migrate
from redgrid.models.db import create_engine


async def _schema_diff(engine) -> list:
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(
                    sync, opts={"compare_type": True, "compare_server_default": True}
                ),
                SQLModel.metadata,
            )
        )


async def _tables(engine) -> set[str]:
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    return set(names) - {"alembic_version"}


async def test_upgrade_matches_models_then_downgrade_and_upgrade_again(empty_database_url):
    engine = create_engine(empty_database_url)
    try:
        await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) == migrate.head_revision()
        assert await _tables(engine) == set(SQLModel.metadata.tables)
        assert await _schema_diff(engine) == []

        await migrate.downgrade(engine, "base")
        assert await migrate.current_revision(engine) is None
        assert await _tables(engine) == set()

        await migrate.upgrade(engine)
        assert await _schema_diff(engine) == []
    finally:
        await engine.dispose()


async def test_every_revision_steps_up_and_down(empty_database_url):
    """The stairway: each revision upgrades, downgrades one step and upgrades again."""
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    revisions = list(reversed(list(scripts.walk_revisions())))
    assert revisions, "no migrations found"
    engine = create_engine(empty_database_url)
    try:
        for revision in revisions:
            await migrate.upgrade(engine, revision.revision)
            await migrate.downgrade(engine, revision.down_revision or "base")
            await migrate.upgrade(engine, revision.revision)
            assert await migrate.current_revision(engine) == revision.revision
    finally:
        await engine.dispose()


def test_one_head():
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    assert len(scripts.get_heads()) == 1


def test_the_code_names_the_newest_revision():
    """`redgrid run` checks the database against SCHEMA_REVISION, without loading Alembic:
    bump it in redgrid/models/migrate.py with each new migration."""
    assert migrate.head_revision() == migrate.SCHEMA_REVISION
