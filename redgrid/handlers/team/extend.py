"""Extend: more time for an accepted ticket, with a reason the reporter and the rest of the
team read."""

import html
from datetime import timedelta

from aiogram import Bot, F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.notifier import Notifier
from redgrid.bot.pushes import local_time, push_to_reporter
from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import ChoiceCb, TicketAction, TicketCb
from redgrid.handlers.common import refuse_button
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.handlers.my_tickets.shared import by_queue, tell_team
from redgrid.handlers.team import router
from redgrid.handlers.team.shared import (
    EXTEND_DAYS,
    member_name,
    nav_keyboard,
    refused,
    start_step,
    step_button_ticket,
    step_ticket,
    team_ticket,
    too_long,
    typed_text,
)
from redgrid.handlers.team.states import TeamForm
from redgrid.models import Person, Ticket, TicketStatus
from redgrid.models.base import utcnow
from redgrid.services import tickets
from redgrid.services.people import Actor
from redgrid.services.tickets import ExtensionLimitReached, IllegalTransition, NotAllowed

EXTENSION_DAYS = (1, 3, 7)


def extend_days_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    for index, days in enumerate(EXTENSION_DAYS):
        label = _("+1 day") if days == 1 else _("+{days} days").format(days=days)
        builder.button(text=label, callback_data=ChoiceCb(kind=EXTEND_DAYS, index=index))
    builder.adjust(len(EXTENSION_DAYS))
    nav = nav_keyboard()
    return InlineKeyboardMarkup(inline_keyboard=[*builder.rows(), *nav.inline_keyboard])


def extensions_used_up(ticket: Ticket, limit: int) -> str:
    if not limit:
        return _("Deadlines cannot be extended here. Resolve {number}, or transfer it.").format(
            number=ticket.number
        )
    return _(
        "The deadline of {number} was already extended as often as allowed ({limit}). "
        "Resolve it, or transfer it."
    ).format(number=ticket.number, limit=limit)


def extend_days_prompt(ticket: Ticket, settings: Settings) -> str:
    return _("{number} is due by {time}. How much more time do you need?").format(
        number=ticket.number, time=local_time(ticket.resolve_by, settings)
    )


@router.callback_query(TicketCb.filter(F.action == TicketAction.EXTEND))
async def extend_button(
    query: CallbackQuery,
    callback_data: TicketCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
    settings: Settings,
) -> None:
    ticket = await team_ticket(
        session, actor, query, callback_data.ticket_id, callback_answer, {TicketStatus.ACCEPTED}
    )
    if ticket is None:
        return
    if await tickets.extensions_this_round(session, ticket.id) >= settings.max_extensions:
        refuse_button(callback_answer, extensions_used_up(ticket, settings.max_extensions))
        return
    await start_step(
        bot,
        query,
        callback_answer,
        state,
        TeamForm.extend_days,
        ticket,
        extend_days_prompt(ticket, settings),
        extend_days_keyboard(),
    )


@router.callback_query(ChoiceCb.filter(F.kind == EXTEND_DAYS), TeamForm.extend_days)
async def extend_days_chosen(
    query: CallbackQuery,
    callback_data: ChoiceCb,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    session: AsyncSession,
    actor: Actor,
) -> None:
    ticket = await step_button_ticket(
        state, session, actor, callback_answer, {TicketStatus.ACCEPTED}
    )
    if ticket is None:
        return
    if not 0 <= callback_data.index < len(EXTENSION_DAYS):
        refuse_button(callback_answer)
        return
    await state.update_data(days=EXTENSION_DAYS[callback_data.index])
    await state.set_state(TeamForm.extend_reason)
    await query.message.answer(
        _("Why does {number} need more time? The reporter will read the reason.").format(
            number=ticket.number
        ),
        reply_markup=nav_keyboard(back=True),
    )


@router.message(TeamForm.extend_reason, F.text, ~F.text.startswith("/"))
async def extend_reason_typed(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    notifier: Notifier,
    person: Person,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
) -> None:
    reason = typed_text(message)
    if reason is None:
        await too_long(message, back=True)
        return
    ticket, data = await step_ticket(message, state, session, actor)
    if ticket is None:
        return
    days = data.get("days")
    if days not in EXTENSION_DAYS:
        await state.clear()
        await message.answer(_("You can no longer act on this ticket."))
        return
    try:
        await tickets.extend(
            session,
            ticket,
            actor,
            utcnow(),
            timedelta(days=days),
            reason,
            limit=settings.max_extensions,
        )
    except ExtensionLimitReached as error:
        await state.clear()
        await message.answer(extensions_used_up(ticket, error.limit))
        return
    except (IllegalTransition, NotAllowed) as error:
        await refused(message, state, session, ticket, error)
        return
    await state.clear()
    deadline = local_time(ticket.resolve_by, settings)
    audience = await tickets.ticket_audience(session, ticket, settings.admin_ids)
    await push_to_reporter(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: by_queue(
            ticket,
            grid=_(
                "⏳ The grid team needs more time for ticket {number}. "
                "New deadline: {time}. Reason: {reason}"
            ),
            community=_(
                "⏳ The community officers need more time for ticket {number}. "
                "New deadline: {time}. Reason: {reason}"
            ),
            district=_(
                "⏳ The district office needs more time for ticket {number}. "
                "New deadline: {time}. Reason: {reason}"
            ),
        ).format(number=ticket.number, time=deadline, reason=html.escape(reason)),
        audience=audience,
    )
    name = member_name(person)
    await tell_team(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: _("⏳ {name} extended the deadline of {number} to {time}. Reason: {reason}").format(
            name=name, number=ticket.number, time=deadline, reason=html.escape(reason)
        ),
        audience=audience,
        exclude_person_id=actor.person_id,
    )
    await session.commit()
    await message.answer(
        _("⏳ {number} is now due by {time}; the reporter was told.").format(
            number=ticket.number, time=deadline
        )
    )
