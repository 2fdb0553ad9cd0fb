"""Funding: sources and their journal, commitments, the approval queue, payments."""

from __future__ import annotations

from typing import Any

from funding import schemas as funding_schemas
from gateway import exports
from gateway import schemas as gateway_schemas
from gateway.http import Call, api

S = funding_schemas
SOURCE = "/funding-sources/{source_id}"
DISBURSEMENT = "/disbursements/{disbursement_id}"
TREASURERS = ("finance_officer", "admin")
FINANCE = ("finance_officer",)
#: the journal export's columns, in order (fields of a journal entry)
JOURNAL_COLUMNS = (
    "at",
    "transaction_id",
    "line",
    "kind",
    "account",
    "debit",
    "credit",
    "source_id",
    "contract_id",
    "actor_id",
    "cause",
    "memo",
)
#: who reads sources, the journal and the monthly report (the service scopes staff to their
#: federation's sources)
MONEY_READERS = ("admin", "federation_staff", "finance_officer", "ops")
#: who reads commitments and disbursements: also a contractor, what is paid to it
PAYMENT_READERS = (*MONEY_READERS, "contractor")


def beside_briefs(
    items: list[dict[str, Any]], briefs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Funding's rows (disbursements or commitments) with their contract's project title
    and, for a disbursement, its milestone and that milestone's latest report. A contract
    projects did not answer for (not readable by the actor) leaves those empty."""
    by_contract = {brief["contract_id"]: brief for brief in briefs}
    rows = []
    for item in items:
        brief = by_contract.get(item.get("contract_id"))
        milestone = None
        if brief is not None and item.get("milestone_id"):
            milestone = next(
                (m for m in brief["milestones"] if m["id"] == item["milestone_id"]), None
            )
        row = {
            **item,
            "project_title": brief["project_title"] if brief else None,
            "contract_status": brief["status"] if brief else None,
        }
        if "milestone_id" in item:
            row["milestone"] = milestone
        rows.append(row)
    return rows


class FundingRoutes:
    def _beside_briefs(self, found: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        """One call to projects for the whole page (never one per row)."""
        contract_ids = sorted({item["contract_id"] for item in found["items"]})
        briefs = (
            self.projects.call("contract_briefs", contract_ids, actor)["items"]
            if contract_ids
            else []
        )
        return {**found, "items": beside_briefs(found["items"], briefs)}

    @api(
        "GET",
        "/approval-queue",
        summary="Disbursements with what finance needs to decide on them",
        tag="Funding",
        roles=MONEY_READERS,
        query=S.DisbursementFilters,
        response=gateway_schemas.QueuePage,
    )
    def approval_queue(self, call: Call) -> Any:
        """Oldest first, like `GET /disbursements` (`status=pending` is the approval queue,
        `approved` what waits for payment, `held` what a payee's suspension holds), each with
        its payee, source, project, milestone and the milestone's latest report (summary,
        people served, evidence)."""
        actor = call.actor.to_dict()
        return self._beside_briefs(self.funding.call("disbursement_rows", call.query, actor), actor)

    @api(
        "GET",
        "/commitments",
        summary="Money per contract",
        tag="Funding",
        roles=MONEY_READERS,
        query=S.CommitmentFilters,
        response=gateway_schemas.ContractMoneyPage,
    )
    def list_commitments(self, call: Call) -> Any:
        """Per contract, oldest first: committed, released, disbursed (approved), paid and
        remaining (neither approved nor released), with payee, source and project."""
        actor = call.actor.to_dict()
        return self._beside_briefs(self.funding.call("list_commitments", call.query, actor), actor)

    @api(
        "POST",
        "/funding-sources",
        summary="Create a funding source",
        tag="Funding",
        roles=TREASURERS,
        body=S.SourceCreate,
        response=S.AdjustedSourceOut,
        status=201,
        idempotent=True,
        statuses={
            202: "an initial amount at or above the threshold: recorded as pending_adjustment;"
            " it enters the journal when a second finance officer confirms it"
        },
    )
    def create_source(self, call: Call) -> Any:
        """Its amount enters the journal as a receipt; it changes only by new entries. At or
        above the threshold, like a top-up, only once another finance officer confirms (202)."""
        result = self.funding.call("create_source", call.body, call.actor.to_dict())
        return (202 if result.get("pending_adjustment") else 201), result

    @api(
        "GET",
        "/funding-sources",
        summary="List funding sources",
        tag="Funding",
        roles=MONEY_READERS,
        query=S.SourceFilters,
        response=S.SourcePage,
    )
    def list_sources(self, call: Call) -> Any:
        return self.funding.call("list_sources", call.query, call.actor.to_dict())

    @api(
        "GET",
        SOURCE,
        summary="A funding source and its balances",
        tag="Funding",
        roles=MONEY_READERS,
        response=S.SourceOut,
    )
    def get_source(self, call: Call) -> Any:
        """amount = available + committed; disbursed (approved) and paid are parts of committed."""
        return self.funding.call("get_source", call.path["source_id"], call.actor.to_dict())

    @api(
        "POST",
        SOURCE + "/adjustments",
        summary="Top up or correct a source",
        tag="Funding",
        roles=TREASURERS,
        body=S.SourceAdjustment,
        response=S.AdjustedSourceOut,
        status=201,
        idempotent=True,
        statuses={
            202: "at or above the threshold: recorded as pending_adjustment; it enters the"
            " journal when a second finance officer confirms it"
        },
    )
    def adjust_source(self, call: Call) -> Any:
        """A positive amount tops up, a negative one corrects down (never below what is
        committed). Both are new journal entries with your name and reason — at once below
        the threshold; at or above it once another finance officer confirms (202)."""
        result = self.funding.call(
            "adjust_source", call.path["source_id"], call.body, call.actor.to_dict()
        )
        return (202 if result.get("pending_adjustment") else 201), result

    @api(
        "GET",
        "/source-adjustments",
        summary="Top-ups and corrections waiting for (or given) a second finance officer",
        tag="Funding",
        roles=("finance_officer", "admin", "ops"),
        query=S.AdjustmentFilters,
        response=S.AdjustmentPage,
    )
    def list_adjustments(self, call: Call) -> Any:
        """Oldest first; `status=pending` is what waits for confirmation. Finance officers
        see their federation's subtree's sources only."""
        return self.funding.call("list_adjustments", call.query, call.actor.to_dict())

    @api(
        "POST",
        "/source-adjustments/{adjustment_id}/confirm",
        summary="Confirm a pending top-up or correction",
        tag="Funding",
        roles=FINANCE,
        response=S.AdjustmentOut,
    )
    def confirm_adjustment(self, call: Call) -> Any:
        """By a finance officer other than the one who asked; the journal entry is written
        now (your name as actor, cause `adjustment:<id>`)."""
        return self.funding.call(
            "confirm_adjustment", call.path["adjustment_id"], call.actor.to_dict()
        )

    @api(
        "POST",
        "/source-adjustments/{adjustment_id}/refuse",
        summary="Refuse a pending top-up or correction",
        tag="Funding",
        roles=FINANCE,
        body=S.RejectRequest,
        response=S.AdjustmentOut,
    )
    def refuse_adjustment(self, call: Call) -> Any:
        """By a finance officer other than the one who asked, with a reason; nothing enters
        the journal."""
        return self.funding.call(
            "refuse_adjustment", call.path["adjustment_id"], call.body, call.actor.to_dict()
        )

    @api(
        "GET",
        "/funding-journal",
        summary="The journal",
        tag="Funding",
        roles=MONEY_READERS,
        query=S.JournalFilters,
        response=S.JournalPage,
    )
    def journal(self, call: Call) -> Any:
        """Every entry: accounts, amount, who, and the cause (an event or a request)."""
        return self.funding.call("journal", call.query, call.actor.to_dict())

    @api(
        "GET",
        "/funding-journal.csv",
        summary="The journal as CSV",
        tag="Funding",
        roles=MONEY_READERS,
        query=S.JournalFilters,
    )
    def journal_csv(self, call: Call) -> Any:
        """Every entry matching the filters (`limit` and `cursor` do not apply), oldest first,
        streamed as it is read a page at a time; text that would start a spreadsheet formula
        is written with a leading `'`."""
        actor = call.actor.to_dict()
        query = exports.without_paging(call.query)
        limit = exports.page_rows(self.config)

        def fetch(cursor: str | None) -> exports.Page:
            page_query = {**query, "limit": limit, "cursor": cursor}
            return self.funding.call("journal", page_query, actor)

        rows = (
            [entry.get(column) for column in JOURNAL_COLUMNS]
            for page in exports.pages(fetch, fetch(None))
            for entry in page["items"]
        )
        return exports.csv_response(JOURNAL_COLUMNS, rows, "jinguo-journal.csv")

    @api(
        "GET",
        "/funding-reports/monthly",
        summary="Money moved per month",
        tag="Funding",
        roles=MONEY_READERS,
        query=S.MonthlyFilters,
        response=S.MonthlyReport,
    )
    def monthly_report(self, call: Call) -> Any:
        """Per month (China time) and kind of transaction: receipts, commitments, approvals,
        payments, releases, corrections."""
        return self.funding.call("monthly_report", call.query, call.actor.to_dict())

    @api(
        "GET",
        "/commitments/{contract_id}",
        summary="A contract's commitment",
        tag="Funding",
        roles=PAYMENT_READERS,
        response=S.CommitmentOut,
    )
    def get_commitment(self, call: Call) -> Any:
        return self.funding.call("get_commitment", call.path["contract_id"], call.actor.to_dict())

    @api(
        "GET",
        "/disbursements",
        summary="Disbursements (the approval queue)",
        tag="Funding",
        roles=PAYMENT_READERS,
        query=S.DisbursementFilters,
        response=S.DisbursementPage,
    )
    def list_disbursements(self, call: Call) -> Any:
        """Oldest first, with their age; `status=pending` is the approval queue."""
        return self.funding.call("list_disbursements", call.query, call.actor.to_dict())

    @api(
        "GET",
        DISBURSEMENT,
        summary="A disbursement",
        tag="Funding",
        roles=PAYMENT_READERS,
        response=S.DisbursementOut,
    )
    def get_disbursement(self, call: Call) -> Any:
        return self.funding.call(
            "get_disbursement", call.path["disbursement_id"], call.actor.to_dict()
        )

    @api(
        "POST",
        DISBURSEMENT + "/approve",
        summary="Approve a disbursement",
        tag="Funding",
        roles=FINANCE,
        response=S.DisbursementOut,
    )
    def approve_disbursement(self, call: Call) -> Any:
        """Not by whoever caused it; at or above the threshold two different officers must."""
        return self.funding.call(
            "approve_disbursement", call.path["disbursement_id"], call.actor.to_dict()
        )

    @api(
        "POST",
        DISBURSEMENT + "/reject",
        summary="Reject a disbursement",
        tag="Funding",
        roles=FINANCE,
        body=S.RejectRequest,
        response=S.DisbursementOut,
    )
    def reject_disbursement(self, call: Call) -> Any:
        return self.funding.call(
            "reject_disbursement", call.path["disbursement_id"], call.body, call.actor.to_dict()
        )

    @api(
        "POST",
        DISBURSEMENT + "/pay",
        summary="Record a payment",
        tag="Funding",
        roles=FINANCE,
        body=S.PayRequest,
        response=S.DisbursementOut,
        idempotent=True,
    )
    def pay_disbursement(self, call: Call) -> Any:
        """Once per disbursement; a payment reference is used once."""
        return self.funding.call(
            "pay_disbursement", call.path["disbursement_id"], call.body, call.actor.to_dict()
        )
