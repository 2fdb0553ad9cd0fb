"""The daily checks: milestones due in 7 days and today (to the contractor), reports waiting
for a decision for more than 3 days (to the purchaser's staff), milestones overdue beyond the
grace period (funding holds the contract's money). Each notice is sent once
(``kit.schedule.send_once``); whatever is owed and not yet sent goes out, so a run after days
of downtime catches up.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from kit.clock import local_date
from kit.schedule import ensure_may_run_checks, send_once
from projects.commands import RunChecks
from projects.context import Context
from projects.domain.reminders import (
    DUE_SOON_DAYS,
    MILESTONE_KIND,
    REPORT_KIND,
    REPORT_WAIT,
    milestone_notices,
    report_waiting_too_long,
)


def _about(row: dict[str, Any]) -> dict[str, Any]:
    """The fields every milestone reminder carries."""
    return {
        "contract_id": row["contract_id"],
        "milestone_id": row["milestone_id"],
        "project_id": row["project_id"],
        "contractor_id": row["contractor_id"],
        "purchaser_id": row["purchaser_id"],
        "title": row["title"],
        "due_on": row["due_on"],
    }


def _milestone_checks(ctx: Context, command: RunChecks, counts: Counter[str]) -> None:
    today = local_date(command.as_of)
    rows = ctx.repo.milestones_to_check(today + timedelta(days=DUE_SOON_DAYS))
    sent = ctx.notices.sent(MILESTONE_KIND, [row["milestone_id"] for row in rows])
    for row in rows:
        for owed in milestone_notices(row["due_on"], row["status"], today, command.grace_days):
            if (row["milestone_id"], owed.notice) in sent:
                continue
            extra: dict[str, Any] = (
                {"notice": owed.notice}
                if owed.days_overdue is None
                else {"days_overdue": owed.days_overdue}
            )
            send_once(
                ctx.uow,
                ctx.notices,
                (MILESTONE_KIND, row["milestone_id"], owed.notice),
                owed.event_type,
                command.as_of,
                **_about(row),
                **extra,
            )
            counts[owed.notice] += 1


def _report_checks(ctx: Context, command: RunChecks, counts: Counter[str]) -> None:
    rows = ctx.repo.reports_waiting(command.as_of - REPORT_WAIT)
    sent = ctx.notices.sent(REPORT_KIND, [row["report_id"] for row in rows])
    for row in rows:
        if (row["report_id"], "awaiting_decision") in sent:
            continue
        if not report_waiting_too_long("pending", row["reported_at"], command.as_of):
            continue
        send_once(
            ctx.uow,
            ctx.notices,
            (REPORT_KIND, row["report_id"], "awaiting_decision"),
            "report_awaiting_decision",
            command.as_of,
            **_about(row),
            report_id=row["report_id"],
            submitted_at=row["reported_at"],
        )
        counts["awaiting_decision"] += 1


def run_checks(ctx: Context, command: RunChecks) -> dict[str, int]:
    """Send every notice owed as of ``command.as_of`` and not sent yet; how many of each."""
    ensure_may_run_checks(ctx.actor.role)
    counts: Counter[str] = Counter()
    _milestone_checks(ctx, command, counts)
    _report_checks(ctx, command, counts)
    return dict(counts)
