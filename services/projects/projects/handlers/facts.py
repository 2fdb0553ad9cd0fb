"""Facts other services published, applied to projects' state under the service's own actor:
the registry's about contractors, funding's about sources and money, volunteers' about hours.

Each is idempotent and tolerates order: a stale fact (an older version, an earlier moment)
changes nothing, and a fact about a contract or project this service does not hold is
ignored. Each says whether it changed anything.
"""

from __future__ import annotations

from projects.commands import (
    CommitmentDecided,
    ContractorDeregistered,
    ContractorStandingChanged,
    DisbursementReported,
    FundingSourceCreated,
    ServiceHoursVerified,
)
from projects.context import Context
from projects.domain.contract import Contract
from projects.domain.payments import commitment_decided, payment_progressed
from projects.exceptions import ContractNotFound, ProjectNotFound

#: the contracts a contractor's standing still changes
LIVE = ("active", "suspended")


def contractor_standing_changed(ctx: Context, fact: ContractorStandingChanged) -> int:
    """The registry suspended (or reinstated) an organization: its active contracts stop
    taking reports and acceptances (or start again). Returns how many contracts changed."""
    at = ctx.clock.now()
    contracts = ctx.repo.contracts_of(fact.organization_id, LIVE)
    return sum(
        contract.contractor_standing_changed(fact.suspended, fact.version, at)
        for contract in contracts
    )


def contractor_deregistered(ctx: Context, fact: ContractorDeregistered) -> int:
    """The registry deregistered an organization: its live contracts end (``terminated``).
    Returns how many contracts changed."""
    at = ctx.clock.now()
    contracts = ctx.repo.contracts_of(fact.organization_id, LIVE)
    return sum(
        contract.contractor_deregistered(fact.kind, fact.version, at) for contract in contracts
    )


def funding_source_created(ctx: Context, fact: FundingSourceCreated) -> None:
    """Funding created a source: keep whose it is."""
    ctx.sources.remember(fact.funding_source_id, fact.owner_id, fact.version, ctx.clock.now())


def _locked_contract(ctx: Context, contract_id: str) -> Contract | None:
    """The contract, row-locked before its milestones are read: two money facts about one
    contract applied at once would otherwise each start from the milestones as they were and
    the later commit would undo the earlier one's figures. Lock order everywhere: contract,
    then project."""
    try:
        return ctx.repo.contract(contract_id, for_update=True)
    except ContractNotFound:
        return None


def commitment(ctx: Context, fact: CommitmentDecided) -> bool:
    contract = _locked_contract(ctx, fact.contract_id)
    if contract is None:
        return False
    commitment_decided(
        contract,
        ctx.repo.project(contract.project_id, for_update=True),
        fact.committed,
        amount=fact.amount,
        shortfall=fact.shortfall,
        reason=fact.reason,
    )
    return True


def payment(ctx: Context, fact: DisbursementReported) -> bool:
    contract = _locked_contract(ctx, fact.contract_id)
    if contract is None:
        return False
    milestone = contract.milestone(fact.milestone_id)
    if milestone is None:
        return False
    project = ctx.repo.project(contract.project_id, for_update=True)
    return payment_progressed(contract, milestone, project, fact.event_type, fact.disbursement)


def volunteer_hours(ctx: Context, fact: ServiceHoursVerified) -> bool:
    if not fact.project_id:
        return False
    try:
        project = ctx.repo.project(fact.project_id, for_update=True)
    except ProjectNotFound:
        return False
    project.add_volunteer_minutes(fact.minutes)
    return True
