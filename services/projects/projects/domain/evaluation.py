"""The evaluation (评估) of an awarded project: indicator scores with weights and an overall
score."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from language.actor import Actor
from projects.exceptions import RuleBroken

if TYPE_CHECKING:
    from projects.domain.project import Project


def weighted_mean(scores: list[dict[str, Any]]) -> Decimal:
    total_weight = sum((Decimal(str(s["weight"])) for s in scores), Decimal(0))
    weighted = sum(
        (Decimal(str(s["score"])) * Decimal(str(s["weight"])) for s in scores), Decimal(0)
    )
    return (weighted / total_weight).quantize(Decimal("0.1"), ROUND_HALF_UP)


def assess(
    project: Project, evaluation: dict[str, Any], actor: Actor, at: datetime
) -> dict[str, Any]:
    """An evaluation (评估): indicator scores 0–100 with weights, an overall score (the
    weighted mean unless the evaluator gives one), who evaluated and when."""
    scores = evaluation["scores"]
    if not scores:
        raise RuleBroken("score at least one indicator", field="scores", rule="required")
    known = {indicator["name"] for indicator in project.indicators}
    for index, score in enumerate(scores):
        if known and score["indicator"] not in known:
            raise RuleBroken(
                f"{score['indicator']!r} is not one of the project's indicators",
                field=f"scores[{index}].indicator",
                rule="project_indicator",
                indicators=sorted(known),
            )
    names = [score["indicator"] for score in scores]
    if len(set(names)) != len(names):
        raise RuleBroken("each indicator is scored once", field="scores", rule="unique_indicators")
    evaluated_on = evaluation["evaluated_on"]
    if evaluated_on < project.starts_on:
        raise RuleBroken(
            "the evaluation cannot predate the project",
            field="evaluated_on",
            rule="after_project_start",
        )
    mean = weighted_mean(scores)
    overall = evaluation.get("overall")
    return {
        "scores": [
            {"indicator": s["indicator"], "score": float(s["score"]), "weight": float(s["weight"])}
            for s in scores
        ],
        "weighted_mean": float(mean),
        "overall": float(overall) if overall is not None else float(mean),
        "evaluator": evaluation["evaluator"],
        "evaluated_on": evaluated_on.isoformat(),
        "recorded_by": actor.user_id,
        "recorded_at": at.isoformat(),
    }
