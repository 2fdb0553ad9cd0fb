"""Commitments: an award commits its contract's money from the project's source (or is refused,
and says why); a project that ends gives back what its contract will not draw; reads."""

from __future__ import annotations

from typing import Any

from funding.commands import ContractAwarded, GetCommitment, ListCommitments, ProjectEnded
from funding.context import Context
from funding.domain.commitments import Commitment, commit, release
from funding.domain.sources import source_available_to
from funding.exceptions import InsufficientFunds, NotYetKnown
from kit.paging import fetched_page


def contract_awarded(ctx: Context, fact: ContractAwarded) -> bool:
    """Commit the contract amount from the project's source — or say why not (False)."""
    if ctx.repo.find_commitment(fact.contract_id) is not None:
        return True
    if ctx.repo.project_ended(fact.project_id):
        return _refuse(ctx, fact, 0, "the project has already ended")
    source = ctx.repo.find_source(fact.funding_source_id, for_update=True)
    if source is None:
        return _refuse(ctx, fact, fact.amount, "unknown funding source")
    purchaser_path = ctx.path_of(fact.purchaser_id)
    if purchaser_path is None:
        # the registry's word on the purchaser travels on another queue: wait for it
        raise NotYetKnown(f"purchaser {fact.purchaser_id} is not in the directory yet")
    if not source_available_to(source.owner_id, purchaser_path):
        return _refuse(
            ctx,
            fact,
            fact.amount,
            "source_not_available: the source belongs to neither the purchaser nor a"
            " federation above it",
        )
    try:
        commitment, entries = commit(
            source,
            contract_id=fact.contract_id,
            project_id=fact.project_id,
            payee_id=fact.contractor_id,
            amount=fact.amount,
            cause=f"event:{fact.event_id}",
            at=ctx.clock.now(),
            awarded_by=fact.actor_id,
        )
    except InsufficientFunds as shortfall:
        return _refuse(
            ctx, fact, shortfall.details["shortfall"], "the funding source lacks available money"
        )
    ctx.repo.add(commitment, *entries)
    return True


def _refuse(ctx: Context, fact: ContractAwarded, shortfall: int, reason: str) -> bool:
    """``commitment_rejected``, and the refusal remembered (a milestone accepted later on the
    contract is answered with it)."""
    at = ctx.clock.now()
    ctx.uow.emit(
        "commitment_rejected",
        contract_id=fact.contract_id,
        project_id=fact.project_id,
        funding_source_id=fact.funding_source_id,
        amount=fact.amount,
        occurred_at=at,
        shortfall=shortfall,
        reason=reason,
    )
    ctx.repo.refuse_commitment(
        fact.contract_id, shortfall=shortfall, reason=reason, cause=f"event:{fact.event_id}", at=at
    )
    return False


def project_ended(ctx: Context, fact: ProjectEnded) -> None:
    """Release what the project's contract will not draw back to the source (the commitment
    locked before its source)."""
    at = ctx.clock.now()
    ctx.repo.mark_project_ended(fact.project_id, fact.how, at)
    for commitment in ctx.repo.commitments_of_project(fact.project_id):
        if commitment.status != "active":
            continue
        claimed = sum(d.amount for d in ctx.repo.open_disbursements_of(commitment.contract_id))
        source = ctx.repo.source(commitment.source_id, for_update=True)
        ctx.repo.add(
            *release(source, commitment, claimed=claimed, cause=f"event:{fact.event_id}", at=at)
        )


def get_commitment(ctx: Context, command: GetCommitment) -> Commitment:
    commitment = ctx.repo.commitment(command.contract_id)
    ctx.ensure_sees_payment(commitment)
    return commitment


def list_commitments(ctx: Context, command: ListCommitments) -> dict[str, Any]:
    """Per contract: committed, released, disbursed, paid and what remains, beside its payee's
    and source's names; a contractor its own, staff and finance officers their federation's
    subtree's sources."""
    within, payee_id = None, None
    if ctx.actor.role == "contractor":
        payee_id = ctx.actor.organization_id or "-"
    else:
        within = ctx.scope.within_path
    if command.source_id:
        ctx.visible_source(command.source_id)  # another federation's source is not there
    fetched = ctx.repo.list_commitments(
        command.page, within_path=within, source_id=command.source_id, payee_id=payee_id
    )
    found = fetched_page(fetched, command.page)
    return {**found, "items": ctx.named(found["items"])}
