"""What the team's steps answer to wrong input, and the refusal of a stale or forged team
button."""

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from redgrid.handlers import albums
from redgrid.handlers.blueprint import CallbackPrefix
from redgrid.handlers.callbacks import ChoiceCb, MergeCb, TicketCb
from redgrid.handlers.common import refuse_button
from redgrid.handlers.team import router
from redgrid.handlers.team.shared import (
    EXTEND_DAYS,
    TEAM_NAV,
    TRANSFER_CODE,
    TRANSFER_GRID,
    TRANSFER_UP,
    nav_keyboard,
)
from redgrid.handlers.team.states import TeamForm

HINTS = {
    TeamForm.transfer_target.state: lambda: _("Please choose where the ticket goes, or Cancel."),
    TeamForm.transfer_code.state: lambda: _("Please type a grid code, or press Back."),
    TeamForm.transfer_note.state: lambda: _("Please write the note as text, or press Skip."),
    TeamForm.invalid_reason.state: lambda: _("Please write the reason as text, or press Cancel."),
    TeamForm.resolve_note.state: lambda: _("Please write what was done as text, or Cancel."),
    TeamForm.resolve_photo.state: lambda: _("Please send a photo of the result, or press Skip."),
    TeamForm.extend_days.state: lambda: _("Please choose how much more time, or Cancel."),
    TeamForm.extend_reason.state: lambda: _("Please write the reason as text, or press Back."),
    TeamForm.question.state: lambda: _("Please write your question as text, or press Cancel."),
    TeamForm.duplicate_of.state: lambda: _(
        "Please type the number of the original ticket, for example DX-000123, or press Cancel."
    ),
    TeamForm.duplicate_confirm.state: lambda: _(
        "Please press Confirm merge, Back or Cancel above."
    ),
}


@router.message(StateFilter(*TeamForm.__all_states__))
async def team_hint(message: Message, state: FSMContext) -> None:
    if await albums.answered(message, state):
        return
    current = await state.get_state()
    back = current in (
        TeamForm.transfer_code.state,
        TeamForm.transfer_note.state,
        TeamForm.resolve_photo.state,
        TeamForm.extend_reason.state,
        TeamForm.duplicate_confirm.state,
    )
    skip = current in (TeamForm.transfer_note.state, TeamForm.resolve_photo.state)
    await message.answer(HINTS[current](), reply_markup=nav_keyboard(back=back, skip=skip))


@router.callback_query(
    ChoiceCb.filter(F.kind.in_({TRANSFER_GRID, TRANSFER_UP, TRANSFER_CODE, EXTEND_DAYS, TEAM_NAV}))
)
@router.callback_query(CallbackPrefix(MergeCb, TicketCb))
async def stale_team_button(query: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    """A ticket button that does not decode, or a step's button after the step ended."""
    refuse_button(callback_answer)
