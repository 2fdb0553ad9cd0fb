"""Projects use cases: plain functions ``(ctx, command)``, one module per concept.

Each loads what it needs through the context (locking the rows it changes), asks the domain,
and leaves the changes in the unit of work; the caller (``kit.usecase.UseCases``) commits —
state and outbox rows together. Who-is-who questions (is this provider verified, is this
federation in the actor's subtree) are answered by the service's own directory copy.

- ``projects``: draft, edit, publish, cancel, close; read and list;
- ``applications``: apply, list the applications, award the contract;
- ``contracts``: read and list contracts, report on milestones, accept or reject them, briefs;
- ``files``: evidence files and who may read them;
- ``reports``: the evaluation, the delivery report, the OCDS export's material;
- ``workbench``: the workbench's figures and the milestone list behind them;
- ``reminders``: the daily checks (due dates, reports waiting, overdue milestones);
- ``facts``: what the registry, funding and volunteers tell projects.
"""

from projects.handlers.applications import award_contract, list_applications, submit_application
from projects.handlers.contracts import (
    accept_milestone,
    contract_briefs,
    get_contract,
    list_contracts,
    milestone_reports,
    reject_milestone,
    report_milestone,
)
from projects.handlers.facts import (
    commitment,
    contractor_deregistered,
    contractor_standing_changed,
    funding_source_created,
    payment,
    volunteer_hours,
)
from projects.handlers.files import readable_file, register_file
from projects.handlers.projects import (
    cancel_project,
    close_project,
    draft_project,
    edit_project,
    get_project,
    list_projects,
    publish_project,
)
from projects.handlers.reminders import run_checks
from projects.handlers.reports import contracting_process, delivery_report, evaluate_project
from projects.handlers.workbench import list_milestones, projects_workbench

__all__ = [
    "accept_milestone",
    "award_contract",
    "cancel_project",
    "close_project",
    "commitment",
    "contract_briefs",
    "contracting_process",
    "contractor_deregistered",
    "contractor_standing_changed",
    "delivery_report",
    "draft_project",
    "edit_project",
    "evaluate_project",
    "funding_source_created",
    "get_contract",
    "get_project",
    "list_applications",
    "list_contracts",
    "list_milestones",
    "list_projects",
    "milestone_reports",
    "payment",
    "projects_workbench",
    "publish_project",
    "readable_file",
    "register_file",
    "reject_milestone",
    "report_milestone",
    "run_checks",
    "submit_application",
    "volunteer_hours",
]
