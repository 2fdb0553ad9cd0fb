"""Disbursements: an accepted milestone opens one (exactly once); finance officers approve,
reject and pay it under the maker-checker rules; reads under the actor's scope.

Locks: disbursement, then commitment, then source — in that order, always.
"""

from __future__ import annotations

from typing import Any

from funding.commands import (
    ApproveDisbursement,
    GetDisbursement,
    ListDisbursements,
    MilestoneAccepted,
    MilestoneOverdue,
    PayDisbursement,
    RejectDisbursement,
)
from funding.context import Context
from funding.domain.disbursements import (
    MILESTONE_OVERDUE,
    Disbursement,
    deregistration_hold,
    request_disbursement,
    unfunded_milestone,
)
from funding.domain.workbench import day_start
from funding.exceptions import DuplicatePaymentReference, NotYetKnown
from kit.paging import fetched_page


def milestone_accepted(ctx: Context, fact: MilestoneAccepted) -> bool:
    """Open the disbursement for the milestone's tranche — exactly once per milestone. On a
    contract whose commitment was refused, reject it at once instead (False): no money will
    come to pay it."""
    repo = ctx.repo
    # the contract's disbursements are locked before its commitment (the order of locks)
    still_overdue = lift_overdue(ctx, fact.contract_id, fact.milestone_id)
    if repo.disbursement_for_milestone(fact.milestone_id) is not None:
        return True
    commitment = repo.find_commitment(fact.contract_id, for_update=True)
    if commitment is None:
        refusal = repo.commitment_refusal(fact.contract_id)
        if refusal is None:
            # the award has not been applied here yet (another queue): try again shortly
            raise NotYetKnown(f"no commitment yet for contract {fact.contract_id}")
        rejected = unfunded_milestone(
            contract_id=fact.contract_id,
            milestone_id=fact.milestone_id,
            amount=fact.amount,
            refusal_reason=refusal["reason"],
            at=ctx.clock.now(),
        )
        ctx.uow.emit("disbursement_rejected", **rejected)
        return False
    # the payee's row locked: a deregistration or suspension applied meanwhile (which writes
    # that row first, ``payees``) either is seen here or sees this disbursement
    payee = repo.payee_entry(commitment.payee_id, for_update=True)
    payee_status = payee.get("status") if payee else None
    disbursement = request_disbursement(
        commitment,
        milestone_id=fact.milestone_id,
        amount=fact.amount,
        requested_by=fact.accepted_by,
        payee_suspended=payee_status in ("suspended", "deregistered"),
        hold_reason=(
            deregistration_hold(payee.get("kind"))
            if payee and payee_status == "deregistered"
            else None
        ),
        dual_approval_threshold=ctx.dual_approval_threshold,
        cause=f"event:{fact.event_id}",
        at=ctx.clock.now(),
        owner_id=_owner_of(ctx, commitment.source_id),
        overdue=still_overdue,
    )
    repo.add(disbursement)
    return True


def _owner_of(ctx: Context, source_id: str) -> str | None:
    source = ctx.repo.find_source(source_id)
    return source.owner_id if source is not None else None


def milestone_overdue(ctx: Context, fact: MilestoneOverdue) -> int:
    """projects says a milestone is overdue beyond the grace period: hold the contract's open
    disbursements (pending or approved; held ones gain the reason); disbursements opened while
    it stays overdue are held at once (``milestone_accepted``). How many changed."""
    if ctx.repo.disbursement_for_milestone(fact.milestone_id) is not None:
        return 0  # accepted meanwhile (its event came first on another queue): not overdue
    at = ctx.clock.now()
    ctx.repo.mark_overdue(fact.contract_id, fact.milestone_id, fact.due_on, at)
    return sum(
        d.hold(MILESTONE_OVERDUE, at) for d in ctx.repo.disbursements_of_contract(fact.contract_id)
    )


def lift_overdue(ctx: Context, contract_id: str, milestone_id: str) -> bool:
    """The milestone's report was accepted: it is no longer overdue; when no other milestone
    of the contract is, the overdue holds of its disbursements are lifted (a hold for another
    reason stays). True while the contract still has an overdue milestone."""
    repo = ctx.repo
    cleared = repo.clear_overdue(milestone_id)
    remaining = repo.overdue_count(contract_id)
    if cleared and not remaining:
        at = ctx.clock.now()
        for disbursement in repo.disbursements_of_contract(contract_id):
            disbursement.release(MILESTONE_OVERDUE, at)
    return remaining > 0


def _decidable(ctx: Context, disbursement_id: str) -> Disbursement:
    """The disbursement, locked, if it is paid from the actor's federation's money (another
    federation's is, to its finance officers, not there)."""
    disbursement = ctx.repo.disbursement(disbursement_id, for_update=True)
    ctx.ensure_sees_payment(disbursement)
    return disbursement


def approve_disbursement(ctx: Context, command: ApproveDisbursement) -> Disbursement:
    """One finance officer's approval; the last one needed moves the money to approved."""
    repo = ctx.repo
    disbursement = _decidable(ctx, command.disbursement_id)
    commitment = repo.commitment(disbursement.contract_id, for_update=True)
    source = repo.source(disbursement.source_id, for_update=True)
    _, entries = disbursement.approve(
        source, commitment, ctx.actor, ctx.clock.now(), repo.involved(commitment)
    )
    repo.add(*entries)
    return disbursement


def reject_disbursement(ctx: Context, command: RejectDisbursement) -> Disbursement:
    disbursement = _decidable(ctx, command.disbursement_id)
    disbursement.reject(command.reason, ctx.actor, ctx.clock.now())
    return disbursement


def pay_disbursement(ctx: Context, command: PayDisbursement) -> Disbursement:
    """Record the bank's payment of an approved disbursement (a reference is used once)."""
    repo = ctx.repo
    disbursement = _decidable(ctx, command.disbursement_id)
    reference = command.payment_reference
    used_by = repo.payment_reference_used(reference.strip())
    if used_by is not None:
        raise DuplicatePaymentReference(reference.strip(), used_by)
    commitment = repo.commitment(disbursement.contract_id, for_update=True)
    source = repo.source(disbursement.source_id, for_update=True)
    repo.add(*disbursement.pay(source, commitment, reference, ctx.actor, ctx.clock.now()))
    return disbursement


def get_disbursement(ctx: Context, command: GetDisbursement) -> Disbursement:
    disbursement = ctx.repo.disbursement(command.disbursement_id)
    ctx.ensure_sees_payment(disbursement)
    return disbursement


def list_disbursements(ctx: Context, command: ListDisbursements) -> dict[str, Any]:
    """Oldest first by default (the approval queue is worked from the longest-waiting): a
    contractor's own, staff and finance officers their federation's subtree's sources'."""
    within, payee_id = None, command.payee_id
    if ctx.actor.role == "contractor":
        payee_id = ctx.actor.organization_id or "-"
    else:
        within = ctx.scope.within_path
    fetched = ctx.repo.list_disbursements(
        command.page,
        within_path=within,
        status=command.status,
        contract_id=command.contract_id,
        payee_id=payee_id,
        source_id=command.source_id,
        paid_from=day_start(command.paid_from) if command.paid_from else None,
        paid_before=day_start(command.paid_before) if command.paid_before else None,
    )
    return fetched_page(fetched, command.page)


def disbursement_rows(ctx: Context, command: ListDisbursements) -> dict[str, Any]:
    """The disbursements page (``list_disbursements``) with each one's payee and source named,
    for the approval queue and the payments screen."""
    found = list_disbursements(ctx, command)
    return {**found, "items": ctx.named(found["items"])}
