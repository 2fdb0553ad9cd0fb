"""Registry use cases: plain functions of a command, a repository, the actor and the time.

Each loads what it needs, asks the domain, and leaves the changes in the session; the caller
commits the unit of work (state, status history and outbox rows in one transaction).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kit.actor import Actor
from kit.paging import PageRequest, fetched_page, page
from registry import domain
from registry import uscc as uscc_rules
from registry.domain import Organization
from registry.exceptions import (
    DuplicateUSCC,
    HasActiveChildren,
    InvalidParent,
    OrganizationNotFound,
)
from registry.repository import OrganizationRepository


def _parent(repo: OrganizationRepository, parent_id: str | None) -> Organization | None:
    if parent_id is None:
        return None
    parent = repo.find(parent_id)
    if parent is None:
        raise InvalidParent(f"no organization {parent_id}", rule="exists", parent_id=str(parent_id))
    return parent


def _ensure_unique_uscc(repo: OrganizationRepository, uscc: str, own_id: str | None = None) -> None:
    existing = repo.id_with_uscc(uscc)
    if existing is not None and existing != own_id:
        raise DuplicateUSCC(uscc, existing)


def register_organization(
    repo: OrganizationRepository, data: dict[str, Any], actor: Actor, at: datetime
) -> Organization:
    parent = _parent(repo, data.get("parent_id"))
    domain.ensure_can_place_under(actor, parent)
    uscc = data.get("uscc")
    if uscc is not None:
        uscc = uscc_rules.validate(uscc)
        _ensure_unique_uscc(repo, uscc)
    organization, change = domain.register(
        name=data["name"],
        kind=data["kind"],
        parent=parent,
        level=data.get("level"),
        sector=data.get("sector"),
        uscc=uscc,
        region_code=data.get("region_code"),
        contact=data.get("contact"),
        actor=actor,
        at=at,
    )
    repo.add(organization, change)
    return organization


def update_organization(
    repo: OrganizationRepository,
    organization_id: str,
    changes: dict[str, Any],
    actor: Actor,
    at: datetime,
) -> Organization:
    changes = dict(changes)
    expected_version = changes.pop("version", None)
    organization = repo.get(organization_id, for_update=True)
    domain.ensure_can_manage(actor, organization)
    organization.ensure_editable(expected_version)
    changed = []
    if "parent_id" in changes:
        new_parent_id = changes.pop("parent_id")
        if new_parent_id != organization.parent_id:
            parent = _parent(repo, new_parent_id)
            domain.ensure_can_place_under(actor, parent)
            old_depth = organization.depth
            old_path, new_path = organization.move_under(parent, at)
            repo.move_descendants(old_path, new_path, organization.depth - old_depth)
            changed.append("parent_id")
    if changes.get("uscc") is not None:
        changes["uscc"] = uscc_rules.validate(changes["uscc"])
        _ensure_unique_uscc(repo, changes["uscc"], own_id=organization.id)
    changed += organization.amend(changes, at)
    if changed:
        organization.announce_update(changed, actor, at)
    return organization


def change_status(
    repo: OrganizationRepository,
    organization_id: str,
    action: str,
    reason: str | None,
    actor: Actor,
    at: datetime,
) -> Organization:
    organization = repo.get(organization_id, for_update=True)
    domain.ensure_can_manage(actor, organization)
    if action == "deregister" and organization.status != "deregistered":
        children = repo.active_children(organization.id)
        if children:
            raise HasActiveChildren(organization.id, children)
    repo.add_change(organization.transition(action, actor, reason, at))
    return organization


def get_organization(
    repo: OrganizationRepository, organization_id: str, actor: Actor
) -> Organization:
    organization = repo.get(organization_id)
    domain.ensure_can_read(actor, organization)
    return organization


def list_organizations(
    repo: OrganizationRepository, filters: dict[str, Any], request: PageRequest, actor: Actor
) -> dict[str, Any]:
    """A page of organizations, narrowed to what ``actor`` may see.

    ``within`` lists a whole subtree (every descendant of that organization); ``parent_id``
    lists direct children. Federation staff see their federation and everything under it,
    contractors their own organization.
    """
    scope, scope_id = domain.reading_scope(actor)
    path_prefix = exclude_path = only_id = None
    if filters.get("within") is not None:
        exclude_path = path_prefix = get_organization(repo, filters["within"], actor).path
    elif scope == "subtree":
        root = repo.find(scope_id) if scope_id else None
        if root is None:
            return page([], request, total=0)
        path_prefix = root.path
    if scope == "self":
        only_id = scope_id or "-"
    fetched = repo.list(
        request,
        kind=filters.get("kind"),
        status=filters.get("status"),
        parent_id=filters.get("parent_id"),
        path_prefix=path_prefix,
        exclude_path=exclude_path,
        only_id=only_id,
        q=filters.get("q"),
    )
    return fetched_page(fetched, request)


def status_history(
    repo: OrganizationRepository, organization_id: str, request: PageRequest, actor: Actor
) -> dict[str, Any]:
    get_organization(repo, organization_id, actor)
    return fetched_page(repo.history(organization_id, request), request)


def coverage(repo: OrganizationRepository, organization_id: str, actor: Actor) -> dict[str, Any]:
    organization = get_organization(repo, organization_id, actor)
    return domain.coverage_report(organization, repo.coverage_counts(organization.path))


__all__ = [
    "OrganizationNotFound",
    "change_status",
    "coverage",
    "get_organization",
    "list_organizations",
    "register_organization",
    "status_history",
    "update_organization",
]
