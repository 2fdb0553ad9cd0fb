"""Registry use cases: each a plain function of the context and a command.

Each loads what it needs, asks the domain, and leaves the changes in the session; the service
commits the unit of work (state, status history and outbox rows in one transaction).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kit.paging import fetched_page, page
from registry import uscc as uscc_rules
from registry.commands import (
    ChangeStatus,
    GetCoverage,
    GetOrganization,
    ListOrganizations,
    ListStatusHistory,
    RegisterOrganization,
    UpdateOrganization,
    WorkbenchCoverage,
)
from registry.context import Context
from registry.domain import scope
from registry.domain.coverage import coverage_report
from registry.domain.organization import Organization, register
from registry.exceptions import DuplicateUSCC, HasActiveChildren


def _unique_uscc(ctx: Context, uscc: str, own_id: str | None = None) -> str:
    """The USCC in its canonical form, if it is valid and no other organization has it."""
    uscc = uscc_rules.validate(uscc)
    existing = ctx.organizations.id_with_uscc(uscc)
    if existing is not None and existing != own_id:
        raise DuplicateUSCC(uscc, existing)
    return uscc


def register_organization(ctx: Context, command: RegisterOrganization) -> Organization:
    parent = ctx.parent(command.parent_id)
    scope.ensure_can_place_under(ctx.actor, parent)
    uscc = _unique_uscc(ctx, command.uscc) if command.uscc is not None else None
    organization, change = register(
        name=command.name,
        kind=command.kind,
        parent=parent,
        level=command.level,
        sector=command.sector,
        uscc=uscc,
        region_code=command.region_code,
        contact=command.contact,
        actor=ctx.actor,
        at=ctx.clock.now(),
    )
    ctx.organizations.add(organization, change)
    return organization


def update_organization(ctx: Context, command: UpdateOrganization) -> Organization:
    at = ctx.clock.now()
    changes = dict(command.changes)
    organization = ctx.organizations.get(command.organization_id, for_update=True)
    scope.ensure_can_manage(ctx.actor, organization)
    organization.ensure_editable(command.version)
    changed = []
    if "parent_id" in changes:
        new_parent_id = changes.pop("parent_id")
        if new_parent_id != organization.parent_id:
            _move(ctx, organization, new_parent_id, at)
            changed.append("parent_id")
    if changes.get("uscc") is not None:
        changes["uscc"] = _unique_uscc(ctx, changes["uscc"], own_id=organization.id)
    changed += organization.amend(changes, at)
    if changed:
        organization.announce_update(changed, ctx.actor, at)
    return organization


def _move(ctx: Context, organization: Organization, parent_id: str | None, at: datetime) -> None:
    """Re-parent ``organization`` and rewrite its subtree's paths and depths."""
    parent = ctx.parent(parent_id)
    scope.ensure_can_place_under(ctx.actor, parent)
    old_depth = organization.depth
    old_path, new_path = organization.move_under(parent, at)
    ctx.organizations.move_descendants(old_path, new_path, organization.depth - old_depth)


def change_status(ctx: Context, command: ChangeStatus) -> Organization:
    organization = ctx.organizations.get(command.organization_id, for_update=True)
    scope.ensure_can_manage(ctx.actor, organization)
    if command.action == "deregister" and organization.status != "deregistered":
        children = ctx.organizations.active_children(organization.id)
        if children:
            raise HasActiveChildren(organization.id, children)
    change = organization.transition(command.action, ctx.actor, command.reason, ctx.clock.now())
    ctx.organizations.add_change(change)
    return organization


def get_organization(ctx: Context, command: GetOrganization) -> Organization:
    return ctx.readable(command.organization_id)


def list_organizations(ctx: Context, command: ListOrganizations) -> dict[str, Any]:
    """A page of organizations, narrowed to what the actor may see.

    Federation staff and finance officers see their federation and everything under it,
    contractors their own organization.
    """
    request = command.page
    reach, scope_id = scope.reading_scope(ctx.actor)
    path_prefix = exclude_path = only_id = None
    if command.within is not None:
        exclude_path = path_prefix = ctx.readable(command.within).path
    elif reach == "subtree":
        root = ctx.organizations.find(scope_id) if scope_id else None
        if root is None:
            return page([], request, total=0)
        path_prefix = root.path
    if reach == "self":
        only_id = scope_id or "-"
    fetched = ctx.organizations.list(
        request,
        kind=command.kind,
        status=command.status,
        parent_id=command.parent_id,
        path_prefix=path_prefix,
        exclude_path=exclude_path,
        only_id=only_id,
        q=command.q,
    )
    return fetched_page(fetched, request)


def status_history(ctx: Context, command: ListStatusHistory) -> dict[str, Any]:
    ctx.readable(command.organization_id)
    fetched = ctx.organizations.history(command.organization_id, command.page)
    return fetched_page(fetched, command.page)


def coverage(ctx: Context, command: GetCoverage) -> dict[str, Any]:
    organization = ctx.readable(command.organization_id)
    return coverage_report(organization, ctx.organizations.coverage_counts(organization.path))


def workbench_coverage(ctx: Context, command: WorkbenchCoverage) -> dict[str, Any]:
    """Coverage of the actor's own subtree (the same figures as her organization's coverage
    report); admins and ops read the whole installation's. A role bound to one organization
    reads that one's (a contractor has no host units under it)."""
    if ctx.actor.role in ("admin", "ops"):
        return coverage_report(None, ctx.organizations.coverage_counts(""))
    if not ctx.actor.organization_id:
        return coverage_report(None, {})
    return coverage(ctx, GetCoverage(ctx.actor.organization_id))
