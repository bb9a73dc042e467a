"""The last router: whatever no feature claimed gets a hint, never silence."""

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.handlers.blueprint import Blueprint
from redgrid.handlers.common import refuse_button, show_menu
from redgrid.services.people import Actor

router = Blueprint(__name__)


@router.message(StateFilter(None), F.chat.type == "private")
async def unknown_message(message: Message, session: AsyncSession, actor: Actor) -> None:
    await show_menu(
        message, session, actor, _("I did not understand that. Choose what you would like to do:")
    )


@router.callback_query()
async def stale_button(query: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    """Old, foreign or forged buttons: a polite refusal, and nothing changes."""
    refuse_button(callback_answer)
