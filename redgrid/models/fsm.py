"""Conversation state kept in the database, for deployments without Redis."""

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from redgrid.models.base import UTCDateTime, utcnow


class FsmRecord(SQLModel, table=True):
    """One aiogram FSM key: its state and its data, so a half-written complaint survives a
    restart and is seen by every bot instance."""

    __tablename__ = "fsm_record"

    key: str = Field(primary_key=True, max_length=255)
    state: str | None = Field(default=None, max_length=255)
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
