"""Fixtures that give each test a fresh, migrated database: SQLite and PostgreSQL.

Tests that take ``database_url`` or ``engine`` run once per backend. PostgreSQL comes from
``TEST_POSTGRES_URL`` (default: the local server's ``test`` database); when it cannot be
reached those runs skip with the reason, unless ``REDGRID_REQUIRE_POSTGRES=1`` (set by CI),
which turns the skip into a failure.

Migrating is the slow part, so it happens once per backend: on SQLite into a template
file that each test copies, on PostgreSQL into one database that is emptied (TRUNCATE)
after each test.
"""

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.settings import get_settings
from redgrid.models import migrate
from redgrid.models.db import create_engine, create_session_factory

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("REDGRID_REQUIRE_POSTGRES") == "1"
BACKENDS = ["sqlite", "postgres"]


def _pg_server_dsn(database: str) -> str:
    """A plain asyncpg DSN for administrative statements on another database."""
    url = make_url(POSTGRES_URL).set(drivername="postgresql", database=database)
    return url.render_as_string(hide_password=False)


def _pg_url(database: str) -> str:
    return make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)


async def _pg_admin(*statements: str) -> None:
    connection = await asyncpg.connect(_pg_server_dsn(make_url(POSTGRES_URL).database))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def _migrate_to_head(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_available() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        asyncio.run(asyncio.wait_for(_pg_admin("SELECT 1"), timeout=5))
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return f"PostgreSQL at {make_url(POSTGRES_URL).render_as_string()} unreachable: {error}"
    return None


def require_backend(backend: str, postgres_available: str | None) -> None:
    if backend == "postgres" and postgres_available is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(f"REDGRID_REQUIRE_POSTGRES=1 but {postgres_available}")
        pytest.skip(postgres_available)


@pytest.fixture(scope="session")
def worker_tag() -> str:
    return f"{os.getpid()}_{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(_migrate_to_head(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_database(postgres_available: str | None, worker_tag: str) -> Iterator[str]:
    """One migrated database for the whole run; each test empties it afterwards."""
    if postgres_available is not None:
        yield ""
        return
    name = f"redgrid_test_{worker_tag}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    asyncio.run(_migrate_to_head(_pg_url(name)))
    yield name
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate_all(url: str) -> None:
    """Empty every table but Alembic's, and restart the id sequences (fast, unlike a new
    database per test)."""
    connection = await asyncpg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename <> 'alembic_version'"
        )
        names = ", ".join(f'"{row["tablename"]}"' for row in tables)
        await connection.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, postgres_available: str | None) -> str:
    require_backend(request.param, postgres_available)
    return request.param


@pytest.fixture
def database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, worker_tag: str
) -> Iterator[str]:
    """An empty database at the newest schema revision, on each backend."""
    if backend == "sqlite":
        path = tmp_path / "redgrid.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url = _pg_url(request.getfixturevalue("postgres_database"))
    yield url
    asyncio.run(_truncate_all(url))


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path, worker_tag: str) -> Iterator[str]:
    """A database with no tables at all, for migration tests."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"redgrid_empty_{worker_tag}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    yield _pg_url(name)
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Settings read from a clean environment: no stray ``.env`` from the developer's checkout.
    The command line speaks English here, whatever the machine's locale."""
    monkeypatch.chdir(tmp_path)
    for name in ("BOT_TOKEN", "DATABASE_URL", "REDIS_URL", "ADMIN_IDS", "TELEGRAM_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "DEFAULT_LOCALE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
