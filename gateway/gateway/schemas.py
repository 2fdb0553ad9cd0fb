"""Schemas of the gateway's own routes (identity, operations) and of the error body."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from funding.schemas import CommitmentRowOut, DisbursementRowOut
from kit.fields import Id, Text
from kit.paging import total_field
from language.actor import ROLES


class Strict(Schema):
    class Meta:
        unknown = RAISE


class TokenRequest(Strict):
    username = Text(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))


class TokenOut(Schema):
    access_token = fields.String()
    token_type = fields.String(metadata={"example": "bearer"})
    expires_in = fields.Integer(metadata={"description": "seconds until the token expires"})


class UserCreate(Strict):
    username = Text(required=True, validate=validate.Length(min=3, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    organization_id = Id(load_default=None, allow_none=True)


class PasswordChange(Strict):
    old_password = fields.String(required=True, validate=validate.Length(min=1, max=256))
    new_password = fields.String(required=True, validate=validate.Length(min=1, max=256))


class PasswordReset(Strict):
    new_password = fields.String(required=True, validate=validate.Length(min=1, max=256))


class UserUpdate(Strict):
    role = fields.String(validate=validate.OneOf(ROLES))
    organization_id = Id(allow_none=True)
    disabled = fields.Boolean(
        metadata={"description": "a disabled user cannot log in and her tokens are refused"}
    )


class UserOut(Schema):
    id = fields.String()
    username = fields.String()
    role = fields.String()
    organization_id = fields.String(allow_none=True)
    disabled = fields.Boolean()
    created_at = fields.AwareDateTime()
    volunteer_id = fields.String(
        allow_none=True, metadata={"description": "a volunteer account's own record"}
    )


class UserPage(Schema):
    items = fields.List(fields.Nested(UserOut))
    next_cursor = fields.String(allow_none=True)
    total = total_field()


class PageQuery(Strict):
    limit = fields.Integer(validate=validate.Range(min=1, max=500))
    cursor = fields.String()


class ErrorDetail(Schema):
    code = fields.String(metadata={"example": "VALIDATION_FAILED"})
    message = fields.String()
    details = fields.Dict(metadata={"description": "the field and rule, the current state, ..."})


class ErrorOut(Schema):
    error = fields.Nested(ErrorDetail)


class DependencyHealth(Schema):
    status = fields.String(
        metadata={
            "description": "ok; starting (a service that answers but does not yet consume all "
            "its event queues); down",
            "example": "ok",
        }
    )
    error = fields.String(metadata={"description": "why a dependency is down"})
    service = fields.String(metadata={"example": "projects"})
    backend = fields.String(metadata={"description": "the gateway's database: sqlite, postgresql"})
    database = fields.Dict(metadata={"description": "a service's database: status and backend"})
    outbox = fields.Dict(
        metadata={"description": "pending and unrouted events, age of the oldest pending"}
    )
    consumers = fields.String(
        metadata={"description": "ready, or starting while its event queues are declared"}
    )


class HealthOut(Schema):
    status = fields.String(
        metadata={"description": "ok when every dependency is ok, else degraded"}
    )
    checked_at = fields.DateTime(
        metadata={"description": "when this report was made (it is kept a few seconds)"}
    )
    dependencies = fields.Dict(
        keys=fields.String(metadata={"example": "projects"}),
        values=fields.Nested(DependencyHealth),
    )


# --- finance screens: funding's rows beside what projects says of their contracts ----------


class MilestoneBriefOut(Schema):
    id = fields.String()
    seq = fields.Integer()
    title = fields.String()
    amount = fields.Integer()
    status = fields.String()
    report = fields.Dict(
        allow_none=True,
        metadata={
            "description": "the latest milestone report: summary, beneficiaries_served,"
            " evidence, reported_at, decision"
        },
    )


class QueueItemOut(DisbursementRowOut):
    project_title = fields.String(allow_none=True)
    contract_status = fields.String(allow_none=True)
    milestone = fields.Nested(MilestoneBriefOut, allow_none=True)


class QueuePage(Schema):
    items = fields.List(fields.Nested(QueueItemOut))
    next_cursor = fields.String(allow_none=True)
    total = total_field()


class ContractMoneyOut(CommitmentRowOut):
    project_title = fields.String(allow_none=True)
    contract_status = fields.String(allow_none=True)


class ContractMoneyPage(Schema):
    items = fields.List(fields.Nested(ContractMoneyOut))
    next_cursor = fields.String(allow_none=True)
    total = total_field()


# --- notifications (gateway.notices) ---------------------------------------------------


class NotificationQuery(PageQuery):
    unread = fields.Boolean(
        load_default=False, metadata={"description": "only the ones not read yet"}
    )


class NotificationOut(Schema):
    id = fields.String()
    kind = fields.String(
        metadata={
            "description": "what it is about: milestone_due, milestone_overdue, "
            "report_awaiting_decision, milestone_rejected, disbursement_requested, "
            "hours_awaiting_verification"
        }
    )
    title = fields.String()
    body = fields.String()
    link = fields.String(
        allow_none=True, metadata={"description": "the console's route of the object"}
    )
    created_at = fields.AwareDateTime()
    read_at = fields.AwareDateTime(allow_none=True)


class NotificationPage(Schema):
    items = fields.List(fields.Nested(NotificationOut))
    next_cursor = fields.String(allow_none=True)
    total = total_field()


class UnreadCountOut(Schema):
    unread = fields.Integer()


class MarkedReadOut(Schema):
    marked = fields.Integer(metadata={"description": "how many were unread and are now read"})


class EmailIn(Strict):
    email = fields.Email(
        required=True,
        allow_none=True,
        validate=validate.Length(max=254),
        metadata={"description": "where notifications are also mailed; null: none"},
    )


class EmailOut(Schema):
    email = fields.String(allow_none=True)
