"""How fast the complaint conversation runs through the real Dispatcher, and how much memory
10,000 drafts in flight cost.

    .venv/bin/python benchmarks/conversation.py [--residents N] [--drafts N] [--backend B]
        [--split]

Every update goes through the production dispatcher (middlewares, FSM storage in the
database, routing, the outbox) over a recording session instead of HTTP, so no network
time is counted. Beside it, in the same run, a bare aiogram echo handler over the same
session gives the floor: after each complaint, as many echoes as it took updates, so both
are measured under the same load. Then, in a pass of its own, the same echo after the
least database work of a conversation step (the person and the state read in one query,
the state written, a commit), which no step of this stack can go below. Prints updates/s
and p50/p99 latency per update for each, and the mean of each step of the conversation
(with ``--split``, the part of it inside SQLAlchemy), on SQLite and (if reachable)
PostgreSQL (``--residents 0`` skips this), then the resident memory of a bot process of its own
(``bot_memory.py``) with N drafts in flight.
Targets: >= 300 updates/s on SQLite; at most 5x the echo handler's per-update cost;
under 200 MB RSS with 10,000 drafts.
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test harness lives in tests/, beside the package

import asyncpg  # noqa: E402
from aiogram import Bot, Dispatcher, Router  # noqa: E402
from aiogram.fsm.storage.base import StorageKey  # noqa: E402
from aiogram.types import Message  # noqa: E402
from shapely.geometry import shape  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import select  # noqa: E402

from redgrid.bot.app import settle_heap  # noqa: E402
from redgrid.bot.settings import Settings  # noqa: E402
from redgrid.bot.storage import ROW_COLUMNS, DatabaseStorage, update_scope  # noqa: E402
from redgrid.handlers.callbacks import (  # noqa: E402
    CategoryCb,
    DraftAction,
    DraftCb,
)
from redgrid.models import (  # noqa: E402
    Grid,
    Role,
    migrate,
)
from redgrid.models.db import create_engine, create_session_factory  # noqa: E402
from redgrid.paths import SAMPLE_DISTRICT  # noqa: E402
from redgrid.services.categories import load_categories  # noqa: E402
from redgrid.services.district import import_district  # noqa: E402
from redgrid.services.district_file import parse_district_file  # noqa: E402
from redgrid.services.people import (  # noqa: E402
    get_or_create_person,
    grant_role,
    identify,
    identify_query,
)
from tests.bot_harness import TOKEN, BotHarness, bot_harness  # noqa: E402
from tests.bot_harness import Person as Client  # noqa: E402

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1/test")
CATEGORY_CODES = [c.code for c in load_categories().all if c.routes_to.kind.value == "grid"]


def draft(action: DraftAction) -> str:
    return DraftCb(action=action).pack()


class DatabaseClock:
    """Time spent inside SQLAlchemy's async calls (``--split``).

    Every call of SQLAlchemy's asyncio layer (execute, commit, close, ...) runs its
    synchronous body through ``greenlet_spawn``; this wraps it where the asyncio modules
    imported it and adds up the outermost calls' time. Off by default: the wrapper costs a
    little itself.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self._depth = 0

    def install(self) -> None:
        from sqlalchemy.ext.asyncio import engine, result, session
        from sqlmodel.ext.asyncio import session as sqlmodel_session

        spawn = session.greenlet_spawn

        async def timed(*args, **kwargs):
            if self._depth:
                return await spawn(*args, **kwargs)
            self._depth += 1
            start = time.perf_counter()
            try:
                return await spawn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self._depth -= 1

        for module in (engine, result, session, sqlmodel_session):
            module.greenlet_spawn = timed


class Timer:
    """Per-update latencies of one run, and per step of the conversation."""

    def __init__(self, clock: DatabaseClock | None = None) -> None:
        self.latencies: list[float] = []
        self.steps: dict[str, list[tuple[float, float]]] = {}
        self.clock = clock

    async def __call__(self, step: Callable[[], Awaitable], name: str = "update"):
        in_database = self.clock.seconds if self.clock else 0.0
        start = time.perf_counter()
        result = await step()
        elapsed = time.perf_counter() - start
        self.latencies.append(elapsed)
        in_database = (self.clock.seconds if self.clock else 0.0) - in_database
        self.steps.setdefault(name, []).append((elapsed, in_database))
        return result

    def report(self, label: str) -> float:
        total = sum(self.latencies)
        ordered = sorted(self.latencies)
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
        rate = len(ordered) / total
        print(
            f"  {label:<24} {len(ordered):>7,} updates  {rate:>9,.0f} updates/s"
            f"  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
        )
        return total / len(ordered)

    def report_steps(self, echo: float) -> None:
        """Mean time per step, in ms and in echoes; with ``--split``, the database's part."""
        for name, times in self.steps.items():
            mean = sum(elapsed for elapsed, _ in times) / len(times)
            line = f"    {name:<22} {mean * 1000:6.2f} ms  {mean / echo:5.1f}x echo"
            if self.clock:
                database = sum(seconds for _, seconds in times) / len(times)
                rest = (mean - database) / echo
                line += f"   database {database * 1000:5.2f} ms, the rest {rest:4.1f}x echo"
            print(line)
        if self.clock:
            every = [step for times in self.steps.values() for step in times]
            rest = sum(elapsed - database for elapsed, database in every) / len(every)
            print(f"    outside the database, an update costs {rest / echo:.1f}x the echo's")


def spots_inside_grids(count: int, rng: random.Random) -> list[tuple[float, float]]:
    """Points well inside the sample district's grids (a representative point, jittered)."""
    features = json.loads(SAMPLE_DISTRICT.read_text(encoding="utf-8"))["features"]
    points = []
    for _ in range(count):
        polygon = shape(rng.choice(features)["geometry"])
        point = polygon.representative_point()
        points.append((point.y + rng.uniform(-1e-4, 1e-4), point.x + rng.uniform(-1e-4, 1e-4)))
    return points


async def complaint(client: Client, timer: Timer, spot: tuple[float, float], code: str) -> None:
    """One whole complaint, as a resident taps it."""
    await timer(lambda: client.text("/new"), "/new")
    await timer(lambda: client.press(CategoryCb(code=code).pack()), "category")
    await timer(lambda: client.text("小区门口的路灯坏了，晚上很黑，请尽快修理。"), "description")
    await timer(lambda: client.press(draft(DraftAction.SKIP_PHOTOS)), "skip photos")
    calls = await timer(lambda: client.location(*spot), "location")
    if any(b.callback_data == draft(DraftAction.NEW_ANYWAY) for c in calls for b in c.buttons):
        await timer(lambda: client.press(draft(DraftAction.NEW_ANYWAY)), "file anyway")
    await timer(lambda: client.press(draft(DraftAction.CONSENT_ANONYMOUS)), "anonymous")
    await timer(lambda: client.press(draft(DraftAction.CONFIRM)), "confirm")


def echo_client(harness: BotHarness, *, with_state: bool = False) -> Client:
    """Someone talking to a bare aiogram dispatcher with one echo handler, over the same
    recording session. ``with_state``: the handler first does the least database work of
    a conversation step, as ``UpdateMiddleware`` does it (one session; the person and
    their state in one query; the state written with the commit), the floor under every
    step on this stack."""
    router = Router()
    storage = DatabaseStorage(harness.storage.session_factory) if with_state else None
    person_and_state = identify_query(*ROW_COLUMNS)

    @router.message()
    async def echo(message: Message, bot: Bot) -> None:
        if storage is not None:
            user = message.from_user
            key = StorageKey(bot_id=bot.id, chat_id=message.chat.id, user_id=user.id)
            record_key = storage.record_key(key)
            async with storage.session_factory() as session:
                with update_scope(session):
                    who = (user.id, user.full_name, "en", ())
                    params = {"fsm_key": record_key}
                    found = await identify(session, *who, query=person_and_state, params=params)
                    storage.preload(record_key, *(found.also or (None, None)))
                    await storage.set_state(key, "Floor:step")
                    await session.commit()
        await message.answer(message.text)

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    bare = BotHarness(
        harness.settings,
        harness.bot,
        harness.session,
        dispatcher,
        harness.storage,
        harness.sender,
    )
    return bare.person("Echo", language_code="en")


async def prepare(database_url: str) -> None:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    factory = create_session_factory(engine)
    async with factory() as session, session.begin():
        await import_district(session, parse_district_file(SAMPLE_DISTRICT.read_bytes()))
        for index, grid in enumerate((await session.exec(select(Grid))).all()):
            secretary = await get_or_create_person(session, 10_000 + index, "书记", "zh_CN")
            await grant_role(session, secretary.id, Role.SECRETARY, grid_id=grid.id)
    await engine.dispose()


async def run_backend(
    label: str, database_url: str, residents: int, clock: DatabaseClock | None
) -> None:
    await prepare(database_url)
    engine = create_engine(database_url)
    factory = create_session_factory(engine)
    settings = Settings(bot_token=TOKEN, database_url=database_url, daily_ticket_limit=1000)
    rng = random.Random(7)
    spots = spots_inside_grids(residents, rng)
    print(f"\n== {label}: {residents:,} complaints, each its own resident")
    async with bot_harness(settings, factory) as harness:
        timer, echo_timer, echo = Timer(clock), Timer(), echo_client(harness)
        floor_timer, floor = Timer(), echo_client(harness, with_state=True)
        settle_heap()  # as the bot's start-up does
        for spot in spots:
            client = harness.person("居民", language_code="zh-hans")
            before = len(timer.latencies)
            await complaint(client, timer, spot, rng.choice(CATEGORY_CODES))
            # As many echoes right after: both see the machine in the same state.
            for _ in range(len(timer.latencies) - before):
                await echo_timer(lambda: echo.text("ping"))
            # A bot keeps nothing of what it sent; the recording session would keep it all,
            # and the garbage collector would walk it over and over.
            harness.session.calls.clear()
        # The floor in a pass of its own, so that the echoes are timed as they always were.
        for _ in range(len(timer.latencies)):
            await floor_timer(lambda: floor.text("ping"))
        harness.session.calls.clear()
        conversation = timer.report("complaint conversation")
        bare = echo_timer.report("bare echo handler")
        least = floor_timer.report("echo + state in database")
        print(f"  per-update cost: {conversation / bare:.1f}x the echo handler's")
        print(
            f"  (the least database work of a step, alone: {least / bare:.1f}x the echo handler's)"
        )
        print("  per step of the conversation:")
        timer.report_steps(bare)
    await engine.dispose()


async def drafts_in_flight(database_url: str, drafts: int) -> None:
    """``drafts`` residents each halfway through a complaint, all at once, in a bot process
    of its own (``bot_memory.py``) built as ``redgrid run`` builds it."""
    await prepare(database_url)
    print(f"\n== memory: the bot process with {drafts:,} complaint drafts in flight (SQLite)")
    env = {**os.environ, "DATABASE_URL": database_url, "BOT_TOKEN": TOKEN}
    env.pop("REDIS_URL", None)  # the drafts live in the database (DatabaseStorage)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "benchmarks" / "bot_memory.py"),
        str(drafts),
        cwd=Path(make_url(database_url).database).parent,  # no stray .env
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"bot_memory.py failed with exit code {child.returncode}")
    figures = json.loads(output.decode().splitlines()[-1])
    for label, key in (("after start-up", "started"), ("with the drafts", "loaded")):
        rss, peak = figures[key]["VmRSS"], figures[key]["VmHWM"]
        print(f"  {label:<16} RSS {rss:4.0f} MB   peak (VmHWM) {peak:4.0f} MB")
    print(f"  drafts stored in the database: {figures['stored']:,} (target: under 200 MB RSS)")


async def postgres_database() -> tuple[str, Callable[[], Awaitable]] | None:
    name = f"redgrid_bench_{uuid.uuid4().hex[:8]}"
    admin_dsn = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(False)
    try:
        connection = await asyncpg.connect(admin_dsn, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        print(f"\n(PostgreSQL skipped: {error})")
        return None
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()

    async def drop() -> None:
        connection = await asyncpg.connect(admin_dsn)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()

    return make_url(POSTGRES_URL).set(database=name).render_as_string(False), drop


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=300)
    parser.add_argument("--drafts", type=int, default=10_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--split", action="store_true", help="Also time each step's part inside SQLAlchemy."
    )
    args = parser.parse_args()
    clock = DatabaseClock() if args.split else None
    if clock:
        clock.install()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    print(f"Python {sys.version.split()[0]}, pinned to one core")
    with TemporaryDirectory() as folder:
        if args.residents and args.backend in ("sqlite", "both"):
            url = f"sqlite+aiosqlite:///{folder}/bench.db"
            await run_backend("SQLite", url, args.residents, clock)
        if args.residents and args.backend in ("postgres", "both"):
            database = await postgres_database()
            if database is not None:
                url, drop = database
                try:
                    await run_backend("PostgreSQL", url, args.residents, clock)
                finally:
                    await drop()
        if args.drafts:
            await drafts_in_flight(f"sqlite+aiosqlite:///{folder}/drafts.db", args.drafts)


if __name__ == "__main__":
    asyncio.run(main())
