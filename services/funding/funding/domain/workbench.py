"""The workbench (工作台) of money: what the first page after login counts for finance
officers, federation staff and admins, each figure beside the query of the list behind it.

- this fiscal year's money: the sources of the current year (China calendar) in the actor's
  scope — put in, committed, paid, available;
- the approval queue: pending disbursements, their amount and the oldest's age;
- payments this month: disbursements paid since the first of the month (China time);
- sources running low: available under a threshold (``LOW_AVAILABLE_BELOW`` unless the
  request names another), the lowest first.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from kit.clock import CHINA

#: fen: a source with less available than this is running low — ¥50,000, about one tranche of
#: a typical purchased-service project (a request may name another threshold)
LOW_AVAILABLE_BELOW = 5_000_000
#: how many sources the low-money card names (the rest are in the list it links to)
PREVIEW = 5


def day_start(day: date) -> datetime:
    """Midnight in China, the start of ``day`` for users."""
    return datetime(day.year, day.month, day.day, tzinfo=CHINA)


def month_of(today: date) -> tuple[date, date]:
    """The first day of ``today``'s month and the first day of the next one."""
    first = today.replace(day=1)
    following = (
        first.replace(year=first.year + 1, month=1)
        if first.month == 12
        else first.replace(month=first.month + 1)
    )
    return first, following


def card(count: int, filters: dict[str, Any], **figures: Any) -> dict[str, Any]:
    """One figure and the query of the list behind it (values as a URL has them)."""
    query = {
        name: value.isoformat() if isinstance(value, date) else str(value)
        for name, value in filters.items()
        if value is not None
    }
    return {"count": int(count), "filters": query, **figures}
