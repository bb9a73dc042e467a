"""What every table module shares: constraint names, the UTC timestamp type.

Table modules import from here first, so the naming convention is in place before any
constraint is created (Alembic's batch mode on SQLite needs named constraints).
"""

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import DateTime
from sqlalchemy import Enum as SAEnum
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

# The largest id an INTEGER primary key holds. Ids that come from outside (button data, a
# typed ticket number) are checked against it before they reach the database, where
# PostgreSQL would refuse a larger one with an error instead of finding nothing.
MAX_ROW_ID = 2**31 - 1

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC timestamp on every database.

    SQLite has no time zones and hands back naive values; PostgreSQL keeps them. Storing
    UTC and re-attaching it on the way out gives the same aware datetime on both.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware one (UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def enum_column(enum: type[StrEnum], name: str, *, length: int = 32) -> SAEnum:
    """A VARCHAR with a CHECK of the enum's values: portable, and readable in SQL.

    The fixed length leaves room for values added later without a column change.
    """
    return SAEnum(
        enum,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        name=name,
    )
