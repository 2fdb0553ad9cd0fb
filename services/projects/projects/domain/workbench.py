"""The workbench (工作台): what the first page after login counts, and the lists behind it.

Each figure is counted under the same filters as the list it links to (``MilestoneFilters``
for milestones, ``status`` and ``within`` for projects, ``status`` for contracts): a card
carries its list's query, so the number on the card is the ``total`` of that list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from projects.domain.contract import MILESTONE_STATUSES

#: contracts still being delivered: their milestones may still be reported and accepted
RUNNING = ("active", "suspended")
#: a milestone not accepted yet
OPEN = ("pending", "reported", "rejected")
#: what ``status`` may ask of the milestone list: a status, or ``open`` (not accepted)
MILESTONE_LIST_STATUSES = (*MILESTONE_STATUSES, "open")
#: how many items a card shows beside its figure (the rest is in the list it links to)
PREVIEW = 5


@dataclass(frozen=True)
class MilestoneFilters:
    """Which milestones a list or a figure counts. ``contractor_id`` and ``within_path`` come
    from the actor's scope, never from the request."""

    status: str | None = None
    due_before: date | None = None
    running: bool | None = None
    payment_status: str | None = None
    contract_id: str | None = None
    contractor_id: str | None = None
    within_path: str | None = None

    @property
    def statuses(self) -> tuple[str, ...] | None:
        if not self.status:
            return None
        return OPEN if self.status == "open" else (self.status,)


def card(count: int, filters: dict[str, Any], **figures: Any) -> dict[str, Any]:
    """One figure of a card and the query of the list behind it (values as a URL has them)."""
    query = {name: _query_value(value) for name, value in filters.items() if value is not None}
    return {"count": int(count), "filters": query, **figures}


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
