"""The ▶️ Play button of a report's voice note, for its team and its reporter."""

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import CallbackQuery
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.handlers.callbacks import VoiceCb
from redgrid.handlers.common import refuse_button, refuse_ticket_button
from redgrid.handlers.informant import router
from redgrid.handlers.my_tickets.shared import load_ticket
from redgrid.handlers.my_tickets.view import shown_in_chat
from redgrid.services import informants
from redgrid.services.people import Actor, can_handle


@router.callback_query(VoiceCb.filter())
async def play_voice(
    query: CallbackQuery,
    callback_data: VoiceCb,
    callback_answer: CallbackAnswer,
    bot: Bot,
    session: AsyncSession,
    actor: Actor,
) -> None:
    """The voice note of a report, for its team (and its reporter). It plays where the
    button was pressed only in private or in a group that gets the ticket's cards (as the
    Open buttons show them); pressed in any other group (a team chat the ticket has left),
    it goes to the presser alone, in private."""
    ticket = await load_ticket(session, callback_data.ticket_id)
    allowed = ticket is not None and (
        ticket.reporter_id == actor.person_id or await can_handle(session, actor, ticket)
    )
    if not allowed:
        await refuse_ticket_button(session, actor, ticket, callback_answer)
        return
    file_id = await informants.voice_note(session, ticket.id)
    if file_id is None:
        refuse_button(callback_answer)
        return
    chat = query.message.chat
    if chat.type == "private" or await shown_in_chat(session, ticket, chat.id):
        await query.message.answer_voice(file_id)
        return
    try:
        await bot.send_voice(query.from_user.id, file_id)
    except (TelegramForbiddenError, TelegramBadRequest):
        refuse_button(
            callback_answer, _("Please open a private chat with me (press Start) to continue.")
        )
        return
    callback_answer.text = _("I sent you the voice note in our private chat.")
