"""Registered last: buttons of the complaint that no longer apply, and input a step does
not expect (the step's hint again)."""

from aiogram import F
from aiogram.filters import StateFilter, or_f
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.bot.settings import Settings
from redgrid.handlers import albums
from redgrid.handlers.callbacks import CategoryCb, ChoiceCb, DraftCb
from redgrid.handlers.common import refuse_button
from redgrid.handlers.complaint import router
from redgrid.handlers.complaint.shared import ADDR, EDIT, KEEP, Ctx
from redgrid.handlers.complaint.states import HINTS, Complaint
from redgrid.handlers.complaint.steps import _keyboard
from redgrid.models import Person
from redgrid.services.categories import CategoryCatalogue


@router.callback_query(
    StateFilter(None, Complaint),
    or_f(
        DraftCb.filter(),
        CategoryCb.filter(),
        ChoiceCb.filter(F.kind.in_({ADDR, KEEP, EDIT})),
    ),
)
async def stale_draft_button(query: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    """A button of this conversation that no longer applies (a second press on Confirm,
    an old step's button, forged data): refused, nothing changes. Other conversations'
    states are left to their own modules."""
    refuse_button(callback_answer)


@router.message(StateFilter(Complaint))
async def wrong_input(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
    i18n: I18n,
    settings: Settings,
    catalogue: CategoryCatalogue,
) -> None:
    """Anything a step does not expect (a sticker, a photo where a place is expected, a
    command): the step's hint, with its buttons again; nothing changes. An album (one
    update per item) is hinted once."""
    if await albums.answered(message, state):
        return
    step = await state.get_state()
    data = await state.get_data()
    text = _(HINTS[step])
    if message.text and message.text.startswith("/"):
        text = _("You are writing a complaint: finish it, or send /cancel to stop.") + "\n\n" + text
    ctx = Ctx(session, i18n, settings, catalogue, person)
    await message.answer(text, reply_markup=_keyboard(step, data, ctx))
