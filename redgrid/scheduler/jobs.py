"""The ticker's jobs. Each reads its work from the database and claims it atomically, so
a restart loses nothing and several bot instances do each piece of work once."""

import logging
from datetime import datetime, timedelta

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.notifier import Notifier, OutboxSender
from redgrid.bot.pushes import push_to_reporter
from redgrid.bot.settings import Settings
from redgrid.models.base import utcnow
from redgrid.services.tickets import close_unrated

logger = logging.getLogger(__name__)


async def close_unrated_tickets(
    session_factory: async_sessionmaker[AsyncSession],
    sender: OutboxSender,
    i18n: I18n,
    settings: Settings,
    now: datetime | None = None,
) -> int:
    """Close resolved tickets nobody rated within ``AUTO_CLOSE_DAYS``, and tell the reporter."""
    now = now or utcnow()
    async with session_factory() as session:
        notifier = Notifier(session)
        closed = await close_unrated(session, now, timedelta(days=settings.auto_close_days))
        with i18n.context():
            for ticket in closed:
                await push_to_reporter(
                    session,
                    notifier,
                    i18n,
                    settings,
                    ticket,
                    lambda ticket=ticket: _(
                        "Ticket {number} was closed: it was resolved and not rated within"
                        " {days} days. Thank you for reporting it."
                    ).format(number=ticket.number, days=f"{settings.auto_close_days:g}"),
                )
        await session.commit()
    if notifier.staged:
        await sender.deliver([row.id for row in notifier.staged])
    if closed:
        logger.info("closed %d unrated tickets", len(closed))
    return len(closed)
