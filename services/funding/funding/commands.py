"""What each funding use case is asked: one frozen dataclass per use case.

Requests are built from their schema's loaded payload (``CreateSource(**data)``); lists carry
their filters as fields and the page asked for. Facts from other services are built from the
event's body (``ContractAwarded.from_event(event)``): the handlers never read a dict by key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from kit.paging import PageRequest

# --- sources and adjustments ----------------------------------------------------------------


@dataclass(frozen=True)
class CreateSource:
    name: str
    kind: str
    owner_id: str
    fiscal_year: int
    amount: int
    description: str | None = None


@dataclass(frozen=True)
class AdjustSource:
    """A top-up (positive ``amount``) or a correction (negative)."""

    source_id: str
    amount: int
    reason: str


@dataclass(frozen=True)
class ConfirmAdjustment:
    adjustment_id: str


@dataclass(frozen=True)
class RefuseAdjustment:
    adjustment_id: str
    reason: str | None = None


@dataclass(frozen=True)
class ListAdjustments:
    page: PageRequest
    status: str | None = None
    source_id: str | None = None


@dataclass(frozen=True)
class GetSource:
    source_id: str


@dataclass(frozen=True)
class ListSources:
    page: PageRequest
    owner_id: str | None = None
    fiscal_year: int | None = None
    kind: str | None = None
    #: fen: only sources with less available than this
    available_below: int | None = None


@dataclass(frozen=True)
class SourceFacts:
    """What the projects service asks of a source it has not heard of yet."""

    source_id: str


# --- the journal and its reports --------------------------------------------------------------


@dataclass(frozen=True)
class ReadJournal:
    page: PageRequest
    source_id: str | None = None
    contract_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class MonthlyReport:
    source_id: str | None = None
    fiscal_year: int | None = None


# --- commitments ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GetCommitment:
    contract_id: str


@dataclass(frozen=True)
class ListCommitments:
    page: PageRequest
    source_id: str | None = None


# --- disbursements ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GetDisbursement:
    disbursement_id: str


@dataclass(frozen=True)
class ListDisbursements:
    """The disbursements list, and the approval queue's rows (the same filters)."""

    page: PageRequest
    status: str | None = None
    contract_id: str | None = None
    payee_id: str | None = None
    source_id: str | None = None
    #: paid on or after this day, and before that one (China calendar)
    paid_from: date | None = None
    paid_before: date | None = None


@dataclass(frozen=True)
class ApproveDisbursement:
    disbursement_id: str


@dataclass(frozen=True)
class RejectDisbursement:
    disbursement_id: str
    reason: str | None = None


@dataclass(frozen=True)
class PayDisbursement:
    disbursement_id: str
    payment_reference: str


# --- facts from projects ----------------------------------------------------------------------


@dataclass(frozen=True)
class ContractAwarded:
    event_id: str
    contract_id: str
    project_id: str
    funding_source_id: str
    purchaser_id: str
    contractor_id: str
    amount: int
    actor_id: str | None = None

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> ContractAwarded:
        return cls(
            event_id=str(event["event_id"]),
            contract_id=str(event["contract_id"]),
            project_id=str(event["project_id"]),
            funding_source_id=str(event["funding_source_id"]),
            purchaser_id=str(event["purchaser_id"]),
            contractor_id=str(event["contractor_id"]),
            amount=event["amount"],
            actor_id=str(event["actor_id"]) if event.get("actor_id") else None,
        )


@dataclass(frozen=True)
class MilestoneAccepted:
    event_id: str
    contract_id: str
    milestone_id: str
    amount: int
    accepted_by: str

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> MilestoneAccepted:
        return cls(
            event_id=str(event["event_id"]),
            contract_id=str(event["contract_id"]),
            milestone_id=str(event["milestone_id"]),
            amount=event["amount"],
            accepted_by=str(event["accepted_by"]),
        )


@dataclass(frozen=True)
class MilestoneOverdue:
    """projects' ``milestone_overdue``: past its due date beyond the grace period, no
    accepted report; the contract's open disbursements are held until it is accepted."""

    contract_id: str
    milestone_id: str
    due_on: date

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> MilestoneOverdue:
        return cls(
            contract_id=str(event["contract_id"]),
            milestone_id=str(event["milestone_id"]),
            due_on=event["due_on"],
        )


@dataclass(frozen=True)
class ProjectEnded:
    """``project_closed`` (``how="closed"``) or ``project_cancelled`` (``"cancelled"``)."""

    event_id: str
    project_id: str
    how: str

    @classmethod
    def from_event(cls, event: dict[str, Any], how: str) -> ProjectEnded:
        return cls(event_id=str(event["event_id"]), project_id=str(event["project_id"]), how=how)


# --- facts from the registry ------------------------------------------------------------------


@dataclass(frozen=True)
class PayeeStatusChanged:
    """The registry suspended, reinstated or deregistered an organization (a payee, maybe)."""

    organization_id: str
    kind: str | None
    status: str
    version: int
    reason: str | None = None

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> PayeeStatusChanged:
        return cls(
            organization_id=str(event["organization_id"]),
            kind=event.get("kind"),
            status=event["status"],
            version=event["version"],
            reason=event.get("reason"),
        )


@dataclass(frozen=True)
class ProviderVerified:
    organization_id: str
    kind: str | None
    actor_id: str | None

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> ProviderVerified:
        return cls(
            organization_id=str(event["organization_id"]),
            kind=event.get("kind"),
            actor_id=str(event["actor_id"]) if event.get("actor_id") else None,
        )


@dataclass(frozen=True)
class FundingWorkbench:
    """The actor's money figures; ``low_below`` (fen) is where a source runs low."""

    low_below: int


@dataclass(frozen=True)
class GetAssessmentFigures:
    """Funding's figure set of a federation's annual assessment: per child federation."""

    federation_id: str
    year: int
