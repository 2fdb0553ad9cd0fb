"""Who may see and change which organizations: roles, and each role's part of the hierarchy."""

from __future__ import annotations

from language.actor import Actor
from registry.domain.organization import Organization
from registry.exceptions import OrganizationNotFound, OutOfScope

#: who may read and manage organizations (object-level rules are the functions below)
MANAGING_ROLES = ("admin", "federation_staff")
READING_ROLES = ("admin", "federation_staff", "finance_officer", "ops", "contractor")
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
