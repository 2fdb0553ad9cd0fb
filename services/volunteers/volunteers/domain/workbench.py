"""The workbench (工作台) of volunteer work: what the first page after login counts for team
leaders, federation staff and admins, each figure beside the query of the list behind it.

- hours awaiting verification (every role that runs teams): pending entries of the teams the
  actor runs, and their time;
- a team leader's upcoming activities: those starting from today (China calendar), the next
  first, with enrolment against capacity;
- a team leader's teams' hours this month: verified hours that started this month, as the
  hours report counts them.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

#: how many activities the card shows (the rest are in the list it links to)
PREVIEW = 5


def this_month(today: date) -> tuple[date, date]:
    """The first and the last day of ``today``'s month (the hours report's since/until)."""
    first = today.replace(day=1)
    following = (
        first.replace(year=first.year + 1, month=1)
        if first.month == 12
        else first.replace(month=first.month + 1)
    )
    return first, following - timedelta(days=1)


def card(count: int, filters: dict[str, Any], **figures: Any) -> dict[str, Any]:
    """One figure and the query of the list behind it (values as a URL has them)."""
    query = {
        name: value.isoformat() if isinstance(value, date) else str(value)
        for name, value in filters.items()
        if value is not None
    }
    return {"count": int(count), "filters": query, **figures}
