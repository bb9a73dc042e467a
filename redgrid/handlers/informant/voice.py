"""The ▶️ Play button of a report's voice note, for its team and its reporter."""

from aiogram.types import CallbackQuery
from aiogram.utils.callback_answer import CallbackAnswer
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.handlers.callbacks import VoiceCb
from redgrid.handlers.common import refuse_button, refuse_ticket_button
from redgrid.handlers.informant import router
from redgrid.handlers.my_tickets.shared import load_ticket
from redgrid.services import informants
from redgrid.services.people import Actor, can_handle


@router.callback_query(VoiceCb.filter())
async def play_voice(
    query: CallbackQuery,
    callback_data: VoiceCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
) -> None:
    """The voice note of a report, for its team (and its reporter)."""
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
    await query.message.answer_voice(file_id)
