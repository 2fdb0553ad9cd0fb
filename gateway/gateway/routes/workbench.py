"""The workbench (工作台): the first page after login, one route per service's cards.

Each route is one request for a group of cards, computed by the service that owns the figures
under the actor's scope (SQL aggregates); every figure comes with the query of the list behind
it (``filters``), so the console links each number to a list that shows exactly what it
counts. The coverage card is the registry's coverage report of the actor's subtree.
"""

from __future__ import annotations

from typing import Any

from funding import schemas as funding_schemas
from gateway.http import WORKERS, Call, api
from projects import schemas as projects_schemas
from registry import schemas as registry_schemas
from volunteers import schemas as volunteers_schemas

#: who has a workbench of each kind (ops lands on the system status page instead)
PROJECTS_CARDS = ("admin", "federation_staff", "contractor")
MONEY_CARDS = ("admin", "federation_staff", "finance_officer")
VOLUNTEER_CARDS = ("admin", "federation_staff", "team_leader")
COVERAGE_CARDS = ("admin", "federation_staff")


class WorkbenchRoutes:
    @api(
        "GET",
        "/workbench/projects",
        summary="Projects cards of the workbench",
        tag="Workbench",
        roles=PROJECTS_CARDS,
        response=projects_schemas.ProjectsWorkbenchOut,
    )
    def workbench_projects(self, call: Call) -> Any:
        """Staff (admin: everywhere): milestone reports waiting for a decision (oldest first),
        projects by status in their federation's subtree, overdue milestones. A contractor:
        its contracts by status, the milestones to report next, reports sent back to redo,
        tranches paid. Each card's `filters` is the query of `GET /milestones`, `GET /projects`
        or `GET /contracts` whose `total` is the figure."""
        return self.projects.call("workbench", call.actor.to_dict())

    @api(
        "GET",
        "/milestones",
        summary="List milestones across contracts",
        tag="Projects",
        roles=WORKERS,
        query=projects_schemas.MilestoneFilters,
        response=projects_schemas.MilestonePage,
    )
    def list_milestones(self, call: Call) -> Any:
        """The milestones of the contracts you read (a contractor its own, staff and finance
        officers their subtree's, admin all), by due date; `status=open` is any not accepted,
        `running=true` keeps active and suspended contracts."""
        return self.projects.call("list_milestones", call.query, call.actor.to_dict())

    @api(
        "GET",
        "/workbench/funding",
        summary="Money cards of the workbench",
        tag="Workbench",
        roles=MONEY_CARDS,
        query=funding_schemas.WorkbenchQuery,
        response=funding_schemas.FundingWorkbenchOut,
    )
    def workbench_funding(self, call: Call) -> Any:
        """This fiscal year's sources in your scope (put in, committed, paid, available); for
        finance officers and admins also the approval queue (size, amount, oldest request),
        payments this month and sources running low (available under `low_below` fen,
        default ¥50,000). Each card's `filters` is the query of the list behind it."""
        return self.funding.call("workbench", call.query, call.actor.to_dict())

    @api(
        "GET",
        "/workbench/volunteers",
        summary="Volunteer cards of the workbench",
        tag="Workbench",
        roles=VOLUNTEER_CARDS,
        response=volunteers_schemas.VolunteersWorkbenchOut,
    )
    def workbench_volunteers(self, call: Call) -> Any:
        """Hours awaiting verification in the teams you run; for a team leader also the
        upcoming activities (enrolment against capacity) and her teams' verified hours this
        month. Each card's `filters` is the query of the list or report behind it."""
        return self.volunteers.call("workbench", call.actor.to_dict())

    @api(
        "GET",
        "/workbench/coverage",
        summary="Coverage card of the workbench",
        tag="Workbench",
        roles=COVERAGE_CARDS,
        response=registry_schemas.CoverageOut,
    )
    def workbench_coverage(self, call: Call) -> Any:
        """Coverage (组建率) of your federation's subtree, as
        `GET /organizations/{id}/coverage` gives it; an admin's is the whole installation's."""
        return self.registry.call("workbench_coverage", call.actor.to_dict())
