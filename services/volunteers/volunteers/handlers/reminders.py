"""The daily check: each team with service-hours entries waiting for verification tells its
leader (``hours_awaiting_verification``), at most once per team and China day. After days of
downtime the check sends one notice per team for the day it runs: what is owed is today's
reminder of what waits now, not one per missed day."""

from __future__ import annotations

from kit.clock import local_date
from kit.schedule import ensure_may_run_checks, send_once
from volunteers.commands import RunChecks
from volunteers.context import Context

TEAM_KIND = "team_hours"


def run_checks(ctx: Context, command: RunChecks) -> dict[str, int]:
    """Send the day's reminders not sent yet; how many."""
    ensure_may_run_checks(ctx.actor.role)
    day = local_date(command.as_of).isoformat()
    rows = ctx.repo.teams_awaiting_verification()
    sent = ctx.notices.sent(TEAM_KIND, [row["team_id"] for row in rows])
    count = 0
    for row in rows:
        if (row["team_id"], day) in sent:
            continue
        send_once(
            ctx.uow,
            ctx.notices,
            (TEAM_KIND, row["team_id"], day),
            "hours_awaiting_verification",
            command.as_of,
            team_id=row["team_id"],
            leader_user_id=row["leader_user_id"],
            entries=int(row["entries"]),
            oldest_started_at=row["oldest_started_at"],
        )
        count += 1
    return {"hours_awaiting_verification": count} if count else {}
