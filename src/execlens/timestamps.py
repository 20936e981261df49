"""A timestamp parameter that is always representable in UTC, checked where it is read."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator

OUT_OF_RANGE = "in UTC it must fall within the years 1 to 9999; give a time in that range"


def in_utc(value: datetime) -> datetime:
    """Return ``value`` in UTC (naive means UTC); ValueError when UTC cannot hold it."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:00+01:00 is year 0 in UTC: no database can store or compare it.
        raise ValueError(OUT_OF_RANGE) from None


# For filters and job parameters: a 422 naming the field, before any SQL is built. The
# ingest wire format keeps plain datetimes (per-value Python validators would dominate
# import time) and checks the range when it encodes rows.
UTCTimestamp = Annotated[datetime, AfterValidator(in_utc)]
