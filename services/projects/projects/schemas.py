"""Projects schemas: RPC payloads in (``unknown = RAISE``), results out. The gateway's OpenAPI
document is generated from these same classes."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from kit.fields import Id, Money, Text
from kit.paging import MAX_LIMIT, page_schema, sort_param, total_field
from projects.domain.contract import CONTRACT_STATUSES
from projects.domain.payments import PAYMENT_STATUSES
from projects.domain.project import CATEGORIES, MODELS, PROJECT_STATUSES
from projects.domain.workbench import MILESTONE_LIST_STATUSES
from projects.repository import CONTRACT_ORDER, MILESTONE_ORDER, PROJECT_ORDER


class Strict(Schema):
    class Meta:
        unknown = RAISE


class IndicatorSchema(Strict):
    name = Text(required=True, validate=validate.Length(min=1, max=100))
    target = fields.Float(required=True, allow_nan=False, validate=validate.Range(min=0))
    unit = Text(load_default=None, allow_none=True, validate=validate.Length(max=30))


class ProjectCreate(Strict):
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    description = Text(load_default=None, allow_none=True, validate=validate.Length(max=5000))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    model = fields.String(required=True, validate=validate.OneOf(MODELS))
    purchaser_id = Id(
        load_default=None, allow_none=True, metadata={"description": "defaults to your federation"}
    )
    funding_source_id = Id(required=True)
    budget = Money(required=True, metadata={"description": "fen (分)"})
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    target_beneficiaries = fields.Integer(
        strict=True, load_default=0, validate=validate.Range(min=0, max=100_000_000)
    )
    indicators = fields.List(
        fields.Nested(IndicatorSchema), load_default=list, validate=validate.Length(max=50)
    )


class ProjectUpdate(Strict):
    title = Text(validate=validate.Length(min=1, max=200))
    description = Text(allow_none=True, validate=validate.Length(max=5000))
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    model = fields.String(validate=validate.OneOf(MODELS))
    funding_source_id = Id()
    budget = Money()
    starts_on = fields.Date()
    ends_on = fields.Date()
    target_beneficiaries = fields.Integer(
        strict=True, validate=validate.Range(min=0, max=100_000_000)
    )
    indicators = fields.List(fields.Nested(IndicatorSchema), validate=validate.Length(max=50))

    @validates_schema
    def _not_empty(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError("Name at least one field to change.", "_schema")


class ReasonRequest(Strict):
    reason = Text(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class ProjectFilters(Strict):
    status = fields.String(validate=validate.OneOf(PROJECT_STATUSES))
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    purchaser_id = Id()
    contractor_id = Id()
    q = Text(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "title contains (简/繁 alike)"},
    )
    within = Id(
        metadata={"description": "only projects purchased by this organization or one under it"}
    )
    limit = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(load_default=None)
    sort = sort_param(PROJECT_ORDER)


class ApplicationCreate(Strict):
    provider_id = Id(required=True)
    amount = Money(required=True, validate=validate.Range(min=1))
    proposal = Text(required=True, validate=validate.Length(min=1, max=20000))


class MilestonePlan(Strict):
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    deliverables = Text(load_default="", validate=validate.Length(max=5000))
    due_on = fields.Date(required=True)
    amount = Money(
        required=True, validate=validate.Range(min=1), metadata={"description": "the tranche, fen"}
    )


class AwardRequest(Strict):
    application_id = Id(
        load_default=None, allow_none=True, metadata={"description": "commissioned projects"}
    )
    contractor_id = Id(
        load_default=None,
        allow_none=True,
        metadata={"description": "self-run projects: the purchasing federation or a partner"},
    )
    amount = Money(load_default=None, allow_none=True, validate=validate.Range(min=1))
    milestones = fields.List(
        fields.Nested(MilestonePlan), required=True, validate=validate.Length(min=1, max=100)
    )


class Evidence(Strict):
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    type = Text(required=True, validate=validate.Length(min=1, max=50))
    sha256 = fields.String(validate=validate.Regexp(r"^[0-9a-f]{64}$", error="A SHA-256 in hex."))
    url = fields.Url(validate=validate.Length(max=1000))
    file_id = Id(
        metadata={"description": "a file you uploaded (`POST /files`); its sha256 is filled in"}
    )

    @validates_schema
    def _reference(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("sha256") and not data.get("url") and not data.get("file_id"):
            raise ValidationError(
                "Give the uploaded document's file_id, or its sha256, its url, or both.",
                "_schema",
            )


class ReportCreate(Strict):
    summary = Text(required=True, validate=validate.Length(min=1, max=20000))
    beneficiaries_served = fields.Integer(
        strict=True, required=True, validate=validate.Range(min=0, max=10_000_000)
    )
    evidence = fields.List(
        fields.Nested(Evidence), load_default=list, validate=validate.Length(max=100)
    )
    indicator_values = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=100)),
        values=fields.Float(allow_nan=False, validate=validate.Range(min=0)),
        load_default=dict,
    )


class Score(Strict):
    indicator = Text(required=True, validate=validate.Length(min=1, max=100))
    score = fields.Float(required=True, allow_nan=False, validate=validate.Range(min=0, max=100))
    weight = fields.Float(
        required=True, allow_nan=False, validate=validate.Range(min=0, min_inclusive=False)
    )


class EvaluationCreate(Strict):
    scores = fields.List(
        fields.Nested(Score), required=True, validate=validate.Length(min=1, max=50)
    )
    overall = fields.Float(
        load_default=None, allow_none=True, allow_nan=False, validate=validate.Range(min=0, max=100)
    )
    evaluator = Text(required=True, validate=validate.Length(min=1, max=200))
    evaluated_on = fields.Date(required=True)


class ContractFilters(Strict):
    project_id = Id()
    contractor_id = Id()
    status = fields.String(validate=validate.OneOf(CONTRACT_STATUSES))
    limit = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(load_default=None)
    sort = sort_param(CONTRACT_ORDER)


class MilestoneFilters(Strict):
    status = fields.String(
        validate=validate.OneOf(MILESTONE_LIST_STATUSES),
        metadata={"description": "a milestone status, or `open`: not accepted yet"},
    )
    due_before = fields.Date(metadata={"description": "due before this day (not on it)"})
    running = fields.Boolean(
        metadata={"description": "true: the contract is active or suspended (still delivered)"}
    )
    payment_status = fields.String(validate=validate.OneOf(PAYMENT_STATUSES))
    contract_id = Id()
    limit = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(load_default=None)
    sort = sort_param(MILESTONE_ORDER)


# --- out ------------------------------------------------------------------------------------


class IndicatorOut(Schema):
    name = fields.String()
    target = fields.Float()
    unit = fields.String(allow_none=True)


class ProjectOut(Schema):
    id = fields.String()
    title = fields.String()
    description = fields.String(allow_none=True)
    category = fields.String()
    model = fields.String()
    purchaser_id = fields.String()
    funding_source_id = fields.String()
    budget = fields.Integer()
    starts_on = fields.Date()
    ends_on = fields.Date()
    target_beneficiaries = fields.Integer()
    indicators = fields.List(fields.Nested(IndicatorOut))
    status = fields.String()
    contract_id = fields.String(allow_none=True)
    contractor_id = fields.String(allow_none=True)
    beneficiaries_served = fields.Integer()
    volunteer_hours = fields.Method(
        "_hours", metadata={"description": "verified volunteer service hours"}
    )
    amount_committed = fields.Integer()
    amount_disbursed = fields.Integer(attribute="amount_approved")
    amount_paid = fields.Integer()
    evaluation = fields.Dict(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    created_by = fields.String()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    published_at = fields.AwareDateTime(allow_none=True)
    closed_at = fields.AwareDateTime(allow_none=True)
    version = fields.Integer()

    def _hours(self, project: Any) -> float:
        return round(project.volunteer_minutes / 60, 2)


ProjectPage = page_schema(ProjectOut)


class ApplicationOut(Schema):
    id = fields.String()
    project_id = fields.String()
    provider_id = fields.String()
    amount = fields.Integer()
    proposal = fields.String()
    status = fields.String()
    submitted_by = fields.String()
    submitted_at = fields.AwareDateTime()


class ApplicationList(Schema):
    items = fields.List(fields.Nested(ApplicationOut))
    total = total_field()


class MilestoneOut(Schema):
    id = fields.String()
    seq = fields.Integer()
    title = fields.String()
    deliverables = fields.String()
    due_on = fields.Date()
    amount = fields.Integer()
    status = fields.String()
    reported_at = fields.AwareDateTime(allow_none=True)
    accepted_at = fields.AwareDateTime(allow_none=True)
    accepted_by = fields.String(allow_none=True)
    accepted_on_time = fields.Boolean(allow_none=True)
    payment_status = fields.String()
    disbursement_id = fields.String(allow_none=True)
    paid_amount = fields.Integer()
    paid_at = fields.AwareDateTime(allow_none=True)
    payment_reference = fields.String(allow_none=True)


class ContractOut(Schema):
    id = fields.String()
    project_id = fields.String()
    purchaser_id = fields.String()
    contractor_id = fields.String()
    application_id = fields.String(allow_none=True)
    funding_source_id = fields.String()
    amount = fields.Integer()
    status = fields.String(
        metadata={"description": "active, suspended, completed, cancelled or terminated"}
    )
    termination_reason = fields.String(
        allow_none=True,
        metadata={"description": "why a terminated contract ended: provider_deregistered"},
    )
    commitment_status = fields.String()
    commitment_shortfall = fields.Integer(allow_none=True)
    commitment_reason = fields.String(allow_none=True)
    awarded_by = fields.String()
    awarded_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    milestones = fields.List(fields.Nested(MilestoneOut))


ContractPage = page_schema(ContractOut)


class ReportOut(Schema):
    id = fields.String()
    milestone_id = fields.String()
    contract_id = fields.String()
    summary = fields.String()
    beneficiaries_served = fields.Integer()
    evidence = fields.List(fields.Dict())
    indicator_values = fields.Dict()
    reported_by = fields.String()
    reported_at = fields.AwareDateTime()
    decision = fields.String()
    decided_by = fields.String(allow_none=True)
    decided_at = fields.AwareDateTime(allow_none=True)
    reason = fields.String(allow_none=True)


class ReportList(Schema):
    items = fields.List(fields.Nested(ReportOut))
    total = total_field()


class BriefReportOut(Schema):
    id = fields.String()
    summary = fields.String()
    beneficiaries_served = fields.Integer()
    evidence = fields.List(fields.Dict())
    reported_at = fields.AwareDateTime()
    decision = fields.String()
    decided_by = fields.String(allow_none=True)


class BriefMilestoneOut(Schema):
    id = fields.String()
    seq = fields.Integer()
    title = fields.String()
    amount = fields.Integer()
    status = fields.String()
    report = fields.Nested(BriefReportOut, allow_none=True)


class ContractBriefOut(Schema):
    contract_id = fields.String()
    project_id = fields.String()
    project_title = fields.String()
    contractor_id = fields.String()
    amount = fields.Integer()
    status = fields.String()
    milestones = fields.List(fields.Nested(BriefMilestoneOut))


class ContractBriefs(Schema):
    items = fields.List(fields.Nested(ContractBriefOut))


class DeliveryOut(Schema):
    project_id = fields.String()
    status = fields.String()
    beneficiaries = fields.Dict()
    indicators = fields.List(fields.Dict())
    volunteer_hours = fields.Float()
    money = fields.Dict()
    milestones = fields.Dict()
    evaluation = fields.Dict(allow_none=True)


class FileRegister(Strict):
    """What the gateway tells the projects service about a file it has stored."""

    sha256 = fields.String(
        required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$", error="A SHA-256 in hex.")
    )
    size = fields.Integer(strict=True, required=True, validate=validate.Range(min=0))
    content_type = fields.String(required=True, validate=validate.Length(min=1, max=100))
    name = Text(required=True, validate=validate.Length(min=1, max=255))


class FileOut(Schema):
    file_id = fields.String(attribute="id")
    sha256 = fields.String()
    size = fields.Integer()
    content_type = fields.String()
    name = fields.String()


# --- the workbench ---------------------------------------------------------------------------


class MilestoneRowOut(MilestoneOut):
    contract_id = fields.String()
    project_id = fields.String()
    project_title = fields.String()
    purchaser_id = fields.String()
    contractor_id = fields.String()
    contract_status = fields.String()


MilestonePage = page_schema(MilestoneRowOut, "MilestonePage")


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


MilestoneCard = Schema.from_dict(
    _card_fields(
        oldest_reported_at=fields.AwareDateTime(allow_none=True),
        paid=fields.Integer(metadata={"description": "fen paid on these milestones"}),
        items=fields.List(fields.Nested(MilestoneRowOut)),
    ),
    name="MilestoneCard",
)
StatusCount = Schema.from_dict(_card_fields(status=fields.String()), name="WorkbenchStatusCount")


class ProjectsWorkbenchOut(Schema):
    view = fields.String(metadata={"description": "staff, contractor or none"})
    today = fields.Date()
    projects_by_status = fields.List(fields.Nested(StatusCount), allow_none=True)
    reports_awaiting_decision = fields.Nested(MilestoneCard, allow_none=True)
    milestones_overdue = fields.Nested(MilestoneCard, allow_none=True)
    contracts_by_status = fields.List(fields.Nested(StatusCount), allow_none=True)
    milestones_due = fields.Nested(MilestoneCard, allow_none=True)
    reports_rejected = fields.Nested(MilestoneCard, allow_none=True)
    tranches_paid = fields.Nested(MilestoneCard, allow_none=True)


# --- the annual assessment (目标考核) ------------------------------------------------------------


class ChildProjectFigures(Schema):
    organization_id = fields.String()
    projects_published = fields.Integer(metadata={"description": "published in the year"})
    projects_completed = fields.Integer(metadata={"description": "closed (结项) in the year"})
    milestones_due = fields.Integer(
        metadata={"description": "due in the year, up to today in the running year"}
    )
    milestones_on_time = fields.Integer(
        metadata={"description": "of those, reported by the due date and accepted"}
    )
    on_time_share = fields.Float(
        allow_none=True,
        metadata={"description": "on time / due in percent, one decimal; null when none due"},
    )


class AssessmentProjectsOut(Schema):
    federation_id = fields.String()
    year = fields.Integer()
    children = fields.List(fields.Nested(ChildProjectFigures))
