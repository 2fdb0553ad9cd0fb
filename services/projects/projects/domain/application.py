"""A provider's application for a commissioned project, and who may apply at all."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from language.actor import Actor
from projects.domain.project import Project
from projects.exceptions import OutOfScope, ProviderNotEligible, RuleBroken

PROVIDER_GOOD_STANDING = ("verified", "reinstated")


def ensure_provider_eligible(provider_id: str, directory_entry: dict[str, Any] | None) -> None:
    kind = directory_entry.get("kind") if directory_entry else None
    status = directory_entry.get("status") if directory_entry else None
    if kind != "service_provider" or status not in PROVIDER_GOOD_STANDING:
        raise ProviderNotEligible(provider_id, status, kind)


class Application:
    def __init__(
        self,
        *,
        project: Project,
        provider_id: str,
        amount: int,
        proposal: str,
        submitted_by: str,
        submitted_at: datetime,
    ) -> None:
        self.id = str(uuid.uuid4())
        self.project_id = project.id
        self.provider_id = provider_id
        self.amount = amount
        self.proposal = proposal
        self.status = "submitted"
        self.submitted_by = submitted_by
        self.submitted_at = submitted_at


def apply_for(
    project: Project,
    *,
    provider_id: str,
    provider: dict[str, Any] | None,
    amount: int,
    proposal: str,
    actor: Actor,
    at: datetime,
) -> Application:
    """A provider's application. Only verified providers apply, for published commissioned
    projects, within the budget; a contractor applies only for its own organization."""
    if actor.role == "contractor" and actor.organization_id != provider_id:
        raise OutOfScope(
            "a contractor applies on behalf of its own organization",
            field="provider_id",
            provider_id=provider_id,
        )
    project._require("apply")
    if project.model != "commissioned":
        raise RuleBroken(
            "a self-run project has no application round",
            field="project_id",
            rule="commissioned_only",
        )
    ensure_provider_eligible(provider_id, provider)
    if amount > project.budget:
        raise RuleBroken(
            f"the amount ({amount} fen) is above the project's budget ({project.budget} fen)",
            field="amount",
            rule="within_budget",
            budget=project.budget,
        )
    return Application(
        project=project,
        provider_id=provider_id,
        amount=amount,
        proposal=proposal,
        submitted_by=actor.user_id,
        submitted_at=at,
    )
