"""Contracts and their milestones: read and list contracts, report on a milestone, accept or
reject the report, and what finance reads beside a contract's money."""

from __future__ import annotations

from typing import Any

from kit.paging import fetched_page, page
from projects.commands import (
    AcceptMilestone,
    ContractBriefs,
    GetContract,
    ListContracts,
    MilestoneReports,
    RejectMilestone,
    ReportMilestone,
)
from projects.context import Context, milestone_of
from projects.domain.contract import Contract, Milestone, MilestoneReport
from projects.domain.delivery import contract_brief
from projects.domain.project import Project
from projects.domain.scope import LINE_READERS
from projects.exceptions import ContractNotFound, InvalidTransition
from projects.handlers.files import evidence_files


def get_contract(ctx: Context, command: GetContract) -> Contract:
    return ctx.visible_contract(command.contract_id)


def list_contracts(ctx: Context, command: ListContracts) -> dict[str, Any]:
    """The contracts the actor reads (``Scope.reads_contract``); for anybody else, none."""
    contractor_id = command.contractor_id
    within_path = None
    if ctx.actor.is_admin:
        pass
    elif ctx.actor.role == "contractor":
        contractor_id = ctx.actor.organization_id or "-"
    elif ctx.actor.role in LINE_READERS and ctx.scope.federation_path:
        within_path = ctx.scope.federation_path
    else:
        return page([], command.page, total=0)
    fetched = ctx.repo.list_contracts(
        command.page,
        project_id=command.project_id,
        contractor_id=contractor_id,
        status=command.status,
        within_path=within_path,
    )
    return fetched_page(fetched, command.page)


def report_milestone(ctx: Context, command: ReportMilestone) -> MilestoneReport:
    contract = ctx.visible_contract(command.contract_id, for_update=True)
    ctx.scope.ensure_may_report(contract, ctx.path_of(contract.purchaser_id))
    milestone = milestone_of(contract, command.milestone_id)
    evidence, file_ids = evidence_files(ctx, list(command.evidence or []))
    report = contract.report(
        milestone,
        summary=command.summary,
        beneficiaries_served=command.beneficiaries_served,
        evidence=evidence,
        indicator_values=dict(command.indicator_values or {}),
        actor=ctx.actor,
        at=ctx.clock.now(),
    )
    ctx.repo.add(report)
    ctx.repo.reference_files(report.id, contract.id, file_ids)
    return report


def accept_milestone(ctx: Context, command: AcceptMilestone) -> Contract:
    """The purchaser's staff accept a reported milestone (its money is then funding's to
    disburse); the contract is completed when its last milestone is accepted."""
    contract, project, milestone, report = _reported(
        ctx, command.contract_id, command.milestone_id, action="accept"
    )
    at = ctx.clock.now()
    contract.accept(milestone, report, project, ctx.actor, at)
    if all(m.status == "accepted" for m in contract.milestones):
        contract.complete(at)
    return contract


def reject_milestone(ctx: Context, command: RejectMilestone) -> Contract:
    """The purchaser's staff reject a report, saying why; the contractor reports again."""
    contract, _, milestone, report = _reported(
        ctx, command.contract_id, command.milestone_id, action="reject"
    )
    contract.reject(milestone, report, command.reason, ctx.actor, ctx.clock.now())
    return contract


def _reported(
    ctx: Context, contract_id: str, milestone_id: str, *, action: str
) -> tuple[Contract, Project, Milestone, MilestoneReport]:
    """The contract and its project (both locked, contract first; the actor must manage the
    project), the milestone and the report awaiting a decision (none: the milestone's status
    is not one to decide from)."""
    contract = ctx.visible_contract(contract_id, for_update=True)
    project = ctx.managed_project(contract.project_id)
    milestone = milestone_of(contract, milestone_id)
    report = ctx.repo.pending_report(milestone.id)
    if report is None:
        raise InvalidTransition("milestone", action, milestone.status, milestone_id=milestone.id)
    return contract, project, milestone, report


def milestone_reports(ctx: Context, command: MilestoneReports) -> list[MilestoneReport]:
    contract = ctx.visible_contract(command.contract_id)
    return ctx.repo.reports(milestone_of(contract, command.milestone_id).id)


def contract_briefs(ctx: Context, command: ContractBriefs) -> list[dict[str, Any]]:
    """For finance screens that list money by contract (the approval queue, the per-contract
    summary): each contract the actor reads, with its project's title and each milestone's
    latest report (what the contractor said it delivered). Contracts the actor may not read
    are left out, exactly like missing ones."""
    briefs = []
    for contract_id in dict.fromkeys(str(c) for c in command.contract_ids):
        try:
            contract = ctx.visible_contract(contract_id)
        except ContractNotFound:
            continue
        project = ctx.repo.project(contract.project_id)
        briefs.append(
            contract_brief(
                contract, project, {m.id: ctx.repo.reports(m.id) for m in contract.milestones}
            )
        )
    return briefs
