"""The team's queue (/queue, the menu's Queue button) and one ticket by number (/ticket)."""

import html

from aiogram import F
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.pushes import local_time, status_name
from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import MenuCb, MenuItem, TicketAction, TicketCb
from redgrid.handlers.common import anonymous_admin_text, is_team_member, left_team_text
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.handlers.my_tickets.view import shown_in_chat, ticket_view
from redgrid.handlers.team import router
from redgrid.models import TicketStatus
from redgrid.models.base import utcnow
from redgrid.services import tickets
from redgrid.services.categories import CategoryCatalogue
from redgrid.services.people import Actor, left_team_of
from redgrid.services.tickets import TicketNotFound

QUEUE_LIMIT = 30


async def queue_text(
    session: AsyncSession, actor: Actor, catalogue: CategoryCatalogue, settings: Settings
) -> tuple[str, InlineKeyboardMarkup | None]:
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
    now = utcnow()
    lines = [_("<b>Open tickets</b>, the most urgent first:")]
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
    if actor is None:
        await message.reply(anonymous_admin_text())
        return
    text, markup = await queue_text(session, actor, catalogue, settings)
    await message.answer(text, reply_markup=markup)


@router.callback_query(MenuCb.filter(F.item == MenuItem.QUEUE))
async def queue_button(
    query: CallbackQuery,
    session: AsyncSession,
    actor: Actor,
    catalogue: CategoryCatalogue,
    settings: Settings,
) -> None:
    text, markup = await queue_text(session, actor, catalogue, settings)
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
