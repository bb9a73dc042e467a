"""APScheduler as a ticker only.

The schedule itself lives in the database (outbox rows, deadline alarms, once-per-period
runs); the jobs here just wake up and look. Jobs are kept in memory, in this process:
APScheduler's job stores must never be shared between schedulers, and nothing is lost
when they vanish with the process, because the work they look for is still in the
database. Every job also runs once at start-up, so what fell due while the bot was down
goes out then.
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from redgrid.bot.settings import Settings
from redgrid.bot.storage import ABANDONED_AFTER, DatabaseStorage
from redgrid.scheduler.jobs import (
    close_unrated_tickets,
    purge_finished_pushes,
    send_daily_digests,
    send_weekly_summaries,
    sweep_deadlines,
)
from redgrid.services import deadlines

OUTBOX_DRAIN_SECONDS = 5
AUTO_CLOSE_MINUTES = 10
ABANDONED_DRAFTS_HOURS = 1
FINISHED_PUSHES_HOURS = 1


def configure_deadlines(settings: Settings) -> None:
    deadlines.configure(
        deadlines.DeadlinePolicy(
            reminder_share=settings.reminder_share,
            escalation_grace=timedelta(hours=settings.escalation_grace_hours),
        )
    )


class Ticker(AsyncIOScheduler):
    """An AsyncIOScheduler whose jobs finish their work when the bot stops.

    APScheduler cancels running jobs at shutdown; a job cancelled halfway through a
    database call can leave the connection pool waiting forever. Here a job's work runs
    shielded, and ``stop`` waits for it before the engine is disposed.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._running: set[asyncio.Task] = set()

    def add_work(self, work: Callable[..., Awaitable[Any]], *trigger: Any, **options: Any):
        async def run(*args: Any) -> Any:
            task = asyncio.ensure_future(work(*args))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
            try:
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                return None  # the scheduler is stopping; ``stop`` waits for the work itself

        run.__name__ = run.__qualname__ = getattr(work, "__name__", "job")
        return self.add_job(run, *trigger, **options)

    async def stop(self) -> None:
        self.shutdown(wait=False)
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)


def create_ticker(app) -> Ticker:
    """A ticker for ``app`` (a ``BotApp``); each job runs alone (no overlap), a late tick
    runs once rather than once per missed interval, and the first tick is at start-up."""
    settings: Settings = app.settings
    shared = (app.session_factory, app.sender, app.i18n, settings)
    start = datetime.now(settings.tz)
    scheduler = Ticker(
        timezone=settings.tz,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    scheduler.add_work(
        app.sender.drain,
        "interval",
        seconds=OUTBOX_DRAIN_SECONDS,
        id="outbox",
        next_run_time=start,
    )
    scheduler.add_work(
        sweep_deadlines,
        "interval",
        args=(*shared, app.catalogue),
        seconds=settings.sweep_interval_seconds,
        id="deadlines",
        next_run_time=start,
    )
    scheduler.add_work(
        close_unrated_tickets,
        "interval",
        args=shared,
        minutes=AUTO_CLOSE_MINUTES,
        id="close-unrated",
        next_run_time=start,
    )
    storage = app.dispatcher.storage
    if isinstance(storage, DatabaseStorage):  # Redis expires abandoned drafts itself
        scheduler.add_work(
            storage.purge_stale,
            "interval",
            args=(ABANDONED_AFTER,),
            hours=ABANDONED_DRAFTS_HOURS,
            id="abandoned-drafts",
            next_run_time=start,
        )
    scheduler.add_work(
        purge_finished_pushes,
        "interval",
        args=(app.session_factory, settings),
        hours=FINISHED_PUSHES_HOURS,
        id="finished-pushes",
        next_run_time=start,
    )
    hour, minute = (int(part) for part in settings.digest_time.split(":"))
    scheduler.add_work(
        send_daily_digests, "cron", args=shared, hour=hour, minute=minute, id="daily-digest"
    )
    scheduler.add_work(
        send_weekly_summaries,
        "cron",
        args=shared,
        day_of_week="mon",
        hour=hour,
        minute=minute,
        id="weekly-summary",
    )
    if (start.hour, start.minute) >= (hour, minute):
        # Started after today's digest time: today's digest goes out now, unless another
        # instance (or this one, before a restart) already sent it.
        scheduler.add_work(send_daily_digests, args=shared, id="digest-catch-up")
    if (start.weekday(), start.hour, start.minute) >= (0, hour, minute):
        # Likewise this week's summary (due Monday at the digest time): now, unless sent.
        scheduler.add_work(send_weekly_summaries, args=shared, id="summary-catch-up")
    return scheduler
