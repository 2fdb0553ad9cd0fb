"""Projects rules: a project from draft to close, its applications, its contract and milestones.

Plain Python: no framework, no I/O. Every transition is checked against a state machine and
an action not allowed from the current state raises ``InvalidTransition`` naming that state.
Entities record the events they cause; the unit of work writes them to the outbox.

Money is integer fen. Dates are ``datetime.date``; moments are aware UTC ``datetime``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from kit.actor import Actor
from kit.aggregate import Aggregate
from kit.clock import local_date
from kit.text import search_key
from projects.exceptions import (
    InvalidTransition,
    OutOfScope,
    ProviderNotEligible,
    RuleBroken,
    SelfAcceptance,
)

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
CONTRACT_STATUSES = ("active", "suspended", "completed", "cancelled", "terminated")
MILESTONE_STATUSES = ("pending", "reported", "accepted", "rejected")
#: what funding's events say about a milestone's money, in the order they happen
PAYMENT_STATUSES = ("none", "requested", "held", "approved", "rejected", "paid")
COMMITMENT_STATUSES = ("pending", "committed", "rejected")
PROVIDER_GOOD_STANDING = ("verified", "reinstated")

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

MANAGERS = ("admin", "federation_staff")
#: roles whose members belong to a federation and read what its subtree purchases: drafts,
#: contracts and milestone reports (finance pays them); neither role manages by this alone
LINE_READERS = ("federation_staff", "finance_officer")
#: why a contract ended early, besides completion and cancellation
PROVIDER_DEREGISTERED = "provider_deregistered"


# --- scope: who may see and change what -------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What an actor may touch, resolved against the directory (the copy of the registry).

    ``federation_path`` is the materialised path of the actor's own federation (staff and
    finance officers belong to one).

    Who reads what (deny by default: a role not named here reads published projects only):

    - published projects (and their delivery report and OCDS export): everybody signed in;
    - drafts, contracts and milestone reports: admin; staff and finance officers of the
      purchaser or a federation above it; a contractor its own contracts and their reports;
    - team leaders and ops: none of those (their work is volunteers and operations);
    - tenderers of a tender not yet awarded: admin and the staff who manage the project.
    """

    actor: Actor
    federation_path: str | None = None

    def covers(self, purchaser_path: str | None) -> bool:
        """Whether the actor manages projects whose purchaser has ``purchaser_path``."""
        if self.actor.is_admin:
            return True
        if self.actor.role != "federation_staff" or not self.federation_path:
            return False
        return purchaser_path is not None and purchaser_path.startswith(self.federation_path)

    def oversees(self, purchaser_path: str | None) -> bool:
        """Whether the actor reads the unpublished side of projects whose purchaser has
        ``purchaser_path``: admin, and staff or finance of that federation or one above."""
        if self.actor.is_admin:
            return True
        if self.actor.role not in LINE_READERS or not self.federation_path:
            return False
        return purchaser_path is not None and purchaser_path.startswith(self.federation_path)

    def ensure_manages(self, project: Project, purchaser_path: str | None) -> None:
        if self.actor.role not in MANAGERS:
            raise OutOfScope(f"a {self.actor.role} cannot manage projects", role=self.actor.role)
        if not self.covers(purchaser_path):
            raise OutOfScope(
                "the project belongs to a federation outside yours",
                project_id=project.id,
                purchaser_id=project.purchaser_id,
            )

    def can_read(self, project: Project, purchaser_path: Callable[[], str | None]) -> bool:
        """Anybody reads what was published; admin, and staff and finance of the purchaser's
        line, read its drafts too. ``purchaser_path`` is asked only if needed."""
        if self.actor.is_admin or readable_by_everyone(project.published_at):
            return True
        return self.oversees(purchaser_path())

    def reads_contract(self, contract: Contract, purchaser_path: Callable[[], str | None]) -> bool:
        """A contract (its milestones, payments and reports with their evidence): admin, the
        purchaser's line, and the contractor whose contract it is."""
        if self.actor.is_admin:
            return True
        if self.actor.role == "contractor":
            return contract.contractor_id == self.actor.organization_id
        return self.oversees(purchaser_path())

    def sees_tenderers(self, project: Project, purchaser_path: Callable[[], str | None]) -> bool:
        """Who applied is on the public record once the contract is awarded; before that only
        the staff who manage the project (and admin) know it — bidders must not learn each
        other."""
        return project.contract_id is not None or self.covers(purchaser_path())

    def ensure_may_report(self, contract: Contract, purchaser_path: str | None) -> None:
        """A contract is reported on by its contractor; a self-run contract awarded to the
        purchasing federation itself, by the staff who manage the project (the acceptance is
        then another person's: ``Contract.accept``)."""
        if contract.delivered_by_purchaser:
            if self.actor.role in MANAGERS and self.covers(purchaser_path):
                return
            raise OutOfScope(
                "the purchasing federation's staff report on a contract it runs itself",
                role=self.actor.role,
                contract_id=contract.id,
            )
        if self.actor.role != "contractor":
            raise OutOfScope("only the contractor reports on its milestones", role=self.actor.role)


def readable_by_everyone(published_at: datetime | None) -> bool:
    """Once published, a project is readable by everybody signed in (and stays so: cancelled
    or closed, it remains on the public record) — which is why the gateway may cache it."""
    return published_at is not None


def ensure_provider_eligible(provider_id: str, directory_entry: dict[str, Any] | None) -> None:
    kind = directory_entry.get("kind") if directory_entry else None
    status = directory_entry.get("status") if directory_entry else None
    if kind != "service_provider" or status not in PROVIDER_GOOD_STANDING:
        raise ProviderNotEligible(provider_id, status, kind)


# --- validation helpers -------------------------------------------------------------------


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


# --- the project ----------------------------------------------------------------------------


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


# --- applications ---------------------------------------------------------------------------


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


# --- the contract and its milestones -------------------------------------------------------


class Milestone:
    def __init__(
        self,
        *,
        contract_id: str,
        seq: int,
        title: str,
        deliverables: str,
        due_on: date,
        amount: int,
    ) -> None:
        self.id = str(uuid.uuid4())
        self.contract_id = contract_id
        self.seq = seq
        self.title = title
        self.deliverables = deliverables
        self.due_on = due_on
        self.amount = amount
        self.status = "pending"
        self.reported_at: datetime | None = None
        self.accepted_at: datetime | None = None
        self.accepted_by: str | None = None
        self.accepted_on_time: bool | None = None
        self.payment_status = "none"
        self.payment_updated_at: datetime | None = None
        self.disbursement_id: str | None = None
        self.paid_amount = 0
        self.paid_at: datetime | None = None
        self.payment_reference: str | None = None


class MilestoneReport:
    """A contractor's report on a milestone, and the decision on it. Never edited after the
    decision; a rejected milestone gets a new report."""

    def __init__(
        self,
        *,
        milestone: Milestone,
        summary: str,
        beneficiaries_served: int,
        evidence: list[dict[str, Any]],
        indicator_values: dict[str, Any],
        reported_by: str,
        reported_at: datetime,
    ) -> None:
        self.id = str(uuid.uuid4())
        self.milestone_id = milestone.id
        self.contract_id = milestone.contract_id
        self.summary = summary
        self.beneficiaries_served = beneficiaries_served
        self.evidence = evidence
        self.indicator_values = indicator_values
        self.reported_by = reported_by
        self.reported_at = reported_at
        self.decision = "pending"
        self.decided_by: str | None = None
        self.decided_at: datetime | None = None
        self.reason: str | None = None


class Contract(Aggregate):
    def __init__(
        self,
        *,
        project: Project,
        contractor_id: str,
        application_id: str | None,
        amount: int,
        awarded_by: str,
        awarded_at: datetime,
    ) -> None:
        self.id = str(uuid.uuid4())
        self.project_id = project.id
        self.purchaser_id = project.purchaser_id
        self.funding_source_id = project.funding_source_id
        self.contractor_id = contractor_id
        self.application_id = application_id
        self.amount = amount
        self.status = "active"
        self.contractor_status_version = 0
        self.termination_reason: str | None = None
        self.commitment_status = "pending"
        self.commitment_shortfall: int | None = None
        self.commitment_reason: str | None = None
        self.awarded_by = awarded_by
        self.awarded_at = awarded_at
        self.updated_at = awarded_at
        self.milestones: list[Milestone] = []

    def milestone(self, milestone_id: str) -> Milestone | None:
        return next((m for m in self.milestones if m.id == str(milestone_id)), None)

    @property
    def delivered_by_purchaser(self) -> bool:
        """A self-run contract awarded to the purchasing federation itself: its own staff
        deliver and report, and the federation is the payee."""
        return self.contractor_id == self.purchaser_id

    @staticmethod
    def _ensure_not_own_report(report: MilestoneReport, actor: Actor, action: str) -> None:
        if report.reported_by == actor.user_id:
            raise SelfAcceptance(report.milestone_id, action)

    def _require_active(self, action: str, milestone: Milestone) -> None:
        if self.status != "active":
            raise InvalidTransition(
                "contract",
                action,
                self.status,
                contract_id=self.id,
                milestone_id=milestone.id,
                allowed_from=["active"],
            )

    def report(
        self,
        milestone: Milestone,
        *,
        summary: str,
        beneficiaries_served: int,
        evidence: list[dict[str, Any]],
        indicator_values: dict[str, Any],
        actor: Actor,
        at: datetime,
    ) -> MilestoneReport:
        self._require_active("report on a milestone of", milestone)
        if milestone.status not in ("pending", "rejected"):
            raise InvalidTransition(
                "milestone",
                "report",
                milestone.status,
                milestone_id=milestone.id,
                allowed_from=["pending", "rejected"],
            )
        report = MilestoneReport(
            milestone=milestone,
            summary=summary,
            beneficiaries_served=beneficiaries_served,
            evidence=evidence,
            indicator_values=indicator_values,
            reported_by=actor.user_id,
            reported_at=at,
        )
        milestone.status = "reported"
        milestone.reported_at = at
        self.updated_at = at
        self.record(
            "milestone_reported",
            contract_id=self.id,
            milestone_id=milestone.id,
            project_id=self.project_id,
            report_id=report.id,
            beneficiaries_served=beneficiaries_served,
            actor_id=actor.user_id,
            occurred_at=at,
        )
        return report

    def accept(
        self,
        milestone: Milestone,
        report: MilestoneReport,
        project: Project,
        actor: Actor,
        at: datetime,
    ) -> None:
        self._require_active("accept a milestone of", milestone)
        if milestone.status != "reported":
            raise InvalidTransition(
                "milestone",
                "accept",
                milestone.status,
                milestone_id=milestone.id,
                allowed_from=["reported"],
            )
        self._ensure_not_own_report(report, actor, "accept")
        milestone.status = "accepted"
        milestone.accepted_at = at
        milestone.accepted_by = actor.user_id
        assert milestone.reported_at is not None
        milestone.accepted_on_time = local_date(milestone.reported_at) <= milestone.due_on
        report.decision = "accepted"
        report.decided_by = actor.user_id
        report.decided_at = at
        project.beneficiaries_served += report.beneficiaries_served
        project.indicator_actuals = add_indicator_values(
            project.indicator_actuals, report.indicator_values
        )
        self.updated_at = at
        self.record(
            "milestone_accepted",
            contract_id=self.id,
            milestone_id=milestone.id,
            project_id=self.project_id,
            amount=milestone.amount,
            payee_id=self.contractor_id,
            funding_source_id=self.funding_source_id,
            accepted_by=actor.user_id,
            actor_id=actor.user_id,
            occurred_at=at,
        )

    def reject(
        self,
        milestone: Milestone,
        report: MilestoneReport,
        reason: str | None,
        actor: Actor,
        at: datetime,
    ) -> None:
        reason = (reason or "").strip() or None
        if milestone.status != "reported":
            raise InvalidTransition(
                "milestone",
                "reject",
                milestone.status,
                milestone_id=milestone.id,
                allowed_from=["reported"],
            )
        if not reason:
            raise RuleBroken(
                "a reason is required to reject a report", field="reason", rule="required"
            )
        self._ensure_not_own_report(report, actor, "reject")
        milestone.status = "rejected"
        report.decision = "rejected"
        report.decided_by = actor.user_id
        report.decided_at = at
        report.reason = reason
        self.updated_at = at
        self.record(
            "milestone_rejected",
            contract_id=self.id,
            milestone_id=milestone.id,
            project_id=self.project_id,
            reason=reason,
            rejected_by=actor.user_id,
            actor_id=actor.user_id,
            occurred_at=at,
        )

    def cancel(self, at: datetime) -> None:
        accepted = [m.id for m in self.milestones if m.status == "accepted"]
        if accepted:
            raise InvalidTransition(
                "contract",
                "cancel",
                "partly delivered",
                contract_id=self.id,
                accepted_milestones=accepted,
            )
        if self.status != "terminated":  # it ended earlier, for its own reason
            self.status = "cancelled"
        self.updated_at = at

    def complete(self, at: datetime) -> None:
        self.status = "completed"
        self.updated_at = at

    # --- facts from other services -------------------------------------------------------

    def contractor_standing_changed(self, suspended: bool, version: int, at: datetime) -> bool:
        """The registry suspended or reinstated the contractor (newer versions win)."""
        if version <= self.contractor_status_version:
            return False
        self.contractor_status_version = version
        if self.status == "terminated":
            return False
        if suspended and self.status == "active":
            self.status = "suspended"
        elif not suspended and self.status == "suspended":
            self.status = "active"
        else:
            return False
        self.updated_at = at
        return True

    def contractor_deregistered(self, kind: str, version: int, at: datetime) -> bool:
        """The registry deregistered the contractor (final): what suspension pauses ends — no
        more reports or acceptances, ever. Accepted milestones stay accepted (funding holds
        their unpaid money). A stale event (older version) changes nothing."""
        if version <= self.contractor_status_version:
            return False
        self.contractor_status_version = version
        if self.status not in ("active", "suspended"):
            return False
        self.status = "terminated"
        self.termination_reason = deregistration_reason(kind)
        self.updated_at = at
        return True


def deregistration_reason(kind: str) -> str:
    """``provider_deregistered`` for a service provider (a federation running its own
    project: ``federation_deregistered``)."""
    return PROVIDER_DEREGISTERED if kind == "service_provider" else f"{kind}_deregistered"


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
        project._require("award")
        if application is None:
            raise RuleBroken(
                "a commissioned project is awarded to one of its applications",
                field="application_id",
                rule="required",
            )
        ensure_provider_eligible(application.provider_id, contractor)
        contractor_id = application.provider_id
        amount = application.amount if amount is None else amount
    else:
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
    contract.record(
        "contract_awarded",
        contract_id=contract.id,
        project_id=project.id,
        contractor_id=contractor_id,
        purchaser_id=project.purchaser_id,
        funding_source_id=project.funding_source_id,
        amount=amount,
        milestones=[
            {"milestone_id": m.id, "title": m.title, "due_on": m.due_on, "amount": m.amount}
            for m in contract.milestones
        ],
        actor_id=actor.user_id,
        occurred_at=at,
    )
    return contract


# --- money, as funding reports it -------------------------------------------------------

#: funding's disbursement events and the payment status each one means
PAYMENT_EVENTS = {
    "disbursement_requested": "requested",
    "disbursement_held": "held",
    "disbursement_approved": "approved",
    "disbursement_rejected": "rejected",
    "disbursement_paid": "paid",
    "disbursement_released": "requested",  # or approved: the event says which
}


def payment_progressed(
    contract: Contract,
    milestone: Milestone,
    project: Project,
    event_type: str,
    event: dict[str, Any],
) -> bool:
    """Apply a disbursement event to the milestone's payment state — the newest fact wins, as
    events of different types travel on different queues and may arrive out of order — then
    derive the project's disbursed and paid figures from its milestones."""
    status = PAYMENT_EVENTS[event_type]
    if event_type == "disbursement_released":
        status = "approved" if event.get("status") == "approved" else "requested"
    occurred_at = event["occurred_at"]
    if status == "paid":
        # paid is final: it sets the payment whenever it arrives
        milestone.disbursement_id = str(event["disbursement_id"])
        milestone.paid_amount = event["amount"]
        milestone.paid_at = occurred_at
        milestone.payment_reference = event.get("payment_reference")
    newer = milestone.payment_updated_at is None or occurred_at > milestone.payment_updated_at
    if newer and milestone.payment_status != "paid":
        # no disbursement_id: funding opened none, the contract's commitment was refused
        disbursement_id = event.get("disbursement_id")
        milestone.disbursement_id = None if disbursement_id is None else str(disbursement_id)
        milestone.payment_status = status
        milestone.payment_updated_at = occurred_at
    project.amount_approved = sum(
        m.amount for m in contract.milestones if m.payment_status in ("approved", "paid")
    )
    project.amount_paid = sum(m.paid_amount for m in contract.milestones)
    return newer


def commitment_decided(
    contract: Contract, project: Project, committed: bool, event: dict[str, Any]
) -> None:
    """Funding committed the contract amount from the source, or could not."""
    contract.commitment_status = "committed" if committed else "rejected"
    contract.commitment_shortfall = None if committed else event.get("shortfall")
    contract.commitment_reason = None if committed else event.get("reason")
    project.amount_committed = event["amount"] if committed else 0


# --- evaluation and delivery ---------------------------------------------------------------


def weighted_mean(scores: list[dict[str, Any]]) -> Decimal:
    total_weight = sum(Decimal(str(s["weight"])) for s in scores)
    weighted = sum(Decimal(str(s["score"])) * Decimal(str(s["weight"])) for s in scores)
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


def add_indicator_values(actuals: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    merged = dict(actuals)
    for name, value in values.items():
        merged[name] = float(Decimal(str(merged.get(name, 0))) + Decimal(str(value)))
    return merged


def delivery_report(project: Project, contract: Contract | None, today: date) -> dict[str, Any]:
    """Targets against actuals: what the project delivered."""
    milestones = contract.milestones if contract else []
    accepted = [m for m in milestones if m.status == "accepted"]
    overdue = [m for m in milestones if m.status != "accepted" and m.due_on < today]
    scores = {s["indicator"]: s["score"] for s in (project.evaluation or {}).get("scores", [])}
    return {
        "project_id": project.id,
        "status": project.status,
        "beneficiaries": {
            "target": project.target_beneficiaries,
            "served": project.beneficiaries_served,
        },
        "indicators": [
            {
                "name": indicator["name"],
                "unit": indicator.get("unit"),
                "target": indicator["target"],
                "actual": project.indicator_actuals.get(indicator["name"], 0),
                "score": scores.get(indicator["name"]),
            }
            for indicator in project.indicators
        ],
        "volunteer_hours": round(project.volunteer_minutes / 60, 2),
        "money": {
            "budget": project.budget,
            "contracted": contract.amount if contract and contract.status != "cancelled" else 0,
            "committed": project.amount_committed,
            "disbursed": project.amount_approved,
            "paid": project.amount_paid,
        },
        "milestones": {
            "total": len(milestones),
            "accepted": len(accepted),
            "on_time": sum(1 for m in accepted if m.accepted_on_time),
            "late": sum(1 for m in accepted if m.accepted_on_time is False),
            "overdue": len(overdue),
        },
        "evaluation": project.evaluation,
    }


def contract_brief(
    contract: Contract, project: Project, reports: dict[str, list[MilestoneReport]]
) -> dict[str, Any]:
    """What finance reads beside a contract's money: its project, its contractor and, per
    milestone, the latest report (summary, people served, evidence) and how it was decided."""

    def latest(milestone_id: str) -> dict[str, Any] | None:
        found = reports.get(milestone_id) or []
        if not found:
            return None
        report = found[-1]
        return {
            "id": report.id,
            "summary": report.summary,
            "beneficiaries_served": report.beneficiaries_served,
            "evidence": list(report.evidence or []),
            "reported_at": report.reported_at,
            "decision": report.decision,
            "decided_by": report.decided_by,
        }

    return {
        "contract_id": contract.id,
        "project_id": project.id,
        "project_title": project.title,
        "contractor_id": contract.contractor_id,
        "amount": contract.amount,
        "status": contract.status,
        "milestones": [
            {
                "id": m.id,
                "seq": m.seq,
                "title": m.title,
                "amount": m.amount,
                "status": m.status,
                "report": latest(m.id),
            }
            for m in sorted(contract.milestones, key=lambda m: m.seq)
        ],
    }
