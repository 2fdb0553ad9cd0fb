"""Projects' figure set of the annual assessment (目标考核) of a federation's child federations,
under the actor's scope (admins; staff of the federation or one above it)."""

from __future__ import annotations

from typing import Any

from language.assessment import ensure_can_assess, ensure_year, year_window
from projects.commands import GetAssessmentFigures
from projects.context import Context
from projects.domain.assessment import child_rows, milestone_days


def assessment_figures(ctx: Context, command: GetAssessmentFigures) -> dict[str, Any]:
    year = ensure_year(command.year)
    federation_id = str(command.federation_id)
    path = ensure_can_assess(ctx.actor, federation_id, ctx.entry(federation_id))
    start, end = year_window(year)
    repo = ctx.assessments
    days = milestone_days(year, ctx.clock.today())
    milestones = repo.milestone_counts(path, *days) if days else {}
    return {
        "federation_id": federation_id,
        "year": year,
        "children": child_rows(
            repo.children(federation_id), repo.project_counts(path, start, end), milestones
        ),
    }
