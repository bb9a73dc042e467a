"""The team's queue (/queue, the menu's Queue button) and one ticket by number (/ticket)."""

import html

from aiogram import F
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.pushes import local_time, status_name
from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import MenuCb, MenuItem, TicketAction, TicketCb
from redgrid.handlers.common import (
    anonymous_admin_text,
    is_team_member,
    left_team_text,
    refuse_button,
)
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.handlers.my_tickets.view import shown_in_chat, ticket_view
from redgrid.handlers.team import router
from redgrid.models import Ticket, TicketStatus
from redgrid.models.base import utcnow
from redgrid.services import tickets
from redgrid.services.categories import CategoryCatalogue
from redgrid.services.people import Actor, left_team_of
from redgrid.services.tickets import TicketNotFound

QUEUE_LIMIT = 30


async def queue_text(
    session: AsyncSession, actor: Actor, catalogue: CategoryCatalogue, settings: Settings
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The person's whole queue, for their private chat."""
    if not await is_team_member(session, actor):
        return (
            _(
                "The queue is for grid teams. To raise a complaint send /new; "
                "your own tickets are in /mytickets."
            ),
            None,
        )
    queue = await tickets.team_queue(session, actor)
    if not queue:
        return _("No open tickets in your queue. Well done! 🎉"), None
    title = _("<b>Open tickets</b>, the most urgent first:")
    return queue_listing(queue, title, catalogue, settings)


async def group_queue_text(
    session: AsyncSession, chat_id: int, catalogue: CategoryCatalogue, settings: Settings
) -> tuple[str, InlineKeyboardMarkup | None] | None:
    """The queue of the grid whose team chat the group is, whoever asks: the group gets
    these tickets' cards anyway. None in any other group, where the asker's queue would
    be read by people who are not its team."""
    found = await tickets.team_chat_queue(session, chat_id)
    if found is None:
        return None
    grid, queue = found
    names = {"name": html.escape(grid.name), "code": html.escape(grid.code)}
    if not queue:
        return _("No open tickets in the queue of grid {name} ({code}).").format(**names), None
    title = _("<b>Open tickets of grid {name} ({code})</b>, the most urgent first:")
    return queue_listing(queue, title.format(**names), catalogue, settings)


def not_listed_here() -> str:
    return _(
        "This group is no grid's team chat, so no queue is listed here: send me /queue in a "
        "private chat."
    )


def queue_listing(
    queue: list[Ticket], title: str, catalogue: CategoryCatalogue, settings: Settings
) -> tuple[str, InlineKeyboardMarkup]:
    """Numbers, statuses and deadlines (no details), with a button to open each."""
    now = utcnow()
    lines = [title]
    builder = InlineKeyboard()
    for position, ticket in enumerate(queue[:QUEUE_LIMIT], start=1):
        category = catalogue.shown(ticket.category)
        if ticket.status is TicketStatus.DISPATCHED:
            deadline = ticket.respond_by
            due = _("accept by {time}")
        else:
            deadline = ticket.resolve_by
            due = _("resolve by {time}")
        line = _("{position}. {number} {emoji} {status}, {due}").format(
            position=position,
            number=ticket.number,
            emoji=category.emoji,
            status=status_name(ticket.status),
            due=due.format(time=local_time(deadline, settings)),
        )
        if deadline < now:
            line += " " + _("⚠️ overdue")
        lines.append(line)
        builder.button(
            text=f"{position}. {ticket.number}",
            callback_data=TicketCb(action=TicketAction.DETAIL, ticket_id=ticket.id),
        )
    if len(queue) > QUEUE_LIMIT:
        lines.append(_("…and {count} more.").format(count=len(queue) - QUEUE_LIMIT))
    builder.adjust(2)
    return "\n".join(lines), builder.as_markup()


@router.message(Command("queue"))
async def queue_command(
    message: Message,
    session: AsyncSession,
    catalogue: CategoryCatalogue,
    settings: Settings,
    actor: Actor | None = None,  # None: an anonymous group admin
) -> None:
    """In private the person's whole queue; in a group, only the grid queue whose cards
    the group gets, if any (that depends on the group, not on who asks)."""
    if message.chat.type == "private":
        text, markup = await queue_text(session, actor, catalogue, settings)
    else:
        listing = await group_queue_text(session, message.chat.id, catalogue, settings)
        if listing is None:
            await message.reply(not_listed_here())
            return
        text, markup = listing
    await message.answer(text, reply_markup=markup)


@router.callback_query(MenuCb.filter(F.item == MenuItem.QUEUE))
async def queue_button(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    catalogue: CategoryCatalogue,
    settings: Settings,
) -> None:
    """The menu's queue button: as /queue where it was pressed (an old menu in a group)."""
    if query.message.chat.type == "private":
        text, markup = await queue_text(session, actor, catalogue, settings)
    else:
        listing = await group_queue_text(session, query.message.chat.id, catalogue, settings)
        if listing is None:
            refuse_button(callback_answer, not_listed_here())
            return
        text, markup = listing
    await query.message.answer(text, reply_markup=markup)


@router.message(Command("ticket"))
async def ticket_command(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    catalogue: CategoryCatalogue,
    settings: Settings,
    i18n: I18n,
    actor: Actor | None = None,  # None: an anonymous group admin
) -> None:
    """One ticket by number. Someone taken off its team is told so, as by the card's
    buttons; anyone else who may not read it hears the same as for a number that does not
    exist, and a group other than the ticket's team chat never sees it."""
    if actor is None:
        await message.reply(anonymous_admin_text())
        return
    reference = (command.args or "").strip()
    if not reference:
        await message.answer(_("Send the ticket's number, for example /ticket DX-000123."))
        return
    try:
        ticket = await tickets.get_ticket(session, reference[:32])
    except TicketNotFound:
        ticket = None
    private = message.chat.type == "private"
    if (
        ticket is not None
        and not private
        and not await shown_in_chat(session, ticket, message.chat.id)
    ):
        ticket = None  # the reporter's contact and the history stay out of other groups
    view = (
        await ticket_view(
            session, ticket, actor, catalogue, settings, i18n.current_locale, private=private
        )
        if ticket is not None
        else None
    )
    if view is None:
        if ticket is not None and await left_team_of(session, actor.person_id, ticket):
            await message.answer(left_team_text())  # as the card's buttons say
            return
        # The same answer for a stranger's ticket as for none at all.
        await message.answer(
            _("Ticket {reference} was not found.").format(reference=html.escape(reference[:32]))
        )
        return
    text, markup = view
    await message.answer(text, reply_markup=markup)
