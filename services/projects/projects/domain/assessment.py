"""Projects' figure set of the annual assessment (目标考核): per child federation, projects
published and completed (结项) in the year, and the share of milestones due in the year (so
far) that were reported by their due date and accepted."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from language.assessment import share


def milestone_days(year: int, today: date) -> tuple[date, date] | None:
    """The due dates that count: the year's, up to today in the running year (None: the year
    has not begun, nothing is due yet)."""
    first, last = date(year, 1, 1), min(date(year, 12, 31), today)
    return (first, last) if first <= last else None


def child_rows(
    children: list[str],
    projects: Mapping[str, tuple[int, int]],
    milestones: Mapping[str, tuple[int, int]],
) -> list[dict[str, object]]:
    rows = []
    for child in children:
        published, completed = projects.get(child, (0, 0))
        due, on_time = milestones.get(child, (0, 0))
        rows.append(
            {
                "organization_id": child,
                "projects_published": published,
                "projects_completed": completed,
                "milestones_due": due,
                "milestones_on_time": on_time,
                "on_time_share": share(on_time, due),
            }
        )
    return rows
