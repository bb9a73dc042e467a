"""APScheduler as a ticker only.

The schedule itself lives in the database (outbox rows, ticket deadlines); the jobs here
just wake up and look. Jobs are kept in memory, in this process: APScheduler's job
stores must never be shared between schedulers, and nothing is lost when they vanish
with the process, because the work they look for is still in the database.
"""

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from redgrid.bot.notifier import OutboxSender
from redgrid.bot.settings import Settings
from redgrid.scheduler.jobs import close_unrated_tickets

OUTBOX_DRAIN_SECONDS = 5
AUTO_CLOSE_MINUTES = 10


def create_ticker(app) -> AsyncIOScheduler:
    """A scheduler for ``app`` (a ``BotApp``); each job runs alone (no overlap) and a
    late tick is run once, not once per missed interval."""
    settings: Settings = app.settings
    sender: OutboxSender = app.sender
    scheduler = AsyncIOScheduler(
        timezone=settings.tz,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    scheduler.add_job(sender.drain, "interval", seconds=OUTBOX_DRAIN_SECONDS, id="outbox")
    scheduler.add_job(
        close_unrated_tickets,
        "interval",
        args=(app.session_factory, sender, app.i18n, settings),
        minutes=AUTO_CLOSE_MINUTES,
        id="close-unrated",
    )
    return scheduler
