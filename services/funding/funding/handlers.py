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
    AdjustmentNotFound,
    DuplicatePaymentReference,
    InsufficientFunds,
    NotYetKnown,
    RuleBroken,
    SourceNotFound,
)
from funding.repository import FundingRepository
from kit.actor import Actor
from kit.db import UnitOfWork
from kit.directory import Directory, apply_status
from kit.paging import PageRequest, fetched_page, page


def _repo(uow: UnitOfWork) -> FundingRepository:
    return FundingRepository(uow.session)  # type: ignore[arg-type]


class Reader:
    """Reads under the actor's scope (who sees which money), with directory lookups remembered."""

    def __init__(self, uow: UnitOfWork, actor: Actor) -> None:
        self.repo = _repo(uow)
        self.directory = Directory(uow)
        self.scope = scope_of(self.directory, actor)
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
            return page([], request, total=0)
        within = None if self.scope.sees_everything else (self.scope.federation_path or "-")
        fetched = self.repo.list_sources(request, within_path=within, **filters)
        return fetched_page(fetched, request)

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
        fetched = self.repo.list_disbursements(request, within_path=within, **filters)
        return fetched_page(fetched, request)

    def commitment(self, contract_id: str) -> Any:
        commitment = self.repo.commitment(contract_id)
        self.scope.ensure_sees_payment(commitment, self.owner_path(commitment.source_id))
        return commitment

    def adjustments(self, filters: dict[str, Any], request: PageRequest) -> dict[str, Any]:
        if self.actor.role == "contractor":
            return page([], request, total=0)
        within = None if self.scope.sees_everything else (self.scope.federation_path or "-")
        fetched = self.repo.list_adjustments(request, within_path=within, **filters)
        return fetched_page(fetched, request)

    def disbursement_rows(self, filters: dict[str, Any], request: PageRequest) -> dict[str, Any]:
        """The disbursements page (``disbursements``) with each one's payee and source named,
        for the approval queue and the payments screen."""
        found = self.disbursements(filters, request)
        return {**found, "items": self.named(found["items"])}

    def commitments(self, filters: dict[str, Any], request: PageRequest) -> dict[str, Any]:
        """Per contract: committed, released, disbursed, paid and what remains; a contractor
        its own, staff and finance officers their federation's subtree's sources."""
        within = None
        if self.actor.role == "contractor":
            filters = {**filters, "payee_id": self.actor.organization_id or "-"}
        elif not self.scope.sees_everything:
            within = self.scope.federation_path or "-"
        if filters.get("source_id"):
            self.source(filters["source_id"])  # another federation's source is not there
        items = self.repo.list_commitments(request, within_path=within, **filters)
        found = page(items, request, key_of=lambda c: (c.created_at.isoformat(), c.id))
        return {**found, "items": self.named(found["items"])}

    def named(self, items: list[Any]) -> list[dict[str, Any]]:
        """Each commitment or disbursement beside its payee's and source's names (two
        statements for the whole page)."""
        payees = self.repo.names({item.payee_id for item in items})
        sources = self.repo.source_names({item.source_id for item in items})
        return [
            {
                "item": item,
                "payee_name": payees.get(item.payee_id),
                "source_name": sources.get(item.source_id),
            }
            for item in items
        ]

    def within_path(self) -> str | None:
        """For lists: None (everything) or the actor's subtree ('-' matches nothing)."""
        return None if self.scope.sees_everything else (self.scope.federation_path or "-")


#: roles whose view of money is their federation's subtree
SCOPED_TO_FEDERATION = ("federation_staff", "finance_officer")


def scope_of(directory: Directory, actor: Actor) -> domain.FundingScope:
    own = None
    if actor.role in SCOPED_TO_FEDERATION and actor.organization_id:
        entry = directory.get(actor.organization_id)
        own = entry["path"] if entry else None
    return domain.FundingScope(actor, own)


def _path(directory: Directory, organization_id: str) -> str | None:
    entry = directory.get(organization_id)
    return entry["path"] if entry else None


# --- sources ------------------------------------------------------------------------------


def create_source(
    uow: UnitOfWork,
    data: dict[str, Any],
    actor: Actor,
    request_id: str,
    at: datetime,
    threshold: int,
) -> tuple[FundingSource, domain.SourceAdjustment | None]:
    """A new source. Its initial amount enters the journal as a receipt — at once below
    ``threshold``; at or above it, like a top-up of the same money, it is recorded as a
    pending adjustment that a second finance officer confirms (then the source and the
    adjustment are returned)."""
    domain.ensure_treasurer(actor)
    directory = Directory(uow)
    owner = directory.get(data["owner_id"])
    if owner is None or owner.get("kind") != "federation":
        raise RuleBroken(
            "the owner must be a federation known to the registry",
            field="owner_id",
            rule="federation",
        )
    scope_of(directory, actor).ensure_owns(owner["path"], "owner_id")
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
    pending = None
    if data["amount"] > 0 and domain.needs_confirmation(data["amount"], threshold):
        pending = domain.SourceAdjustment(
            source=source, amount=data["amount"], reason="initial amount", actor=actor, at=at
        )
        repo.add(pending)
    elif data["amount"] > 0:
        repo.add(*source.receive(data["amount"], actor, request_id, "initial amount", at))
    source.record(
        "funding_source_created",
        funding_source_id=source.id,
        owner_id=source.owner_id,
        version=source.version,
        actor_id=actor.user_id,
        occurred_at=at,
    )
    return source, pending


def source_facts(uow: UnitOfWork, source_id: str) -> dict[str, Any] | None:
    """What projects needs to know of a source it has not heard of yet (its owner)."""
    source = _repo(uow).find_source(source_id)
    if source is None:
        return None
    return {"funding_source_id": source.id, "owner_id": source.owner_id, "version": source.version}


def _managed_source(uow: UnitOfWork, source_id: str, actor: Actor) -> FundingSource:
    """The source, locked, if the actor manages it (another federation's is not there)."""
    directory = Directory(uow)
    source = _repo(uow).source(source_id, for_update=True)
    scope_of(directory, actor).ensure_sees_source(source, lambda: _path(directory, source.owner_id))
    return source


def adjust_source(
    uow: UnitOfWork,
    source_id: str,
    data: dict[str, Any],
    actor: Actor,
    request_id: str,
    at: datetime,
    threshold: int,
) -> tuple[FundingSource, domain.SourceAdjustment | None]:
    """A top-up (positive) or a correction (negative): a new journal entry, never an edit.
    At or above ``threshold`` (either way) it is recorded as pending instead, and enters the
    journal once a second finance officer confirms it: then the adjustment is returned too."""
    domain.ensure_treasurer(actor)
    repo = _repo(uow)
    source = _managed_source(uow, source_id, actor)
    amount, reason = data["amount"], data["reason"]
    if domain.needs_confirmation(amount, threshold):
        adjustment = domain.SourceAdjustment(
            source=source, amount=amount, reason=reason, actor=actor, at=at
        )
        repo.add(adjustment)
        return source, adjustment
    repo.add(*domain.adjust(source, amount, actor, request_id, reason, at))
    return source, None


def decide_adjustment(
    uow: UnitOfWork,
    adjustment_id: str,
    confirm: bool,
    reason: str | None,
    actor: Actor,
    at: datetime,
) -> domain.SourceAdjustment:
    """A second finance officer confirms (the journal entry is written now) or refuses."""
    repo = _repo(uow)
    adjustment = repo.adjustment(adjustment_id, for_update=True)
    try:
        source = _managed_source(uow, adjustment.source_id, actor)
    except SourceNotFound:
        raise AdjustmentNotFound(adjustment_id) from None
    if confirm:
        repo.add(*adjustment.confirm(source, actor, at))
    else:
        adjustment.refuse(reason, actor, at)
    return adjustment


# --- disbursements --------------------------------------------------------------------------


def _decidable(uow: UnitOfWork, disbursement_id: str, actor: Actor) -> Disbursement:
    """The disbursement, locked, if it is paid from the actor's federation's money (another
    federation's is, to its finance officers, not there)."""
    repo = _repo(uow)
    directory = Directory(uow)
    disbursement = repo.disbursement(disbursement_id, for_update=True)

    def owner_path() -> str | None:
        source = repo.find_source(disbursement.source_id)
        return _path(directory, source.owner_id) if source else None

    scope_of(directory, actor).ensure_sees_payment(disbursement, owner_path)
    return disbursement


def approve(uow: UnitOfWork, disbursement_id: str, actor: Actor, at: datetime) -> Disbursement:
    repo = _repo(uow)
    disbursement = _decidable(uow, disbursement_id, actor)
    commitment = repo.commitment(disbursement.contract_id, for_update=True)
    source = repo.source(disbursement.source_id, for_update=True)
    _, entries = disbursement.approve(source, commitment, actor, at, repo.involved(commitment))
    repo.add(*entries)
    return disbursement


def reject(
    uow: UnitOfWork, disbursement_id: str, reason: str | None, actor: Actor, at: datetime
) -> Disbursement:
    disbursement = _decidable(uow, disbursement_id, actor)
    disbursement.reject(reason, actor, at)
    return disbursement


def pay(
    uow: UnitOfWork, disbursement_id: str, reference: str, actor: Actor, at: datetime
) -> Disbursement:
    repo = _repo(uow)
    disbursement = _decidable(uow, disbursement_id, actor)
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
    return fetched_page(repo.journal(request, **filters), request)


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
    purchaser_path = _path(Directory(uow), str(event["purchaser_id"]))
    if purchaser_path is None:
        # the registry's word on the purchaser travels on another queue: wait for it
        raise NotYetKnown(f"purchaser {event['purchaser_id']} is not in the directory yet")
    if not domain.source_available_to(source.owner_id, purchaser_path):
        return refuse(
            event["amount"],
            "source_not_available: the source belongs to neither the purchaser nor a"
            " federation above it",
        )
    try:
        commitment, entries = domain.commit(
            source,
            contract_id=contract_id,
            project_id=facts["project_id"],
            payee_id=str(event["contractor_id"]),
            amount=event["amount"],
            cause=cause,
            at=at,
            awarded_by=str(event["actor_id"]) if event.get("actor_id") else None,
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
    # the payee's row locked: a deregistration or suspension applied meanwhile (which writes
    # that row first, ``payee_standing``) either is seen here or sees this disbursement
    payee = repo.payee_entry(commitment.payee_id, for_update=True)
    payee_status = payee.get("status") if payee else None
    disbursement = domain.request_disbursement(
        commitment,
        milestone_id=str(event["milestone_id"]),
        amount=event["amount"],
        requested_by=str(event["accepted_by"]),
        payee_suspended=payee_status in ("suspended", "deregistered"),
        hold_reason=(
            domain.deregistration_hold(payee.get("kind"))
            if payee and payee_status == "deregistered"
            else None
        ),
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
    apply_status(uow, event)  # first: a disbursement opened concurrently sees the new status
    changed = 0
    for disbursement in _repo(uow).disbursements_of_payee(str(event["organization_id"])):
        changed += disbursement.payee_standing_changed(
            suspended, event["version"], event.get("reason"), at
        )
    return changed


def payee_deregistered(uow: UnitOfWork, event: dict[str, Any], at: datetime) -> int:
    """The registry deregistered a payee: its open disbursements are held for good (reason
    ``provider_deregistered``); disbursements opened later are held at once."""
    apply_status(uow, event)
    changed = 0
    for disbursement in _repo(uow).disbursements_of_payee(str(event["organization_id"])):
        changed += disbursement.payee_deregistered(event.get("kind"), event["version"], at)
    return changed


def provider_verified(uow: UnitOfWork, event: dict[str, Any], at: datetime) -> None:
    """Remember who verified a service provider: they never approve a disbursement to it."""
    if event.get("kind") == "service_provider" and event.get("actor_id"):
        _repo(uow).record_verification(str(event["organization_id"]), str(event["actor_id"]), at)
