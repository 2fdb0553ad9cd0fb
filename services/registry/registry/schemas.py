"""Registry schemas: RPC payloads in (``unknown = RAISE``), results out.

The gateway documents its HTTP API from these same classes, so the OpenAPI document and the
validation that answers a request cannot disagree.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from kit.fields import Id, Text
from kit.paging import MAX_LIMIT, page_schema, sort_param
from registry.domain.hierarchy import KINDS, LEVELS, SECTORS, ancestor_ids
from registry.domain.lifecycle import ACTIVE_STATUSES, STATUSES
from registry.repository import ORGANIZATION_ORDER

REGION_CODE = validate.Regexp(
    r"^\d{6}(\d{3}(\d{3})?)?$",
    error="Must be a 6-, 9- or 12-digit administrative division code (GB/T 2260).",
)


class Strict(Schema):
    class Meta:
        unknown = RAISE


class ContactSchema(Strict):
    person = Text(validate=validate.Length(max=100))
    phone = Text(validate=validate.Length(max=40))
    email = fields.Email(validate=validate.Length(max=200))
    address = Text(validate=validate.Length(max=300))


class OrganizationCreate(Strict):
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    parent_id = Id(load_default=None, allow_none=True)
    level = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(LEVELS))
    sector = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(SECTORS))
    uscc = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=40),
        metadata={"description": "Unified Social Credit Code, GB 32100-2015 (18 characters)"},
    )
    region_code = fields.String(load_default=None, allow_none=True, validate=REGION_CODE)
    contact = fields.Nested(ContactSchema, load_default=None, allow_none=True)


class OrganizationUpdate(Strict):
    name = Text(validate=validate.Length(min=1, max=200))
    parent_id = Id(allow_none=True)
    sector = fields.String(allow_none=True, validate=validate.OneOf(SECTORS))
    uscc = fields.String(allow_none=True, validate=validate.Length(max=40))
    region_code = fields.String(allow_none=True, validate=REGION_CODE)
    contact = fields.Nested(ContactSchema, allow_none=True)
    version = fields.Integer(
        strict=True,
        metadata={"description": "If given, the update applies only to this version (else 409)"},
    )

    @validates_schema
    def _not_empty(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not set(data) - {"version"}:
            raise ValidationError("Name at least one field to change.", "_schema")


class StatusChangeRequest(Strict):
    reason = Text(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class OrganizationFilters(Strict):
    kind = fields.String(validate=validate.OneOf(KINDS))
    status = fields.String(validate=validate.OneOf(STATUSES))
    parent_id = Id()
    within = Id(metadata={"description": "list every organization in this one's subtree"})
    q = Text(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "name contains (简/繁 alike)"},
    )
    limit = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(load_default=None)
    sort = sort_param(ORGANIZATION_ORDER)


class PageQuery(Strict):
    limit = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(load_default=None)


class OrganizationOut(Schema):
    id = fields.String()
    name = fields.String()
    kind = fields.String()
    level = fields.String(allow_none=True)
    sector = fields.String(allow_none=True)
    uscc = fields.String(allow_none=True)
    region_code = fields.String(allow_none=True)
    contact = fields.Dict()
    parent_id = fields.String(allow_none=True)
    ancestors = fields.Method(
        "_ancestors",
        metadata={"description": "ids from the top of the hierarchy down to the parent"},
    )
    depth = fields.Integer()
    status = fields.String()
    active = fields.Method("_active")
    version = fields.Integer()
    created_by = fields.String()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()

    def _ancestors(self, organization: Any) -> list[str]:
        return ancestor_ids(organization.path)[:-1]

    def _active(self, organization: Any) -> bool:
        return organization.status in ACTIVE_STATUSES


OrganizationPage = page_schema(OrganizationOut)


class StatusChangeOut(Schema):
    id = fields.String()
    action = fields.String()
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    reason = fields.String(allow_none=True)
    actor_id = fields.String()
    actor_name = fields.String()
    at = fields.AwareDateTime()


StatusChangePage = page_schema(StatusChangeOut)


RATE_DESCRIPTION = "covered / host_units in percent, one decimal; null when there are no units"


class CoverageLine(Schema):
    host_units = fields.Integer()
    covered = fields.Integer()
    rate = fields.Float(allow_none=True, metadata={"description": RATE_DESCRIPTION})


class SectorCoverage(CoverageLine):
    sector = fields.String()


class CoverageOut(Schema):
    organization_id = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    sectors = fields.List(fields.Nested(SectorCoverage))
    total = fields.Nested(CoverageLine)


# --- the annual assessment (目标考核) ------------------------------------------------------------

WEIGHT_DESCRIPTION = (
    "indicator -> weight, a whole number from 0 to 100 (language.assessment.INDICATORS)"
)


class ChildCoverage(Schema):
    sectors = fields.List(fields.Nested(SectorCoverage))
    total = fields.Nested(CoverageLine)


class ChildRegistryFigures(Schema):
    organization_id = fields.String()
    name = fields.String()
    coverage = fields.Nested(ChildCoverage)
    womens_organizations_founded = fields.Integer(
        metadata={"description": "registered in the year (China time), not deregistered"}
    )


class AssessmentRegistryOut(Schema):
    federation_id = fields.String()
    name = fields.String()
    year = fields.Integer()
    children = fields.List(fields.Nested(ChildRegistryFigures))


class WeightsChangeOut(Schema):
    id = fields.String()
    before = fields.Dict(keys=fields.String(), values=fields.Integer())
    after = fields.Dict(keys=fields.String(), values=fields.Integer())
    reason = fields.String(allow_none=True)
    actor_id = fields.String()
    actor_name = fields.String()
    at = fields.AwareDateTime()


class AssessmentWeightsOut(Schema):
    federation_id = fields.String()
    year = fields.Integer()
    weights = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": WEIGHT_DESCRIPTION}
    )
    source = fields.String(
        metadata={
            "description": "set: for this year; carried: from the latest earlier year that has "
            "some; default: every indicator 10"
        }
    )
    version = fields.Integer(metadata={"description": "0 while none are set for the year"})
    history = fields.List(
        fields.Nested(WeightsChangeOut), metadata={"description": "every change, newest first"}
    )


class AssessmentWeightsChange(Strict):
    weights = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        required=True,
        metadata={"description": WEIGHT_DESCRIPTION + "; indicators not named keep theirs"},
    )
    reason = Text(load_default=None, allow_none=True, validate=validate.Length(max=500))
