"""Registry errors: each says which rule failed, with details a client can act on."""

from __future__ import annotations

from kit.errors import Conflict, InvalidInput, InvalidTransition, NotFound, OutOfScope

__all__ = [
    "DuplicateUSCC",
    "HasActiveChildren",
    "HierarchyCycle",
    "InvalidParent",
    "InvalidPlacement",
    "InvalidTransition",
    "OrganizationNotFound",
    "OutOfScope",
    "ReasonRequired",
    "VersionConflict",
]


class OrganizationNotFound(NotFound):
    code = "ORGANIZATION_NOT_FOUND"

    def __init__(self, organization_id: str, field: str | None = None) -> None:
        details = {"organization_id": organization_id}
        if field:
            details["field"] = field
        super().__init__(f"no organization {organization_id}", **details)


class InvalidParent(InvalidInput):
    """The parent is of the wrong kind or level for the child."""

    code = "INVALID_PARENT"

    def __init__(self, message: str, rule: str, **details: object) -> None:
        super().__init__(message, field="parent_id", rule=rule, **details)


class InvalidPlacement(InvalidInput):
    """A field that does not apply to this kind, or a required one that is missing."""

    code = "VALIDATION_FAILED"

    def __init__(self, message: str, field: str, rule: str, **details: object) -> None:
        super().__init__(message, field=field, rule=rule, **details)


class HierarchyCycle(InvalidInput):
    code = "HIERARCHY_CYCLE"

    def __init__(self, organization_id: str, parent_id: str) -> None:
        super().__init__(
            "an organization cannot be placed under itself or one of its descendants",
            field="parent_id",
            rule="no_cycles",
            organization_id=organization_id,
            parent_id=parent_id,
        )


class ReasonRequired(InvalidInput):
    def __init__(self, action: str) -> None:
        super().__init__(
            f"a reason is required to {action} an organization", field="reason", rule="required"
        )


class DuplicateUSCC(Conflict):
    code = "DUPLICATE_USCC"

    def __init__(self, uscc: str, existing_id: str) -> None:
        super().__init__(
            f"USCC {uscc} is already registered",
            field="uscc",
            uscc=uscc,
            organization_id=existing_id,
        )


class HasActiveChildren(Conflict):
    code = "HAS_ACTIVE_CHILDREN"

    def __init__(self, organization_id: str, count: int) -> None:
        super().__init__(
            f"the organization still has {count} active child organization(s); "
            "deregister or move them first",
            organization_id=organization_id,
            active_children=count,
        )


class VersionConflict(Conflict):
    code = "VERSION_CONFLICT"

    def __init__(self, organization_id: str, expected: int, current: int) -> None:
        super().__init__(
            f"the organization changed since version {expected}; it is now at version {current}",
            organization_id=organization_id,
            expected_version=expected,
            current_version=current,
        )
