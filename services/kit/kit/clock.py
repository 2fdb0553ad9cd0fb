"""Time in one place: aware UTC datetimes and their ISO-8601 form."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

#: China Standard Time (UTC+8, no daylight saving): the calendar users' dates are in
CHINA = timezone(timedelta(hours=8), "CST")


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat(moment: datetime) -> str:
    """UTC ISO-8601 with a ``Z``-free ``+00:00`` offset, as marshmallow writes it."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: Jinguo keeps every moment in aware UTC")
    return moment.astimezone(UTC).isoformat()


def local_date(moment: datetime) -> date:
    """The calendar date of ``moment`` where Jinguo's users are (a due date is a local date)."""
    return moment.astimezone(CHINA).date()
