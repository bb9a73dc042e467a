"""How long personal data that has done its job is kept.

The outbox keeps the text of every push it sent: ticket cards with the reporter's name and
phone (where they consented), answers to the team's questions, ratings. Once a push is sent
or has failed for good it is only needed for a while: to hand over a push whose reader
turned out to be unreachable, and to tell whether a reader already has it. After
``OUTBOX_RETENTION_DAYS`` it goes. ``/forget`` goes further for one person at once
(``forget_pushes``).
"""

from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from redgrid.models import OutboxMessage, OutboxStatus, Ticket

FINISHED = (OutboxStatus.SENT, OutboxStatus.FAILED)


async def purge_finished_pushes(session: AsyncSession, now: datetime, keep: timedelta) -> int:
    """Delete pushes sent or failed more than ``keep`` ago; returns how many. Pending ones
    stay whatever their age: they are still owed to someone."""
    result = await session.exec(
        delete(OutboxMessage).where(
            col(OutboxMessage.status).in_(FINISHED), col(OutboxMessage.created_at) < now - keep
        )
    )
    return result.rowcount


async def forget_pushes(session: AsyncSession, person_id: int, telegram_id: int) -> int:
    """What the outbox holds of a person who asked to be forgotten: every push to them
    (their chat id would link the erased profile back to the account), and the pushes
    already sent about tickets they reported (the cards carried their name and phone if
    they consented). Pending pushes to others about their tickets stay: the team needs
    them to handle the ticket, and they go out within seconds. Returns how many went."""
    reported = select(Ticket.id).where(Ticket.reporter_id == person_id)
    result = await session.exec(
        delete(OutboxMessage).where(
            or_(
                col(OutboxMessage.person_id) == person_id,
                col(OutboxMessage.chat_id) == telegram_id,
                col(OutboxMessage.ticket_id).in_(reported)
                & col(OutboxMessage.status).in_(FINISHED),
            )
        )
    )
    return result.rowcount
