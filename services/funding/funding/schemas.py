"""Funding schemas: RPC payloads in (``unknown = RAISE``), results out. Money is integer fen."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from funding.domain.adjustments import ADJUSTMENT_STATUSES
from funding.domain.disbursements import DISBURSEMENT_STATUSES, queue_age_seconds
from funding.domain.sources import SOURCE_KINDS
from funding.domain.workbench import LOW_AVAILABLE_BELOW
from funding.repository import COMMITMENT_ORDER, DISBURSEMENT_ORDER, SOURCE_ORDER
from kit.clock import utcnow
from kit.fields import Id, Money, Text
from kit.paging import MAX_LIMIT, page_schema, sort_param


class Strict(Schema):
    class Meta:
        unknown = RAISE


class SourceCreate(Strict):
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(SOURCE_KINDS))
    owner_id = Id(required=True, metadata={"description": "the federation whose money it is"})
    fiscal_year = fields.Integer(
        strict=True, required=True, validate=validate.Range(min=2000, max=2100)
    )
    amount = Money(required=True, metadata={"description": "initial amount, fen"})
    description = Text(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class SourceAdjustment(Strict):
    amount = fields.Integer(
        strict=True,
        required=True,
        metadata={"description": "fen: positive tops the source up, negative corrects it down"},
    )
    reason = Text(required=True, validate=validate.Length(min=1, max=2000))

    @validates("amount")
    def _not_zero(self, value: int, **kwargs: Any) -> None:
        if value == 0:
            raise ValidationError("An adjustment changes the amount.")


class SourceFilters(Strict):
    owner_id = Id()
    fiscal_year = fields.Integer(validate=validate.Range(min=2000, max=2100))
    kind = fields.String(validate=validate.OneOf(SOURCE_KINDS))
    available_below = fields.Integer(
        validate=validate.Range(min=1),
        metadata={"description": "fen: only sources with less available than this"},
    )
    limit = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(load_default=None)
    sort = sort_param(SOURCE_ORDER)


class DisbursementFilters(Strict):
    status = fields.String(validate=validate.OneOf(DISBURSEMENT_STATUSES))
    contract_id = Id()
    payee_id = Id()
    source_id = Id()
    paid_from = fields.Date(metadata={"description": "paid on or after this day (China time)"})
    paid_before = fields.Date(metadata={"description": "paid before this day (China time)"})
    limit = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(load_default=None)
    sort = sort_param(DISBURSEMENT_ORDER)


class CommitmentFilters(Strict):
    source_id = Id()
    limit = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(load_default=None)
    sort = sort_param(COMMITMENT_ORDER)


class JournalFilters(Strict):
    source_id = Id()
    contract_id = Id()
    since = fields.AwareDateTime()
    until = fields.AwareDateTime()
    limit = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(load_default=None)


class MonthlyFilters(Strict):
    source_id = Id()
    fiscal_year = fields.Integer(validate=validate.Range(min=2000, max=2100))


class AdjustmentFilters(Strict):
    status = fields.String(validate=validate.OneOf(ADJUSTMENT_STATUSES))
    source_id = Id()
    limit = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(load_default=None)


class RejectRequest(Strict):
    reason = Text(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class PayRequest(Strict):
    payment_reference = Text(required=True, validate=validate.Length(min=1, max=100))


# --- out ------------------------------------------------------------------------------------


class SourceOut(Schema):
    id = fields.String()
    name = fields.String()
    kind = fields.String()
    owner_id = fields.String()
    fiscal_year = fields.Integer()
    description = fields.String(allow_none=True)
    amount = fields.Integer(metadata={"description": "all money put in, fen"})
    committed = fields.Integer(metadata={"description": "committed to contracts (incl. disbursed)"})
    disbursed = fields.Integer(metadata={"description": "approved for payment (incl. paid)"})
    paid = fields.Integer()
    available = fields.Integer(metadata={"description": "amount − committed"})
    created_by = fields.String()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    version = fields.Integer()


class AdjustmentOut(Schema):
    id = fields.String()
    source_id = fields.String()
    amount = fields.Integer(metadata={"description": "fen: positive tops up, negative corrects"})
    reason = fields.String()
    status = fields.String(metadata={"description": "pending | confirmed | refused"})
    requested_by = fields.String()
    requested_by_name = fields.String()
    requested_at = fields.AwareDateTime()
    decided_by = fields.String(allow_none=True)
    decided_by_name = fields.String(allow_none=True)
    decided_at = fields.AwareDateTime(allow_none=True)
    refusal_reason = fields.String(allow_none=True)
    journal_cause = fields.Function(
        lambda adjustment: adjustment.cause if adjustment.status == "confirmed" else None,
        allow_none=True,
        metadata={"description": "the cause its journal entries carry, once confirmed"},
    )
    version = fields.Integer()


AdjustmentPage = page_schema(AdjustmentOut)


class AdjustedSourceOut(SourceOut):
    pending_adjustment = fields.Nested(
        AdjustmentOut,
        allow_none=True,
        metadata={
            "description": "at or above the threshold: the adjustment waiting for a second"
            " finance officer (null when it entered the journal at once)"
        },
    )


class RulesOut(Schema):
    dual_approval_threshold = fields.Integer(
        metadata={
            "description": "fen: adjustments at or above it wait for a second finance officer;"
            " tranches of contracts at or above it need two approvers"
        }
    )


SourcePage = page_schema(SourceOut)


class CommitmentOut(Schema):
    id = fields.String()
    contract_id = fields.String()
    project_id = fields.String()
    source_id = fields.String()
    payee_id = fields.String()
    amount = fields.Integer()
    released = fields.Integer()
    disbursed = fields.Integer()
    paid = fields.Integer()
    outstanding = fields.Integer(
        metadata={"description": "committed, not yet approved nor released"}
    )
    status = fields.String()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class ApprovalOut(Schema):
    approver_id = fields.String()
    approver_name = fields.String()
    at = fields.AwareDateTime()


class DisbursementOut(Schema):
    id = fields.String()
    contract_id = fields.String()
    project_id = fields.String()
    milestone_id = fields.String()
    source_id = fields.String()
    payee_id = fields.String()
    amount = fields.Integer()
    status = fields.String()
    required_approvals = fields.Integer()
    approvals = fields.List(fields.Nested(ApprovalOut))
    requested_by = fields.String()
    requested_at = fields.AwareDateTime()
    age_seconds = fields.Method("_age", metadata={"description": "how long since it was requested"})
    decided_at = fields.AwareDateTime(allow_none=True)
    rejected_by = fields.String(allow_none=True)
    rejection_reason = fields.String(allow_none=True)
    paid_by = fields.String(allow_none=True)
    paid_at = fields.AwareDateTime(allow_none=True)
    payment_reference = fields.String(allow_none=True)
    hold_reason = fields.String(allow_none=True)
    hold_reasons = fields.Function(
        lambda disbursement: disbursement.holds,
        metadata={
            "description": "why it is held: payee_suspended, milestone_overdue,"
            " provider_deregistered, payee_deregistered (empty when it is not)"
        },
    )
    version = fields.Integer()

    def _age(self, disbursement: Any) -> int:
        return queue_age_seconds(disbursement, utcnow())


DisbursementPage = page_schema(DisbursementOut)


class DisbursementRowOut(DisbursementOut):
    """A disbursement with its payee's and source's names."""

    payee_name = fields.String(allow_none=True)
    source_name = fields.String(allow_none=True)


DisbursementRowPage = page_schema(DisbursementRowOut)


class CommitmentRowOut(CommitmentOut):
    """Per contract: the commitment's money with its payee's and source's names."""

    remaining = fields.Integer(
        metadata={"description": "committed, not yet approved for payment nor released, fen"}
    )
    payee_name = fields.String(allow_none=True)
    source_name = fields.String(allow_none=True)


CommitmentRowPage = page_schema(CommitmentRowOut)


class JournalEntryOut(Schema):
    transaction_id = fields.String()
    line = fields.Integer()
    kind = fields.String()
    account = fields.String()
    debit = fields.Integer()
    credit = fields.Integer()
    source_id = fields.String()
    contract_id = fields.String(allow_none=True)
    actor_id = fields.String(allow_none=True)
    cause = fields.String()
    memo = fields.String(allow_none=True)
    at = fields.AwareDateTime()


JournalPage = page_schema(JournalEntryOut, "JournalPage")


class MonthlyReport(Schema):
    items = fields.List(
        fields.Dict(), metadata={"description": "per month (China time): fen moved by kind"}
    )


# --- the workbench ---------------------------------------------------------------------------


class WorkbenchQuery(Strict):
    low_below = fields.Integer(
        load_default=LOW_AVAILABLE_BELOW,
        validate=validate.Range(min=1),
        metadata={
            "description": "fen: a source with less available is running low "
            f"(default {LOW_AVAILABLE_BELOW}, ¥50,000)"
        },
    )


def _card_fields(**more: Any) -> dict[str, Any]:
    return {
        "count": fields.Integer(),
        "filters": fields.Dict(
            keys=fields.String(),
            values=fields.String(),
            metadata={"description": "the query of the list behind the figure"},
        ),
        **more,
    }


MoneyCard = Schema.from_dict(
    _card_fields(
        fiscal_year=fields.Integer(),
        amount=fields.Integer(),
        committed=fields.Integer(),
        paid=fields.Integer(),
        available=fields.Integer(),
    ),
    name="WorkbenchMoneyCard",
)
DisbursementCard = Schema.from_dict(
    _card_fields(
        amount=fields.Integer(), oldest_requested_at=fields.AwareDateTime(allow_none=True)
    ),
    name="WorkbenchDisbursementCard",
)
LowSourcesCard = Schema.from_dict(
    _card_fields(threshold=fields.Integer(), items=fields.List(fields.Nested(SourceOut))),
    name="WorkbenchLowSourcesCard",
)


class FundingWorkbenchOut(Schema):
    view = fields.String(metadata={"description": "treasury, staff or none"})
    today = fields.Date()
    money_this_year = fields.Nested(MoneyCard, allow_none=True)
    approval_queue = fields.Nested(DisbursementCard, allow_none=True)
    payments_this_month = fields.Nested(DisbursementCard, allow_none=True)
    sources_low = fields.Nested(LowSourcesCard, allow_none=True)


# --- the annual assessment (目标考核) ------------------------------------------------------------


class ChildFundingFigures(Schema):
    organization_id = fields.String()
    money_committed = fields.Integer(
        metadata={
            "description": "fen committed to contracts in the year, from sources the "
            "child's subtree owns"
        }
    )
    money_paid = fields.Integer(
        metadata={"description": "fen paid in the year, from sources the child's subtree owns"}
    )


class AssessmentFundingOut(Schema):
    federation_id = fields.String()
    year = fields.Integer()
    children = fields.List(fields.Nested(ChildFundingFigures))
