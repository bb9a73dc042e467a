"""PIPL: ``/mydata`` sends a person everything we keep about them, ``/forget`` erases it.

Both act on the person behind the update only (for a button: who pressed it), never on an
id taken from a message or callback data. Both work in a private chat only, so personal
data is never posted to a group.
"""

import json
from contextlib import suppress

from aiogram import F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardRemove,
)
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.handlers.blueprint import Blueprint
from redgrid.handlers.callbacks import ForgetAction, ForgetCb
from redgrid.handlers.common import show_menu
from redgrid.handlers.keyboards import InlineKeyboard
from redgrid.models import Person
from redgrid.models.base import utcnow
from redgrid.services.informants import export_informant, forget_informant
from redgrid.services.people import Actor, export_person_data, forget_person

router = Blueprint(__name__)
router.messages_only()  # commands only
router.callbacks_only(ForgetCb)

EXPORT_FILENAME = "redgrid-mydata.json"


@router.message(Command("mydata", "forget"), F.chat.type != "private")
async def private_only(message: Message) -> None:
    await message.reply(_("Personal data stays private: send me this command in a private chat."))


@router.message(Command("mydata"), F.chat.type == "private")
async def my_data(
    message: Message, state: FSMContext, session: AsyncSession, person: Person
) -> None:
    data = await export_person_data(session, person)
    informant = await export_informant(session, person.id)
    if informant is not None:
        data["informant"] = informant
    step = await state.get_state()
    if step is not None:  # what they are in the middle of writing, which /forget erases too
        data["draft"] = {"step": step, "data": await state.get_data()}
    document = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
    await message.answer_document(
        BufferedInputFile(document, filename=EXPORT_FILENAME),
        caption=_(
            "Everything we keep about you: your profile, roles, complaints, photos, "
            "actions and the tickets you follow (JSON). /forget erases your personal data."
        ),
    )


def forget_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboard()
    builder.button(text=_("🗑 Erase my data"), callback_data=ForgetCb(action=ForgetAction.CONFIRM))
    builder.button(text=_("✖️ Cancel"), callback_data=ForgetCb(action=ForgetAction.CANCEL))
    builder.adjust(1)
    return builder.as_markup()


@router.message(Command("forget"), F.chat.type == "private")
async def forget_command(message: Message) -> None:
    await message.answer(
        _(
            "<b>Erase your personal data?</b>\n\n"
            "Erased: your name, phone number, language, any role you hold, the tickets "
            "you follow, and whatever you were in the middle of writing.\n"
            "Kept: the complaints you raised and what happened to them, without your "
            "name, so the grid teams' work and the district's figures stay correct.\n\n"
            "This cannot be undone. If you write to me again afterwards, you start as "
            "a new person."
        ),
        reply_markup=forget_keyboard(),
    )


@router.callback_query(ForgetCb.filter(F.action == ForgetAction.CONFIRM))
async def forget_confirmed(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    session: AsyncSession,
    person: Person,
) -> None:
    # The presser is the person erased: a button copied from someone else's chat erases
    # only whoever pressed it.
    await forget_informant(session, person.id, utcnow())
    await forget_person(session, person, utcnow())
    await state.clear()
    await session.commit()
    callback_answer.text = _("Erased.")
    await query.message.answer(
        _(
            "Your personal data has been erased. The complaints you raised stay, without "
            "your name. Send /start whenever you need us again."
        ),
        # Takes away a keyboard of the step they were in (the location button), as /cancel.
        reply_markup=ReplyKeyboardRemove(),
    )
    await remove_buttons(query)


@router.callback_query(ForgetCb.filter(F.action == ForgetAction.CANCEL))
async def forget_cancelled(query: CallbackQuery, session: AsyncSession, actor: Actor) -> None:
    await show_menu(query.message, session, actor, _("Nothing was erased."))
    await remove_buttons(query)


async def remove_buttons(query: CallbackQuery) -> None:
    """Take the buttons off the /forget question, so it is not answered twice; a message
    too old to edit keeps them, and pressing again is harmless."""
    if isinstance(query.message, Message):
        with suppress(TelegramBadRequest):
            await query.message.edit_reply_markup(reply_markup=None)
