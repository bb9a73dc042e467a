"""The schedule, kept in the database: deadline alarms and once-per-period runs."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from redgrid.models.base import UTCDateTime, enum_column, utcnow


class AlarmKind(StrEnum):
    RESPOND_REMINDER = "respond_reminder"
    RESPOND_OVERDUE = "respond_overdue"
    RESPOND_ESCALATION = "respond_escalation"
    RESOLVE_REMINDER = "resolve_reminder"
    RESOLVE_OVERDUE = "resolve_overdue"
    RESOLVE_ESCALATION = "resolve_escalation"


class DeadlineAlarm(SQLModel, table=True):
    """A moment at which someone must be told about a ticket's deadline.

    Alarms are rewritten whenever a ticket's deadlines or status change (extend, transfer,
    rework, accept, resolve), so only the alarms of the ticket's current deadlines wait.
    The sweep claims a due alarm by setting ``fired_at`` atomically, so it fires once
    however many bot instances sweep.
    """

    __tablename__ = "deadline_alarm"
    __table_args__ = (
        Index(
            "ix_deadline_alarm_due",
            "due_at",
            postgresql_where=text("fired_at IS NULL"),
            sqlite_where=text("fired_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True, ondelete="CASCADE")
    kind: AlarmKind = Field(sa_type=enum_column(AlarmKind, "alarm_kind"))
    deadline_at: datetime = Field(sa_type=UTCDateTime)  # the deadline this alarm is about
    due_at: datetime = Field(sa_type=UTCDateTime)
    fired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ScheduledRun(SQLModel, table=True):
    """A periodic job's run for one period ("daily-digest", "2026-11-27"): whoever inserts
    the row does the run, so a digest goes out once however many instances tick."""

    __tablename__ = "scheduled_run"
    __table_args__ = (UniqueConstraint("job", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=32)
    period: str = Field(max_length=16)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
