"""The summary: Edit (choose a step, which returns here when done) and Confirm, which
files the ticket and stages the team's push."""

import html
from typing import Any

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.notifier import Notifier
from redgrid.bot.pushes import local_time, push_to_team, queue_name
from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import ChoiceCb, DraftAction, DraftCb
from redgrid.handlers.common import refuse_button, show_menu
from redgrid.handlers.complaint import router
from redgrid.handlers.complaint.shared import EDIT, Ctx, _close, _first_missing, _limit_text
from redgrid.handlers.complaint.states import EDIT_TARGETS, Complaint
from redgrid.handlers.complaint.steps import _show
from redgrid.models import Person, TicketSource
from redgrid.models.base import utcnow
from redgrid.services import tickets
from redgrid.services.categories import CategoryCatalogue
from redgrid.services.people import Actor
from redgrid.services.tickets import TicketDraft


def _draft(data: dict[str, Any]) -> TicketDraft:
    place = data["place"]
    return TicketDraft(
        source=TicketSource.RESIDENT,
        category=data["category"],
        description=data["description"],
        photos=[(file_id, unique_id) for file_id, unique_id in data.get("photos", [])],
        latitude=place.get("lat"),
        longitude=place.get("lon"),
        address=place.get("address"),
        grid_id=place.get("grid_id"),
        contact_consent=bool(data.get("consent")),
        routing=place["routing"],
    )


@router.callback_query(Complaint.summary, DraftCb.filter(F.action == DraftAction.EDIT))
async def edit(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    await _close(query)
    ctx = Ctx(session, i18n, settings, catalogue, person)
    await _show(Complaint.edit, query.message, state, ctx)


@router.callback_query(Complaint.edit, ChoiceCb.filter(F.kind == EDIT))
async def edit_chosen(
    query: CallbackQuery,
    callback_data: ChoiceCb,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    if not 0 <= callback_data.index < len(EDIT_TARGETS):
        refuse_button(callback_answer)
        return
    await state.update_data(editing=True)
    await _close(query)
    ctx = Ctx(session, i18n, settings, catalogue, person)
    await _show(EDIT_TARGETS[callback_data.index][0], query.message, state, ctx)


@router.callback_query(Complaint.summary, DraftCb.filter(F.action == DraftAction.CONFIRM))
async def confirm(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    notifier: Notifier,
    person: Person,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    """File the ticket, stage the team's push, commit, and only then say so."""
    ctx = Ctx(session, i18n, settings, catalogue, person)
    data = await state.get_data()
    missing = _first_missing(data, catalogue)
    if missing is not None:
        await _show(missing, query.message, state, ctx)
        return
    await _close(query)
    draft = _draft(data)
    try:
        ticket = await tickets.create_ticket(
            session,
            draft,
            person,
            catalogue,
            utcnow(),
            number_prefix=settings.ticket_prefix,
            daily_limit=settings.daily_ticket_limit,
            tz=settings.tz,
        )
    except tickets.DailyLimitReached as error:
        await state.clear()
        await show_menu(query.message, session, actor, _limit_text(error.limit))
        return
    except tickets.GridNotInService:  # retired by a district import since it was chosen
        await state.update_data(place=None)
        await query.message.answer(
            _("The grid of that place is no longer in service. Please choose the place again.")
        )
        await _show(Complaint.place, query.message, state, ctx)
        return
    await push_to_team(
        session,
        notifier,
        i18n,
        settings,
        catalogue,
        ticket,
        headline=lambda: _("🆕 New complaint"),
        with_media=True,
        report_photos=[file_id for file_id, _unique_id in draft.photos],
    )
    await state.clear()  # commits with the ticket: it cannot be filed twice
    await session.commit()
    text = _(
        "✅ Your complaint is filed: <b>{number}</b>\n\n"
        "It went to {queue}. The team will accept it by {time}, and you will hear from us "
        "at every step."
    ).format(
        number=ticket.number,
        queue=html.escape(await queue_name(session, ticket)),
        time=local_time(ticket.respond_by, settings),
    )
    await show_menu(query.message, session, actor, text)
