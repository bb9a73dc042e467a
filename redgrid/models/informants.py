"""Red informants (红色信息员): their profile, and the grade (评单) each of their reports got."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint
from sqlmodel import Field, SQLModel

from redgrid.models.base import UTCDateTime, enum_column, utcnow


class WorkType(StrEnum):
    FOOD_DELIVERY = "food_delivery"
    COURIER = "courier"
    RIDE_HAILING = "ride_hailing"
    OTHER = "other"


class InformantStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    REMOVED = "removed"


class Grade(StrEnum):
    VALID = "valid"
    DUPLICATE = "duplicate"
    INVALID = "invalid"


class InformantProfile(SQLModel, table=True):
    """What an informant told the bot when joining. The role itself is a ``Membership``
    (granted by the invite); this row says how they appear and whether they may report.

    ``invited_by_telegram_id`` is who created the invite they joined with (None: the
    command line): a community officer who did may pause and remove them, besides the
    admins, while they serve the invite's community (``informants.may_manage``).
    """

    __tablename__ = "informant_profile"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", unique=True, ondelete="CASCADE")
    display_name: str = Field(max_length=32)
    phone: str = Field(max_length=16)
    work_type: WorkType = Field(sa_type=enum_column(WorkType, "work_type", length=16))
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    status: InformantStatus = Field(
        default=InformantStatus.ACTIVE,
        sa_type=enum_column(InformantStatus, "informant_status", length=16),
    )
    invited_by_telegram_id: int | None = Field(default=None, sa_type=BigInteger)
    joined_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReportGrade(SQLModel, table=True):
    """The team's grade of one informant report, and the points it earned.

    ``ticket_id`` is unique: a report is graded once, so its points cannot be granted
    twice, even when two team members press at the same moment (the second insert finds
    the row and does nothing). ``informant_id`` repeats the ticket's reporter so the
    monthly leaderboard is one grouped query over this table.
    """

    __tablename__ = "report_grade"
    __table_args__ = (CheckConstraint("points >= 0", name="points_non_negative"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", unique=True, ondelete="CASCADE")
    informant_id: int = Field(foreign_key="person.id", index=True)
    grade: Grade = Field(sa_type=enum_column(Grade, "grade", length=16))
    points: int = 0
    graded_by_id: int | None = Field(default=None, foreign_key="person.id")
    graded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
