"""What each projects use case is asked: one frozen dataclass per use case, built by the
entrypoint from the payload its schema loaded — and, for the facts other services publish,
one per kind of fact, built from the event's validated body.

A partial edit carries ``changes`` (the validated fields, as given: absent and null differ).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from kit.paging import PageRequest
from projects.domain.payments import Disbursement

# --- projects -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DraftProject:
    title: str
    category: str
    model: str
    funding_source_id: str
    budget: int
    starts_on: date
    ends_on: date
    #: None: the actor's own federation
    purchaser_id: str | None = None
    target_beneficiaries: int = 0
    indicators: list[dict[str, Any]] = field(default_factory=list)
    description: str | None = None


@dataclass(frozen=True)
class EditProject:
    project_id: str
    changes: Mapping[str, Any]


@dataclass(frozen=True)
class PublishProject:
    project_id: str


@dataclass(frozen=True)
class CancelProject:
    project_id: str
    reason: str | None = None


@dataclass(frozen=True)
class GetProject:
    project_id: str


@dataclass(frozen=True)
class ListProjects:
    page: PageRequest
    status: str | None = None
    category: str | None = None
    purchaser_id: str | None = None
    contractor_id: str | None = None
    q: str | None = None
    #: only projects purchased in this organization's subtree
    within: str | None = None


# --- applications and the award -------------------------------------------------------------


@dataclass(frozen=True)
class SubmitApplication:
    project_id: str
    provider_id: str
    amount: int
    proposal: str


@dataclass(frozen=True)
class ListApplications:
    project_id: str


@dataclass(frozen=True)
class AwardContract:
    project_id: str
    #: the schedule: each ``{title, deliverables, due_on, amount}``
    milestones: list[dict[str, Any]]
    #: commissioned projects: the application awarded
    application_id: str | None = None
    #: self-run projects: the purchasing federation or a partner
    contractor_id: str | None = None
    #: None: the application's amount (commissioned)
    amount: int | None = None


# --- contracts and milestones ---------------------------------------------------------------


@dataclass(frozen=True)
class GetContract:
    contract_id: str


@dataclass(frozen=True)
class ListContracts:
    page: PageRequest
    project_id: str | None = None
    contractor_id: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class ReportMilestone:
    contract_id: str
    milestone_id: str
    summary: str
    beneficiaries_served: int
    #: each ``{name, type}`` with a ``file_id``, a ``sha256``, a ``url`` or several
    evidence: list[dict[str, Any]] = field(default_factory=list)
    indicator_values: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class AcceptMilestone:
    contract_id: str
    milestone_id: str


@dataclass(frozen=True)
class RejectMilestone:
    contract_id: str
    milestone_id: str
    reason: str | None = None


@dataclass(frozen=True)
class MilestoneReports:
    contract_id: str
    milestone_id: str


@dataclass(frozen=True)
class ContractBriefs:
    contract_ids: tuple[str, ...]


# --- evidence files -------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterFile:
    sha256: str
    size: int
    content_type: str
    name: str


@dataclass(frozen=True)
class ReadableFile:
    file_id: str


# --- evaluation, close, reports -------------------------------------------------------------


@dataclass(frozen=True)
class EvaluateProject:
    project_id: str
    #: each ``{indicator, score, weight}``
    scores: list[dict[str, Any]]
    evaluator: str
    evaluated_on: date
    #: None: the weighted mean of the scores
    overall: float | None = None


@dataclass(frozen=True)
class CloseProject:
    project_id: str


@dataclass(frozen=True)
class DeliveryReport:
    project_id: str


@dataclass(frozen=True)
class ContractingProcess:
    project_id: str


# --- facts from other services ----------------------------------------------------------------


@dataclass(frozen=True)
class ContractorStandingChanged:
    """The registry suspended (``suspended``) or reinstated an organization."""

    organization_id: str
    version: int
    suspended: bool


@dataclass(frozen=True)
class ContractorDeregistered:
    organization_id: str
    kind: str
    version: int


@dataclass(frozen=True)
class FundingSourceCreated:
    funding_source_id: str
    owner_id: str
    version: int


@dataclass(frozen=True)
class CommitmentDecided:
    """Funding committed a contract's amount from its source (``committed``), or could not."""

    contract_id: str
    committed: bool
    amount: int
    shortfall: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class DisbursementReported:
    """One of funding's ``disbursement_*`` events about a milestone's money."""

    event_type: str
    contract_id: str
    milestone_id: str
    disbursement: Disbursement


@dataclass(frozen=True)
class ServiceHoursVerified:
    """Volunteers verified service hours (for a project, when ``project_id`` is given)."""

    project_id: str | None
    minutes: int


# --- the workbench ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ListMilestones:
    page: PageRequest
    status: str | None = None
    due_before: date | None = None
    running: bool | None = None
    payment_status: str | None = None
    contract_id: str | None = None


@dataclass(frozen=True)
class ProjectsWorkbench:
    """The actor's figures: a federation's (staff, admin) or a contractor's."""


# --- public disclosure (no login: no actor) ----------------------------------------------------


@dataclass(frozen=True)
class ListAnnouncements:
    page: PageRequest
    q: str | None = None
    category: str | None = None
    model: str | None = None
    status: str | None = None
    purchaser_id: str | None = None


@dataclass(frozen=True)
class GetAnnouncement:
    project_id: str


@dataclass(frozen=True)
class ListAwards:
    page: PageRequest
    q: str | None = None
    category: str | None = None
    purchaser_id: str | None = None
    contractor_id: str | None = None


@dataclass(frozen=True)
class PublicRelease:
    """The OCDS release package of one published project, at ``uri``."""

    project_id: str
    uri: str | None = None


@dataclass(frozen=True)
class PublicReleases:
    """A page of the OCDS feed of every published project, at ``uri``."""

    page: PageRequest
    uri: str | None = None


@dataclass(frozen=True)
class GetAssessmentFigures:
    """Projects' figure set of a federation's annual assessment: per child federation."""

    federation_id: str
    year: int


# --- the daily checks ----------------------------------------------------------------------


@dataclass(frozen=True)
class RunChecks:
    """The time-driven checks as of a moment (the schedule's now, or a test's or ops' time)."""

    as_of: datetime
    grace_days: int = 30
