"""Funding's figure set of the annual assessment (目标考核) of a federation's child federations:
money committed and paid in the year from sources each child's subtree owns (whose money it
is, as funding's scope counts money everywhere), under the actor's scope (admins; staff of
the federation or one above it)."""

from __future__ import annotations

from typing import Any

from funding.commands import GetAssessmentFigures
from funding.context import Context
from language.assessment import ensure_can_assess, ensure_year, year_window


def assessment_figures(ctx: Context, command: GetAssessmentFigures) -> dict[str, Any]:
    year = ensure_year(command.year)
    federation_id = str(command.federation_id)
    path = ensure_can_assess(ctx.actor, federation_id, ctx.directory.get(federation_id))
    start, end = year_window(year)
    repo = ctx.assessments
    committed = repo.committed(path, start, end)
    paid = repo.paid(path, start, end)
    return {
        "federation_id": federation_id,
        "year": year,
        "children": [
            {
                "organization_id": child,
                "money_committed": committed.get(child, 0),
                "money_paid": paid.get(child, 0),
            }
            for child in repo.children(federation_id)
        ],
    }
