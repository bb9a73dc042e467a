"""One ticket shown to whoever asks: the team's card and buttons, the reporter's (or a
follower's) view, or nothing to anyone else; and which group chats may read the card."""

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.pushes import rating_keyboard, team_keyboard, ticket_card
from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import TicketAction, TicketCb
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.handlers.my_tickets.history import history_lines, with_history
from redgrid.handlers.my_tickets.shared import is_follower, load_ticket
from redgrid.models import Grid, Ticket, TicketStatus
from redgrid.services import tickets
from redgrid.services.categories import CategoryCatalogue
from redgrid.services.people import Actor


def reporter_keyboard(ticket: Ticket, *, is_reporter: bool) -> InlineKeyboardMarkup | None:
    if ticket.status is TicketStatus.RESOLVED and is_reporter:
        return rating_keyboard(ticket)
    if not ticket.status.is_open:
        return None
    builder = InlineKeyboard()
    builder.button(
        text=_("💬 Add a comment"),
        callback_data=TicketCb(action=TicketAction.COMMENT, ticket_id=ticket.id),
    )
    builder.button(
        text=_("📷 Add a photo"),
        callback_data=TicketCb(action=TicketAction.PHOTO, ticket_id=ticket.id),
    )
    builder.adjust(2)
    return builder.as_markup()


async def ticket_view(
    session: AsyncSession,
    ticket: Ticket,
    actor: Actor,
    catalogue: CategoryCatalogue,
    settings: Settings,
    locale: str,
    *,
    private: bool = True,
) -> tuple[str, InlineKeyboardMarkup | None] | None:
    """The ticket for this person: the team's card and buttons to whoever can handle it
    (read-only to the team of the ticket a duplicate was merged into), the reporter's view
    to its reporter and followers (in a private chat only, never in a group), None to
    anyone else (who must not learn that it exists)."""
    if await tickets.readable_by_team(session, actor, ticket):
        card = await ticket_card(session, ticket, catalogue, settings, locale, for_team=True)
        lines = await history_lines(
            session, ticket, settings, for_team=True, viewer_id=actor.person_id
        )
        return with_history(card, lines), team_keyboard(ticket)
    is_reporter = ticket.reporter_id == actor.person_id
    if not private or (not is_reporter and not await is_follower(session, ticket, actor.person_id)):
        return None
    card = await ticket_card(
        session, ticket, catalogue, settings, locale, for_team=False, to_reporter=is_reporter
    )
    lines = await history_lines(
        session, ticket, settings, for_team=False, viewer_id=actor.person_id
    )
    return with_history(card, lines), reporter_keyboard(ticket, is_reporter=is_reporter)


async def is_team_chat_of(session: AsyncSession, ticket: Ticket, chat_id: int) -> bool:
    """Whether ``chat_id`` is the group chat of the ticket's grid team."""
    grid = await session.get(Grid, ticket.grid_id) if ticket.grid_id is not None else None
    return grid is not None and grid.team_chat_id == chat_id


async def shown_in_chat(session: AsyncSession, ticket: Ticket, chat_id: int) -> bool:
    """Whether the group ``chat_id`` may read the ticket's team card: its team's chat, or,
    for a duplicate, the chat of the team its original belongs to."""
    if await is_team_chat_of(session, ticket, chat_id):
        return True
    if ticket.duplicate_of_id is None:
        return False
    original = await load_ticket(session, ticket.duplicate_of_id)
    return original is not None and await is_team_chat_of(session, original, chat_id)
