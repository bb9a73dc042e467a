"""Back, Skip and Cancel in the team's typing steps."""

from aiogram import Bot, F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.notifier import Notifier
from redgrid.bot.settings import Settings
from redgrid.handlers.callbacks import ChoiceCb
from redgrid.handlers.common import refuse_button
from redgrid.handlers.my_tickets.shared import load_ticket
from redgrid.handlers.team import router
from redgrid.handlers.team.duplicate import duplicate_prompt
from redgrid.handlers.team.extend import extend_days_keyboard, extend_days_prompt
from redgrid.handlers.team.resolve import finish_resolve, resolve_note_prompt
from redgrid.handlers.team.shared import TEAM_NAV, Nav, cannot_act_text, nav_keyboard
from redgrid.handlers.team.states import TeamForm
from redgrid.handlers.team.transfer import finish_transfer, transfer_prompt
from redgrid.models import Person
from redgrid.services.categories import CategoryCatalogue
from redgrid.services.people import Actor, can_handle


@router.callback_query(ChoiceCb.filter(F.kind == TEAM_NAV), StateFilter(*TeamForm.__all_states__))
async def team_nav(
    query: CallbackQuery,
    callback_data: ChoiceCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
    notifier: Notifier,
    person: Person,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    current = await state.get_state()
    if callback_data.index == Nav.CANCEL:
        await state.clear()
        callback_answer.text = _("Cancelled.")
        await query.message.answer(_("Cancelled. The ticket was not changed."))
        return
    data = await state.get_data()
    ticket = await load_ticket(session, data.get("ticket_id", 0))
    if ticket is None:
        await state.clear()
        refuse_button(callback_answer)
        return
    if not await can_handle(session, actor, ticket):  # off the team, or passed on, meanwhile
        await state.clear()
        refuse_button(callback_answer, await cannot_act_text(session, actor, ticket, data))
        return
    if callback_data.index == Nav.SKIP and current == TeamForm.transfer_note.state:
        await finish_transfer(
            query.message,
            state,
            None,
            session,
            notifier,
            person,
            actor,
            i18n,
            settings,
            catalogue,
            pressed=True,
        )
    elif callback_data.index == Nav.SKIP and current == TeamForm.resolve_photo.state:
        await finish_resolve(
            query.message,
            state,
            None,
            session,
            notifier,
            person,
            actor,
            i18n,
            settings,
            pressed=True,
        )
    elif callback_data.index == Nav.BACK and current in (
        TeamForm.transfer_code.state,
        TeamForm.transfer_note.state,
    ):
        await state.set_state(TeamForm.transfer_target)
        text, markup, grid_ids = await transfer_prompt(session, ticket)
        await state.update_data(grid_ids=grid_ids, target_grid_id=None, to_community=False)
        await query.message.answer(text, reply_markup=markup)
    elif callback_data.index == Nav.BACK and current == TeamForm.resolve_photo.state:
        await state.set_state(TeamForm.resolve_note)
        await query.message.answer(resolve_note_prompt(ticket), reply_markup=nav_keyboard())
    elif callback_data.index == Nav.BACK and current == TeamForm.duplicate_confirm.state:
        await state.set_state(TeamForm.duplicate_of)
        await query.message.answer(duplicate_prompt(ticket), reply_markup=nav_keyboard())
    elif callback_data.index == Nav.BACK and current == TeamForm.extend_reason.state:
        await state.set_state(TeamForm.extend_days)
        await query.message.answer(
            extend_days_prompt(ticket, settings), reply_markup=extend_days_keyboard()
        )
    else:
        refuse_button(callback_answer)
