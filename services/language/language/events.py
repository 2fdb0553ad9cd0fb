"""The event catalogue: Jinguo's published language.

One marshmallow schema per event type (the catalogue in ARCHITECTURE.md). Names and fields are
a contract between services. Producers validate strictly on publish (an unknown or missing field
is a bug in the producer and fails its transaction); consumers validate on consume as tolerant
readers (unknown fields are ignored, so a producer can add a field without breaking anyone).

Every event carries ``event_id`` (UUID), ``occurred_at`` (aware UTC, ISO-8601) and the ids of
the entities it is about. Events about one entity that consumers keep a copy of also carry the
entity's ``version``, so a read model can ignore a stale event that overtook a newer one.

The kit validates with this module without importing it: ``language`` registers it with
``kit.catalogue`` when it is imported (this module has ``outgoing`` and ``incoming``, which is
all ``kit.catalogue.Catalogue`` asks). An event that is not in the catalogue, comes from the
wrong source or does not match its schema raises ``EventInvalid``, the kit's error, so the
kit's consumers catch it without knowing this module.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from kit.catalogue import EventInvalid
from kit.clock import utcnow

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


class UUIDList(fields.Field):
    """A list of UUID strings checked in one pass (marshmallow's ``List(UUID())`` costs ~20 µs
    an item, and an import's batch names thousands). Loads as a list of strings."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list[str]:
        if not isinstance(value, list) or not all(
            isinstance(item, str) and _UUID.fullmatch(item) for item in value
        ):
            raise ValidationError("Not a list of UUIDs.")
        return list(value)

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else [str(item) for item in value]


Money = lambda **kw: fields.Integer(strict=True, validate=validate.Range(min=0), **kw)  # noqa: E731


class EventSchema(Schema):
    class Meta:
        unknown = RAISE

    event_id = fields.UUID(required=True)
    occurred_at = fields.AwareDateTime(required=True, default_timezone=UTC)
    actor_id = fields.String(load_default=None, allow_none=True)


# --- registry --------------------------------------------------------------------------

ORGANIZATION_KINDS = ("federation", "womens_organization", "host_unit", "service_provider")


class OrganizationEvent(EventSchema):
    organization_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(ORGANIZATION_KINDS))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    status = fields.String(required=True)


class OrganizationRegistered(OrganizationEvent):
    name = fields.String(required=True)
    parent_id = fields.UUID(load_default=None, allow_none=True)
    level = fields.String(load_default=None, allow_none=True)
    sector = fields.String(load_default=None, allow_none=True)
    uscc = fields.String(load_default=None, allow_none=True)


class OrganizationUpdated(OrganizationEvent):
    name = fields.String(required=True)
    parent_id = fields.UUID(load_default=None, allow_none=True)
    uscc = fields.String(load_default=None, allow_none=True)
    changed = fields.List(fields.String(), required=True)


class OrganizationStatusChanged(OrganizationEvent):
    reason = fields.String(load_default=None, allow_none=True)


# --- projects --------------------------------------------------------------------------


class ProjectPublished(EventSchema):
    project_id = fields.UUID(required=True)
    purchaser_id = fields.UUID(required=True)
    funding_source_id = fields.UUID(required=True)
    title = fields.String(required=True)
    category = fields.String(required=True)
    model = fields.String(required=True, validate=validate.OneOf(("commissioned", "self_run")))
    budget = Money(required=True)


class MilestoneOutline(Schema):
    milestone_id = fields.UUID(required=True)
    title = fields.String(required=True)
    due_on = fields.Date(required=True)
    amount = Money(required=True)


class ContractAwarded(EventSchema):
    contract_id = fields.UUID(required=True)
    project_id = fields.UUID(required=True)
    contractor_id = fields.UUID(required=True)
    purchaser_id = fields.UUID(required=True)
    funding_source_id = fields.UUID(required=True)
    amount = Money(required=True)
    milestones = fields.List(fields.Nested(MilestoneOutline), required=True)


class MilestoneEvent(EventSchema):
    contract_id = fields.UUID(required=True)
    milestone_id = fields.UUID(required=True)
    project_id = fields.UUID(required=True)


class MilestoneReported(MilestoneEvent):
    report_id = fields.UUID(required=True)
    beneficiaries_served = fields.Integer(required=True, strict=True)


class MilestoneAccepted(MilestoneEvent):
    amount = Money(required=True)
    payee_id = fields.UUID(required=True)
    funding_source_id = fields.UUID(required=True)
    accepted_by = fields.String(required=True)


class MilestoneRejected(MilestoneEvent):
    reason = fields.String(required=True)
    rejected_by = fields.String(required=True)
    #: the contractor who has to redo the report (who is told)
    contractor_id = fields.UUID(load_default=None, allow_none=True)


class MilestoneReminder(MilestoneEvent):
    """A time-driven notice about a milestone, from projects' daily checks: who delivers it
    (``contractor_id``) and who bought it (``purchaser_id``, a federation)."""

    contractor_id = fields.UUID(required=True)
    purchaser_id = fields.UUID(required=True)
    title = fields.String(required=True)
    due_on = fields.Date(required=True)


class MilestoneDue(MilestoneReminder):
    """The milestone falls due in 7 days, or today; published once per milestone and notice."""

    notice = fields.String(required=True, validate=validate.OneOf(("due_in_7_days", "due_today")))


class MilestoneOverdue(MilestoneReminder):
    """The milestone is past its due date by more than the grace period without an accepted
    report: funding holds the contract's open disbursements (reason ``milestone_overdue``)."""

    days_overdue = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


class ReportAwaitingDecision(MilestoneReminder):
    """A milestone report has waited for the purchaser's decision for more than 3 days."""

    report_id = fields.UUID(required=True)
    submitted_at = fields.AwareDateTime(required=True, default_timezone=UTC)


class ProjectEnded(EventSchema):
    project_id = fields.UUID(required=True)
    funding_source_id = fields.UUID(required=True)
    reason = fields.String(load_default=None, allow_none=True)


# --- funding ---------------------------------------------------------------------------


class FundingSourceCreated(EventSchema):
    """A funding source exists: its owner (a federation) decides which projects may draw on
    it (the owner's own and those of the federations below it)."""

    funding_source_id = fields.UUID(required=True)
    owner_id = fields.UUID(required=True)
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


class CommitmentMade(EventSchema):
    commitment_id = fields.UUID(required=True)
    contract_id = fields.UUID(required=True)
    project_id = fields.UUID(required=True)
    funding_source_id = fields.UUID(required=True)
    amount = Money(required=True)


class CommitmentRejected(EventSchema):
    contract_id = fields.UUID(required=True)
    project_id = fields.UUID(required=True)
    funding_source_id = fields.UUID(required=True)
    amount = Money(required=True)
    shortfall = Money(required=True)
    reason = fields.String(required=True)


class DisbursementEvent(EventSchema):
    disbursement_id = fields.UUID(required=True)
    contract_id = fields.UUID(required=True)
    milestone_id = fields.UUID(required=True)
    amount = Money(required=True)


class DisbursementRequested(DisbursementEvent):
    payee_id = fields.UUID(required=True)
    funding_source_id = fields.UUID(required=True)
    requested_by = fields.String(required=True)
    #: the federation that owns the funding source (whose finance staff approve)
    owner_id = fields.UUID(load_default=None, allow_none=True)


class DisbursementApproved(DisbursementEvent):
    approved_by = fields.List(fields.String(), required=True)


class DisbursementRejected(DisbursementEvent):
    """Finance rejected the disbursement — or funding opened none (``disbursement_id`` and
    ``rejected_by`` null) because the contract's commitment was refused."""

    disbursement_id = fields.UUID(required=True, allow_none=True)
    reason = fields.String(required=True)
    rejected_by = fields.String(required=True, allow_none=True)


class DisbursementPaid(DisbursementEvent):
    payment_reference = fields.String(required=True)
    paid_by = fields.String(required=True)


class DisbursementHeld(DisbursementEvent):
    payee_id = fields.UUID(required=True)
    reason = fields.String(required=True)


class DisbursementReleased(DisbursementEvent):
    """A hold ended (the payee was reinstated): the disbursement is back where it was."""

    payee_id = fields.UUID(required=True)
    status = fields.String(required=True, validate=validate.OneOf(("pending", "approved")))


# --- volunteers ------------------------------------------------------------------------


class VolunteerRegistered(EventSchema):
    """One volunteer registered, or one batch of an import (``import_id``): their ids only.

    No personal data in events: phone and ID number stay inside the volunteers service.
    """

    volunteer_ids = UUIDList(required=True, validate=validate.Length(min=1))
    import_id = fields.UUID(load_default=None, allow_none=True)


class VolunteerEnrolled(EventSchema):
    enrolment_id = fields.UUID(required=True)
    volunteer_id = fields.UUID(required=True)
    activity_id = fields.UUID(required=True)
    project_id = fields.UUID(load_default=None, allow_none=True)
    #: cancelled: the volunteer gave up her place (or her place in the waitlist)
    status = fields.String(
        required=True, validate=validate.OneOf(("enrolled", "waitlisted", "cancelled"))
    )


class ServiceHoursVerified(EventSchema):
    entry_id = fields.UUID(required=True)
    volunteer_id = fields.UUID(required=True)
    activity_id = fields.UUID(required=True)
    team_id = fields.UUID(load_default=None, allow_none=True)
    project_id = fields.UUID(load_default=None, allow_none=True)
    minutes = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    verified_by = fields.String(required=True)


class AuditAnchor(EventSchema):
    """The head of a service's audit log (``kit.audit``): its last record's seq and hash, for
    the other services to write into their own logs, so that rewriting one whole log is caught
    by the others. Every service publishes it, on its own exchange."""

    service = fields.String(required=True, validate=validate.Length(min=1, max=32))
    seq = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    hash = fields.String(required=True, validate=validate.Length(equal=64))


class HoursAwaitingVerification(EventSchema):
    """A team has service-hours entries waiting for its leader's verification (volunteers'
    daily check: one per team and day at most)."""

    team_id = fields.UUID(required=True)
    leader_user_id = fields.String(required=True)
    entries = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    oldest_started_at = fields.AwareDateTime(required=True, default_timezone=UTC)


#: the services that publish an event every one of them publishes (``audit_anchor``)
EVERY_SERVICE = ("registry", "projects", "funding", "volunteers")

#: event type -> (source service, schema). Event types are unique across the platform; the one
#: every service publishes names them all.
CATALOGUE: dict[str, tuple[str | tuple[str, ...], type[EventSchema]]] = {
    "organization_registered": ("registry", OrganizationRegistered),
    "organization_verified": ("registry", OrganizationStatusChanged),
    "organization_suspended": ("registry", OrganizationStatusChanged),
    "organization_reinstated": ("registry", OrganizationStatusChanged),
    "organization_deregistered": ("registry", OrganizationStatusChanged),
    "organization_updated": ("registry", OrganizationUpdated),
    "project_published": ("projects", ProjectPublished),
    "contract_awarded": ("projects", ContractAwarded),
    "milestone_reported": ("projects", MilestoneReported),
    "milestone_accepted": ("projects", MilestoneAccepted),
    "milestone_rejected": ("projects", MilestoneRejected),
    "milestone_due": ("projects", MilestoneDue),
    "milestone_overdue": ("projects", MilestoneOverdue),
    "report_awaiting_decision": ("projects", ReportAwaitingDecision),
    "project_closed": ("projects", ProjectEnded),
    "project_cancelled": ("projects", ProjectEnded),
    "funding_source_created": ("funding", FundingSourceCreated),
    "commitment_made": ("funding", CommitmentMade),
    "commitment_rejected": ("funding", CommitmentRejected),
    "disbursement_requested": ("funding", DisbursementRequested),
    "disbursement_approved": ("funding", DisbursementApproved),
    "disbursement_rejected": ("funding", DisbursementRejected),
    "disbursement_paid": ("funding", DisbursementPaid),
    "disbursement_held": ("funding", DisbursementHeld),
    "disbursement_released": ("funding", DisbursementReleased),
    "volunteer_registered": ("volunteers", VolunteerRegistered),
    "volunteer_enrolled": ("volunteers", VolunteerEnrolled),
    "service_hours_verified": ("volunteers", ServiceHoursVerified),
    "hours_awaiting_verification": ("volunteers", HoursAwaitingVerification),
    "audit_anchor": (EVERY_SERVICE, AuditAnchor),
}


_schemas: dict[tuple[str, bool], EventSchema] = {}


def _schema(event_type: str, source: str, *, tolerant: bool) -> EventSchema:
    """One schema instance per event type and mode: building a schema costs more than using it."""
    key = (event_type, tolerant)
    schema = _schemas.get(key)
    if schema is None:
        cls = _lookup(event_type, source)
        schema = _schemas[key] = cls(unknown=EXCLUDE) if tolerant else cls()
    else:
        _lookup(event_type, source)  # still refuse an event from the wrong source
    return schema


def _lookup(event_type: str, source: str | None) -> type[EventSchema]:
    try:
        owner, schema = CATALOGUE[event_type]
    except KeyError:
        raise EventInvalid(
            f"{event_type!r} is not in the event catalogue", event_type=event_type
        ) from None
    publishers = owner if isinstance(owner, tuple) else (owner,)
    if source is not None and source not in publishers:
        raise EventInvalid(
            f"{event_type!r} is published by {owner}, not {source}",
            event_type=event_type,
            source=source,
        )
    return schema


def outgoing(source: str, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """Validate an event a service is about to publish; return its JSON-ready body.

    ``event_id`` and ``occurred_at`` are filled in when the producer did not set them.
    """
    schema = _schema(event_type, source, tolerant=False)
    body = {"event_id": str(uuid.uuid4()), "occurred_at": utcnow(), **data}
    try:
        return schema.dump(schema.load(_jsonable(body)))
    except ValidationError as exc:
        raise EventInvalid(
            f"{event_type} does not match the catalogue", event_type=event_type, fields=exc.messages
        ) from exc


def incoming(source: str, event_type: str, body: dict[str, Any]) -> dict[str, Any]:
    """Validate a consumed event (tolerant reader); return it loaded (UUIDs, datetimes)."""
    schema = _schema(event_type, source, tolerant=True)
    try:
        return schema.load(body)
    except ValidationError as exc:
        raise EventInvalid(
            f"{event_type} from {source} does not match the catalogue",
            event_type=event_type,
            fields=exc.messages,
        ) from exc


def _jsonable(value: Any) -> Any:
    """Turn the Python values domain code records into what a JSON schema loads."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
