"""Funding sources: created and adjusted by the treasurers of their federation, read under the
actor's scope."""

from __future__ import annotations

import uuid
from typing import Any

from funding.commands import AdjustSource, CreateSource, GetSource, ListSources, SourceFacts
from funding.context import Context
from funding.domain.adjustments import SourceAdjustment, needs_confirmation
from funding.domain.roles import ensure_treasurer
from funding.domain.sources import FundingSource, adjust
from funding.exceptions import RuleBroken
from kit.paging import fetched_page, page

#: a source and, when the money waits for a second finance officer, the adjustment that waits
SourceChange = tuple[FundingSource, SourceAdjustment | None]


def _request_cause() -> str:
    """The journal cause of money a person moves by a request (not by another's fact)."""
    return f"request:{uuid.uuid4()}"


def create_source(ctx: Context, command: CreateSource) -> SourceChange:
    """A new source. Its initial amount enters the journal as a receipt — at once below the
    threshold; at or above it, like a top-up of the same money, it is recorded as a pending
    adjustment that a second finance officer confirms (then the source and the adjustment are
    returned)."""
    ensure_treasurer(ctx.actor)
    owner = ctx.directory.get(command.owner_id)
    if owner is None or owner.get("kind") != "federation":
        raise RuleBroken(
            "the owner must be a federation known to the registry",
            field="owner_id",
            rule="federation",
        )
    ctx.scope.ensure_owns(owner["path"], "owner_id")
    at = ctx.clock.now()
    source = FundingSource(
        name=command.name,
        kind=command.kind,
        owner_id=command.owner_id,
        fiscal_year=command.fiscal_year,
        description=command.description,
        created_by=ctx.actor.user_id,
        created_at=at,
    )
    ctx.repo.add(source)
    pending = None
    amount = command.amount
    if amount > 0 and needs_confirmation(amount, ctx.dual_approval_threshold):
        pending = SourceAdjustment(
            source=source, amount=amount, reason="initial amount", actor=ctx.actor, at=at
        )
        ctx.repo.add(pending)
    elif amount > 0:
        ctx.repo.add(*source.receive(amount, ctx.actor, _request_cause(), "initial amount", at))
    source.record(
        "funding_source_created",
        funding_source_id=source.id,
        owner_id=source.owner_id,
        version=source.version,
        actor_id=ctx.actor.user_id,
        occurred_at=at,
    )
    return source, pending


def adjust_source(ctx: Context, command: AdjustSource) -> SourceChange:
    """A top-up (positive) or a correction (negative): a new journal entry, never an edit.
    At or above the threshold (either way) it is recorded as pending instead, and enters the
    journal once a second finance officer confirms it: then the adjustment is returned too."""
    ensure_treasurer(ctx.actor)
    source = ctx.visible_source(command.source_id, for_update=True)
    at = ctx.clock.now()
    if needs_confirmation(command.amount, ctx.dual_approval_threshold):
        adjustment = SourceAdjustment(
            source=source, amount=command.amount, reason=command.reason, actor=ctx.actor, at=at
        )
        ctx.repo.add(adjustment)
        return source, adjustment
    entries = adjust(source, command.amount, ctx.actor, _request_cause(), command.reason, at)
    ctx.repo.add(*entries)
    return source, None


def get_source(ctx: Context, command: GetSource) -> FundingSource:
    return ctx.visible_source(command.source_id)


def list_sources(ctx: Context, command: ListSources) -> dict[str, Any]:
    """The sources of the actor's federation's subtree (all of them for admins and ops; none
    for a contractor)."""
    if ctx.actor.role == "contractor":
        return page([], command.page, total=0)
    fetched = ctx.repo.list_sources(
        command.page,
        within_path=ctx.scope.within_path,
        owner_id=command.owner_id,
        fiscal_year=command.fiscal_year,
        kind=command.kind,
        available_below=command.available_below,
    )
    return fetched_page(fetched, command.page)


def source_facts(ctx: Context, command: SourceFacts) -> dict[str, Any] | None:
    """What projects needs to know of a source it has not heard of yet (its owner); None if
    there is no such source."""
    source = ctx.repo.find_source(command.source_id)
    if source is None:
        return None
    return {"funding_source_id": source.id, "owner_id": source.owner_id, "version": source.version}
