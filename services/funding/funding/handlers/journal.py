"""The journal and the monthly report, read under the journal's scope rule (written once here):
admins and ops read the whole journal; finance officers the lines of their federation's
subtree's sources (filtered; another's source is not there); federation staff those of one of
their sources at a time; contractors none."""

from __future__ import annotations

from typing import Any

from funding.commands import MonthlyReport, ReadJournal
from funding.context import Context
from kit.paging import fetched_page


def _journal_within(ctx: Context, source_id: str | None) -> str | None:
    """The subtree the journal is cut to (None: no cut). Naming a source the actor does not
    see is a 404; naming none is allowed to those who read more than one source at a time."""
    if source_id and not ctx.scope.sees_everything:
        ctx.visible_source(source_id)
        return None
    return ctx.scope.journal_within()


def read_journal(ctx: Context, command: ReadJournal) -> dict[str, Any]:
    within = _journal_within(ctx, command.source_id)
    fetched = ctx.repo.journal(
        command.page,
        source_id=command.source_id,
        contract_id=command.contract_id,
        since=command.since,
        until=command.until,
        within_path=within,
    )
    return fetched_page(fetched, command.page)


def monthly_report(ctx: Context, command: MonthlyReport) -> list[dict[str, Any]]:
    """Per month (China time), the fen moved by each kind of transaction."""
    within = _journal_within(ctx, command.source_id)
    months: dict[str, dict[str, Any]] = {}
    rows = ctx.repo.monthly(
        source_id=command.source_id, fiscal_year=command.fiscal_year, within_path=within
    )
    for month, kind, amount in rows:
        row = months.setdefault(month, {"month": month})
        row[kind] = int(amount)
    return list(months.values())
