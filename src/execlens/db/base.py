"""Declarative base and the column types every model shares."""

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, MetaData, Row, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from execlens.errors import UserError

# Stable constraint names, so Alembic migrations read the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# A row of a textual query or a mixed select: its columns are known at run time only.
AnyRow = Row[*tuple[Any, ...]]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every model maps one Table (DeclarativeBase allows any FromClause), so the bulk
    # upserts in db/dialect.py can read its name, columns and primary key.
    __table__: ClassVar[Table]


def as_utc(value: datetime) -> datetime:
    """Return ``value`` in UTC, reading a naive datetime as UTC; UserError if out of range."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:00+05:00 is year 0 in UTC: no database value Python can read back.
        raise UserError(
            f"timestamp {value.isoformat()} is out of range: in UTC it must fall within "
            "the years 1 to 9999"
        ) from None


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    SQLite has no time zones: without this, values would come back naive and
    comparisons with aware datetimes would raise.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = as_utc(value)
        # SQLite stores text: keep it naive so every stored value sorts the same way.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


# JSON payloads (node inputs and outputs). Plain JSON on both databases: JSONB would
# cost a parse on every ingested row, and nothing queries inside these values.
JSONValue = JSON(none_as_null=True)
