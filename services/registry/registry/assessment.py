"""The registry's use cases of the annual assessment (目标考核): its figure set (coverage and new
women's organizations per child federation) and the weights a federation gives each indicator,
per year, with every change recorded.

Who: admins, and federation staff of the federation or of one above it
(``language.assessment.ensure_can_assess``); anyone else is refused here, whatever the gateway
let through.
"""

from __future__ import annotations

from typing import Any

from language.assessment import (
    default_weights,
    ensure_can_assess,
    ensure_year,
    merged_weights,
    year_window,
)
from registry.commands import ChangeAssessmentWeights, GetAssessmentFigures, GetAssessmentWeights
from registry.context import Context
from registry.domain.assessment import child_figures, weights_change


def _federation_path(ctx: Context, federation_id: str) -> tuple[Any, str]:
    organization = ctx.organizations.find(federation_id)
    entry = None
    if organization is not None:
        entry = {"kind": organization.kind, "path": organization.path}
    return organization, ensure_can_assess(ctx.actor, federation_id, entry)


def assessment_figures(ctx: Context, command: GetAssessmentFigures) -> dict[str, Any]:
    year = ensure_year(command.year)
    federation, path = _federation_path(ctx, command.federation_id)
    start, end = year_window(year)
    counts = ctx.assessments.counts_by_child(path, start, end)
    children = ctx.assessments.children(federation.id)
    return {
        "federation_id": federation.id,
        "name": federation.name,
        "year": year,
        "children": [
            child_figures(child, counts.get(child["organization_id"], {})) for child in children
        ],
    }


def _current_weights(ctx: Context, federation_id: str, year: int) -> tuple[dict[str, int], str]:
    """The year's weights and where they come from: ``set`` for the year, ``carried`` from
    the latest earlier year that has some, else ``default`` (every indicator equal)."""
    kept = ctx.assessments.weights(federation_id, year)
    if kept is not None:
        return {**default_weights(), **kept["weights"]}, "set"
    earlier = ctx.assessments.latest_weights_before(federation_id, year)
    if earlier is not None:
        return {**default_weights(), **earlier["weights"]}, "carried"
    return default_weights(), "default"


def assessment_weights(ctx: Context, command: GetAssessmentWeights) -> dict[str, Any]:
    year = ensure_year(command.year)
    federation, _ = _federation_path(ctx, command.federation_id)
    weights, source = _current_weights(ctx, federation.id, year)
    kept = ctx.assessments.weights(federation.id, year)
    return {
        "federation_id": federation.id,
        "year": year,
        "weights": weights,
        "source": source,
        "version": kept["version"] if kept else 0,
        "history": ctx.assessments.changes(federation.id, year),
    }


def change_assessment_weights(ctx: Context, command: ChangeAssessmentWeights) -> dict[str, Any]:
    """Apply the change; a change that changes nothing records nothing."""
    year = ensure_year(command.year)
    federation, _ = _federation_path(ctx, command.federation_id)
    kept = ctx.assessments.weights(federation.id, year, for_update=True)
    before, _ = _current_weights(ctx, federation.id, year)
    after = merged_weights(before, command.weights)
    if weights_change(before, after):
        at = ctx.clock.now()
        version = (kept["version"] if kept else 0) + 1
        ctx.assessments.keep_weights(federation.id, year, after, version, ctx.actor.user_id, at)
        reason = (command.reason or "").strip() or None
        ctx.assessments.add_change(
            {
                "federation_id": federation.id,
                "year": year,
                "before": before,
                "after": after,
                "reason": reason,
                "actor_id": ctx.actor.user_id,
                "actor_name": ctx.actor.username,
                "at": at,
            }
        )
    return assessment_weights(ctx, GetAssessmentWeights(federation.id, year))
