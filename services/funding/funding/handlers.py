"""Funding use cases and the handling of other services' facts.

Locks are taken in one order everywhere — disbursement, then commitment, then source — so two
requests racing for the same money serialise instead of deadlocking, and the loser finds the
state the winner left (a 409 that says why).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from funding import domain
from funding.domain import Disbursement, FundingSource
from funding.exceptions import (
    DuplicatePaymentReference,
    InsufficientFunds,
    NotYetKnown,
    RuleBroken,
)
from funding.repository import FundingRepository
from kit.actor import Actor
from kit.db import UnitOfWork
from kit.directory import Directory
from kit.paging import PageRequest, page


def _repo(uow: UnitOfWork) -> FundingRepository:
    return FundingRepository(uow.session)  # type: ignore[arg-type]


class Reader:
    """Reads under the actor's scope (who sees which money), with directory lookups remembered."""

    def __init__(self, uow: UnitOfWork, actor: Actor) -> None:
        self.repo = _repo(uow)
        self.directory = Directory(uow)
        own = None
        if actor.role == "federation_staff" and actor.organization_id:
            entry = self.directory.get(actor.organization_id)
            own = entry["path"] if entry else None
        self.scope = domain.FundingScope(actor, own)
        self.actor = actor

    def owner_path(self, source_id: str) -> Callable[[], str | None]:
        def lookup() -> str | None:
            source = self.repo.find_source(source_id)
            entry = self.directory.get(source.owner_id) if source else None
            return entry["path"] if entry else None

        return lookup

    def source(self, source_id: str) -> FundingSource:
        source = self.repo.source(source_id)
        self.scope.ensure_sees_source(
            source, lambda: (self.directory.get(source.owner_id) or {}).get("path")
        )
        return source

    def sources(self, filters: dict[str, Any], request: PageRequest) -> dict[str, Any]:
        if self.actor.role == "contractor":
            return {"items": [], "next_cursor": None}
        within = None if self.scope.sees_everything else (self.scope.federation_path or "-")
        items = self.repo.list_sources(request, within_path=within, **filters)
        return page(items, request, key_of=lambda s: (s.created_at.isoformat(), s.id))

    def disbursement(self, disbursement_id: str) -> Disbursement:
        disbursement = self.repo.disbursement(disbursement_id)
        self.scope.ensure_sees_payment(disbursement, self.owner_path(disbursement.source_id))
        return disbursement

    def disbursements(self, filters: dict[str, Any], request: PageRequest) -> dict[str, Any]:
        within = None
        if self.actor.role == "contractor":
            filters = {**filters, "payee_id": self.actor.organization_id or "-"}
        elif not self.scope.sees_everything:
            within = self.scope.federation_path or "-"
        items = self.repo.list_disbursements(request, within_path=within, **filters)
        return page(items, request, key_of=lambda d: (d.requested_at.isoformat(), d.id))

    def commitment(self, contract_id: str) -> Any:
        commitment = self.repo.commitment(contract_id)
        self.scope.ensure_sees_payment(commitment, self.owner_path(commitment.source_id))
        return commitment


# --- sources ------------------------------------------------------------------------------


def create_source(
    uow: UnitOfWork, data: dict[str, Any], actor: Actor, request_id: str, at: datetime
) -> FundingSource:
    domain.ensure_treasurer(actor)
    owner = Directory(uow).get(data["owner_id"])
    if owner is None or owner.get("kind") != "federation":
        raise RuleBroken(
            "the owner must be a federation known to the registry",
            field="owner_id",
            rule="federation",
        )
    repo = _repo(uow)
    source = FundingSource(
        name=data["name"],
        kind=data["kind"],
        owner_id=data["owner_id"],
        fiscal_year=data["fiscal_year"],
        description=data.get("description"),
        created_by=actor.user_id,
        created_at=at,
    )
    repo.add(source)
    if data["amount"] > 0:
        repo.add(*source.receive(data["amount"], actor, request_id, "initial amount", at))
    return source


def adjust_source(
    uow: UnitOfWork,
    source_id: str,
    data: dict[str, Any],
    actor: Actor,
    request_id: str,
    at: datetime,
) -> FundingSource:
    """A top-up (positive) or a correction (negative): a new journal entry, never an edit."""
    domain.ensure_treasurer(actor)
    repo = _repo(uow)
    source = repo.source(source_id, for_update=True)
    amount, reason = data["amount"], data["reason"]
    if amount > 0:
        entries = source.receive(amount, actor, request_id, reason, at)
    elif amount < 0:
        entries = source.correct(-amount, actor, request_id, reason, at)
    else:
        raise RuleBroken("an adjustment changes the amount", field="amount", rule="not_zero")
    repo.add(*entries)
    return source


# --- disbursements --------------------------------------------------------------------------


def approve(uow: UnitOfWork, disbursement_id: str, actor: Actor, at: datetime) -> Disbursement:
    repo = _repo(uow)
    disbursement = repo.disbursement(disbursement_id, for_update=True)
    commitment = repo.commitment(disbursement.contract_id, for_update=True)
    source = repo.source(disbursement.source_id, for_update=True)
    _, entries = disbursement.approve(source, commitment, actor, at)
    repo.add(*entries)
    return disbursement


def reject(
    uow: UnitOfWork, disbursement_id: str, reason: str | None, actor: Actor, at: datetime
) -> Disbursement:
    disbursement = _repo(uow).disbursement(disbursement_id, for_update=True)
    disbursement.reject(reason, actor, at)
    return disbursement


def pay(
    uow: UnitOfWork, disbursement_id: str, reference: str, actor: Actor, at: datetime
) -> Disbursement:
    repo = _repo(uow)
    disbursement = repo.disbursement(disbursement_id, for_update=True)
    used_by = repo.payment_reference_used(reference.strip())
    if used_by is not None:
        raise DuplicatePaymentReference(reference.strip(), used_by)
    commitment = repo.commitment(disbursement.contract_id, for_update=True)
    source = repo.source(disbursement.source_id, for_update=True)
    repo.add(*disbursement.pay(source, commitment, reference, actor, at))
    return disbursement


# --- reports --------------------------------------------------------------------------------


def journal_page(
    repo: FundingRepository, filters: dict[str, Any], request: PageRequest
) -> dict[str, Any]:
    items = repo.journal(request, **filters)
    return page(items, request, key_of=lambda e: (e.at.isoformat(), e.transaction_id, e.line))


def monthly_report(repo: FundingRepository, filters: dict[str, Any]) -> list[dict[str, Any]]:
    months: dict[str, dict[str, Any]] = {}
    for month, kind, amount in repo.monthly(**filters):
        row = months.setdefault(month, {"month": month})
        row[kind] = int(amount)
    return list(months.values())


# --- facts from projects and the registry -------------------------------------------------


def contract_awarded(uow: UnitOfWork, event: dict[str, Any], at: datetime) -> bool:
    """Commit the contract amount from the project's source — or say why not (False)."""
    repo = _repo(uow)
    contract_id = str(event["contract_id"])
    if repo.find_commitment(contract_id) is not None:
        return True
    facts = {
        "contract_id": contract_id,
        "project_id": str(event["project_id"]),
        "funding_source_id": str(event["funding_source_id"]),
        "amount": event["amount"],
        "occurred_at": at,
    }
    cause = f"event:{event['event_id']}"

    def refuse(shortfall: int, reason: str) -> bool:
        uow.emit("commitment_rejected", **facts, shortfall=shortfall, reason=reason)
        repo.refuse_commitment(contract_id, shortfall=shortfall, reason=reason, cause=cause, at=at)
        return False

    if repo.project_ended(facts["project_id"]):
        return refuse(0, "the project has already ended")
    source = repo.find_source(facts["funding_source_id"], for_update=True)
    if source is None:
        return refuse(event["amount"], "unknown funding source")
    try:
        commitment, entries = domain.commit(
            source,
            contract_id=contract_id,
            project_id=facts["project_id"],
            payee_id=str(event["contractor_id"]),
            amount=event["amount"],
            cause=cause,
            at=at,
        )
    except InsufficientFunds as shortfall:
        return refuse(shortfall.details["shortfall"], "the funding source lacks available money")
    repo.add(commitment, *entries)
    return True


def milestone_accepted(
    uow: UnitOfWork, event: dict[str, Any], threshold: int, at: datetime
) -> bool:
    """Open the disbursement for the milestone's tranche — exactly once per milestone. On a
    contract whose commitment was refused, reject it at once instead (False): no money will
    come to pay it."""
    repo = _repo(uow)
    if repo.disbursement_for_milestone(str(event["milestone_id"])) is not None:
        return True
    commitment = repo.find_commitment(str(event["contract_id"]), for_update=True)
    if commitment is None:
        refusal = repo.commitment_refusal(str(event["contract_id"]))
        if refusal is None:
            # the award has not been applied here yet (another queue): try again shortly
            raise NotYetKnown(f"no commitment yet for contract {event['contract_id']}")
        uow.emit("disbursement_rejected", **domain.unfunded_milestone(event, refusal, at))
        return False
    payee = Directory(uow).get(commitment.payee_id)
    disbursement = domain.request_disbursement(
        commitment,
        milestone_id=str(event["milestone_id"]),
        amount=event["amount"],
        requested_by=str(event["accepted_by"]),
        payee_suspended=bool(payee and payee.get("status") == "suspended"),
        dual_approval_threshold=threshold,
        cause=f"event:{event['event_id']}",
        at=at,
    )
    repo.add(disbursement)
    return True


def project_ended(uow: UnitOfWork, event: dict[str, Any], how: str, at: datetime) -> None:
    """Release what the project's contract will not draw back to the source."""
    repo = _repo(uow)
    project_id = str(event["project_id"])
    repo.mark_project_ended(project_id, how, at)
    for commitment in repo.commitments_of_project(project_id):
        if commitment.status != "active":
            continue
        claimed = sum(d.amount for d in repo.open_disbursements_of(commitment.contract_id))
        source = repo.source(commitment.source_id, for_update=True)
        repo.add(
            *domain.release(
                source, commitment, claimed=claimed, cause=f"event:{event['event_id']}", at=at
            )
        )


def payee_standing(uow: UnitOfWork, event: dict[str, Any], suspended: bool, at: datetime) -> int:
    """The registry suspended (or reinstated) a payee: hold (or release) its open disbursements."""
    changed = 0
    for disbursement in _repo(uow).disbursements_of_payee(str(event["organization_id"])):
        changed += disbursement.payee_standing_changed(
            suspended, event["version"], event.get("reason"), at
        )
    return changed
