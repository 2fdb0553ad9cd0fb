"""Evaluation and what a project delivered: the evaluation, the delivery report (targets
against actuals) and what the OCDS export needs."""

from __future__ import annotations

from typing import Any

from projects.commands import ContractingProcess, DeliveryReport, EvaluateProject
from projects.context import Context
from projects.domain.application import Application
from projects.domain.contract import Contract
from projects.domain.delivery import delivery_report as report_of
from projects.domain.project import Project


def evaluate_project(ctx: Context, command: EvaluateProject) -> Project:
    project = ctx.managed_project(command.project_id)
    evaluation = {
        "scores": list(command.scores),
        "overall": command.overall,
        "evaluator": command.evaluator,
        "evaluated_on": command.evaluated_on,
    }
    project.evaluate(evaluation, ctx.actor, ctx.clock.now())
    return project


def delivery_report(ctx: Context, command: DeliveryReport) -> dict[str, Any]:
    project = ctx.readable_project(command.project_id)
    return report_of(project, ctx.repo.contract_of(project), ctx.clock.today())


def contracting_process(
    ctx: Context, command: ContractingProcess
) -> tuple[Project, Contract | None, list[Application] | None, dict[str, Any]]:
    """Everything the OCDS export needs, with the parties' names and USCCs. Before the award
    the applications are left out for those who may not know the bidders (``None``: the
    export then names no tenderers at all, not even how many)."""
    project = ctx.readable_project(command.project_id)
    contract = ctx.repo.contract_of(project)
    applications: list[Application] | None = []
    if not ctx.scope.sees_tenderers(project, lambda: ctx.path_of(project.purchaser_id)):
        applications = None
    elif project.status != "draft":
        applications = ctx.repo.applications(project.id)
    ids = [project.purchaser_id] + [a.provider_id for a in applications or []]
    if contract is not None:
        ids.append(contract.contractor_id)
    return project, contract, applications, ctx.directory.many(ids)
