"""A grid's team chat the bot can no longer post in, and telling the team so; a team
chat that moved.

Telegram says so in two ways: the my_chat_member update (the bot was removed or muted,
``handlers/fallback.py``), and a push to the group refused with 403 or "chat not found"
(the update was missed, or the group was deleted; ``bot/notifier.py``). Both come here. A
lost chat is unbound with one conditional update, so however many of these arrive, and in
however many instances, the grid's members hear it once.

A group that becomes a supergroup gets a new id. Telegram says so with a service message
in each chat (``handlers/fallback.py``), and by refusing a push to the old id with the new
one (``bot/notifier.py``); all of them come to ``team_chat_moved``.
"""

import html
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from aiogram.utils.i18n import I18n
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.i18n import negotiate_locale
from redgrid.bot.lost_chats import give_up_chat
from redgrid.languages import N_
from redgrid.models import Grid, OutboxMessage, OutboxStatus
from redgrid.services.invites import move_team_chat, unbind_team_chat
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


async def team_chat_moved(
    session: AsyncSession, notifier: "Notifier", old_chat_id: int, new_chat_id: int, now: datetime
) -> Grid | None:
    """The group ``old_chat_id`` is now the supergroup ``new_chat_id``: its grid follows
    it, and the rows still pending for the old id go to the new one, in order, handed
    (with the new chat's other pending rows) to ``notifier`` to be sent after the commit.
    Returns the grid, or None when the group is no grid's team chat (or the grid was moved
    already).

    The second of the two service messages (or a refused push after them) finds no grid
    to move and no row pending for the old id: the rows move, and go out, once."""
    grid = await move_team_chat(session, old_chat_id, new_chat_id, now)
    if grid is not None:
        logger.info("grid %s: its team chat %s is now %s", grid.code, old_chat_id, new_chat_id)
    await session.exec(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.chat_id) == old_chat_id,
            OutboxMessage.status == OutboxStatus.PENDING,
        )
        .values(chat_id=new_chat_id)
    )
    # With them, any row staged for the new id meanwhile, which waited behind them.
    pending = await session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.chat_id == new_chat_id, OutboxMessage.status == OutboxStatus.PENDING)
        .order_by(col(OutboxMessage.id))
        .execution_options(populate_existing=True)
    )
    notifier.moved(pending.all())
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
