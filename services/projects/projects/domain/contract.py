"""The contract and its milestones: reports, acceptance and rejection (never by the one who
reported), and the contract's life as the registry's facts about its contractor change it."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from kit.aggregate import Aggregate
from kit.clock import local_date
from language.actor import Actor
from projects.domain.project import Project, add_indicator_values
from projects.exceptions import InvalidTransition, RuleBroken, SelfAcceptance

CONTRACT_STATUSES = ("active", "suspended", "completed", "cancelled", "terminated")
MILESTONE_STATUSES = ("pending", "reported", "accepted", "rejected")
#: why a contract ended early, besides completion and cancellation
PROVIDER_DEREGISTERED = "provider_deregistered"


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
            contractor_id=self.contractor_id,
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
