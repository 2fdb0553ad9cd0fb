"""The award: a project's contract given to one application (commissioned) or directly
(self-run), with a milestone schedule whose tranches add up to the contract amount."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from language.actor import Actor
from projects.domain.application import Application, ensure_provider_eligible
from projects.domain.contract import Contract, Milestone
from projects.domain.project import Project
from projects.exceptions import RuleBroken


def plan_milestones(
    project: Project, amount: int, milestones: list[dict[str, Any]], contract_id: str
) -> list[Milestone]:
    """The milestone schedule of an award: tranches add up exactly to the contract amount,
    which may not exceed the budget; every due date lies within the project period."""
    if amount > project.budget:
        raise RuleBroken(
            f"the contract amount ({amount} fen) exceeds the budget ({project.budget} fen)",
            field="amount",
            rule="within_budget",
            amount=amount,
            budget=project.budget,
        )
    if not milestones:
        raise RuleBroken(
            "a contract needs at least one milestone", field="milestones", rule="required"
        )
    for index, milestone in enumerate(milestones):
        due_on = milestone["due_on"]
        if not project.starts_on <= due_on <= project.ends_on:
            raise RuleBroken(
                f"milestone {index + 1} is due {due_on.isoformat()}, outside the project period "
                f"{project.starts_on.isoformat()}–{project.ends_on.isoformat()}",
                field=f"milestones[{index}].due_on",
                rule="within_project_period",
                starts_on=project.starts_on.isoformat(),
                ends_on=project.ends_on.isoformat(),
            )
    total = sum(milestone["amount"] for milestone in milestones)
    if total != amount:
        raise RuleBroken(
            f"the tranches add up to {total} fen, not the contract amount of {amount} fen",
            field="milestones",
            rule="tranches_add_up",
            tranches_total=total,
            contract_amount=amount,
            difference=total - amount,
        )
    ordered = sorted(enumerate(milestones), key=lambda item: (item[1]["due_on"], item[0]))
    return [
        Milestone(
            contract_id=contract_id,
            seq=seq,
            title=milestone["title"],
            deliverables=milestone.get("deliverables") or "",
            due_on=milestone["due_on"],
            amount=milestone["amount"],
        )
        for seq, (_, milestone) in enumerate(ordered, start=1)
    ]


def award(
    project: Project,
    *,
    application: Application | None,
    contractor_id: str,
    contractor: dict[str, Any] | None,
    amount: int | None,
    milestones: list[dict[str, Any]],
    applications: list[Application],
    actor: Actor,
    at: datetime,
) -> Contract:
    """Award the project's contract: to one application (commissioned), or directly to the
    purchasing federation or a named partner (self-run)."""
    if project.model == "commissioned":
        contractor_id, amount = _commissioned_terms(project, application, contractor, amount)
    else:
        amount = _self_run_terms(project, application, contractor_id, contractor, amount)
    contract = Contract(
        project=project,
        contractor_id=contractor_id,
        application_id=application.id if application else None,
        amount=amount,
        awarded_by=actor.user_id,
        awarded_at=at,
    )
    contract.milestones = plan_milestones(project, amount, milestones, contract.id)
    for other in applications:
        other.status = (
            "awarded" if application is not None and other.id == application.id else "not_awarded"
        )
    project.status = "awarded"
    project.contract_id = contract.id
    project.contractor_id = contractor_id
    project._touch(at)
    _record_award(contract, project, actor, at)
    return contract


def _commissioned_terms(
    project: Project,
    application: Application | None,
    contractor: dict[str, Any] | None,
    amount: int | None,
) -> tuple[str, int]:
    """A commissioned project goes to one of its applications, whose provider must still be
    eligible: the contractor is the applicant, the amount the one applied for unless given."""
    project._require("award")
    if application is None:
        raise RuleBroken(
            "a commissioned project is awarded to one of its applications",
            field="application_id",
            rule="required",
        )
    ensure_provider_eligible(application.provider_id, contractor)
    return application.provider_id, application.amount if amount is None else amount


def _self_run_terms(
    project: Project,
    application: Application | None,
    contractor_id: str,
    contractor: dict[str, Any] | None,
    amount: int | None,
) -> int:
    """A self-run project has no application round: it goes to the purchasing federation
    itself or to an eligible partner, for an amount the award names."""
    project._require("award_self_run")
    if application is not None:
        raise RuleBroken(
            "a self-run project is awarded without an application round",
            field="application_id",
            rule="self_run_has_no_applications",
        )
    if contractor_id != project.purchaser_id:
        ensure_provider_eligible(contractor_id, contractor)
    if amount is None:
        raise RuleBroken("give the contract amount", field="amount", rule="required")
    return amount


def _record_award(contract: Contract, project: Project, actor: Actor, at: datetime) -> None:
    contract.record(
        "contract_awarded",
        contract_id=contract.id,
        project_id=project.id,
        contractor_id=contract.contractor_id,
        purchaser_id=project.purchaser_id,
        funding_source_id=project.funding_source_id,
        amount=contract.amount,
        milestones=[
            {"milestone_id": m.id, "title": m.title, "due_on": m.due_on, "amount": m.amount}
            for m in contract.milestones
        ],
        actor_id=actor.user_id,
        occurred_at=at,
    )
