"""Messages the bot sends on its own initiative, written before they are sent."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Column, Index
from sqlmodel import Field, SQLModel

from redgrid.models.base import UTCDateTime, enum_column, utcnow


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class OutboxMessage(SQLModel, table=True):
    """One Bot API call (``method`` with its JSON ``params``) owed to one chat.

    Rows are written in the same transaction as the change that causes them, so a push is
    never lost to a crash: either the change and its pushes are committed, or neither.
    Rows of one chat are sent in id order. ``if_undelivered``: a notice owed to someone
    else if the row finally fails (``bot.lost_chats.UndeliveredNotice`` as JSON), such as
    the asker of a question the reporter never got. ``params`` also names the row's push
    (``bot.lost_chats.PUSH_KEY``): the rows staged together for one message to its readers.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_message_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_type=BigInteger, index=True)
    person_id: int | None = Field(default=None, foreign_key="person.id", ondelete="SET NULL")
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", ondelete="SET NULL")
    method: str = Field(max_length=32)
    params: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: OutboxStatus = Field(
        default=OutboxStatus.PENDING, sa_type=enum_column(OutboxStatus, "outbox_status")
    )
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    if_undelivered: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
