"""Volunteers schemas: RPC payloads in (``unknown = RAISE``), results out. The gateway's OpenAPI
document is generated from these same classes.

Phone and ID number are loaded as text and checked by the domain, so a bad one is reported
with the rule it breaks (``phone_format``, ``id_length``, ``id_birth_date``,
``id_check_character``) rather than as a shape error.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from kit.fields import Id, Text
from kit.paging import MAX_LIMIT, page_schema, sort_param
from volunteers.domain.activities import ENROLMENT_STATUSES
from volunteers.domain.hours import HOURS_STATUSES
from volunteers.domain.reports import REPORT_GROUPS
from volunteers.domain.roster import THEMES
from volunteers.repository import ACTIVITY_ORDER, TEAM_ORDER, VOLUNTEER_ORDER


class Strict(Schema):
    class Meta:
        unknown = RAISE


def _limit() -> fields.Integer:
    return fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_LIMIT))


def _cursor() -> fields.String:
    return fields.String(load_default=None)


# --- in ----------------------------------------------------------------------------------------


class TeamCreate(Strict):
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    theme = fields.String(required=True, validate=validate.OneOf(THEMES))
    host_id = Id(
        required=True, metadata={"description": "a federation or host unit in the registry"}
    )
    leader_user_id = Id(
        load_default=None, allow_none=True, metadata={"description": "a team_leader user"}
    )
    description = Text(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class TeamUpdate(Strict):
    name = Text(validate=validate.Length(min=1, max=200))
    theme = fields.String(validate=validate.OneOf(THEMES))
    leader_user_id = Id(allow_none=True)
    description = Text(allow_none=True, validate=validate.Length(max=2000))

    @validates_schema
    def _not_empty(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError("Name at least one field to change.", "_schema")


class TeamFilters(Strict):
    theme = fields.String(validate=validate.OneOf(THEMES))
    host_id = Id()
    leader_user_id = Id()
    mine = fields.Boolean(metadata={"description": "a team leader's own teams"})
    q = Text(validate=validate.Length(min=1, max=100), metadata={"description": "name contains"})
    limit = _limit()
    cursor = _cursor()
    sort = sort_param(TEAM_ORDER)


class MemberAdd(Strict):
    volunteer_id = Id(required=True)


class PageFilters(Strict):
    limit = _limit()
    cursor = _cursor()


class VolunteerCreate(Strict):
    name = fields.String(required=True, validate=validate.Length(max=200))
    phone = fields.String(
        required=True,
        validate=validate.Length(max=40),
        metadata={"description": "mainland mobile, 11 digits; spaces, dashes and +86 allowed"},
    )
    id_number = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=40),
        metadata={"description": "resident ID number, 18 characters (GB 11643)"},
    )
    skills = fields.List(
        fields.String(validate=validate.Length(max=200)),
        load_default=list,
        validate=validate.Length(max=100),
    )
    consented_on = fields.Date(
        load_default=None,
        allow_none=True,
        metadata={"description": "the day the volunteer signed the consent; required"},
    )
    user_id = Id(
        load_default=None,
        allow_none=True,
        metadata={"description": "the volunteer's own account, if she has one"},
    )
    team_id = Id(load_default=None, allow_none=True, metadata={"description": "join this team"})


class VolunteerFilters(Strict):
    q = Text(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "name contains (简/繁 alike)"},
    )
    team_id = Id()
    skill = Text(validate=validate.Length(min=1, max=50))
    limit = _limit()
    cursor = _cursor()
    sort = sort_param(VOLUNTEER_ORDER)


class VolunteerRead(Strict):
    unmasked = fields.Boolean(
        load_default=False, metadata={"description": "admins: phone and ID number in clear"}
    )
    fields_ = fields.String(
        data_key="fields",
        load_default=None,
        validate=validate.Regexp(r"^(phone|id_number)(,(phone|id_number))?$"),
        metadata={"description": "which personal fields to unmask: phone, id_number"},
    )
    reason = Text(load_default=None, validate=validate.Length(max=500))


class AuditFilters(Strict):
    volunteer_id = Id()
    actor_id = Id()
    limit = _limit()
    cursor = _cursor()


class ActivityCreate(Strict):
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    team_id = Id(required=True)
    project_id = Id(
        load_default=None,
        allow_none=True,
        metadata={"description": "the project the activity delivers; verified hours count there"},
    )
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    place = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))
    capacity = fields.Integer(
        strict=True, required=True, validate=validate.Range(min=1, max=100_000)
    )
    description = Text(load_default=None, allow_none=True, validate=validate.Length(max=5000))


class ActivityFilters(Strict):
    team_id = Id()
    project_id = Id()
    starts_from = fields.Date(metadata={"description": "starting on or after this day"})
    starts_before = fields.Date(metadata={"description": "starting before this day"})
    q = Text(validate=validate.Length(min=1, max=100))
    limit = _limit()
    cursor = _cursor()
    sort = sort_param(ACTIVITY_ORDER)


class EnrolmentCreate(Strict):
    volunteer_id = Id(required=True)
    waitlist = fields.Boolean(
        load_default=True,
        metadata={"description": "queue when the places are taken (else 409 ACTIVITY_FULL)"},
    )


class EnrolmentFilters(Strict):
    status = fields.String(validate=validate.OneOf(ENROLMENT_STATUSES))
    limit = _limit()
    cursor = _cursor()


class HoursCreate(Strict):
    volunteer_id = Id(required=True)
    activity_id = Id(required=True)
    started_at = fields.AwareDateTime(required=True)
    ended_at = fields.AwareDateTime(load_default=None)
    hours = fields.Decimal(
        load_default=None,
        allow_nan=False,
        validate=validate.Range(min=0, min_inclusive=False, max=24),
        metadata={
            "description": "instead of ended_at: whole minutes (1.5, 2.25); stored as minutes"
        },
    )
    note = Text(load_default=None, allow_none=True, validate=validate.Length(max=2000))

    @validates_schema
    def _one_end(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("ended_at") is not None and data.get("hours") is not None:
            raise ValidationError("Give ended_at or hours, not both.", "hours")


class HoursRejectionRequest(Strict):
    reason = Text(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class HoursFilters(Strict):
    status = fields.String(validate=validate.OneOf(HOURS_STATUSES))
    volunteer_id = Id()
    activity_id = Id()
    team_id = Id()
    project_id = Id()
    limit = _limit()
    cursor = _cursor()


class ReportFilters(Strict):
    group_by = fields.String(required=True, validate=validate.OneOf(REPORT_GROUPS))
    since = fields.Date(metadata={"description": "from this day (China time), inclusive"})
    until = fields.Date(metadata={"description": "to this day (China time), inclusive"})
    limit = _limit()
    cursor = _cursor()


# --- out ---------------------------------------------------------------------------------------


class TeamOut(Schema):
    id = fields.String()
    name = fields.String()
    theme = fields.String()
    host_id = fields.String()
    leader_user_id = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    members = fields.Integer()
    created_by = fields.String()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    version = fields.Integer()


TeamPage = page_schema(TeamOut)


class MembershipOut(Schema):
    team_id = fields.String()
    volunteer_id = fields.String()
    added_by = fields.String()
    joined_at = fields.AwareDateTime()


class VolunteerOut(Schema):
    id = fields.String()
    name = fields.String()
    phone = fields.String(metadata={"description": "masked (138****1234) unless unmasked"})
    id_number = fields.String(
        allow_none=True, metadata={"description": "masked (3501**********1234) unless unmasked"}
    )
    unmasked = fields.List(fields.String(), metadata={"description": "fields shown in clear"})
    skills = fields.List(fields.String())
    consented_on = fields.Date()
    user_id = fields.String(allow_none=True)
    team_ids = fields.List(fields.String())
    created_by = fields.String()
    created_at = fields.AwareDateTime()


VolunteerPage = page_schema(VolunteerOut)


class AuditOut(Schema):
    id = fields.String()
    volunteer_id = fields.String()
    fields_ = fields.List(fields.String(), data_key="fields", attribute="fields")
    actor_id = fields.String()
    actor_name = fields.String()
    actor_role = fields.String()
    reason = fields.String(allow_none=True)
    read_at = fields.AwareDateTime()


AuditPage = page_schema(AuditOut)


class ImportRowError(Schema):
    line = fields.Integer(metadata={"description": "the line of the file (the header is line 1)"})
    kind = fields.String(metadata={"description": "invalid or duplicate"})
    field = fields.String()
    column = fields.String(allow_none=True, metadata={"description": "the file's header"})
    rule = fields.String()
    message = fields.String()
    duplicate_of_line = fields.Integer(allow_none=True)
    duplicate_of_volunteer_id = fields.String(allow_none=True)


class ImportReport(Schema):
    import_id = fields.String()
    received = fields.Integer()
    imported = fields.Integer()
    invalid = fields.Integer()
    duplicate = fields.Integer()
    columns = fields.Dict(metadata={"description": "which column of the file fed which field"})
    ignored_columns = fields.List(fields.String())
    errors = fields.List(fields.Nested(ImportRowError))
    errors_total = fields.Integer()
    errors_truncated = fields.Boolean()
    sheet = fields.String(metadata={"description": "an .xlsx: the sheet read (the first)"})
    ignored_sheets = fields.List(
        fields.String(), metadata={"description": "an .xlsx: its other sheets, not read"}
    )


class ImportProgressOut(Schema):
    import_id = fields.String()
    imported = fields.Integer(metadata={"description": "volunteers written so far"})
    through_line = fields.Integer(
        allow_none=True, metadata={"description": "the last line among them (None: none yet)"}
    )


class ActivityOut(Schema):
    id = fields.String()
    title = fields.String()
    team_id = fields.String()
    project_id = fields.String(allow_none=True)
    starts_at = fields.AwareDateTime()
    ends_at = fields.AwareDateTime()
    place = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    capacity = fields.Integer()
    enrolled = fields.Integer(attribute="enrolled_count")
    waitlisted = fields.Integer(attribute="waitlisted_count")
    places_left = fields.Integer()
    created_by = fields.String()
    created_at = fields.AwareDateTime()
    version = fields.Integer()


ActivityPage = page_schema(ActivityOut)


class EnrolmentOut(Schema):
    id = fields.String()
    activity_id = fields.String()
    volunteer_id = fields.String()
    volunteer_name = fields.String(
        allow_none=True, metadata={"description": "her name (in lists of enrolments)"}
    )
    status = fields.String()
    position = fields.Integer(metadata={"description": "place in line: the waitlist's order"})
    created_by = fields.String()
    created_at = fields.AwareDateTime()
    promoted_at = fields.AwareDateTime(allow_none=True)
    cancelled_at = fields.AwareDateTime(allow_none=True)
    cancelled_by = fields.String(allow_none=True)


EnrolmentPage = page_schema(EnrolmentOut)


class CancellationOut(Schema):
    enrolment = fields.Nested(EnrolmentOut)
    promoted = fields.Nested(
        EnrolmentOut, allow_none=True, metadata={"description": "who moved up from the waitlist"}
    )


class HoursOut(Schema):
    id = fields.String()
    volunteer_id = fields.String()
    volunteer_name = fields.String(
        allow_none=True, metadata={"description": "her name (in lists of hours)"}
    )
    activity_id = fields.String()
    team_id = fields.String()
    project_id = fields.String(allow_none=True)
    started_at = fields.AwareDateTime()
    ended_at = fields.AwareDateTime()
    minutes = fields.Integer()
    hours = fields.Method("_hours")
    service_month = fields.String()
    note = fields.String(allow_none=True)
    status = fields.String()
    logged_by = fields.String()
    logged_at = fields.AwareDateTime()
    decided_by = fields.String(allow_none=True)
    decided_at = fields.AwareDateTime(allow_none=True)
    reject_reason = fields.String(allow_none=True)
    version = fields.Integer()

    def _hours(self, entry: Any) -> float:
        return round(entry.minutes / 60, 2)


HoursPage = page_schema(HoursOut)


class StatementEntry(Schema):
    id = fields.String()
    activity_id = fields.String()
    activity_title = fields.String()
    team_id = fields.String()
    project_id = fields.String(allow_none=True)
    started_at = fields.AwareDateTime()
    ended_at = fields.AwareDateTime()
    minutes = fields.Integer()
    decided_by = fields.String(allow_none=True)
    decided_at = fields.AwareDateTime(allow_none=True)


class StatementOut(Schema):
    volunteer_id = fields.String()
    name = fields.String()
    entries = fields.List(fields.Nested(StatementEntry))
    total_minutes = fields.Integer()
    total_hours = fields.Float()


class ReportRow(Schema):
    key = fields.String(allow_none=True, metadata={"description": "the group's id or value"})
    label = fields.String(allow_none=True, metadata={"description": "its name, if it has one"})
    entries = fields.Integer()
    minutes = fields.Integer()
    hours = fields.Float()


class ReportTotal(Schema):
    entries = fields.Integer()
    minutes = fields.Integer()
    hours = fields.Float()


class HoursReportOut(Schema):
    group_by = fields.String()
    since = fields.Date(allow_none=True)
    until = fields.Date(allow_none=True)
    items = fields.List(fields.Nested(ReportRow))
    total = fields.Nested(ReportTotal)
    next_cursor = fields.String(allow_none=True)


# --- the workbench ---------------------------------------------------------------------------


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


HoursCard = Schema.from_dict(
    _card_fields(minutes=fields.Integer(), hours=fields.Float()), name="WorkbenchHoursCard"
)
ActivitiesCard = Schema.from_dict(
    _card_fields(items=fields.List(fields.Nested(ActivityOut))), name="WorkbenchActivitiesCard"
)


class VolunteersWorkbenchOut(Schema):
    view = fields.String(metadata={"description": "leader, staff or none"})
    today = fields.Date()
    hours_pending = fields.Nested(HoursCard, allow_none=True)
    upcoming_activities = fields.Nested(ActivitiesCard, allow_none=True)
    hours_this_month = fields.Nested(HoursCard, allow_none=True)


# --- the annual assessment (目标考核) ------------------------------------------------------------


class ChildVolunteerFigures(Schema):
    organization_id = fields.String()
    volunteers_registered = fields.Integer(
        metadata={"description": "registered in the year for an organization of the subtree"}
    )
    verified_minutes = fields.Integer(
        metadata={"description": "verified service started in the year, teams of the subtree"}
    )
    verified_hours = fields.Float(metadata={"description": "the same in hours, two decimals"})
    activities_held = fields.Integer(
        metadata={
            "description": "activities of the subtree's teams started in the year and ended by now"
        }
    )


class AssessmentVolunteersOut(Schema):
    federation_id = fields.String()
    year = fields.Integer()
    children = fields.List(fields.Nested(ChildVolunteerFigures))


# --- certificates (志愿服务证明) -----------------------------------------------------------------


class CertificateRequest(Strict):
    volunteer_id = Id(required=True)
    period_from = fields.Date(required=True, metadata={"description": "first day (China time)"})
    period_to = fields.Date(required=True, metadata={"description": "last day, inclusive"})
    issuer_id = Id(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "the issuing federation (staff: of your subtree, your own by "
            "default) or your team's host (a leader)"
        },
    )


class CertificateFilters(Strict):
    volunteer_id = Id()
    status = fields.String(validate=validate.OneOf(("issued", "revoked")))
    limit = _limit()
    cursor = _cursor()


class CertificateRevocation(Strict):
    reason = Text(required=True, validate=validate.Length(min=1, max=500))


class CertificateCheck(Strict):
    code = fields.String(
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata={"description": "the verification code printed on the certificate"},
    )


class CertificateActivity(Schema):
    title = fields.String()
    theme = fields.String()
    place = fields.String(allow_none=True)
    entries = fields.Integer()
    minutes = fields.Integer()
    hours = fields.Float()
    first_served_on = fields.String()


class CertificateFigures(Schema):
    volunteer_id = fields.String()
    volunteer_name = fields.String()
    period_from = fields.String()
    period_to = fields.String()
    issuer_id = fields.String()
    issuer_name = fields.String()
    activities = fields.List(fields.Nested(CertificateActivity))
    themes = fields.List(fields.String())
    places = fields.List(fields.String())
    entries = fields.Integer()
    total_minutes = fields.Integer()
    total_hours = fields.Float()


class CertificateContent(CertificateFigures):
    """What the certificate says, frozen and signed at issue."""

    number = fields.String()
    masked_id_number = fields.String(allow_none=True)
    issued_on = fields.String()
    issued_by = fields.String()


class CertificateOut(Schema):
    id = fields.String()
    number = fields.String(metadata={"description": "JG-<year>-<six digits>"})
    verification_code = fields.String(metadata={"description": "printed on the certificate"})
    volunteer_id = fields.String()
    volunteer_name = fields.String()
    issuer_id = fields.String()
    issuer_name = fields.String()
    period_from = fields.Date()
    period_to = fields.Date()
    total_minutes = fields.Integer()
    total_hours = fields.Float()
    status = fields.String(metadata={"description": "issued or revoked"})
    issued_by = fields.String()
    issued_at = fields.DateTime()
    revoked_by = fields.String(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    revoke_reason = fields.String(allow_none=True)
    genuine = fields.Boolean(metadata={"description": "its stored content matches its signature"})
    content = fields.Nested(CertificateContent)


CertificatePage = page_schema(CertificateOut)


class CertificateVerification(Schema):
    """The public answer: nothing but these (no phone, no ID number, no full name)."""

    result = fields.String(metadata={"description": "genuine, revoked, invalid or not_found"})
    number = fields.String()
    masked_name = fields.String()
    period_from = fields.String()
    period_to = fields.String()
    total_minutes = fields.Integer()
    total_hours = fields.Float()
    issuer_name = fields.String()
    issued_on = fields.String()
    revoked_on = fields.String(allow_none=True)


class AccountLink(Schema):
    volunteer_id = fields.String()
    user_id = fields.String(allow_none=True)
    name = fields.String()
