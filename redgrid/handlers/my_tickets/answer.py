"""The reporter's answer to the question the team asked, passed to the team and the asker."""

import html
from dataclasses import replace

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.notifier import Notifier
from redgrid.bot.pushes import push_to_team
from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import TicketAction, TicketCb
from redgrid.handlers.common import refuse_button
from redgrid.handlers.my_tickets import router
from redgrid.handlers.my_tickets.shared import (
    act_on_step_ticket,
    by_queue,
    in_private_chat,
    load_ticket,
    nav_keyboard,
    no_longer_applies,
    reporter_label,
    typed_text,
)
from redgrid.handlers.my_tickets.states import ReporterForm
from redgrid.models.base import utcnow
from redgrid.services import tickets
from redgrid.services.categories import CategoryCatalogue
from redgrid.services.people import Actor


@router.callback_query(TicketCb.filter(F.action == TicketAction.ANSWER))
async def answer_button(
    query: CallbackQuery,
    callback_data: TicketCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    if not in_private_chat(query, callback_answer):
        return
    ticket = await load_ticket(session, callback_data.ticket_id)
    if ticket is None or ticket.reporter_id != actor.person_id:
        refuse_button(callback_answer)
        return
    if not ticket.status.is_open:
        refuse_button(callback_answer, no_longer_applies(ticket))
        return
    await state.set_state(ReporterForm.answer)
    await state.set_data({"ticket_id": ticket.id})
    await query.message.answer(
        by_queue(
            ticket,
            grid=_("Write your answer for the grid team about {number}."),
            community=_("Write your answer for the community officers about {number}."),
            district=_("Write your answer for the district office about {number}."),
        ).format(number=ticket.number),
        reply_markup=nav_keyboard(),
    )


@router.message(ReporterForm.answer, F.text, ~F.text.startswith("/"))
async def answer_text(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    notifier: Notifier,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    text = await typed_text(message)
    if text is None:
        return
    ticket = await act_on_step_ticket(
        message,
        state,
        session,
        lambda ticket: tickets.answer_question(session, ticket, actor, utcnow(), text),
        _("You can no longer add to this ticket."),
    )
    if ticket is None:
        return
    audience = await tickets.ticket_audience(session, ticket, settings.admin_ids)
    asker = await tickets.asker_on_the_team(session, ticket, settings.admin_ids)
    if asker is not None and asker.id not in {member.id for member in audience.team}:
        audience = replace(audience, team=(*audience.team, asker))
    reporter = audience.reporter
    await push_to_team(
        session,
        notifier,
        i18n,
        settings,
        catalogue,
        ticket,
        lambda: _("💬 Answer to the question on {number} from {who}:\n\n{text}").format(
            who=reporter_label(ticket, reporter), number=ticket.number, text=html.escape(text)
        ),
        audience=audience,
    )
    await session.commit()
    await message.answer(
        by_queue(
            ticket,
            grid=_("💬 Your answer on {number} was passed to the grid team."),
            community=_("💬 Your answer on {number} was passed to the community officers."),
            district=_("💬 Your answer on {number} was passed to the district office."),
        ).format(number=ticket.number)
    )
