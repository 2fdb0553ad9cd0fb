"""The volunteer figures of the workbench (工作台), counted by the database over the teams
the actor runs (``Context.team_scope``), each with the query of the list it links to."""

from __future__ import annotations

from typing import Any

from kit.paging import page_request
from volunteers.commands import VolunteersWorkbench
from volunteers.context import Context
from volunteers.domain.reports import hours
from volunteers.domain.scope import ROSTER_ROLES
from volunteers.domain.workbench import PREVIEW, card, this_month
from volunteers.handlers.activities import day_start
from volunteers.repository import ACTIVITY_ORDER


def volunteers_workbench(ctx: Context, command: VolunteersWorkbench) -> dict[str, Any]:
    today = ctx.clock.today()
    figures: dict[str, Any] = {"view": "none", "today": today}
    if ctx.actor.role not in ROSTER_ROLES:
        return figures
    team_ids = ctx.team_scope()
    pending = ctx.repo.hours_figures(team_ids=team_ids, status="pending")
    figures.update(
        view="leader" if ctx.actor.role == "team_leader" else "staff",
        hours_pending=card(
            pending["entries"],
            {"status": "pending"},
            minutes=pending["minutes"],
            hours=hours(pending["minutes"]),
        ),
    )
    if ctx.actor.role != "team_leader":
        return figures
    upcoming = ctx.repo.list_activities(
        page_request(PREVIEW, None, ordering=ACTIVITY_ORDER, sort="starts_at"),
        team_ids=team_ids,
        starts_from=day_start(today),
    )
    first, last = this_month(today)
    month = ctx.repo.hours_figures(team_ids=team_ids, status="verified", since=first, until=last)
    figures.update(
        upcoming_activities=card(
            upcoming.total,
            {"starts_from": today, "sort": "starts_at"},
            items=upcoming.rows[:PREVIEW],
        ),
        hours_this_month=card(
            month["entries"],
            {"group_by": "team", "since": first, "until": last},
            minutes=month["minutes"],
            hours=hours(month["minutes"]),
        ),
    )
    return figures
