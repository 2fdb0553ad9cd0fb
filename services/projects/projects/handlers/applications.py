"""Applications for a commissioned project, and the award of its contract."""

from __future__ import annotations

from projects.commands import AwardContract, ListApplications, SubmitApplication
from projects.context import Context
from projects.domain.application import Application, apply_for
from projects.domain.award import award
from projects.domain.contract import Contract
from projects.exceptions import ApplicationNotFound, DuplicateApplication, RuleBroken


def submit_application(ctx: Context, command: SubmitApplication) -> Application:
    provider_id = command.provider_id
    project = ctx.readable_project(command.project_id, for_update=True, entry_of=provider_id)
    existing = ctx.repo.application_of(project.id, provider_id)
    application = apply_for(
        project,
        provider_id=provider_id,
        provider=ctx.entry(provider_id),
        amount=command.amount,
        proposal=command.proposal,
        actor=ctx.actor,
        at=ctx.clock.now(),
    )
    if existing is not None:
        raise DuplicateApplication(project.id, provider_id, existing.id)
    ctx.repo.add(application)
    return application


def list_applications(ctx: Context, command: ListApplications) -> list[Application]:
    """A contractor sees its own application; the staff who manage the project, all."""
    project = ctx.readable_project(command.project_id)
    if ctx.actor.role == "contractor":
        return ctx.repo.applications(project.id, provider_id=ctx.actor.organization_id or "-")
    ctx.scope.ensure_manages(project, ctx.path_of(project.purchaser_id))
    return ctx.repo.applications(project.id)


def award_contract(ctx: Context, command: AwardContract) -> Contract:
    project = ctx.managed_project(command.project_id)
    applications = ctx.applications(project.id)
    application = None
    if command.application_id:
        application = next((a for a in applications if a.id == command.application_id), None)
        if application is None:
            raise ApplicationNotFound(command.application_id)
    contractor_id = application.provider_id if application else command.contractor_id
    if contractor_id is None:
        raise RuleBroken(
            "name the application (commissioned) or the contractor (self-run)",
            field="application_id",
            rule="required",
        )
    contract = award(
        project,
        application=application,
        contractor_id=contractor_id,
        contractor=ctx.entry(contractor_id),
        amount=command.amount,
        milestones=list(command.milestones),
        applications=applications,
        actor=ctx.actor,
        at=ctx.clock.now(),
    )
    # the source is checked again at the award (refused: the unit of work is not committed)
    ctx.ensure_source_available(project.funding_source_id, project.purchaser_id)
    ctx.repo.add(contract)
    return contract
