"""A comment from the reporter or a follower on an open ticket, passed to its team."""

import html

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.notifier import Notifier
from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import TicketAction, TicketCb
from redgrid.handlers.my_tickets import router
from redgrid.handlers.my_tickets.shared import (
    act_on_step_ticket,
    by_queue,
    in_private_chat,
    nav_keyboard,
    open_keyboard,
    reporter_or_follower_ticket,
    tell_team,
    typed_text,
    who_added,
)
from redgrid.handlers.my_tickets.states import ReporterForm
from redgrid.models import Person
from redgrid.models.base import utcnow
from redgrid.services import tickets
from redgrid.services.people import Actor


@router.callback_query(TicketCb.filter(F.action == TicketAction.COMMENT))
async def comment_button(
    query: CallbackQuery,
    callback_data: TicketCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    if not in_private_chat(query, callback_answer):
        return
    ticket = await reporter_or_follower_ticket(
        session, actor, callback_data.ticket_id, callback_answer
    )
    if ticket is None:
        return
    await state.set_state(ReporterForm.comment)
    await state.set_data({"ticket_id": ticket.id})
    await query.message.answer(
        by_queue(
            ticket,
            grid=_(
                "Write your comment on {number} (up to {limit} characters). "
                "The grid team will see it."
            ),
            community=_(
                "Write your comment on {number} (up to {limit} characters). "
                "The community officers will see it."
            ),
            district=_(
                "Write your comment on {number} (up to {limit} characters). "
                "The district office will see it."
            ),
        ).format(number=ticket.number, limit=tickets.MAX_TEXT),
        reply_markup=nav_keyboard(),
    )


@router.message(ReporterForm.comment, F.text, ~F.text.startswith("/"))
async def comment_text(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    notifier: Notifier,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
) -> None:
    text = await typed_text(message)
    if text is None:
        return
    ticket = await act_on_step_ticket(
        message,
        state,
        session,
        lambda ticket: tickets.add_comment(session, ticket, actor, utcnow(), text),
        _("You can no longer add to this ticket."),
    )
    if ticket is None:
        return
    reporter = await session.get(Person, ticket.reporter_id)
    await tell_team(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: _("💬 Comment on {number} from {who}:\n\n{text}").format(
            who=who_added(ticket, reporter, actor), number=ticket.number, text=html.escape(text)
        ),
        keyboard=lambda: open_keyboard(ticket),
    )
    await session.commit()
    await message.answer(
        by_queue(
            ticket,
            grid=_("💬 Your comment on {number} was passed to the grid team."),
            community=_("💬 Your comment on {number} was passed to the community officers."),
            district=_("💬 Your comment on {number} was passed to the district office."),
        ).format(number=ticket.number)
    )
