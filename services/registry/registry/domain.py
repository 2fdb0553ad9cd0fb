"""Registry rules: kinds, levels, sectors, where each kind may sit, status transitions, scope.

Plain Python: no framework, no I/O. Entities record the events they cause; the unit of work
writes them to the outbox in the same transaction as the change.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from kit.actor import Actor
from kit.aggregate import Aggregate
from kit.text import search_key
from registry import uscc as uscc_rules
from registry.exceptions import (
    HierarchyCycle,
    InvalidParent,
    InvalidPlacement,
    InvalidTransition,
    OrganizationNotFound,
    OutOfScope,
    ReasonRequired,
    VersionConflict,
)

KINDS = ("federation", "womens_organization", "host_unit", "service_provider")
#: federation levels, top to bottom; a federation's parent is the one a level up
LEVELS = ("national", "province", "city", "county", "township", "village")
SECTORS = (
    "government_agency",
    "public_institution",
    "non_public_enterprise",
    "social_organization",
    "village",
    "community",
)
STATUSES = ("registered", "verified", "suspended", "reinstated", "deregistered")
#: statuses in which an organization is in good standing (counts for coverage, can be a parent)
ACTIVE_STATUSES = ("registered", "verified", "reinstated")


@dataclass(frozen=True)
class Transition:
    allowed_from: tuple[str, ...]
    to: str
    event: str
    reason_required: bool


TRANSITIONS: dict[str, Transition] = {
    "verify": Transition(("registered",), "verified", "organization_verified", False),
    "suspend": Transition(("verified", "reinstated"), "suspended", "organization_suspended", True),
    "reinstate": Transition(("suspended",), "reinstated", "organization_reinstated", False),
    "deregister": Transition(
        ("registered", "verified", "suspended", "reinstated"),
        "deregistered",
        "organization_deregistered",
        True,
    ),
}

#: who may read and manage organizations (object-level rules are in ``Scope``)
MANAGING_ROLES = ("admin", "federation_staff")
READING_ROLES = ("admin", "federation_staff", "finance_officer", "ops", "contractor")

PATH_SEPARATOR = "/"


def path_of(organization_id: str, parent_path: str | None) -> str:
    """Materialised path: ``/root-id/.../own-id/``; a subtree is every path with this prefix."""
    return f"{parent_path or PATH_SEPARATOR}{organization_id}{PATH_SEPARATOR}"


def ancestor_ids(path: str) -> list[str]:
    """Ids on the path from the root down to (and including) the node itself."""
    return [part for part in path.split(PATH_SEPARATOR) if part]


class StatusChange:
    """One transition of an organization's status: who, when, why. Never edited."""

    def __init__(
        self,
        *,
        organization_id: str,
        action: str,
        from_status: str | None,
        to_status: str,
        reason: str | None,
        actor_id: str,
        actor_name: str,
        at: datetime,
    ) -> None:
        self.id = str(uuid.uuid4())
        self.organization_id = organization_id
        self.action = action
        self.from_status = from_status
        self.to_status = to_status
        self.reason = reason
        self.actor_id = actor_id
        self.actor_name = actor_name
        self.at = at


class Organization(Aggregate):
    def __init__(
        self,
        *,
        name: str,
        kind: str,
        parent: Organization | None,
        level: str | None = None,
        sector: str | None = None,
        uscc: str | None = None,
        region_code: str | None = None,
        contact: dict[str, Any] | None = None,
        created_by: str,
        created_at: datetime,
        id: str | None = None,
    ) -> None:
        self.id = id or str(uuid.uuid4())
        self.name = name
        self.search_name = search_key(name)
        self.kind = kind
        self.level = level
        self.sector = sector
        self.uscc = uscc
        self.region_code = region_code
        self.contact = contact or {}
        self.parent_id: str | None = parent.id if parent else None
        self.path: str = path_of(self.id, parent.path if parent else None)
        self.depth: int = parent.depth + 1 if parent else 0
        self.status = "registered"
        self.version = 1
        self.created_by = created_by
        self.created_at = created_at
        self.updated_at = created_at

    # --- queries -------------------------------------------------------------------------

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def is_within(self, ancestor_id: str) -> bool:
        return f"{PATH_SEPARATOR}{ancestor_id}{PATH_SEPARATOR}" in self.path

    # --- changes -------------------------------------------------------------------------

    def transition(
        self, action: str, actor: Actor, reason: str | None, at: datetime
    ) -> StatusChange:
        rule = TRANSITIONS[action]
        if self.status not in rule.allowed_from:
            raise InvalidTransition(
                "organization",
                action,
                self.status,
                organization_id=self.id,
                allowed_from=list(rule.allowed_from),
            )
        reason = (reason or "").strip() or None
        if rule.reason_required and not reason:
            raise ReasonRequired(action)
        change = StatusChange(
            organization_id=self.id,
            action=action,
            from_status=self.status,
            to_status=rule.to,
            reason=reason,
            actor_id=actor.user_id,
            actor_name=actor.username,
            at=at,
        )
        self.status = rule.to
        self._touch(at)
        self.record(
            rule.event,
            organization_id=self.id,
            kind=self.kind,
            version=self.version,
            status=self.status,
            reason=reason,
            actor_id=actor.user_id,
            occurred_at=at,
        )
        return change

    def ensure_editable(self, expected_version: int | None = None) -> None:
        if self.status == "deregistered":
            raise InvalidTransition("organization", "update", self.status, organization_id=self.id)
        if expected_version is not None and expected_version != self.version:
            raise VersionConflict(self.id, expected_version, self.version)

    def amend(self, changes: dict[str, Any], at: datetime) -> list[str]:
        """Change descriptive fields (name, contact, region code, USCC, a host unit's sector).

        Returns the names of the fields that actually changed.
        """
        if "sector" in changes and self.kind != "host_unit":
            raise InvalidPlacement(
                "only host units have a sector", field="sector", rule="host_units_only"
            )
        if changes.get("sector", self.sector) is None and self.kind == "host_unit":
            raise InvalidPlacement("a host unit needs a sector", field="sector", rule="required")
        changed = []
        for field, value in changes.items():
            if field == "uscc" and value is not None:
                value = uscc_rules.validate(value)
            if getattr(self, field) != value:
                setattr(self, field, value)
                changed.append(field)
        if "name" in changed:
            self.search_name = search_key(self.name)
        if changed:
            self._touch(at)
        return changed

    def move_under(self, parent: Organization | None, at: datetime) -> tuple[str, str]:
        """Re-parent this organization (and so its subtree); returns (old path, new path)."""
        if parent is not None and (parent.id == self.id or parent.is_within(self.id)):
            raise HierarchyCycle(self.id, parent.id)
        check_placement(self.kind, self.level, self.sector, parent)
        old_path = self.path
        self.parent_id = parent.id if parent else None
        self.path = path_of(self.id, parent.path if parent else None)
        self.depth = parent.depth + 1 if parent else 0
        self._touch(at)
        return old_path, self.path

    def announce_update(self, changed: list[str], actor: Actor, at: datetime) -> None:
        """Tell other services what changed (their copies keep name, parent and USCC)."""
        self.record(
            "organization_updated",
            organization_id=self.id,
            kind=self.kind,
            version=self.version,
            status=self.status,
            name=self.name,
            parent_id=self.parent_id,
            uscc=self.uscc,
            changed=sorted(changed),
            actor_id=actor.user_id,
            occurred_at=at,
        )

    def _touch(self, at: datetime) -> None:
        self.version += 1
        self.updated_at = at


def register(
    *,
    name: str,
    kind: str,
    parent: Organization | None,
    actor: Actor,
    at: datetime,
    level: str | None = None,
    sector: str | None = None,
    uscc: str | None = None,
    region_code: str | None = None,
    contact: dict[str, Any] | None = None,
) -> tuple[Organization, StatusChange]:
    """A new organization in ``registered`` status, placed by the hierarchy rules."""
    check_placement(kind, level, sector, parent)
    if uscc is not None:
        uscc = uscc_rules.validate(uscc)
    organization = Organization(
        name=name,
        kind=kind,
        parent=parent,
        level=level,
        sector=sector,
        uscc=uscc,
        region_code=region_code,
        contact=contact,
        created_by=actor.user_id,
        created_at=at,
    )
    change = StatusChange(
        organization_id=organization.id,
        action="register",
        from_status=None,
        to_status="registered",
        reason=None,
        actor_id=actor.user_id,
        actor_name=actor.username,
        at=at,
    )
    organization.record(
        "organization_registered",
        organization_id=organization.id,
        kind=kind,
        version=organization.version,
        status=organization.status,
        name=name,
        parent_id=organization.parent_id,
        level=level,
        sector=sector,
        uscc=uscc,
        actor_id=actor.user_id,
        occurred_at=at,
    )
    return organization, change


def check_placement(
    kind: str, level: str | None, sector: str | None, parent: Organization | None
) -> None:
    """Where each kind may sit.

    * a federation has a level; its parent, if any, is the federation exactly one level up
      (a federation without a parent is the top of this installation);
    * a host unit has a sector and sits under the federation of its area;
    * a women's organization sits under a host unit or a federation;
    * a service provider may sit under the federation that registered it;
    * nothing is placed under a suspended or deregistered organization.
    """
    if kind == "federation":
        if level is None:
            raise InvalidPlacement("a federation needs a level", field="level", rule="required")
    elif level is not None:
        raise InvalidPlacement(
            "only federations have a level", field="level", rule="federations_only"
        )
    if kind == "host_unit":
        if sector is None:
            raise InvalidPlacement("a host unit needs a sector", field="sector", rule="required")
    elif sector is not None:
        raise InvalidPlacement(
            "only host units have a sector", field="sector", rule="host_units_only"
        )

    if parent is None:
        if kind in ("host_unit", "womens_organization"):
            raise InvalidPlacement(
                f"a {kind.replace('_', ' ')} needs a parent", field="parent_id", rule="required"
            )
        return
    if not parent.is_active:
        raise InvalidParent(
            f"the parent organization is {parent.status}",
            rule="parent_active",
            parent_status=parent.status,
        )
    if kind == "federation":
        assert level is not None
        expected = LEVELS.index(level) - 1
        if parent.kind != "federation" or expected < 0 or parent.level != LEVELS[expected]:
            wanted = f"a {LEVELS[expected]}-level federation" if expected >= 0 else "no parent"
            raise InvalidParent(
                f"a {level}-level federation's parent must be {wanted}",
                rule="federation_one_level_up",
                parent_kind=parent.kind,
                parent_level=parent.level,
            )
    elif kind == "host_unit" and parent.kind != "federation":
        raise InvalidParent(
            "a host unit sits under the federation of its area",
            rule="host_unit_under_federation",
            parent_kind=parent.kind,
        )
    elif kind == "womens_organization" and parent.kind not in ("host_unit", "federation"):
        raise InvalidParent(
            "a women's organization sits under a host unit or a federation",
            rule="womens_organization_under_host_or_federation",
            parent_kind=parent.kind,
        )
    elif kind == "service_provider" and parent.kind != "federation":
        raise InvalidParent(
            "a service provider sits under the federation that registered it",
            rule="service_provider_under_federation",
            parent_kind=parent.kind,
        )


# --- who may see and change what ---------------------------------------------------------


#: roles that belong to a federation and read only its subtree (admin and ops read everything)
SUBTREE_READERS = ("federation_staff", "finance_officer")


def ensure_can_read(actor: Actor, organization: Organization) -> None:
    """Federation staff and finance officers read their own federation's subtree; contractors
    only their own organization.

    A contractor or finance officer asking for any other organization is told it does not
    exist.
    """
    if actor.role == "contractor":
        if organization.id != actor.organization_id:
            raise OrganizationNotFound(organization.id)
        return
    if actor.role == "finance_officer":
        if not actor.organization_id or not organization.is_within(actor.organization_id):
            raise OrganizationNotFound(organization.id)
        return
    if actor.role == "federation_staff":
        _ensure_in_subtree(actor, organization)


def ensure_can_manage(actor: Actor, organization: Organization) -> None:
    """Admins manage everything; federation staff their own federation's subtree."""
    if actor.role not in MANAGING_ROLES:
        ensure_can_read(actor, organization)
        raise OutOfScope(f"a {actor.role} cannot change organizations", role=actor.role)
    if actor.role == "federation_staff":
        _ensure_in_subtree(actor, organization)


def ensure_can_place_under(actor: Actor, parent: Organization | None) -> None:
    """Creating or moving an organization under ``parent`` is managing that parent's subtree."""
    if actor.role == "federation_staff" and parent is None:
        raise OutOfScope(
            "only an admin registers an organization at the top of the hierarchy",
            field="parent_id",
        )
    if parent is not None:
        ensure_can_manage(actor, parent)
    elif actor.role not in MANAGING_ROLES:
        raise OutOfScope(f"a {actor.role} cannot register organizations", role=actor.role)


def _ensure_in_subtree(actor: Actor, organization: Organization) -> None:
    if not actor.organization_id or not organization.is_within(actor.organization_id):
        raise OutOfScope(
            "the organization is outside your federation's subtree",
            organization_id=organization.id,
            your_federation_id=actor.organization_id,
        )


def reading_scope(actor: Actor) -> tuple[str, str | None]:
    """How a list is narrowed for ``actor``: ("all", None), ("subtree", root) or ("self", id)."""
    if actor.role in SUBTREE_READERS:
        return "subtree", actor.organization_id
    if actor.role == "contractor":
        return "self", actor.organization_id
    return "all", None


# --- coverage -----------------------------------------------------------------------------


def coverage_rate(covered: int, host_units: int) -> Decimal | None:
    """Percentage with one decimal, rounded half up; None when there is nothing to cover."""
    if host_units == 0:
        return None
    return (Decimal(covered) * 100 / Decimal(host_units)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def coverage_report(
    organization: Organization, counts: dict[str, tuple[int, int]]
) -> dict[str, Any]:
    """Per sector ``{host_units, covered, rate}`` and a total, from counts the database made.

    ``counts`` maps sector -> (host units in the subtree, of which covered). Every sector is
    listed, zeros included, so reports line up across nodes.
    """
    sectors = []
    total_units = total_covered = 0
    for sector in SECTORS:
        host_units, covered = counts.get(sector, (0, 0))
        total_units += host_units
        total_covered += covered
        sectors.append(
            {
                "sector": sector,
                "host_units": host_units,
                "covered": covered,
                "rate": coverage_rate(covered, host_units),
            }
        )
    return {
        "organization_id": organization.id,
        "name": organization.name,
        "sectors": sectors,
        "total": {
            "host_units": total_units,
            "covered": total_covered,
            "rate": coverage_rate(total_covered, total_units),
        },
    }
