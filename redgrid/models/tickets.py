"""Tickets: a complaint or an informant report, its photos, followers and history."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from redgrid.models.base import UTCDateTime, enum_column, utcnow


class TicketSource(StrEnum):
    RESIDENT = "resident"
    INFORMANT = "informant"


class TicketStatus(StrEnum):
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    RESOLVED = "resolved"
    CLOSED = "closed"
    INVALID = "invalid"
    DUPLICATE = "duplicate"

    @property
    def is_open(self) -> bool:
        """Still the team's to act on (FixMyStreet's lesson: states are data with a type)."""
        return self in OPEN_STATUSES


OPEN_STATUSES = frozenset({TicketStatus.DISPATCHED, TicketStatus.ACCEPTED})


class Priority(StrEnum):
    URGENT = "urgent"
    NORMAL = "normal"
    COMPLEX = "complex"


class Rating(StrEnum):
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    UNSATISFIED = "unsatisfied"


class EventKind(StrEnum):
    CREATED = "created"
    ACCEPTED = "accepted"
    TRANSFERRED = "transferred"
    EXTENDED = "extended"
    RESOLVED = "resolved"
    RATED = "rated"
    REWORK = "rework"
    CLOSED = "closed"
    INVALID = "invalid"
    DUPLICATE = "duplicate"
    CONSULTATION = "consultation"
    COMMENT = "comment"
    PHOTO = "photo"
    QUESTION = "question"
    ANSWER = "answer"
    FOLLOWED = "followed"


class PhotoKind(StrEnum):
    REPORT = "report"
    RESOLUTION = "resolution"


class Ticket(SQLModel, table=True):
    """One report and where it stands.

    It sits in exactly one queue: a grid, a community (``grid_id`` empty), a district desk
    (``desk`` set) or, with all three empty, the district's general queue.
    """

    __table_args__ = (
        CheckConstraint(
            "latitude IS NULL OR (latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180)",
            name="location_in_range",
        ),
        CheckConstraint("rework_count >= 0", name="rework_count_non_negative"),
        Index("ix_ticket_status_respond_by", "status", "respond_by"),
        Index("ix_ticket_category_created_at", "category", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str | None = Field(default=None, max_length=16, unique=True)
    source: TicketSource = Field(sa_type=enum_column(TicketSource, "ticket_source"))
    category: str = Field(max_length=32)
    description: str = Field(sa_column=Column(Text, nullable=False))
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = Field(default=None, max_length=200)
    grid_id: int | None = Field(default=None, foreign_key="grid.id", index=True)
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    desk: str | None = Field(default=None, max_length=32)
    status: TicketStatus = Field(
        default=TicketStatus.DISPATCHED, sa_type=enum_column(TicketStatus, "ticket_status")
    )
    priority: Priority = Field(sa_type=enum_column(Priority, "priority"))
    respond_by: datetime = Field(sa_type=UTCDateTime)
    resolve_by: datetime = Field(sa_type=UTCDateTime)
    reporter_id: int = Field(foreign_key="person.id", index=True)
    assignee_id: int | None = Field(default=None, foreign_key="person.id")
    contact_consent: bool = False
    in_consultation: bool = False
    duplicate_of_id: int | None = Field(default=None, foreign_key="ticket.id")
    resolution_note: str | None = Field(default=None, sa_column=Column(Text))
    rating: Rating | None = Field(default=None, sa_type=enum_column(Rating, "rating"))
    rating_comment: str | None = Field(default=None, sa_column=Column(Text))
    rework_count: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TicketPhoto(SQLModel, table=True):
    """A photo by Telegram file id: the bytes stay on Telegram's servers."""

    __tablename__ = "ticket_photo"
    __table_args__ = (UniqueConstraint("ticket_id", "kind", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True, ondelete="CASCADE")
    kind: PhotoKind = Field(sa_type=enum_column(PhotoKind, "photo_kind"))
    position: int
    file_id: str = Field(max_length=255)
    file_unique_id: str = Field(max_length=64)
    added_by_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TicketEvent(SQLModel, table=True):
    """One line of a ticket's append-only history: who did what, when, from and to."""

    __tablename__ = "ticket_event"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True, ondelete="CASCADE")
    kind: EventKind = Field(sa_type=enum_column(EventKind, "event_kind"))
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    from_status: TicketStatus | None = Field(
        default=None, sa_type=enum_column(TicketStatus, "event_from_status")
    )
    to_status: TicketStatus | None = Field(
        default=None, sa_type=enum_column(TicketStatus, "event_to_status")
    )
    note: str | None = Field(default=None, sa_column=Column(Text))
    details: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TicketFollower(SQLModel, table=True):
    """A resident who chose to follow someone else's ticket instead of filing a duplicate."""

    __tablename__ = "ticket_follower"

    ticket_id: int = Field(foreign_key="ticket.id", primary_key=True, ondelete="CASCADE")
    person_id: int = Field(foreign_key="person.id", primary_key=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
