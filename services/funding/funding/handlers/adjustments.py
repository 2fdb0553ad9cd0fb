"""Adjustments at or above the threshold: listed for the finance officers who may decide them,
confirmed (the journal entry is written now) or refused by a second finance officer."""

from __future__ import annotations

from typing import Any

from funding.commands import ConfirmAdjustment, ListAdjustments, RefuseAdjustment
from funding.context import Context
from funding.domain.adjustments import SourceAdjustment
from funding.domain.sources import FundingSource
from funding.exceptions import AdjustmentNotFound, SourceNotFound
from kit.paging import fetched_page, page


def _decidable(ctx: Context, adjustment_id: str) -> tuple[SourceAdjustment, FundingSource]:
    """The adjustment and its source, both locked (in that order), if the actor manages the
    source: another federation's adjustment is, to them, not there."""
    adjustment = ctx.repo.adjustment(adjustment_id, for_update=True)
    try:
        source = ctx.visible_source(adjustment.source_id, for_update=True)
    except SourceNotFound:
        raise AdjustmentNotFound(adjustment_id) from None
    return adjustment, source


def confirm_adjustment(ctx: Context, command: ConfirmAdjustment) -> SourceAdjustment:
    adjustment, source = _decidable(ctx, command.adjustment_id)
    ctx.repo.add(*adjustment.confirm(source, ctx.actor, ctx.clock.now()))
    return adjustment


def refuse_adjustment(ctx: Context, command: RefuseAdjustment) -> SourceAdjustment:
    adjustment, _ = _decidable(ctx, command.adjustment_id)
    adjustment.refuse(command.reason, ctx.actor, ctx.clock.now())
    return adjustment


def list_adjustments(ctx: Context, command: ListAdjustments) -> dict[str, Any]:
    """Oldest first, the actor's federation's subtree's (none for a contractor)."""
    if ctx.actor.role == "contractor":
        return page([], command.page, total=0)
    fetched = ctx.repo.list_adjustments(
        command.page,
        within_path=ctx.scope.within_path,
        status=command.status,
        source_id=command.source_id,
    )
    return fetched_page(fetched, command.page)
