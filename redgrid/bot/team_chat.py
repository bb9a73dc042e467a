"""A grid's team chat the bot can no longer post in, and telling the team so.

Telegram says so in two ways: the my_chat_member update (the bot was removed or muted,
``handlers/fallback.py``), and a push to the group refused with 403 or "chat not found"
(the update was missed, or the group was deleted; ``bot/notifier.py``). Both come here. A
lost chat is unbound with one conditional update, so however many of these arrive, and in
however many instances, the grid's members hear it once.
"""

import html
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from aiogram.utils.i18n import I18n
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.i18n import N_, negotiate_locale
from redgrid.bot.lost_chats import give_up_chat
from redgrid.models import Grid, OutboxMessage
from redgrid.services.invites import unbind_team_chat
from redgrid.services.people import team_members

if TYPE_CHECKING:  # the notifier calls in here when a push to a group is refused
    from redgrid.bot.notifier import Notifier

logger = logging.getLogger(__name__)

REMOVED = N_(
    "I was removed from the group chat of grid {name} ({code}), so its new "
    "tickets now reach you here only. To use a group again, add me to it and "
    "send /bind there with a new code from the district admin."
)
MUTED = N_(
    "I may no longer post in the group chat of grid {name} ({code}), so its "
    "new tickets reach you here only. Ask the group's admins to let me send "
    "messages there again."
)


async def team_chat_lost(
    session: AsyncSession,
    notifier: "Notifier",
    i18n: I18n,
    chat_id: int,
    now: datetime,
    admin_telegram_ids: frozenset[int],
    *,
    refused: OutboxMessage | None = None,
) -> Grid | None:
    """The bot is out of the group ``chat_id``: unbind it from its grid and tell the
    grid's members, in private, that its tickets reach them there only; the pushes still
    pending for the group are given up in the same transaction, each handed over once, in
    order (``refused``: the push to the group that told us, handed over too). Returns the
    grid, or None when ``chat_id`` is no grid's team chat (or someone else unbound it
    first)."""
    grid = await unbind_team_chat(session, chat_id, now)
    if grid is not None:
        logger.warning("grid %s: the bot was removed from its team chat %s", grid.code, chat_id)
        await _tell_members(session, notifier, i18n, grid, REMOVED)
    await give_up_chat(session, notifier, i18n, chat_id, admin_telegram_ids, refused=refused)
    return grid


async def team_chat_muted(
    session: AsyncSession, notifier: "Notifier", i18n: I18n, chat_id: int
) -> Grid | None:
    """The bot may no longer post in the group ``chat_id``: it stays bound (it gets the
    pushes again once it may post), and the grid's members are told why they get them in
    private only."""
    found = await session.exec(select(Grid).where(Grid.team_chat_id == chat_id))
    grid = found.one_or_none()
    if grid is not None:
        logger.warning("grid %s: the bot was muted in its team chat %s", grid.code, chat_id)
        await _tell_members(session, notifier, i18n, grid, MUTED)
    return grid


async def _tell_members(
    session: AsyncSession, notifier: "Notifier", i18n: I18n, grid: Grid, msgid: str
) -> None:
    for person in await team_members(session, grid.id):
        locale = negotiate_locale(person.locale, None, i18n.default_locale)
        text = i18n.gettext(msgid, locale=locale).format(
            name=html.escape(grid.name), code=html.escape(grid.code)
        )
        notifier.message(person.telegram_id, text, person_id=person.id)
