"""Stale buttons of the informant conversations: registered last, so a button no other
handler of the package takes gets a polite refusal."""

from aiogram.types import CallbackQuery
from aiogram.utils.callback_answer import CallbackAnswer

from redgrid.handlers.blueprint import CallbackPrefix
from redgrid.handlers.callbacks import GradeCb, InformantAdminCb, JoinCb, ReportCb, VoiceCb
from redgrid.handlers.common import refuse_button
from redgrid.handlers.informant import router


@router.callback_query(JoinCb.filter())
@router.callback_query(ReportCb.filter())
@router.callback_query(CallbackPrefix(GradeCb))
@router.callback_query(CallbackPrefix(InformantAdminCb))
@router.callback_query(CallbackPrefix(VoiceCb))
async def stale_informant_button(query: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    """A step's button after the step ended, or data that does not decode."""
    refuse_button(callback_answer)
