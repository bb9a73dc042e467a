"""People who talk to the bot, and the roles they hold in a scope."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint
from sqlmodel import Field, SQLModel

from redgrid.models.base import UTCDateTime, enum_column, utcnow


class Role(StrEnum):
    INFORMANT = "informant"
    GRID_WORKER = "grid_worker"
    SECRETARY = "secretary"
    OFFICER = "officer"
    ADMIN = "admin"


class Scope(StrEnum):
    GRID = "grid"
    COMMUNITY = "community"
    DISTRICT = "district"


class Person(SQLModel, table=True):
    """Anyone who opened the bot. A resident needs no membership at all."""

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_type=BigInteger, unique=True)
    display_name: str = Field(default="", max_length=128)
    phone: str | None = Field(default=None, max_length=32)
    locale: str | None = Field(default=None, max_length=8)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    forgotten_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Set when Telegram refused a message (the person blocked the bot); cleared when they
    # write again. Their pending work goes to someone else in the team.
    unreachable_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# Which scope each role is held in; the database refuses any other combination.
ROLE_SCOPE_RULE = (
    "(role IN ('secretary', 'grid_worker') AND grid_id IS NOT NULL AND community_id IS NULL)"
    " OR (role = 'officer' AND community_id IS NOT NULL AND grid_id IS NULL)"
    " OR (role = 'admin' AND grid_id IS NULL AND community_id IS NULL)"
    " OR (role = 'informant' AND grid_id IS NULL)"
)


class Membership(SQLModel, table=True):
    """A role held by a person in a grid, a community or the whole district.

    The scope is the one of ``grid_id`` / ``community_id`` that is set (neither: the
    district). Memberships are deactivated rather than deleted so history stays readable.
    """

    __table_args__ = (CheckConstraint(ROLE_SCOPE_RULE, name="role_scope"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True, ondelete="CASCADE")
    role: Role = Field(sa_type=enum_column(Role, "role", length=16))
    grid_id: int | None = Field(default=None, foreign_key="grid.id", index=True)
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # When the role was taken away (set with ``active`` False, cleared when it is granted
    # again). Rows deactivated before revision 0006 have none: removed, date unknown.
    removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def scope(self) -> Scope:
        if self.grid_id is not None:
            return Scope.GRID
        if self.community_id is not None:
            return Scope.COMMUNITY
        return Scope.DISTRICT
