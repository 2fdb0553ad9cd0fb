"""What the registry says of a payee: a suspension holds its open disbursements and a
reinstatement releases them, a deregistration holds them for good; the person who verified a
service provider never approves a disbursement to it.

The directory copy's row is written first: a disbursement opened concurrently
(``disbursements.milestone_accepted`` locks that row) either sees the new status or is seen here.
"""

from __future__ import annotations

from funding.commands import PayeeStatusChanged, ProviderVerified
from funding.context import Context


def _record_status(ctx: Context, fact: PayeeStatusChanged) -> None:
    ctx.directory.record_status(fact.organization_id, fact.kind, fact.status, fact.version)


def _payee_standing(ctx: Context, fact: PayeeStatusChanged, *, suspended: bool) -> int:
    _record_status(ctx, fact)
    changed = 0
    at = ctx.clock.now()
    for disbursement in ctx.repo.disbursements_of_payee(fact.organization_id):
        changed += disbursement.payee_standing_changed(suspended, fact.version, fact.reason, at)
    return changed


def payee_suspended(ctx: Context, fact: PayeeStatusChanged) -> int:
    """Hold the payee's open disbursements; how many changed."""
    return _payee_standing(ctx, fact, suspended=True)


def payee_reinstated(ctx: Context, fact: PayeeStatusChanged) -> int:
    """Release what a suspension held (not what a deregistration held); how many changed."""
    return _payee_standing(ctx, fact, suspended=False)


def payee_deregistered(ctx: Context, fact: PayeeStatusChanged) -> int:
    """The payee's open disbursements are held for good (reason ``provider_deregistered``);
    disbursements opened later are held at once."""
    _record_status(ctx, fact)
    changed = 0
    at = ctx.clock.now()
    for disbursement in ctx.repo.disbursements_of_payee(fact.organization_id):
        changed += disbursement.payee_deregistered(fact.kind, fact.version, at)
    return changed


def provider_verified(ctx: Context, fact: ProviderVerified) -> None:
    """Remember who verified a service provider: they never approve a disbursement to it."""
    if fact.kind == "service_provider" and fact.actor_id:
        ctx.repo.record_verification(fact.organization_id, fact.actor_id, ctx.clock.now())
