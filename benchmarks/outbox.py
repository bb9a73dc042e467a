"""How fast the outbox drains into a Bot API that enforces Telegram's limits.

    .venv/bin/python benchmarks/outbox.py [--chats N] [--messages N] [--backend B]
        [--order grouped|interleaved] [--max-seconds S]

Stages ``--messages`` pushes to each of ``--chats`` private chats (default 5 x 1,000 =
5,000) with ``Notifier(session).message(...)`` in a fresh migrated database (a SQLite
file, or a throwaway PostgreSQL database), in the order handlers would: a chat's pushes
together (``--order interleaved``: message 1 to every chat, then message 2, ...). Then the
real ``OutboxSender`` (default ``SendPacer``, a real ``create_bot``) drains them, one
``drain()`` after another until nothing is pending, into the fake Bot API server on
127.0.0.1 answering 429 past Telegram's limits (30/s overall, 1/s per private chat), run
in a process of its own on another CPU (``fake_api_process.py``), as Telegram is a server
of its own.
Prints the rate from the first send to the last, as a share of 30/s, the 429s, what was
delivered and what is left pending or failed in the database.
Targets: >= 95% of 30 messages/s (28.5/s) with zero 429s.
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sqlite3
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fake Bot API lives in tests/, beside the package

import aiogram  # noqa: E402
import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
import sqlalchemy  # noqa: E402
from sqlalchemy import func  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import select  # noqa: E402

from redgrid.bot.app import settle_heap  # noqa: E402
from redgrid.bot.factory import create_bot  # noqa: E402
from redgrid.bot.i18n import create_i18n  # noqa: E402
from redgrid.bot.notifier import Notifier, OutboxSender  # noqa: E402
from redgrid.bot.settings import Settings  # noqa: E402
from redgrid.models import OutboxMessage, OutboxStatus, migrate  # noqa: E402
from redgrid.models.db import create_engine, create_session_factory  # noqa: E402
from tests.fake_bot_api import FakeBotApi, RecordedCall  # noqa: E402

TOKEN = "123456:BENCH-outbox"
POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
TELEGRAM_RATE = 30.0  # messages a second Telegram allows a bot overall
FIRST_CHAT = 700_000_000  # private chats have positive ids


async def postgres_database() -> tuple[str, Callable[[], Awaitable[None]]]:
    """A fresh database on the PostgreSQL server, and how to drop it."""
    name = f"redgrid_bench_{uuid.uuid4().hex[:8]}"
    admin_dsn = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(False)
    connection = await asyncpg.connect(admin_dsn, timeout=5)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()

    async def drop() -> None:
        connection = await asyncpg.connect(admin_dsn, timeout=5)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()
        print(f"dropped database {name}")

    return make_url(POSTGRES_URL).set(database=name).render_as_string(False), drop


def chat_order(chats: int, per_chat: int, order: str) -> list[tuple[int, int]]:
    """(chat index, message number) in the order the pushes are staged."""
    if order == "grouped":
        return [(c, m) for c in range(chats) for m in range(per_chat)]
    return [(c, m) for m in range(per_chat) for c in range(chats)]


async def status_counts(session_factory) -> Counter:
    async with session_factory() as session:
        rows = await session.exec(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return Counter({OutboxStatus(status): count for status, count in rows.all()})


def too_many_requests(sends) -> tuple[int, int, float]:
    """429s to a chat sent to less than a second before (per-chat), the others (overall),
    and the shortest gap between two accepted sends to one chat, as the server saw them."""
    last_ok: dict[int, float] = {}
    per_chat = overall = 0
    shortest = float("inf")
    for call in sends:
        previous = last_ok.get(call.chat_id)
        if call.ok:
            if previous is not None:
                shortest = min(shortest, call.timestamp - previous)
            last_ok[call.chat_id] = call.timestamp
        elif previous is not None and call.timestamp - previous < 1.0:
            per_chat += 1
        else:
            overall += 1
    return per_chat, overall, shortest


def in_order(api: FakeBotApi, per_chat: int) -> tuple[int, int]:
    """(chats whose messages arrived in staging order, chats with a duplicate)."""
    texts: dict[int, list[int]] = {}
    for call in api.sent("sendMessage", ok=True):
        texts.setdefault(call.chat_id, []).append(int(call.text.split()[1].split("/")[0]))
    ordered = sum(numbers == sorted(numbers) for numbers in texts.values())
    duplicated = sum(len(set(numbers)) != len(numbers) for numbers in texts.values())
    return ordered, duplicated


@contextlib.asynccontextmanager
async def fake_api(cpu: int) -> AsyncIterator[tuple[str, FakeBotApi]]:
    """``fake_api_process.py`` started: its base URL, and a ``FakeBotApi`` (not serving)
    that holds its record once it stops."""
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "benchmarks" / "fake_api_process.py"),
        TOKEN,
        "--cpu",
        str(cpu),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    base_url = json.loads(await server.stdout.readline())["base_url"]
    api = FakeBotApi(token=TOKEN)
    try:
        yield base_url, api
    finally:
        output, _ = await server.communicate(b"stop\n")
        record = json.loads(output)
        api.rate_limited = record["rate_limited"]
        api.calls = [
            RecordedCall(
                call["method"],
                {"text": call["text"]},
                call["chat_id"],
                call["timestamp"],
                status=call["status"],
            )
            for call in record["calls"]
        ]


async def run(database_url: str, args: argparse.Namespace) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        factory = create_session_factory(engine)
        total = args.chats * args.messages
        started = time.perf_counter()
        async with factory() as session:
            notifier = Notifier(session)
            for chat, number in chat_order(args.chats, args.messages, args.order):
                notifier.message(FIRST_CHAT + chat, f"push {number + 1}/{args.messages}")
            await session.commit()
        print(
            f"staged {total:,} messages to {args.chats:,} private chats ({args.order})"
            f" in {time.perf_counter() - started:.2f} s"
        )

        settle_heap()  # as the bot's start-up does, before it sends anything
        other_cpu = next((cpu for cpu in range(os.cpu_count() or 1) if cpu != args.cpu), -1)
        async with fake_api(other_cpu if args.cpu >= 0 else -1) as (base_url, api):
            settings = Settings(
                bot_token=TOKEN, telegram_api_base=base_url, database_url=database_url
            )
            bot = create_bot(settings)
            sender = OutboxSender(bot, factory, i18n=create_i18n(settings.default_locale))
            limits = sender.pacer.limits
            print(
                f"sender: max_in_flight {sender.max_in_flight}, drain limit 500, pacer"
                f" {limits.per_second}/s overall, 1 per {limits.private_chat_interval} s"
                f" per private chat"
            )
            drains, batch_seconds = 0, []
            deadline = time.monotonic() + args.max_seconds
            try:
                while time.monotonic() < deadline:
                    if not (await status_counts(factory))[OutboxStatus.PENDING]:
                        break
                    batch_started = time.perf_counter()
                    taken = await sender.drain()
                    if taken:
                        drains += 1
                        batch_seconds.append(time.perf_counter() - batch_started)
                    else:  # only rows waiting for a retry-after or backoff are left
                        await asyncio.sleep(0.1)
                else:
                    print(f"stopped after --max-seconds {args.max_seconds:g}")
            finally:
                await bot.session.close()

        sends = api.sent("sendMessage")
        delivered = len(api.sent("sendMessage", ok=True))
        span = sends[-1].timestamp - sends[0].timestamp if len(sends) > 1 else float("nan")
        rate = delivered / span
        counts = await status_counts(factory)
        per_chat_429, overall_429, shortest = too_many_requests(sends)
        ordered, duplicated = in_order(api, args.messages)
        per_batch = sum(batch_seconds) / len(batch_seconds) if batch_seconds else float("nan")
        print(
            f"drain() calls with rows  {drains} (mean {per_batch:.1f} s each)\n"
            f"first send to last       {span:.1f} s\n"
            f"delivered                {delivered:,} of {total:,}"
            f" ({len(sends):,} sendMessage requests)\n"
            f"rate                     {rate:.2f} messages/s"
            f" = {rate / TELEGRAM_RATE:.1%} of {TELEGRAM_RATE:.0f}/s (target >= 95%)\n"
            f"429 Too Many Requests    {api.rate_limited} (target 0): {per_chat_429} per-chat"
            f" (< 1 s after the chat's last send), {overall_429} overall\n"
            f"closest sends to a chat  {shortest:.4f} s apart (as the server saw them)\n"
            f"left in the database     pending {counts[OutboxStatus.PENDING]:,},"
            f" failed {counts[OutboxStatus.FAILED]:,}, sent {counts[OutboxStatus.SENT]:,}\n"
            f"per-chat order           {ordered:,} of {args.chats:,} chats in order,"
            f" {duplicated} with a duplicate"
        )
        print(f"rate in each 10 s of the run: {rate_profile(sends, 10.0)}")
        print(f"load average now {os.getloadavg()[0]:.2f} (a busy machine slows the sender)")
    finally:
        await engine.dispose()


def rate_profile(sends, step: float) -> str:
    """Successful sends a second over consecutive ``step``-second slices of the run."""
    if not sends:
        return "-"
    start = sends[0].timestamp
    slices = Counter(int((call.timestamp - start) // step) for call in sends if call.ok)
    last = int((sends[-1].timestamp - start) // step)
    return " ".join(f"{slices[i] / step:.1f}" for i in range(last + 1))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=1_000, help="private chats")
    parser.add_argument("--messages", type=int, default=5, help="messages to each chat")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--order",
        choices=["grouped", "interleaved"],
        default="grouped",
        help="stage each chat's messages together (as handlers do) or round-robin",
    )
    parser.add_argument("--cpu", type=int, default=0, help="pin to this CPU; -1: no pinning")
    parser.add_argument(
        "--max-seconds", type=float, default=280, help="give up draining after this long"
    )
    args = parser.parse_args()

    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
        pinned = f"pinned to CPU {args.cpu}"
    else:
        pinned = "not pinned"
    print(
        f"Python {platform.python_version()}, aiogram {aiogram.__version__},"
        f" aiohttp {aiohttp.__version__}, SQLAlchemy {sqlalchemy.__version__},"
        f" SQLite {sqlite3.sqlite_version}, asyncpg {asyncpg.__version__};"
        f" {platform.machine()}, {pinned}; load average {os.getloadavg()[0]:.2f}"
    )
    print("fake Bot API enforcing 30/s overall, 1/s per private chat, 20/min per group")

    if args.backend == "sqlite":
        with TemporaryDirectory() as folder:
            print("\n== SQLite (a file, WAL)")
            await run(f"sqlite+aiosqlite:///{folder}/outbox.db", args)
        return
    url, drop = await postgres_database()
    try:
        connection = await asyncpg.connect(
            make_url(url).set(drivername="postgresql").render_as_string(False)
        )
        version = await connection.fetchval("SHOW server_version")
        await connection.close()
        print(f"\n== PostgreSQL {version} ({make_url(url).database})")
        await run(url, args)
    finally:
        await drop()


if __name__ == "__main__":
    asyncio.run(main())
