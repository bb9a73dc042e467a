"""Ask the reporter: a team member's question, passed on with an Answer button."""

import html

from aiogram import Bot, F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.lost_chats import UndeliveredNotice
from redgrid.bot.notifier import Notifier
from redgrid.bot.pushes import push_to_followers, push_to_reporter
from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import TicketAction, TicketCb
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.handlers.my_tickets.shared import by_queue
from redgrid.handlers.team import router
from redgrid.handlers.team.shared import (
    nav_keyboard,
    refused,
    start_step,
    step_ticket,
    team_ticket,
    too_long,
    typed_text,
)
from redgrid.handlers.team.states import TeamForm
from redgrid.languages import N_
from redgrid.models import OPEN_STATUSES, Ticket
from redgrid.models.base import utcnow
from redgrid.services import tickets
from redgrid.services.people import Actor
from redgrid.services.tickets import IllegalTransition, NotAllowed

# A question that never reached the reporter comes back to its asker, this much of it.
QUESTION_ECHO = 300
QUESTION_UNDELIVERED = N_(
    "❗ Your question on {number} could not be delivered to the reporter, so no answer "
    "will come:\n\n{question}"
)


@router.callback_query(TicketCb.filter(F.action == TicketAction.ASK))
async def ask_button(
    query: CallbackQuery,
    callback_data: TicketCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    ticket = await team_ticket(
        session, actor, query, callback_data.ticket_id, callback_answer, OPEN_STATUSES
    )
    if ticket is None:
        return
    await start_step(
        bot,
        query,
        callback_answer,
        state,
        TeamForm.question,
        ticket,
        _(
            "Type your question for the reporter of {number}. The bot passes it on and "
            "brings the answer back to you."
        ).format(number=ticket.number),
        nav_keyboard(),
    )


def answer_keyboard(ticket: Ticket) -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(
        text=_("✍️ Answer"), callback_data=TicketCb(action=TicketAction.ANSWER, ticket_id=ticket.id)
    )
    return builder.as_markup()


@router.message(TeamForm.question, F.text, ~F.text.startswith("/"))
async def question_typed(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    notifier: Notifier,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
) -> None:
    question = typed_text(message)
    if question is None:
        await too_long(message)
        return
    ticket, _data = await step_ticket(message, state, session, actor)
    if ticket is None:
        return
    try:
        await tickets.ask_reporter(session, ticket, actor, utcnow(), question)
    except (IllegalTransition, NotAllowed) as error:
        await refused(message, state, session, ticket, error)
        return
    await state.clear()
    audience = await tickets.ticket_audience(session, ticket, settings.admin_ids)
    reporter = audience.reporter
    reachable = reporter is not None and reporter.unreachable_at is None
    echo = question if len(question) <= QUESTION_ECHO else question[: QUESTION_ECHO - 1] + "…"
    await push_to_reporter(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: by_queue(
            ticket,
            grid=_(
                "❓ The grid team has a question about your ticket {number}:\n\n{question}\n\n"
                "Press Answer to reply."
            ),
            community=_(
                "❓ The community officers have a question about your ticket {number}:"
                "\n\n{question}\n\nPress Answer to reply."
            ),
            district=_(
                "❓ The district office has a question about your ticket {number}:"
                "\n\n{question}\n\nPress Answer to reply."
            ),
        ).format(number=ticket.number, question=html.escape(question)),
        keyboard=lambda: answer_keyboard(ticket),
        followers=False,
        audience=audience,
        # Known to be out of reach already: the asker is told so at once, below.
        if_undelivered=UndeliveredNotice(
            (actor.person_id,), QUESTION_UNDELIVERED, {"number": ticket.number, "question": echo}
        )
        if reachable
        else None,
    )
    await push_to_followers(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: by_queue(
            ticket,
            grid=_("❓ The grid team asked the reporter of {number}:\n\n{question}"),
            community=_("❓ The community officers asked the reporter of {number}:\n\n{question}"),
            district=_("❓ The district office asked the reporter of {number}:\n\n{question}"),
        ).format(number=ticket.number, question=html.escape(question)),
        audience=audience,
    )
    await session.commit()
    if not reachable:  # erased, or blocked the bot
        text = _("❓ The question is recorded, but the reporter can no longer be reached.")
    else:
        text = _("❓ Your question was sent. The answer will come to you here.")
    await message.answer(text)
