"""The funding service's nameko entrypoints: load, call a use case, commit, dump.

It also follows projects' facts (an award commits money; an accepted milestone opens a
disbursement; a project that ends releases the rest) and the registry's (a suspended payee's
disbursements are held until it is reinstated).
"""

from __future__ import annotations

import uuid
from typing import Any

from nameko.dependency_providers import Config
from nameko.web.handlers import http
from prometheus_client import Counter, Gauge

from funding import handlers, schemas
from funding.handlers import Reader
from funding.repository import (
    ADJUSTMENT_ORDER,
    COMMITMENT_ORDER,
    DISBURSEMENT_ORDER,
    JOURNAL_ORDER,
    SOURCE_ORDER,
    FundingRepository,
)
from kit.actor import Actor
from kit.clock import utcnow
from kit.consumer import on_event
from kit.db import UnitOfWork
from kit.dependencies import Database
from kit.directory import DirectoryConsumer
from kit.health import Health, health_response
from kit.metrics import Metrics
from kit.paging import page_request, sorted_page_request
from kit.rpc import rpc

SOURCE = schemas.SourceOut()
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
COMMITMENTS_REJECTED = Counter(
    "jinguo_commitments_rejected_total", "Awards whose money could not be committed"
)
UNFUNDED_MILESTONES = Counter(
    "jinguo_unfunded_milestones_total",
    "Accepted milestones answered with disbursement_rejected: their contract's commitment"
    " was refused",
)


class FundingService(DirectoryConsumer):
    name = "funding"

    db = Database()
    health_report = Health()
    metrics = Metrics()
    config = Config()

    @property
    def dual_approval_threshold(self) -> int:
        return int(self.config.get("DUAL_APPROVAL_THRESHOLD") or DEFAULT_DUAL_APPROVAL_THRESHOLD)

    def _write(self, use_case: Any, *args: Any) -> Any:
        with self.db() as uow:
            result = use_case(uow, *args)
            uow.commit()
        return result

    def _read(self, actor: dict[str, Any], read: Any, dump: Any, *args: Any) -> Any:
        with self.db(readonly=True) as uow:
            return dump(read(Reader(uow, Actor.from_dict(actor)), *args))

    # --- sources ----------------------------------------------------------------------------

    @rpc
    def create_source(self, payload: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        """The source; with an initial amount at or above the threshold, ``pending_adjustment``
        (nothing entered the journal yet: a second finance officer confirms it)."""
        data = SOURCE_CREATE_IN.load(payload)
        source, pending = self._write(
            handlers.create_source,
            data,
            Actor.from_dict(actor),
            f"request:{uuid.uuid4()}",
            utcnow(),
            self.dual_approval_threshold,
        )
        return {
            **SOURCE.dump(source),
            "pending_adjustment": ADJUSTMENT.dump(pending) if pending is not None else None,
        }

    @rpc
    def adjust_source(
        self, source_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        """The source; at or above the threshold with ``pending_adjustment`` (nothing entered
        the journal yet: a second finance officer confirms it)."""
        data = SOURCE_ADJUSTMENT_IN.load(payload)
        source, pending = self._write(
            handlers.adjust_source,
            source_id,
            data,
            Actor.from_dict(actor),
            f"request:{uuid.uuid4()}",
            utcnow(),
            self.dual_approval_threshold,
        )
        return {
            **SOURCE.dump(source),
            "pending_adjustment": ADJUSTMENT.dump(pending) if pending is not None else None,
        }

    @rpc
    def list_adjustments(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        filters = ADJUSTMENT_FILTERS_IN.load(filters or {})
        request = page_request(
            filters.pop("limit", None), filters.pop("cursor", None), ordering=ADJUSTMENT_ORDER
        )
        return self._read(actor, Reader.adjustments, ADJUSTMENT_PAGE.dump, filters, request)

    @rpc
    def confirm_adjustment(self, adjustment_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        return ADJUSTMENT.dump(
            self._write(
                handlers.decide_adjustment,
                adjustment_id,
                True,
                None,
                Actor.from_dict(actor),
                utcnow(),
            )
        )

    @rpc
    def refuse_adjustment(
        self, adjustment_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        reason = REJECT_IN.load(payload or {})["reason"]
        return ADJUSTMENT.dump(
            self._write(
                handlers.decide_adjustment,
                adjustment_id,
                False,
                reason,
                Actor.from_dict(actor),
                utcnow(),
            )
        )

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
        with self.db(readonly=True) as uow:
            return handlers.source_facts(uow, str(source_id))

    @rpc
    def get_source(self, source_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        return self._read(actor, Reader.source, SOURCE.dump, source_id)

    @rpc
    def list_sources(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        filters = SOURCE_FILTERS_IN.load(filters or {})
        request = sorted_page_request(filters, SOURCE_ORDER)
        return self._read(actor, Reader.sources, SOURCE_PAGE.dump, filters, request)

    @rpc
    def journal(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        filters = JOURNAL_FILTERS_IN.load(filters or {})
        request = page_request(
            filters.pop("limit", None), filters.pop("cursor", None), ordering=JOURNAL_ORDER
        )
        return self._read(actor, _journal, JOURNAL_PAGE.dump, filters, request)

    @rpc
    def monthly_report(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        filters = MONTHLY_FILTERS_IN.load(filters or {})
        return self._read(actor, _monthly, lambda rows: MONTHLY.dump({"items": rows}), filters)

    @rpc
    def list_commitments(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        """Per contract: committed, released, disbursed, paid, remaining; payee and source named."""
        filters = COMMITMENT_FILTERS_IN.load(filters or {})
        request = sorted_page_request(filters, COMMITMENT_ORDER)
        return self._read(
            actor, Reader.commitments, _rows(COMMITMENT.dump, remaining=True), filters, request
        )

    @rpc
    def get_commitment(self, contract_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        return self._read(actor, Reader.commitment, COMMITMENT.dump, contract_id)

    # --- disbursements ----------------------------------------------------------------------

    @rpc
    def list_disbursements(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        filters = DISBURSEMENT_FILTERS_IN.load(filters or {})
        request = sorted_page_request(filters, DISBURSEMENT_ORDER)
        return self._read(actor, Reader.disbursements, DISBURSEMENT_PAGE.dump, filters, request)

    @rpc
    def disbursement_rows(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        """``list_disbursements`` with each payee's and source's name (the approval queue)."""
        filters = DISBURSEMENT_FILTERS_IN.load(filters or {})
        request = sorted_page_request(filters, DISBURSEMENT_ORDER)
        return self._read(
            actor, Reader.disbursement_rows, _rows(DISBURSEMENT.dump), filters, request
        )

    @rpc
    def get_disbursement(self, disbursement_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        return self._read(actor, Reader.disbursement, DISBURSEMENT.dump, disbursement_id)

    @rpc
    def approve_disbursement(self, disbursement_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        return DISBURSEMENT.dump(
            self._write(handlers.approve, disbursement_id, Actor.from_dict(actor), utcnow())
        )

    @rpc
    def reject_disbursement(
        self, disbursement_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        reason = REJECT_IN.load(payload or {})["reason"]
        return DISBURSEMENT.dump(
            self._write(handlers.reject, disbursement_id, reason, Actor.from_dict(actor), utcnow())
        )

    @rpc
    def pay_disbursement(
        self, disbursement_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        reference = PAY_IN.load(payload)["payment_reference"]
        return DISBURSEMENT.dump(
            self._write(handlers.pay, disbursement_id, reference, Actor.from_dict(actor), utcnow())
        )

    @rpc
    def health(self) -> dict[str, Any]:
        return self.health_report()

    @http("GET", "/healthz")
    def serve_health(self, request: Any) -> Any:
        """For readiness probes: the database answers, the outbox backlog, the queues consumed."""
        return health_response(self.health_report())

    @http("GET", "/metrics")
    def serve_metrics(self, request: Any) -> Any:
        def refresh() -> None:  # kept at their last value while the database is away
            with self.db(readonly=True) as uow:
                queue = FundingRepository(uow.session).approval_queue_figures()
            PENDING.set(queue["count"])
            PENDING_FEN.set(queue["fen"])
            OLDEST_PENDING_AGE.set(
                (utcnow() - queue["oldest"]).total_seconds() if queue["oldest"] is not None else 0
            )

        return self.metrics(refresh)

    # --- facts from other services ---------------------------------------------------------

    @on_event("projects", "contract_awarded")
    def contract_awarded(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        if not handlers.contract_awarded(uow, event, utcnow()):
            COMMITMENTS_REJECTED.inc()

    @on_event("projects", "milestone_accepted")
    def milestone_accepted(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        if not handlers.milestone_accepted(uow, event, self.dual_approval_threshold, utcnow()):
            UNFUNDED_MILESTONES.inc()

    @on_event("projects", "project_closed")
    def project_closed(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        handlers.project_ended(uow, event, "closed", utcnow())

    @on_event("projects", "project_cancelled")
    def project_cancelled(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        handlers.project_ended(uow, event, "cancelled", utcnow())

    @on_event("registry", "organization_verified")
    def provider_verified(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        handlers.provider_verified(uow, event, utcnow())

    @on_event("registry", "organization_suspended")
    def payee_suspended(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        handlers.payee_standing(uow, event, True, utcnow())

    @on_event("registry", "organization_reinstated")
    def payee_reinstated(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        handlers.payee_standing(uow, event, False, utcnow())

    @on_event("registry", "organization_deregistered")
    def payee_deregistered(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        handlers.payee_deregistered(uow, event, utcnow())


def _rows(dump_one: Any, *, remaining: bool = False) -> Any:
    """Dump a page of ``Reader.named`` rows flat: the object's fields and the two names."""

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


def _journal(reader: Reader, filters: dict[str, Any], request: Any) -> dict[str, Any]:
    _ensure_journal_scope(reader, filters)
    return handlers.journal_page(reader.repo, filters, request)


def _monthly(reader: Reader, filters: dict[str, Any]) -> list[dict[str, Any]]:
    _ensure_journal_scope(reader, filters)
    return handlers.monthly_report(reader.repo, filters)


def _ensure_journal_scope(reader: Reader, filters: dict[str, Any]) -> None:
    """Admins and ops read the whole journal; finance officers the lines of their federation's
    subtree's sources (filtered; another's source is not there); staff those of one of their
    sources at a time; contractors none."""
    if reader.scope.sees_everything:
        return
    if filters.get("source_id"):
        reader.source(filters["source_id"])
        return
    if reader.actor.role == "finance_officer":
        filters["within_path"] = reader.within_path()
        return
    from funding.exceptions import OutOfScope

    raise OutOfScope("read the journal of one of your federation's sources (give source_id)")
