"""How long the deadline sweep takes to claim 100 due alarms among a million tickets.

    .venv/bin/python benchmarks/sweep.py [--tickets N] [--open-share F] [--due N] [--repeats N]

PostgreSQL only (``TEST_POSTGRES_URL``, default the local server): in a throwaway
database, migrated to head, generates ``--tickets`` tickets with SQL (generate_series):
most closed long ago with two fired alarms each, ``--open-share`` of them open with a
resolve deadline spread over now +- 30 days and its three alarms (reminder, overdue,
escalation), those already due fired; then exactly ``--due`` alarms due and unfired, and
VACUUM ANALYZE. Times ``claim_due_alarms(session, now, limit=100)`` in a transaction
that is rolled back, several times (min / median), prints EXPLAIN (ANALYZE, BUFFERS) of
the SELECT ... FOR UPDATE SKIP LOCKED it issues (captured from the engine) and the table
and index sizes. Drops the database at the end, also on error.
Target: <= 50 ms to claim 100 due alarms among 1,000,000 tickets.
"""

import argparse
import asyncio
import gc
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing the package

import asyncpg  # noqa: E402
import sqlalchemy  # noqa: E402
from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from redgrid.models import migrate  # noqa: E402
from redgrid.models.base import utcnow  # noqa: E402
from redgrid.models.db import create_engine, create_session_factory  # noqa: E402
from redgrid.services.deadlines import claim_due_alarms  # noqa: E402

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
CLAIM_LIMIT = 100

# Tickets: a share open (dispatched / accepted, resolve deadline within +- 30 days), the
# rest done: mostly closed, some resolved, invalid or duplicate, created over two years.
TICKETS_SQL = """
INSERT INTO ticket (
    id, number, source, category, description, latitude, longitude, status, priority,
    respond_by, resolve_by, reporter_id, contact_consent, in_consultation, rework_count,
    created_at, updated_at, accepted_at, resolved_at, closed_at
)
SELECT
    g,
    'DX' || lpad(g::text, 8, '0'),
    CASE WHEN g % 7 = 0 THEN 'informant' ELSE 'resident' END,
    (ARRAY['streetlight', 'noise', 'garbage', 'road', 'water', 'parking', 'greening',
           'other'])[1 + g % 8],
    '小区门口的路灯坏了，晚上很黑，请尽快修理。',
    28.2 + r2 * 0.1,
    116.55 + r3 * 0.1,
    CASE
        WHEN is_open AND r2 < 0.4 THEN 'dispatched'
        WHEN is_open THEN 'accepted'
        WHEN r2 < 0.85 THEN 'closed'
        WHEN r2 < 0.90 THEN 'resolved'
        WHEN r2 < 0.96 THEN 'invalid'
        ELSE 'duplicate'
    END,
    (ARRAY['urgent', 'normal', 'complex'])[1 + g % 3],
    created + interval '1 day',
    CASE WHEN is_open THEN deadline ELSE created + interval '7 days' END,
    $2, r3 < 0.5, false, 0,
    created, created + interval '1 day',
    CASE WHEN is_open AND r2 >= 0.4 OR NOT is_open THEN created + interval '2 hours' END,
    CASE WHEN NOT is_open THEN created + interval '3 days' END,
    CASE WHEN NOT is_open AND r2 < 0.85 THEN created + interval '6 days' END
FROM (
    SELECT
        g,
        r1 < $3 AS is_open,
        r2,
        r3,
        $1::timestamptz + (r4 * 60 - 30) * interval '1 day' AS deadline,
        CASE
            WHEN r1 < $3 THEN LEAST($1::timestamptz + (r4 * 60 - 30) * interval '1 day',
                                    $1::timestamptz) - interval '7 days'
            ELSE $1::timestamptz - interval '30 days' - r4 * interval '700 days'
        END AS created
    FROM (
        SELECT g, random() AS r1, random() AS r2, random() AS r3, random() AS r4
        FROM generate_series(1, $4) AS g
    ) AS draws
) AS tickets
"""

# Open tickets: reminder (a day and a half before), overdue (at), escalation (a day after)
# of the resolve deadline; the ones already due have fired (20 s late, a sweep's delay).
OPEN_ALARMS_SQL = """
INSERT INTO deadline_alarm (ticket_id, kind, deadline_at, due_at, fired_at, created_at)
SELECT id, kind, resolve_by, due, CASE WHEN due <= $1 THEN due + interval '20 s' END,
       created_at
FROM (
    SELECT t.id, t.resolve_by, t.created_at, k.kind, t.resolve_by + k.offset_ AS due
    FROM ticket AS t
    CROSS JOIN (VALUES ('resolve_reminder', interval '-36 hours'),
                       ('resolve_overdue', interval '0'),
                       ('resolve_escalation', interval '24 hours')) AS k (kind, offset_)
    WHERE t.status IN ('dispatched', 'accepted')
) AS alarms
"""

# Done tickets: the respond and resolve reminders fired long ago.
DONE_ALARMS_SQL = """
INSERT INTO deadline_alarm (ticket_id, kind, deadline_at, due_at, fired_at, created_at)
SELECT t.id, k.kind, k.deadline, k.deadline - interval '4 hours',
       k.deadline - interval '4 hours' + interval '20 s', t.created_at
FROM ticket AS t
CROSS JOIN LATERAL (VALUES ('respond_reminder', t.respond_by),
                           ('resolve_reminder', t.resolve_by)) AS k (kind, deadline)
WHERE t.status NOT IN ('dispatched', 'accepted')
"""

# Exactly ``$2`` alarms due and not fired: the latest ones of open tickets that fell due,
# as if the sweep had not run since they did.
UNFIRE_SQL = """
UPDATE deadline_alarm SET fired_at = NULL
WHERE id IN (
    SELECT a.id FROM deadline_alarm AS a JOIN ticket AS t ON t.id = a.ticket_id
    WHERE t.status IN ('dispatched', 'accepted') AND a.due_at <= $1
    ORDER BY a.due_at DESC LIMIT $2
)
"""

SIZES_SQL = """
SELECT c.relname, c.relkind = 'r', c.reltuples::bigint,
       pg_size_pretty(pg_relation_size(c.oid)),
       pg_size_pretty(pg_indexes_size(c.oid)),
       pg_size_pretty(pg_total_relation_size(c.oid))
FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace AND n.nspname = 'public'
WHERE c.relname IN ('ticket', 'deadline_alarm')
   OR c.oid IN (SELECT indexrelid FROM pg_index
                WHERE indrelid IN ('ticket'::regclass, 'deadline_alarm'::regclass))
ORDER BY c.relkind = 'r' DESC, pg_relation_size(c.oid) DESC
"""


class GcClock:
    """Seconds spent in the garbage collector since it was made (gc.callbacks)."""

    def __init__(self) -> None:
        self.total = 0.0
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, _info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._started

    def close(self) -> None:
        gc.callbacks.remove(self._callback)


def plain_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(False)


async def populate(connection: asyncpg.Connection, args: argparse.Namespace, now) -> None:
    """Tickets, their alarms and exactly ``args.due`` due ones, then VACUUM ANALYZE."""

    async def step(label: str, sql: str, *params) -> None:
        started = time.perf_counter()
        status = await connection.execute(sql, *params)
        print(f"  {label:<44} {status:<22} {time.perf_counter() - started:6.1f} s")

    reporter = await connection.fetchval(
        "INSERT INTO person (telegram_id, display_name, created_at)"
        " VALUES (1, 'bench reporter', $1) RETURNING id",
        now,
    )
    await connection.execute("SELECT setseed(0.42)")
    await step("tickets", TICKETS_SQL, now, reporter, args.open_share, args.tickets)
    await connection.execute(
        "SELECT setval(pg_get_serial_sequence('ticket', 'id'), $1)", args.tickets
    )
    await step("alarms of open tickets (3 each)", OPEN_ALARMS_SQL, now)
    await step("alarms of done tickets (2 fired each)", DONE_ALARMS_SQL)
    await step(f"{args.due} alarms due and unfired", UNFIRE_SQL, now, args.due)
    await step("VACUUM ANALYZE ticket", "VACUUM ANALYZE ticket")
    await step("VACUUM ANALYZE deadline_alarm", "VACUUM ANALYZE deadline_alarm")

    summary = await connection.fetchrow(
        """
        SELECT count(*) FILTER (WHERE fired_at IS NULL AND due_at <= $1) AS due,
               count(*) FILTER (WHERE fired_at IS NULL AND due_at > $1) AS future,
               count(*) FILTER (WHERE fired_at IS NOT NULL) AS fired,
               coalesce(extract(epoch FROM $1 - min(due_at) FILTER (WHERE fired_at IS NULL)), 0)
                   / 60 AS earliest,
               coalesce(extract(epoch FROM max(due_at) FILTER (WHERE fired_at IS NULL) - $1), 0)
                   / 86400 AS latest
        FROM deadline_alarm
        """,
        now,
    )
    statuses = await connection.fetch(
        "SELECT status, count(*) FROM ticket GROUP BY status ORDER BY count(*) DESC"
    )
    print(
        "  tickets: " + ", ".join(f"{row['status']} {row['count']:,}" for row in statuses) + "\n"
        f"  alarms: {summary['due']:,} due and unfired, {summary['future']:,} waiting"
        f" (due from {summary['earliest']:.0f} min ago to {summary['latest']:.1f} days ahead),"
        f" {summary['fired']:,} fired"
    )


async def time_claims(url: str, args: argparse.Namespace, now) -> None:
    engine = create_engine(url)
    captured: list[tuple[str, object]] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def capture(_connection, _cursor, statement, parameters, _context, _executemany) -> None:
        if "SKIP LOCKED" in statement and not captured:
            captured.append((statement, parameters))

    try:
        factory = create_session_factory(engine)
        timings, collecting, claimed = [], [], 0
        gc_clock = GcClock()
        for _ in range(args.repeats):
            async with factory() as session:
                await session.connection()  # check out (and pre-ping) before the clock
                gc_before = gc_clock.total
                started = time.perf_counter()
                alarms = await claim_due_alarms(session, now, limit=CLAIM_LIMIT)
                timings.append((time.perf_counter() - started) * 1000)
                collecting.append((gc_clock.total - gc_before) * 1000)
                claimed = len(alarms)
                await session.rollback()
        gc_clock.close()
        rest = timings[1:] or timings
        print(
            f"\nclaim_due_alarms(limit={CLAIM_LIMIT}): claimed {claimed} alarms;"
            f" {args.repeats} runs, each rolled back\n"
            f"  first run (statement compiled, prepared) {timings[0]:7.2f} ms\n"
            f"  later runs: min {min(rest):.2f} ms, median {statistics.median(rest):.2f} ms,"
            f" max {max(rest):.2f} ms  (target <= 50 ms)\n"
            f"  every run, ms: {' '.join(f'{t:.1f}' for t in timings)}"
        )
        for run, (took, collected) in enumerate(zip(timings, collecting, strict=True), 1):
            if collected >= 5:
                print(
                    f"  run {run}: {took:.1f} ms, of which {collected:.1f} ms in Python's"
                    f" garbage collector (the process's heap, not the query)"
                )

        statement, parameters = captured[0]
        print(f"\nthe claim query, as issued (parameters {parameters}):\n{statement}")
        async with engine.connect() as connection:
            result = await connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
            )
            plan = [row[0] for row in result]
            await connection.rollback()  # EXPLAIN ANALYZE took the row locks
        print("\nEXPLAIN (ANALYZE, BUFFERS):")
        print("\n".join(f"  {line}" for line in plan))
        used = any("ix_deadline_alarm_due" in line for line in plan)
        print(f"partial index ix_deadline_alarm_due used: {'yes' if used else 'NO'}")
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--open-share", type=float, default=0.05, help="share of open tickets")
    parser.add_argument("--due", type=int, default=100, help="alarms due now, unfired")
    parser.add_argument("--repeats", type=int, default=15, help="timed claims")
    parser.add_argument("--cpu", type=int, default=0, help="pin to this CPU; -1: no pinning")
    args = parser.parse_args()

    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
        pinned = f"this process pinned to CPU {args.cpu} (the server is not)"
    else:
        pinned = "not pinned"
    name = f"redgrid_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(plain_dsn(POSTGRES_URL), timeout=5)
    try:
        version = await admin.fetchval("SHOW server_version")
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    print(
        f"Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__},"
        f" asyncpg {asyncpg.__version__}, PostgreSQL {version}; {platform.machine()},"
        f" {pinned}; load average {os.getloadavg()[0]:.2f}"
    )
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(False)
    try:
        engine = create_engine(url)
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()
        now = utcnow().replace(microsecond=0)
        print(f"\n== database {name}: {args.tickets:,} tickets, now = {now.isoformat()}")
        started = time.perf_counter()
        connection = await asyncpg.connect(plain_dsn(url))
        try:
            await populate(connection, args, now)
            print(f"  populated in {time.perf_counter() - started:.1f} s")

            await time_claims(url, args, now)

            print("\ntable and index sizes:")
            print(f"  {'relation':<36} {'rows':>12} {'heap/index':>11} {'indexes':>9} {'total':>9}")
            for relname, table, rows, size, indexes, total in await connection.fetch(SIZES_SQL):
                if table:
                    print(f"  {relname:<36} {rows:>12,} {size:>11} {indexes:>9} {total:>9}")
                else:
                    print(f"    {relname:<34} {rows:>12,} {size:>11}")
        finally:
            await connection.close()
    finally:
        admin = await asyncpg.connect(plain_dsn(POSTGRES_URL), timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
        print(f"\ndropped database {name}")


if __name__ == "__main__":
    asyncio.run(main())
