"""An hours report: the groups it may be by, its period, and minutes shown as hours."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from volunteers.exceptions import RuleBroken

REPORT_GROUPS = ("volunteer", "team", "theme", "project", "month")
#: the groups of one page of a report when the reader names no limit
REPORT_LIMIT = 500


def hours(minutes: int) -> float:
    """Minutes as hours to two decimals, for display (storage is always integer minutes)."""
    return float((Decimal(minutes) / 60).quantize(Decimal("0.01")))


def report_period(since: date | None, until: date | None) -> tuple[date | None, date | None]:
    if since and until and until < since:
        raise RuleBroken("until is before since", field="until", rule="after_since")
    return since, until
