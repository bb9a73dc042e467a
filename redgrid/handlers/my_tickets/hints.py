"""What the reporter's steps answer to wrong input, and the refusal of a stale or forged
rating or step button."""

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from redgrid.handlers import albums
from redgrid.handlers.blueprint import CallbackPrefix
from redgrid.handlers.callbacks import ChoiceCb, RateCb
from redgrid.handlers.common import refuse_button
from redgrid.handlers.my_tickets import router
from redgrid.handlers.my_tickets.shared import REPORTER_NAV, nav_keyboard
from redgrid.handlers.my_tickets.states import ReporterForm

HINTS = {
    ReporterForm.comment.state: lambda: _("Please write your comment as text, or press Cancel."),
    ReporterForm.photo.state: lambda: _("Please send a photo (not a file or a sticker)."),
    ReporterForm.answer.state: lambda: _("Please write your answer as text, or press Cancel."),
    ReporterForm.rework_reason.state: lambda: _(
        "Please tell us in words what is still wrong, or press Cancel."
    ),
}


@router.message(StateFilter(*ReporterForm.__all_states__))
async def reporter_hint(message: Message, state: FSMContext) -> None:
    """Anything a step does not expect (a sticker at the photo step): its hint, once per
    album."""
    if await albums.answered(message, state):
        return
    current = await state.get_state()
    done = current == ReporterForm.photo.state and bool((await state.get_data()).get("photos"))
    await message.answer(HINTS[current](), reply_markup=nav_keyboard(done=done))


@router.callback_query(ChoiceCb.filter(F.kind == REPORTER_NAV))
@router.callback_query(CallbackPrefix(RateCb))
async def stale_reporter_button(query: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    """A rating button that does not decode, or a step's button after the step ended."""
    refuse_button(callback_answer)
