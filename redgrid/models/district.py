"""The district as data: communities, their grids, and the compounds inside the grids."""

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from redgrid.models.base import UTCDateTime, utcnow


class Community(SQLModel, table=True):
    """A 社区: oversees several grids and receives their escalations."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Grid(SQLModel, table=True):
    """A 网格 of 300–500 households, the unit a ticket is routed to.

    ``boundary`` is the GeoJSON geometry (Polygon or MultiPolygon, WGS84) as text: the
    routing index is built in memory from it, so no spatial database extension is needed.
    A grid that disappears from a later import is retired, never deleted, because tickets
    and memberships keep pointing at it.
    """

    __table_args__ = (
        CheckConstraint("households IS NULL OR households > 0", name="households_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=64)
    community_id: int = Field(foreign_key="community.id", index=True)
    households: int | None = None
    boundary: str = Field(sa_column=Column(Text, nullable=False))
    team_chat_id: int | None = Field(default=None, sa_type=BigInteger, unique=True)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Compound(SQLModel, table=True):
    """A 小区 inside a grid; its name and aliases let a typed address find the grid."""

    __table_args__ = (UniqueConstraint("grid_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    aliases: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    grid_id: int = Field(foreign_key="grid.id", index=True, ondelete="CASCADE")


class DistrictRevision(SQLModel, table=True):
    """One row whose number grows with every district import.

    Every process holding a routing index compares it with this number and rebuilds when
    it changed, so an import from the command line reaches running bots.
    """

    __tablename__ = "district_revision"

    id: int = Field(default=1, primary_key=True)
    revision: int = Field(default=0)
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
