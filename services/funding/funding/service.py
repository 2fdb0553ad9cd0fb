"""The funding service's nameko entrypoints: load the payload, build the command, run the use
case (``kit.usecase``), dump the answer.

It also follows projects' facts (an award commits money; an accepted milestone opens a
disbursement; a project that ends releases the rest) and the registry's (a suspended payee's
disbursements are held until it is reinstated).
"""

from __future__ import annotations

from typing import Any

from nameko.dependency_providers import Config
from prometheus_client import Counter, Gauge

from funding import schemas
from funding.commands import (
    AdjustSource,
    ApproveDisbursement,
    ConfirmAdjustment,
    ContractAwarded,
    CreateSource,
    FundingWorkbench,
    GetAssessmentFigures,
    GetCommitment,
    GetDisbursement,
    GetSource,
    ListAdjustments,
    ListCommitments,
    ListDisbursements,
    ListSources,
    MilestoneAccepted,
    MilestoneOverdue,
    MonthlyReport,
    PayDisbursement,
    PayeeStatusChanged,
    ProjectEnded,
    ProviderVerified,
    ReadJournal,
    RefuseAdjustment,
    RejectDisbursement,
    SourceFacts,
)
from funding.context import Context, database_context
from funding.handlers import (
    adjustments,
    commitments,
    disbursements,
    journal,
    payees,
    sources,
    workbench,
)
from funding.handlers import assessment as assessment_handlers
from funding.handlers.sources import SourceChange
from funding.repository import (
    ADJUSTMENT_ORDER,
    COMMITMENT_ORDER,
    DISBURSEMENT_ORDER,
    JOURNAL_ORDER,
    SOURCE_ORDER,
    FundingRepository,
)
from kit.anchoring import AuditKeeper, anchors_from
from kit.audit import AuditDesk
from kit.clock import utcnow
from kit.consumer import on_event
from kit.db import UnitOfWork
from kit.dependencies import Database
from kit.operations import Operations
from kit.paging import page_request, sorted_page_request
from kit.rpc import rpc
from kit.usecase import UseCases
from language.actor import SYSTEM, Actor
from language.directory import DirectoryConsumer

WORKBENCH = schemas.FundingWorkbenchOut()
WORKBENCH_QUERY_IN = schemas.WorkbenchQuery()
SOURCE = schemas.SourceOut()
ASSESSMENT = schemas.AssessmentFundingOut()
SOURCE_PAGE = schemas.SourcePage()
COMMITMENT = schemas.CommitmentOut()
DISBURSEMENT = schemas.DisbursementOut()
DISBURSEMENT_PAGE = schemas.DisbursementPage()
JOURNAL_PAGE = schemas.JournalPage()
COMMITMENT_FILTERS_IN = schemas.CommitmentFilters()
MONTHLY = schemas.MonthlyReport()
SOURCE_CREATE_IN = schemas.SourceCreate()
SOURCE_ADJUSTMENT_IN = schemas.SourceAdjustment()
ADJUSTMENT = schemas.AdjustmentOut()
ADJUSTMENT_PAGE = schemas.AdjustmentPage()
ADJUSTMENT_FILTERS_IN = schemas.AdjustmentFilters()
SOURCE_FILTERS_IN = schemas.SourceFilters()
DISBURSEMENT_FILTERS_IN = schemas.DisbursementFilters()
JOURNAL_FILTERS_IN = schemas.JournalFilters()
MONTHLY_FILTERS_IN = schemas.MonthlyFilters()
REJECT_IN = schemas.RejectRequest()
PAY_IN = schemas.PayRequest()

DEFAULT_DUAL_APPROVAL_THRESHOLD = 10_000_000  # fen: 100,000 yuan

PENDING = Gauge("jinguo_disbursements_pending", "Disbursements waiting for approval")
PENDING_FEN = Gauge("jinguo_disbursements_pending_fen", "Money waiting for approval, in fen")
OLDEST_PENDING_AGE = Gauge(
    "jinguo_disbursement_oldest_pending_age_seconds",
    "How long the oldest disbursement has waited for approval (0 when none waits)",
)
OVERDUE_HOLDS = Gauge(
    "jinguo_disbursements_held_overdue",
    "Disbursements held because a milestone of their contract is overdue",
)
OVERDUE_HOLDS_FEN = Gauge(
    "jinguo_disbursements_held_overdue_fen",
    "Money held because a milestone of its contract is overdue, in fen",
)
COMMITMENTS_REJECTED = Counter(
    "jinguo_commitments_rejected_total", "Awards whose money could not be committed"
)
UNFUNDED_MILESTONES = Counter(
    "jinguo_unfunded_milestones_total",
    "Accepted milestones answered with disbursement_rejected: their contract's commitment"
    " was refused",
)


class FundingService(DirectoryConsumer, UseCases[Context], Operations, AuditDesk):
    name = "funding"

    db = Database()
    #: anchors this log's head in the others' and prunes it (``kit.anchoring``)
    audit_keeper = AuditKeeper()
    # the heads of the logs this service hears, written into its own
    registry_audit_anchor = anchors_from("registry")
    projects_audit_anchor = anchors_from("projects")
    system_actor = SYSTEM.to_dict()
    config = Config()

    @property
    def dual_approval_threshold(self) -> int:
        return int(self.config.get("DUAL_APPROVAL_THRESHOLD") or DEFAULT_DUAL_APPROVAL_THRESHOLD)

    def context(self, uow: Any, actor: dict[str, Any]) -> Context:
        return database_context(
            uow,
            Actor.from_dict(actor),
            dual_approval_threshold=self.dual_approval_threshold,
        )

    def refresh_metrics(self, uow: Any) -> None:
        """The approval queue: how many wait, how much money, how long the oldest has waited."""
        repository = FundingRepository(uow.session)
        queue = repository.approval_queue_figures()
        held = repository.overdue_hold_figures()
        OVERDUE_HOLDS.set(held["count"])
        OVERDUE_HOLDS_FEN.set(held["fen"])
        PENDING.set(queue["count"])
        PENDING_FEN.set(queue["fen"])
        OLDEST_PENDING_AGE.set(
            (utcnow() - queue["oldest"]).total_seconds() if queue["oldest"] is not None else 0
        )

    # --- sources ----------------------------------------------------------------------------

    @rpc
    def create_source(self, payload: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        """The source; with an initial amount at or above the threshold, ``pending_adjustment``
        (nothing entered the journal yet: a second finance officer confirms it)."""
        command = CreateSource(**SOURCE_CREATE_IN.load(payload))
        return _adjusted(self.execute(actor, sources.create_source, command))

    @rpc
    def adjust_source(
        self, source_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        """The source; at or above the threshold with ``pending_adjustment`` (nothing entered
        the journal yet: a second finance officer confirms it)."""
        command = AdjustSource(source_id=str(source_id), **SOURCE_ADJUSTMENT_IN.load(payload))
        return _adjusted(self.execute(actor, sources.adjust_source, command))

    @rpc
    def list_adjustments(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        filters = ADJUSTMENT_FILTERS_IN.load(filters or {})
        request = page_request(
            filters.pop("limit", None), filters.pop("cursor", None), ordering=ADJUSTMENT_ORDER
        )
        command = ListAdjustments(page=request, **filters)
        return self.query(actor, adjustments.list_adjustments, command, ADJUSTMENT_PAGE.dump)

    @rpc
    def confirm_adjustment(self, adjustment_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        command = ConfirmAdjustment(adjustment_id=str(adjustment_id))
        return ADJUSTMENT.dump(self.execute(actor, adjustments.confirm_adjustment, command))

    @rpc
    def refuse_adjustment(
        self, adjustment_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        reason = REJECT_IN.load(payload or {})["reason"]
        command = RefuseAdjustment(adjustment_id=str(adjustment_id), reason=reason)
        return ADJUSTMENT.dump(self.execute(actor, adjustments.refuse_adjustment, command))

    @rpc
    def rules(self, actor: dict[str, Any]) -> dict[str, Any]:
        """The money rules people work under: from which amount (fen) a top-up, a correction or
        an initial amount waits for a second finance officer, and a contract's tranches need
        two approvers."""
        return {"dual_approval_threshold": self.dual_approval_threshold}

    @rpc
    def source_facts(self, source_id: str) -> dict[str, Any] | None:
        """For the projects service, when it has not yet heard of a source a request names:
        its owner (``funding_source_created`` carries the same). None if there is none."""
        command = SourceFacts(source_id=str(source_id))
        return self.query(self.system_actor, sources.source_facts, command, _as_is)

    @rpc
    def get_source(self, source_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        command = GetSource(source_id=str(source_id))
        return self.query(actor, sources.get_source, command, SOURCE.dump)

    @rpc
    def list_sources(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        filters = SOURCE_FILTERS_IN.load(filters or {})
        command = ListSources(page=sorted_page_request(filters, SOURCE_ORDER), **filters)
        return self.query(actor, sources.list_sources, command, SOURCE_PAGE.dump)

    @rpc
    def journal(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        filters = JOURNAL_FILTERS_IN.load(filters or {})
        request = page_request(
            filters.pop("limit", None), filters.pop("cursor", None), ordering=JOURNAL_ORDER
        )
        command = ReadJournal(page=request, **filters)
        return self.query(actor, journal.read_journal, command, JOURNAL_PAGE.dump)

    @rpc
    def monthly_report(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        command = MonthlyReport(**MONTHLY_FILTERS_IN.load(filters or {}))
        return self.query(
            actor, journal.monthly_report, command, lambda rows: MONTHLY.dump({"items": rows})
        )

    @rpc
    def list_commitments(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        """Per contract: committed, released, disbursed, paid, remaining; payee and source named."""
        filters = COMMITMENT_FILTERS_IN.load(filters or {})
        command = ListCommitments(page=sorted_page_request(filters, COMMITMENT_ORDER), **filters)
        dump = _rows(COMMITMENT.dump, remaining=True)
        return self.query(actor, commitments.list_commitments, command, dump)

    @rpc
    def get_commitment(self, contract_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        command = GetCommitment(contract_id=str(contract_id))
        return self.query(actor, commitments.get_commitment, command, COMMITMENT.dump)

    # --- disbursements ----------------------------------------------------------------------

    @rpc
    def list_disbursements(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        command = _list_disbursements(filters)
        return self.query(actor, disbursements.list_disbursements, command, DISBURSEMENT_PAGE.dump)

    @rpc
    def workbench(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        command = FundingWorkbench(**WORKBENCH_QUERY_IN.load(filters or {}))
        return self.query(actor, workbench.funding_workbench, command, WORKBENCH.dump)

    @rpc
    def disbursement_rows(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        """``list_disbursements`` with each payee's and source's name (the approval queue)."""
        command = _list_disbursements(filters)
        dump = _rows(DISBURSEMENT.dump)
        return self.query(actor, disbursements.disbursement_rows, command, dump)

    @rpc
    def get_disbursement(self, disbursement_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        command = GetDisbursement(disbursement_id=str(disbursement_id))
        return self.query(actor, disbursements.get_disbursement, command, DISBURSEMENT.dump)

    @rpc
    def approve_disbursement(self, disbursement_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        command = ApproveDisbursement(disbursement_id=str(disbursement_id))
        return DISBURSEMENT.dump(self.execute(actor, disbursements.approve_disbursement, command))

    @rpc
    def reject_disbursement(
        self, disbursement_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        reason = REJECT_IN.load(payload or {})["reason"]
        command = RejectDisbursement(disbursement_id=str(disbursement_id), reason=reason)
        return DISBURSEMENT.dump(self.execute(actor, disbursements.reject_disbursement, command))

    @rpc
    def pay_disbursement(
        self, disbursement_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        reference = PAY_IN.load(payload)["payment_reference"]
        command = PayDisbursement(disbursement_id=str(disbursement_id), payment_reference=reference)
        return DISBURSEMENT.dump(self.execute(actor, disbursements.pay_disbursement, command))

    # --- facts from other services ---------------------------------------------------------

    @on_event("projects", "contract_awarded")
    def contract_awarded(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        fact = ContractAwarded.from_event(event)
        if not self.react(uow, commitments.contract_awarded, fact):
            COMMITMENTS_REJECTED.inc()

    @on_event("projects", "milestone_accepted")
    def milestone_accepted(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        fact = MilestoneAccepted.from_event(event)
        if not self.react(uow, disbursements.milestone_accepted, fact):
            UNFUNDED_MILESTONES.inc()

    @on_event("projects", "milestone_overdue")
    def milestone_overdue(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        self.react(uow, disbursements.milestone_overdue, MilestoneOverdue.from_event(event))

    @on_event("projects", "project_closed")
    def project_closed(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        self.react(uow, commitments.project_ended, ProjectEnded.from_event(event, "closed"))

    @on_event("projects", "project_cancelled")
    def project_cancelled(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        self.react(uow, commitments.project_ended, ProjectEnded.from_event(event, "cancelled"))

    @on_event("registry", "organization_verified")
    def provider_verified(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        self.react(uow, payees.provider_verified, ProviderVerified.from_event(event))

    @on_event("registry", "organization_suspended")
    def payee_suspended(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        self.react(uow, payees.payee_suspended, PayeeStatusChanged.from_event(event))

    @on_event("registry", "organization_reinstated")
    def payee_reinstated(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        self.react(uow, payees.payee_reinstated, PayeeStatusChanged.from_event(event))

    @on_event("registry", "organization_deregistered")
    def payee_deregistered(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        self.react(uow, payees.payee_deregistered, PayeeStatusChanged.from_event(event))

    # --- the annual assessment (目标考核) --------------------------------------------------------

    @rpc
    def assessment_figures(
        self, federation_id: str, year: int, actor: dict[str, Any]
    ) -> dict[str, Any]:
        command = GetAssessmentFigures(federation_id, year)
        return self.query(actor, assessment_handlers.assessment_figures, command, ASSESSMENT.dump)


def _as_is(found: Any) -> Any:
    return found


def _adjusted(change: SourceChange) -> dict[str, Any]:
    """A source beside the adjustment that waits for a second finance officer (or None)."""
    source, pending = change
    return {
        **SOURCE.dump(source),
        "pending_adjustment": ADJUSTMENT.dump(pending) if pending is not None else None,
    }


def _list_disbursements(filters: dict[str, Any]) -> ListDisbursements:
    loaded = DISBURSEMENT_FILTERS_IN.load(filters or {})
    return ListDisbursements(page=sorted_page_request(loaded, DISBURSEMENT_ORDER), **loaded)


def _rows(dump_one: Any, *, remaining: bool = False) -> Any:
    """Dump a page of ``Context.named`` rows flat: the object's fields and the two names."""

    def dump(found: dict[str, Any]) -> dict[str, Any]:
        items = []
        for row in found["items"]:
            item = dump_one(row["item"])
            if remaining:
                item["remaining"] = row["item"].outstanding
            items.append(
                {**item, "payee_name": row["payee_name"], "source_name": row["source_name"]}
            )
        return {**found, "items": items}

    return dump
