"""Done and Cancel in the reporter's typing steps."""

from aiogram import F
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
from redgrid.handlers.my_tickets import router
from redgrid.handlers.my_tickets.photos import photos_done
from redgrid.handlers.my_tickets.shared import NAV_DONE, REPORTER_NAV
from redgrid.handlers.my_tickets.states import ReporterForm
from redgrid.services.people import Actor


@router.callback_query(
    ChoiceCb.filter(F.kind == REPORTER_NAV), StateFilter(*ReporterForm.__all_states__)
)
async def reporter_nav(
    query: CallbackQuery,
    callback_data: ChoiceCb,
    state: FSMContext,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    notifier: Notifier,
    actor: Actor,
    i18n: I18n,
    settings: Settings,
) -> None:
    if callback_data.index == NAV_DONE and await state.get_state() == ReporterForm.photo.state:
        await photos_done(query, state, session, notifier, actor, i18n, settings)
        return
    await state.clear()
    callback_answer.text = _("Cancelled.")
    await query.message.answer(_("Cancelled. Nothing more was sent."))
