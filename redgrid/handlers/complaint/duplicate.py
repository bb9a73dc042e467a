"""The nearby-duplicate hint's buttons: file the complaint anyway, or follow the open
ticket instead (a Follow button, which works in any state)."""

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import DraftAction, DraftCb, FollowCb
from redgrid.handlers.common import refuse_button, show_menu
from redgrid.handlers.complaint import router
from redgrid.handlers.complaint.shared import Ctx, _close
from redgrid.handlers.complaint.states import Complaint
from redgrid.handlers.complaint.steps import _advance
from redgrid.models import Person, Ticket
from redgrid.models.base import utcnow
from redgrid.services import tickets
from redgrid.services.categories import CategoryCatalogue
from redgrid.services.people import Actor


@router.callback_query(Complaint.duplicate, DraftCb.filter(F.action == DraftAction.NEW_ANYWAY))
async def file_anyway(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    await state.update_data(duplicate=None)
    await _close(query)
    ctx = Ctx(session, i18n, settings, catalogue, person)
    await _advance(Complaint.place, query.message, state, ctx)


@router.callback_query(FollowCb.filter())
async def follow_ticket(
    query: CallbackQuery,
    callback_data: FollowCb,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    actor: Actor,
    settings: Settings,
) -> None:
    """Follow an open ticket instead of filing the same problem; pressed in the duplicate
    hint or anywhere else, so it works in any state, but only by the person the hint
    showed that ticket to."""
    if not callback_data.offered_to(settings.bot_token.get_secret_value(), person.telegram_id):
        refuse_button(callback_answer)
        return
    ticket = await session.get(Ticket, callback_data.ticket_id)
    if ticket is None or not ticket.status.is_open:
        refuse_button(callback_answer)
        return
    if ticket.reporter_id == person.id:
        refuse_button(
            callback_answer, _("This is your own complaint: you already receive its updates.")
        )
        return
    newly = await tickets.follow(session, ticket, person.id, utcnow())
    await session.commit()
    step = await state.get_state()
    hinted = (await state.get_data()).get("duplicate") or {}
    # Only the hint about this very ticket ends the draft; an older message's button
    # pressed while writing another complaint leaves that one as it is.
    instead_of_draft = step == Complaint.duplicate.state and hinted.get("id") == ticket.id
    if instead_of_draft:
        await state.clear()
        await _close(query)
    if newly:
        text = _("🔔 You now follow <b>{number}</b> and will receive its updates.")
    else:
        text = _("You already follow <b>{number}</b>.")
    text = text.format(number=ticket.number)
    if instead_of_draft:
        text += "\n" + _("Your draft was not sent.")
    elif step in Complaint.__all_states_names__:
        await query.message.answer(text)  # no menu: the draft goes on where it was
        return
    await show_menu(query.message, session, actor, text)
