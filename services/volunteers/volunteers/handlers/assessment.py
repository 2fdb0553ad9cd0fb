"""Volunteers' figure set of the annual assessment (目标考核) of a federation's child
federations, under the actor's scope (admins; staff of the federation or one above it): the
volunteers registered for each child's subtree, the verified hours and the activities held by
teams its subtree hosts, in the year (China time)."""

from __future__ import annotations

from typing import Any

from language.assessment import ensure_can_assess, ensure_year, year_window
from volunteers.commands import GetAssessmentFigures
from volunteers.context import Context


def assessment_figures(ctx: Context, command: GetAssessmentFigures) -> dict[str, Any]:
    year = ensure_year(command.year)
    federation_id = str(command.federation_id)
    path = ensure_can_assess(ctx.actor, federation_id, ctx.entry(federation_id))
    start, end = year_window(year)
    repo = ctx.assessments
    registered = repo.volunteers_registered(path, start, end)
    minutes = repo.verified_minutes(path, start, end)
    held = repo.activities_held(path, start, end, ctx.clock.now())
    return {
        "federation_id": federation_id,
        "year": year,
        "children": [
            {
                "organization_id": child,
                "volunteers_registered": registered.get(child, 0),
                "verified_minutes": minutes.get(child, 0),
                "verified_hours": round(minutes.get(child, 0) / 60, 2),
                "activities_held": held.get(child, 0),
            }
            for child in repo.children(federation_id)
        ],
    }
