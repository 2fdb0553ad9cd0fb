"""The organization: the aggregate the registry keeps, and how one is registered.

Its status changes by the transitions of ``lifecycle``; where it may sit, by ``hierarchy``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from kit.aggregate import Aggregate
from kit.text import search_key
from language.actor import Actor
from registry import uscc as uscc_rules
from registry.domain.hierarchy import PATH_SEPARATOR, check_placement, path_of
from registry.domain.lifecycle import ACTIVE_STATUSES, TRANSITIONS, StatusChange
from registry.exceptions import (
    HierarchyCycle,
    InvalidPlacement,
    InvalidTransition,
    ReasonRequired,
    VersionConflict,
)


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
