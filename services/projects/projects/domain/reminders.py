"""The daily checks' rules: which time-driven notices a milestone or a report is owed.

A notice is owed from the day its condition first holds for as long as the milestone still
waits (nothing is owed about an accepted milestone); the checks send each owed notice once
(``kit.schedule``), so after days of downtime every notice still owed goes out, late and once,
in the order they fell due. All dates are China dates (a due date is a local date).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

DEFAULT_GRACE_DAYS = 30
#: a report waits this long for the purchaser's decision before staff are reminded
REPORT_WAIT = timedelta(days=3)
DUE_SOON_DAYS = 7
#: milestones still waiting for a report: the due-date notices are for them
AWAITING_REPORT = ("pending", "rejected")
#: kinds of ``reminders_sent`` rows
MILESTONE_KIND = "milestone"
REPORT_KIND = "report"


@dataclass(frozen=True)
class Owed:
    event_type: str
    notice: str
    days_overdue: int | None = None


def days_overdue(due_on: date, today: date) -> int:
    return (today - due_on).days


def is_overdue(due_on: date, status: str, today: date, grace_days: int) -> bool:
    """Past its due date by more than the grace period, without an accepted report."""
    return status != "accepted" and days_overdue(due_on, today) > grace_days


def milestone_notices(due_on: date, status: str, today: date, grace_days: int) -> list[Owed]:
    """The notices a milestone of a live contract is owed as of ``today``, earliest first."""
    owed: list[Owed] = []
    if status in AWAITING_REPORT:
        if today >= due_on - timedelta(days=DUE_SOON_DAYS):
            owed.append(Owed("milestone_due", "due_in_7_days"))
        if today >= due_on:
            owed.append(Owed("milestone_due", "due_today"))
    if is_overdue(due_on, status, today, grace_days):
        owed.append(Owed("milestone_overdue", "overdue", days_overdue(due_on, today)))
    return owed


def report_waiting_too_long(decision: str, reported_at: datetime, as_of: datetime) -> bool:
    """A report still undecided more than 3 days after it came in."""
    return decision == "pending" and as_of - reported_at > REPORT_WAIT
