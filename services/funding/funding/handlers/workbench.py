"""The money figures of the workbench (工作台), counted by the database under the actor's
money scope (``FundingScope.within_path``), each with the query of the list it links to."""

from __future__ import annotations

from typing import Any

from funding.commands import FundingWorkbench
from funding.context import Context
from funding.domain.roles import APPROVER_ROLE
from funding.domain.workbench import PREVIEW, card, day_start, month_of
from funding.repository import SOURCE_ORDER
from kit.paging import page_request

#: who gets money figures: the approval queue and payments only those who work them
READERS = ("admin", "federation_staff", APPROVER_ROLE)
TREASURY = ("admin", APPROVER_ROLE)


def funding_workbench(ctx: Context, command: FundingWorkbench) -> dict[str, Any]:
    today = ctx.clock.today()
    figures: dict[str, Any] = {"view": "none", "today": today}
    if ctx.actor.role not in READERS:
        return figures
    within = ctx.scope.within_path
    year = today.year
    money = ctx.repo.source_figures(within_path=within, fiscal_year=year)
    figures.update(
        view="treasury" if ctx.actor.role in TREASURY else "staff",
        money_this_year=card(money.pop("count"), {"fiscal_year": year}, fiscal_year=year, **money),
    )
    if ctx.actor.role not in TREASURY:
        return figures
    queue = ctx.repo.disbursement_figures(within_path=within, status="pending")
    first, following = month_of(today)
    paid = ctx.repo.disbursement_figures(
        within_path=within,
        status="paid",
        paid_from=day_start(first),
        paid_before=day_start(following),
    )
    low_below = command.low_below
    low = ctx.repo.list_sources(
        page_request(PREVIEW, None, ordering=SOURCE_ORDER, sort="available"),
        within_path=within,
        available_below=low_below,
    )
    figures.update(
        approval_queue=card(
            queue["count"],
            {"status": "pending"},
            amount=queue["amount"],
            oldest_requested_at=queue["oldest_requested_at"],
        ),
        payments_this_month=card(
            paid["count"],
            {"status": "paid", "paid_from": first, "paid_before": following},
            amount=paid["amount"],
        ),
        sources_low=card(
            low.total,
            {"available_below": low_below, "sort": "available"},
            threshold=low_below,
            items=low.rows[:PREVIEW],
        ),
    )
    return figures
