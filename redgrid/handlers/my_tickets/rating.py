"""The reporter rates a resolved ticket: a rating closes it; Unsatisfied asks what is still
wrong and sends it back to the team for rework."""

import html

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.notifier import Notifier
from redgrid.bot.pushes import local_time, push_to_followers, push_to_team, rating_name
from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import RateCb
from redgrid.handlers.common import refuse_button
from redgrid.handlers.my_tickets import router
from redgrid.handlers.my_tickets.shared import (
    act_on_step_ticket,
    by_queue,
    in_private_chat,
    load_ticket,
    nav_keyboard,
    no_longer_applies,
    tell_team,
    typed_text,
)
from redgrid.handlers.my_tickets.states import ReporterForm
from redgrid.models import Rating, TicketStatus
from redgrid.models.base import utcnow
from redgrid.services import tickets
from redgrid.services.categories import CategoryCatalogue
from redgrid.services.people import Actor
from redgrid.services.tickets import IllegalTransition, NotAllowed


@router.callback_query(RateCb.filter())
async def rate_button(
    query: CallbackQuery,
    callback_data: RateCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    notifier: Notifier,
    actor: Actor,
    state: FSMContext,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    """A rating, pressed in the reporter's private chat: Unsatisfied asks there for the
    reason, and the thanks are the reporter's own."""
    if not in_private_chat(query, callback_answer):
        return
    try:
        rating = Rating(callback_data.rating)
    except ValueError:
        refuse_button(callback_answer)
        return
    ticket = await load_ticket(session, callback_data.ticket_id)
    if ticket is None or ticket.reporter_id != actor.person_id:
        refuse_button(callback_answer)
        return
    if ticket.status is not TicketStatus.RESOLVED:
        refuse_button(callback_answer, no_longer_applies(ticket))
        return
    if rating is Rating.UNSATISFIED:
        await state.set_state(ReporterForm.rework_reason)
        await state.set_data({"ticket_id": ticket.id})
        await query.message.answer(
            by_queue(
                ticket,
                grid=_(
                    "Sorry it is not right yet. What is still wrong with {number}? "
                    "Your words go back to the grid team with the ticket."
                ),
                community=_(
                    "Sorry it is not right yet. What is still wrong with {number}? "
                    "Your words go back to the community officers with the ticket."
                ),
                district=_(
                    "Sorry it is not right yet. What is still wrong with {number}? "
                    "Your words go back to the district office with the ticket."
                ),
            ).format(number=ticket.number),
            reply_markup=nav_keyboard(),
        )
        return
    try:
        await tickets.rate(session, ticket, actor, utcnow(), rating, catalogue=catalogue)
    except IllegalTransition:
        refuse_button(callback_answer, no_longer_applies(ticket))
        return
    except NotAllowed:
        refuse_button(callback_answer)
        return
    if await state.get_state() == ReporterForm.rework_reason.state:
        await state.clear()
    await tell_team(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: _("⭐ The reporter rated {number}: {rating}. The ticket is closed.").format(
            number=ticket.number, rating=rating_name(rating)
        ),
    )
    # Followers were told it was resolved: they learn how it ended.
    await push_to_followers(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: _(
            "✅ {number}, which you follow, is closed. The reporter's rating: {rating}."
        ).format(number=ticket.number, rating=rating_name(rating)),
    )
    await session.commit()
    callback_answer.text = rating_name(rating)
    await query.message.answer(
        _("Thank you for your rating! {number} is now closed.").format(number=ticket.number)
    )


@router.message(ReporterForm.rework_reason, F.text, ~F.text.startswith("/"))
async def rework_reason(
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
        lambda ticket: tickets.rate(
            session, ticket, actor, utcnow(), Rating.UNSATISFIED, catalogue=catalogue, comment=text
        ),
        _("You can no longer rate this ticket."),
    )
    if ticket is None:
        return
    audience = await tickets.ticket_audience(session, ticket, settings.admin_ids)
    await push_to_team(
        session,
        notifier,
        i18n,
        settings,
        catalogue,
        ticket,
        lambda: _(
            "🔁 {number} was sent back for rework (round {count}). The reporter says:\n{reason}"
        ).format(number=ticket.number, count=ticket.rework_count, reason=html.escape(text)),
        audience=audience,
    )
    # Followers were told it was resolved: they learn it is being done again.
    await push_to_followers(
        session,
        notifier,
        i18n,
        settings,
        ticket,
        lambda: by_queue(
            ticket,
            grid=_(
                "🔁 {number}, which you follow, went back to the grid team to be done again: "
                "the reporter was not satisfied with the result."
            ),
            community=_(
                "🔁 {number}, which you follow, went back to the community officers to be done "
                "again: the reporter was not satisfied with the result."
            ),
            district=_(
                "🔁 {number}, which you follow, went back to the district office to be done "
                "again: the reporter was not satisfied with the result."
            ),
        ).format(number=ticket.number),
        audience=audience,
    )
    await session.commit()
    await message.answer(
        by_queue(
            ticket,
            grid=_(
                "🔁 {number} went back to the grid team to be done again. "
                "The new deadline is {time}; we will tell you when it is resolved."
            ),
            community=_(
                "🔁 {number} went back to the community officers to be done again. "
                "The new deadline is {time}; we will tell you when it is resolved."
            ),
            district=_(
                "🔁 {number} went back to the district office to be done again. "
                "The new deadline is {time}; we will tell you when it is resolved."
            ),
        ).format(number=ticket.number, time=local_time(ticket.resolve_by, settings))
    )
