"""A project's own life: draft, edit, publish, cancel and close it; read it and list them."""

from __future__ import annotations

from typing import Any

from kit.paging import fetched_page
from language.directory import ACTIVE_STATUSES
from projects.commands import (
    CancelProject,
    CloseProject,
    DraftProject,
    EditProject,
    GetProject,
    ListProjects,
    PublishProject,
)
from projects.context import Context
from projects.domain.project import Project
from projects.domain.scope import LINE_READERS, MANAGERS
from projects.exceptions import OutOfScope, ProjectNotFound, RuleBroken


def draft_project(ctx: Context, command: DraftProject) -> Project:
    purchaser_id = command.purchaser_id or ctx.actor.organization_id
    if purchaser_id is None:
        raise RuleBroken("name the purchasing federation", field="purchaser_id", rule="required")
    _ensure_may_purchase(ctx, purchaser_id)
    ctx.ensure_source_available(command.funding_source_id, purchaser_id)
    project = Project(
        title=command.title,
        category=command.category,
        model=command.model,
        purchaser_id=purchaser_id,
        funding_source_id=command.funding_source_id,
        budget=command.budget,
        starts_on=command.starts_on,
        ends_on=command.ends_on,
        target_beneficiaries=command.target_beneficiaries,
        indicators=list(command.indicators or []),
        description=command.description,
        created_by=ctx.actor.user_id,
        created_at=ctx.clock.now(),
    )
    ctx.repo.add(project)
    return project


def _ensure_may_purchase(ctx: Context, purchaser_id: str) -> None:
    """The purchaser is an active federation the registry knows, and the actor manages it."""
    purchaser = ctx.entry(purchaser_id)
    if purchaser is None or purchaser.get("kind") != "federation":
        raise RuleBroken(
            "the purchaser must be a federation known to the registry",
            field="purchaser_id",
            rule="federation",
            purchaser_id=purchaser_id,
        )
    if purchaser.get("status") not in ACTIVE_STATUSES:
        raise RuleBroken(
            f"the purchasing federation is {purchaser.get('status')}",
            field="purchaser_id",
            rule="active",
        )
    if ctx.actor.role not in MANAGERS or not ctx.scope.covers(purchaser["path"]):
        raise OutOfScope(
            "you draft projects for your own federation and those under it", field="purchaser_id"
        )


def edit_project(ctx: Context, command: EditProject) -> Project:
    changes = dict(command.changes)
    project = ctx.managed_project(command.project_id)
    project.edit(changes, ctx.clock.now())
    if "funding_source_id" in changes:  # refused: the unit of work is not committed
        ctx.ensure_source_available(changes["funding_source_id"], project.purchaser_id)
    return project


def publish_project(ctx: Context, command: PublishProject) -> Project:
    project = ctx.managed_project(command.project_id)
    project.publish(ctx.actor, ctx.clock.now())
    return project


def cancel_project(ctx: Context, command: CancelProject) -> Project:
    project = ctx.managed_project(command.project_id)
    contract = ctx.locked_contract_of(project)
    project.cancel(command.reason, ctx.actor, ctx.clock.now(), contract)
    return project


def close_project(ctx: Context, command: CloseProject) -> Project:
    project = ctx.managed_project(command.project_id)
    contract = ctx.locked_contract_of(project)
    project.close(ctx.actor, ctx.clock.now(), contract)
    return project


def get_project(ctx: Context, command: GetProject) -> Any:
    """The project as a row (reads need no ORM instance), if the actor may see it."""
    project = ctx.repo.project_view(command.project_id)
    if not ctx.scope.can_read(project, lambda: ctx.path_of(project.purchaser_id)):
        raise ProjectNotFound(project.id)
    return project


def list_projects(ctx: Context, command: ListProjects) -> dict[str, Any]:
    """Admin lists everything; everybody else what has been published, and staff and finance
    also their own subtree's drafts (``Scope.can_read``). ``within`` narrows any of these to
    the projects purchased in an organization's subtree (unknown: none)."""
    within_path = None
    published = False
    if not ctx.actor.is_admin:
        published = True
        if ctx.actor.role in LINE_READERS and ctx.scope.federation_path:
            within_path = ctx.scope.federation_path
    fetched = ctx.repo.list_projects(
        command.page,
        status=command.status,
        category=command.category,
        purchaser_id=command.purchaser_id,
        contractor_id=command.contractor_id,
        q=command.q,
        within_path=within_path,
        visible_to_all_from=published,
        purchaser_within=(ctx.path_of(command.within) or "-") if command.within else None,
    )
    return fetched_page(fetched, command.page)
