"""My tickets: the person's own tickets and the ones they follow, a page at a time, and one
ticket opened from a list, a push or a queue."""

from aiogram import F
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.pushes import status_name
from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import MenuCb, MenuItem, MyTicketsCb, TicketAction, TicketCb
from redgrid.handlers.common import refuse_button, refuse_ticket_button
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.handlers.my_tickets import router
from redgrid.handlers.my_tickets.shared import in_private_chat, is_follower, load_ticket
from redgrid.handlers.my_tickets.view import shown_in_chat, ticket_view
from redgrid.services import tickets
from redgrid.services.categories import CategoryCatalogue
from redgrid.services.people import Actor

# My tickets shows this many a page: 20 lines and buttons fit one message easily.
PAGE_SIZE = 20


async def my_tickets_text(
    session: AsyncSession, actor: Actor, catalogue: CategoryCatalogue, locale: str, page: int = 0
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of the person's tickets, newest first, with arrows to the other pages."""
    total = await tickets.count_reporter_tickets(session, actor.person_id)
    if not total:
        return _("You have no tickets yet. Send /new to raise a complaint."), None
    pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
    page = min(page, pages - 1)
    mine = await tickets.reporter_tickets(
        session, actor.person_id, limit=PAGE_SIZE, offset=page * PAGE_SIZE
    )
    lines = [_("<b>My tickets</b>")]
    builder = InlineKeyboard()
    for position, entry in enumerate(mine, start=page * PAGE_SIZE + 1):
        ticket = entry.ticket
        category = catalogue.shown(ticket.category)
        line = _("{position}. {number} {emoji} {category}: {status}").format(
            position=position,
            number=ticket.number,
            emoji=category.emoji,
            category=category.name(locale),
            status=status_name(ticket.status, to_reporter=not entry.following),
        )
        if entry.following:
            line = _("{entry} (following)").format(entry=line)
        lines.append(line)
        builder.button(
            text=f"{ticket.number} {category.emoji}",
            callback_data=TicketCb(action=TicketAction.DETAIL, ticket_id=ticket.id),
        )
    sizes = [2] * (len(mine) // 2) + [1] * (len(mine) % 2)
    if pages > 1:
        lines.append(_("Page {page} of {pages}").format(page=page + 1, pages=pages))
        arrows = [(page - 1, _("⬅️ Newer")), (page + 1, _("Older ➡️"))]
        shown = [(target, text) for target, text in arrows if 0 <= target < pages]
        for target, text in shown:
            builder.button(text=text, callback_data=MyTicketsCb(page=target))
        sizes.append(len(shown))
    builder.adjust(*sizes)
    return "\n".join(lines), builder.as_markup()


def tickets_stay_private() -> str:
    return _("Your tickets stay private: send me /mytickets in a private chat.")


@router.message(Command("mytickets"), F.chat.type != "private")
async def my_tickets_in_group(message: Message) -> None:
    await message.reply(tickets_stay_private())


@router.message(Command("mytickets"), F.chat.type == "private")
async def my_tickets_command(
    message: Message,
    session: AsyncSession,
    actor: Actor,
    catalogue: CategoryCatalogue,
    i18n: I18n,
) -> None:
    text, markup = await my_tickets_text(session, actor, catalogue, i18n.current_locale)
    await message.answer(text, reply_markup=markup)


@router.callback_query(MenuCb.filter(F.item == MenuItem.MY_TICKETS))
async def my_tickets_button(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    catalogue: CategoryCatalogue,
    i18n: I18n,
) -> None:
    if not in_private_chat(query, callback_answer, tickets_stay_private()):
        return
    text, markup = await my_tickets_text(session, actor, catalogue, i18n.current_locale)
    await query.message.answer(text, reply_markup=markup)


@router.callback_query(MyTicketsCb.filter())
async def my_tickets_page(
    query: CallbackQuery,
    callback_data: MyTicketsCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    catalogue: CategoryCatalogue,
    i18n: I18n,
) -> None:
    """Another page of the presser's own list (a forged page past the end shows the last)."""
    if not in_private_chat(query, callback_answer, tickets_stay_private()):
        return
    text, markup = await my_tickets_text(
        session, actor, catalogue, i18n.current_locale, callback_data.page
    )
    await query.message.answer(text, reply_markup=markup)


@router.callback_query(TicketCb.filter(F.action == TicketAction.DETAIL))
async def ticket_detail(
    query: CallbackQuery,
    callback_data: TicketCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    catalogue: CategoryCatalogue,
    settings: Settings,
    i18n: I18n,
) -> None:
    ticket = await load_ticket(session, callback_data.ticket_id)
    private = query.message is not None and query.message.chat.type == "private"
    view = (
        await ticket_view(
            session, ticket, actor, catalogue, settings, i18n.current_locale, private=private
        )
        if ticket is not None
        else None
    )
    if view is None:
        if (
            not private
            and ticket is not None
            and (
                ticket.reporter_id == actor.person_id
                or await is_follower(session, ticket, actor.person_id)
            )
        ):
            refuse_button(callback_answer, tickets_stay_private())  # it opens in private
        else:
            await refuse_ticket_button(session, actor, ticket, callback_answer)
        return
    if not private and not await shown_in_chat(session, ticket, query.message.chat.id):
        # A queue listed in another group: the card carries the reporter's contact.
        refuse_button(
            callback_answer,
            _(
                "A ticket's details are shown only in its team's group or in private: "
                "send me /ticket {number} in a private chat."
            ).format(number=ticket.number),
        )
        return
    text, markup = view
    await query.message.answer(text, reply_markup=markup)
