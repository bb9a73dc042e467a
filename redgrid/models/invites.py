"""Single-use invitations that give a person a role, or bind a group chat to a grid."""

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint
from sqlmodel import Field, SQLModel

from redgrid.models.base import UTCDateTime, enum_column, utcnow
from redgrid.models.people import ROLE_SCOPE_RULE, Role


class Invite(SQLModel, table=True):
    """An invitation; only a hash of its code is stored, so a database leak opens no door.

    ``used_at`` is set by a conditional update, so two people racing for one code cannot
    both get in.
    """

    __table_args__ = (CheckConstraint(ROLE_SCOPE_RULE, name="role_scope"),)

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True)
    role: Role = Field(sa_type=enum_column(Role, "invite_role", length=16))
    grid_id: int | None = Field(default=None, foreign_key="grid.id")
    community_id: int | None = Field(default=None, foreign_key="community.id")
    created_by_telegram_id: int | None = Field(default=None, sa_type=BigInteger)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    used_by_id: int | None = Field(default=None, foreign_key="person.id")
