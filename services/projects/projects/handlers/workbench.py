"""The workbench (工作台): a federation's or a contractor's figures, counted by the database
under the actor's scope, each with the query of the list behind it; and that list of
milestones across contracts.

Staff and admins see their federation's subtree's (admins: everything): reports waiting for
a decision (the oldest first), projects by status, overdue milestones. A contractor sees its
own: contracts by status, the milestones it has to report next, the reports sent back to redo,
the tranches paid. Other roles have no projects figures (``view`` ``none``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kit.paging import fetched_page, page, page_request
from projects.commands import ListMilestones, ProjectsWorkbench
from projects.context import Context
from projects.domain.scope import LINE_READERS
from projects.domain.workbench import PREVIEW, MilestoneFilters, card
from projects.repository import MILESTONE_ORDER


def _milestone_scope(ctx: Context) -> MilestoneFilters | None:
    """The milestones the actor reads, as filters (those of the contracts she reads:
    ``Scope.reads_contract``); None: none at all."""
    actor = ctx.actor
    if actor.is_admin:
        return MilestoneFilters()
    if actor.role == "contractor":
        return MilestoneFilters(contractor_id=actor.organization_id or "-")
    if actor.role in LINE_READERS:
        return MilestoneFilters(within_path=ctx.scope.federation_path or "-")
    return None


def list_milestones(ctx: Context, command: ListMilestones) -> dict[str, Any]:
    """Milestones of the contracts the actor reads, by due date unless asked otherwise."""
    scope = _milestone_scope(ctx)
    if scope is None:
        return page([], command.page, total=0)
    filters = replace(
        scope,
        status=command.status,
        due_before=command.due_before,
        running=command.running,
        payment_status=command.payment_status,
        contract_id=command.contract_id,
    )
    return fetched_page(ctx.repo.list_milestones(command.page, filters), command.page)


def projects_workbench(ctx: Context, command: ProjectsWorkbench) -> dict[str, Any]:
    scope = _milestone_scope(ctx)
    view = {"admin": "staff", "federation_staff": "staff", "contractor": "contractor"}
    figures: dict[str, Any] = {"view": view.get(ctx.actor.role, "none"), "today": ctx.clock.today()}
    if scope is None or figures["view"] == "none":
        figures["view"] = "none"
        return figures
    if figures["view"] == "contractor":
        return {**figures, **_contractor_cards(ctx, scope)}
    return {**figures, **_federation_cards(ctx, scope)}


def _milestone_card(
    ctx: Context, scope: MilestoneFilters, query: dict[str, Any], sort: str
) -> dict[str, Any]:
    """A milestone figure, its first few milestones in the list's order, and the list's
    query (which names the order too)."""
    filters = replace(scope, **query)
    figures = ctx.repo.milestone_figures(filters)
    preview = ctx.repo.list_milestones(
        page_request(PREVIEW, None, ordering=MILESTONE_ORDER, sort=sort), filters
    )
    return card(
        figures.pop("count"),
        {**query, "sort": sort},
        **figures,
        items=preview.rows[:PREVIEW],
    )


def _status_cards(counts: dict[str, int], extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"status": status, **card(n, {"status": status, **extra})} for status, n in counts.items()
    ]


def _federation_cards(ctx: Context, scope: MilestoneFilters) -> dict[str, Any]:
    within = None if ctx.actor.is_admin else ctx.actor.organization_id
    counts = ctx.repo.project_counts(within_path=scope.within_path)
    return {
        # the project list shows staff other federations' published projects too: the link
        # narrows it to their own subtree, as counted
        "projects_by_status": _status_cards(counts, {"within": within}),
        "reports_awaiting_decision": _milestone_card(
            ctx, scope, {"status": "reported", "running": True}, "reported_at"
        ),
        "milestones_overdue": _milestone_card(
            ctx,
            scope,
            {"status": "open", "running": True, "due_before": ctx.clock.today()},
            "due_on",
        ),
    }


def _contractor_cards(ctx: Context, scope: MilestoneFilters) -> dict[str, Any]:
    counts = ctx.repo.contract_counts(contractor_id=scope.contractor_id)
    return {
        "contracts_by_status": _status_cards(counts, {}),
        "milestones_due": _milestone_card(
            ctx, scope, {"status": "pending", "running": True}, "due_on"
        ),
        "reports_rejected": _milestone_card(
            ctx, scope, {"status": "rejected", "running": True}, "due_on"
        ),
        "tranches_paid": _milestone_card(ctx, scope, {"payment_status": "paid"}, "-paid_at"),
    }
