"""The project: from draft through publication, award and evaluation to close (or cancel).

Every transition is checked against the state machine in ``PROJECT_ACTIONS``; an action not
allowed from the current status raises ``InvalidTransition`` naming that status. The project
records the events it causes; the unit of work writes them to the outbox.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kit.aggregate import Aggregate
from kit.text import search_key
from language.actor import Actor
from projects.domain.evaluation import assess
from projects.exceptions import InvalidTransition, RuleBroken

if TYPE_CHECKING:
    from projects.domain.contract import Contract

CATEGORIES = (
    "single_mother_family_services",
    "spring_bud_girls_schooling",
    "womens_health_screening",
    "domestic_service_childcare_training",
    "entrepreneurship_training",
    "family_dispute_mediation",
    "legal_aid",
    "family_education",
    "left_behind_children_elderly_women_care",
    "other",
)
MODELS = ("commissioned", "self_run")
PROJECT_STATUSES = ("draft", "published", "awarded", "evaluated", "closed", "cancelled")

#: the statuses each project action may start from
PROJECT_ACTIONS = {
    "edit": ("draft",),
    "publish": ("draft",),
    "apply": ("published",),
    "award": ("published",),
    "award_self_run": ("draft", "published"),
    "cancel": ("draft", "published", "awarded"),
    "evaluate": ("awarded",),
    "close": ("evaluated",),
}
EDITABLE = (
    "title",
    "category",
    "model",
    "funding_source_id",
    "budget",
    "starts_on",
    "ends_on",
    "target_beneficiaries",
    "indicators",
    "description",
)


def check_period(starts_on: date, ends_on: date) -> None:
    if ends_on < starts_on:
        raise RuleBroken(
            "the project ends before it starts",
            field="ends_on",
            rule="after_starts_on",
            starts_on=starts_on.isoformat(),
            ends_on=ends_on.isoformat(),
        )


def check_indicators(indicators: list[dict[str, Any]]) -> None:
    names = [indicator["name"] for indicator in indicators]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise RuleBroken(
            "indicator names must be unique",
            field="indicators",
            rule="unique_names",
            duplicates=duplicates,
        )


def add_indicator_values(actuals: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    merged = dict(actuals)
    for name, value in values.items():
        merged[name] = float(Decimal(str(merged.get(name, 0))) + Decimal(str(value)))
    return merged


def ensure_source_available(
    source_id: str, owner_id: str | None, purchaser_path: str | None
) -> None:
    """A project draws only on a funding source owned by its purchaser or by a federation
    above the purchaser (whose id is then on the purchaser's materialised path); any other
    source — another federation's, or one funding does not know — is refused by name."""
    if owner_id is None or not purchaser_path or f"/{owner_id}/" not in purchaser_path:
        raise RuleBroken(
            "the funding source is not one the purchaser may draw on: it must belong to the"
            " purchasing federation or a federation above it",
            field="funding_source_id",
            rule="source_not_available",
            funding_source_id=str(source_id),
        )


class Project(Aggregate):
    def __init__(
        self,
        *,
        title: str,
        category: str,
        model: str,
        purchaser_id: str,
        funding_source_id: str,
        budget: int,
        starts_on: date,
        ends_on: date,
        target_beneficiaries: int,
        indicators: list[dict[str, Any]],
        description: str | None,
        created_by: str,
        created_at: datetime,
        id: str | None = None,
    ) -> None:
        check_period(starts_on, ends_on)
        check_indicators(indicators)
        self.id = id or str(uuid.uuid4())
        self.title = title
        self.search_title = search_key(title)
        self.category = category
        self.model = model
        self.purchaser_id = purchaser_id
        self.funding_source_id = funding_source_id
        self.budget = budget
        self.starts_on = starts_on
        self.ends_on = ends_on
        self.target_beneficiaries = target_beneficiaries
        self.indicators = indicators
        self.description = description
        self.status = "draft"
        self.contract_id: str | None = None
        self.contractor_id: str | None = None
        self.evaluation: dict[str, Any] | None = None
        # delivery figures, kept current by the events that change them
        self.beneficiaries_served = 0
        self.indicator_actuals: dict[str, Any] = {}
        self.volunteer_minutes = 0
        self.amount_committed = 0
        self.amount_approved = 0
        self.amount_paid = 0
        self.created_by = created_by
        self.created_at = created_at
        self.updated_at = created_at
        self.published_at: datetime | None = None
        self.closed_at: datetime | None = None
        self.cancel_reason: str | None = None
        self.version = 1

    def _require(self, action: str) -> None:
        allowed = PROJECT_ACTIONS[action]
        if self.status not in allowed:
            raise InvalidTransition(
                "project", action, self.status, project_id=self.id, allowed_from=list(allowed)
            )

    def _touch(self, at: datetime) -> None:
        self.version += 1
        self.updated_at = at

    def edit(self, changes: dict[str, Any], at: datetime) -> list[str]:
        self._require("edit")
        unknown = sorted(set(changes) - set(EDITABLE))
        if unknown:
            raise RuleBroken("these fields cannot be edited", field=unknown[0], rule="not_editable")
        check_period(changes.get("starts_on", self.starts_on), changes.get("ends_on", self.ends_on))
        if "indicators" in changes:
            check_indicators(changes["indicators"])
        changed = [field for field, value in changes.items() if getattr(self, field) != value]
        for field in changed:
            setattr(self, field, changes[field])
        if "title" in changed:
            self.search_title = search_key(self.title)
        if changed:
            self._touch(at)
        return changed

    def publish(self, actor: Actor, at: datetime) -> None:
        self._require("publish")
        self.status = "published"
        self.published_at = at
        self._touch(at)
        self.record(
            "project_published",
            project_id=self.id,
            purchaser_id=self.purchaser_id,
            funding_source_id=self.funding_source_id,
            title=self.title,
            category=self.category,
            model=self.model,
            budget=self.budget,
            actor_id=actor.user_id,
            occurred_at=at,
        )

    def cancel(
        self, reason: str | None, actor: Actor, at: datetime, contract: Contract | None
    ) -> None:
        self._require("cancel")
        reason = (reason or "").strip() or None
        if not reason:
            raise RuleBroken(
                "a reason is required to cancel a project", field="reason", rule="required"
            )
        if contract is not None:
            contract.cancel(at)
        self.status = "cancelled"
        self.cancel_reason = reason
        self.closed_at = at
        self._touch(at)
        self.record(
            "project_cancelled",
            project_id=self.id,
            funding_source_id=self.funding_source_id,
            reason=reason,
            actor_id=actor.user_id,
            occurred_at=at,
        )

    def evaluate(self, evaluation: dict[str, Any], actor: Actor, at: datetime) -> dict[str, Any]:
        self._require("evaluate")
        self.evaluation = assess(self, evaluation, actor, at)
        self.status = "evaluated"
        self._touch(at)
        return self.evaluation

    def close(self, actor: Actor, at: datetime, contract: Contract | None) -> None:
        self._require("close")
        if contract is not None and contract.status in ("active", "suspended"):
            contract.complete(at)
        self.status = "closed"
        self.closed_at = at
        self._touch(at)
        self.record(
            "project_closed",
            project_id=self.id,
            funding_source_id=self.funding_source_id,
            reason=None,
            actor_id=actor.user_id,
            occurred_at=at,
        )

    # --- facts reported by other services -----------------------------------------------

    def add_volunteer_minutes(self, minutes: int) -> None:
        self.volunteer_minutes += minutes
