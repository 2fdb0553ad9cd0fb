"""Projects: drafting to close, applications, the award, milestones, delivery, OCDS."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from gateway.http import JSON_TYPE, PREFIX, WORKERS, Call, api, dumps
from gateway.routes import MANAGERS
from projects import schemas as projects_schemas
from projects.domain import readable_by_everyone

S = projects_schemas
PROJECT_ID = "/projects/{project_id}"
MILESTONE = "/contracts/{contract_id}/milestones/{milestone_id}"
APPLICANTS = ("contractor", "admin")
#: the contractor; for a self-run contract awarded to the purchasing federation, its staff
REPORTERS = ("contractor", "federation_staff", "admin")


class ProjectsRoutes:
    @api(
        "POST",
        "/projects",
        summary="Draft a project",
        tag="Projects",
        roles=MANAGERS,
        body=S.ProjectCreate,
        response=S.ProjectOut,
        status=201,
        idempotent=True,
    )
    def draft_project(self, call: Call) -> Any:
        """The purchaser defaults to your own federation. Budget in fen."""
        return 201, self.projects.call("draft_project", call.body, call.actor.to_dict())

    @api(
        "GET",
        "/projects",
        summary="List projects",
        tag="Projects",
        roles=WORKERS,
        query=S.ProjectFilters,
        response=S.ProjectPage,
    )
    def list_projects(self, call: Call) -> Any:
        """Everybody sees what is published; staff and finance officers also their subtree's
        drafts; admin everything."""
        return self.projects.call("list_projects", call.query, call.actor.to_dict())

    @api(
        "GET",
        PROJECT_ID,
        summary="Read a project",
        tag="Projects",
        roles=WORKERS,
        response=S.ProjectOut,
        statuses={304: "Not modified: `If-None-Match` holds the project's current `ETag`"},
    )
    def get_project(self, call: Call) -> Any:
        """Includes delivery figures: beneficiaries served, verified volunteer hours, money.
        The `ETag` is the project's version: send it back in `If-None-Match` and an unchanged
        project is a `304` with no body. A published project is served from the gateway's
        memory until it changes."""
        project_id = call.path["project_id"]
        cached = self.project_cache.get(project_id)
        if cached is None:
            ticket = self.project_cache.ticket()
            project = self.projects.call("get_project", project_id, call.actor.to_dict())
            cached = (dumps(project), str(project.get("version")))
            # one rendering serves everybody only once the project is readable by everybody
            public = readable_by_everyone(project.get("published_at"))
            if project.get("id") == project_id and public:
                self.project_cache.put(project_id, cached, ticket)
        text, version = cached
        # the one answer a client may keep: it revalidates with the ETag before each use
        headers = {"ETag": f'"{version}"', "Cache-Control": "private, no-cache"}
        if call.request.if_none_match.contains(version):
            return Response(status=304, headers=headers)
        return Response(text, content_type=JSON_TYPE, headers=headers)

    def _wrote(self, call: Call, result: Any) -> Any:
        """After a write through this gateway, its own next read of that project is fresh
        (the change notice may arrive after the reply); a write that names no project (a
        milestone report) drops every cached project."""
        project_id = call.path.get("project_id")
        if project_id is None and isinstance(result, dict):
            project_id = result.get("project_id")
        if project_id is None:
            self.project_cache.clear()
        else:
            self.project_cache.forget(str(project_id))
        return result

    @api(
        "PATCH",
        PROJECT_ID,
        summary="Edit a draft project",
        tag="Projects",
        roles=MANAGERS,
        body=S.ProjectUpdate,
        response=S.ProjectOut,
    )
    def edit_project(self, call: Call) -> Any:
        return self._wrote(
            call,
            self.projects.call(
                "edit_project", call.path["project_id"], call.body, call.actor.to_dict()
            ),
        )

    @api(
        "POST",
        PROJECT_ID + "/publish",
        summary="Publish a project",
        tag="Projects",
        roles=MANAGERS,
        response=S.ProjectOut,
    )
    def publish_project(self, call: Call) -> Any:
        return self._wrote(
            call,
            self.projects.call("publish_project", call.path["project_id"], call.actor.to_dict()),
        )

    @api(
        "POST",
        PROJECT_ID + "/cancel",
        summary="Cancel a project",
        tag="Projects",
        roles=MANAGERS,
        body=S.ReasonRequest,
        response=S.ProjectOut,
    )
    def cancel_project(self, call: Call) -> Any:
        """A reason is required. Funding releases what was not spent."""
        return self._wrote(
            call,
            self.projects.call(
                "cancel_project", call.path["project_id"], call.body, call.actor.to_dict()
            ),
        )

    @api(
        "POST",
        PROJECT_ID + "/applications",
        summary="Apply for a project",
        tag="Projects",
        roles=APPLICANTS,
        body=S.ApplicationCreate,
        response=S.ApplicationOut,
        status=201,
        idempotent=True,
    )
    def submit_application(self, call: Call) -> Any:
        """Verified service providers only, once per project, within the budget."""
        return 201, self._wrote(
            call,
            self.projects.call(
                "submit_application", call.path["project_id"], call.body, call.actor.to_dict()
            ),
        )

    @api(
        "GET",
        PROJECT_ID + "/applications",
        summary="A project's applications",
        tag="Projects",
        roles=WORKERS,
        response=S.ApplicationList,
    )
    def list_applications(self, call: Call) -> Any:
        """Staff see all of them; a contractor sees its own."""
        return self.projects.call(
            "list_applications", call.path["project_id"], call.actor.to_dict()
        )

    @api(
        "POST",
        PROJECT_ID + "/award",
        summary="Award the contract",
        tag="Projects",
        roles=MANAGERS,
        body=S.AwardRequest,
        response=S.ContractOut,
        status=201,
        idempotent=True,
    )
    def award_contract(self, call: Call) -> Any:
        """Commissioned: to one application. Self-run: to the purchasing federation or a named
        partner. Tranches add up to the contract amount, which may not exceed the budget; due
        dates lie within the project period."""
        return 201, self._wrote(
            call,
            self.projects.call(
                "award_contract", call.path["project_id"], call.body, call.actor.to_dict()
            ),
        )

    @api(
        "GET",
        "/contracts",
        summary="List contracts",
        tag="Projects",
        roles=WORKERS,
        query=S.ContractFilters,
        response=S.ContractPage,
    )
    def list_contracts(self, call: Call) -> Any:
        """A contractor sees its own contracts; staff and finance officers those their
        federation's subtree purchased; admin all; other roles none."""
        return self.projects.call("list_contracts", call.query, call.actor.to_dict())

    @api(
        "GET",
        "/contracts/{contract_id}",
        summary="Read a contract",
        tag="Projects",
        roles=WORKERS,
        response=S.ContractOut,
    )
    def get_contract(self, call: Call) -> Any:
        """With its milestones, their status and payment state."""
        return self.projects.call("get_contract", call.path["contract_id"], call.actor.to_dict())

    @api(
        "POST",
        MILESTONE + "/reports",
        summary="Report on a milestone",
        tag="Projects",
        roles=REPORTERS,
        body=S.ReportCreate,
        response=S.ReportOut,
        status=201,
        idempotent=True,
    )
    def report_milestone(self, call: Call) -> Any:
        """Your own contract's milestones only; again after a rejection, never after acceptance.
        A self-run contract awarded to the purchasing federation is reported on by its staff;
        whoever reports does not accept or reject that report (403 `SELF_ACCEPTANCE`)."""
        return 201, self._wrote(
            call,
            self.projects.call(
                "report_milestone",
                call.path["contract_id"],
                call.path["milestone_id"],
                call.body,
                call.actor.to_dict(),
            ),
        )

    @api(
        "GET",
        MILESTONE + "/reports",
        summary="A milestone's reports",
        tag="Projects",
        roles=WORKERS,
        response=S.ReportList,
    )
    def milestone_reports(self, call: Call) -> Any:
        """Every report and the decision on it, oldest first."""
        return self.projects.call(
            "milestone_reports",
            call.path["contract_id"],
            call.path["milestone_id"],
            call.actor.to_dict(),
        )

    @api(
        "POST",
        MILESTONE + "/accept",
        summary="Accept a milestone",
        tag="Projects",
        roles=MANAGERS,
        response=S.ContractOut,
    )
    def accept_milestone(self, call: Call) -> Any:
        """Funding then opens a disbursement for the milestone's tranche."""
        return self._wrote(
            call,
            self.projects.call(
                "accept_milestone",
                call.path["contract_id"],
                call.path["milestone_id"],
                call.actor.to_dict(),
            ),
        )

    @api(
        "POST",
        MILESTONE + "/reject",
        summary="Reject a milestone report",
        tag="Projects",
        roles=MANAGERS,
        body=S.ReasonRequest,
        response=S.ContractOut,
    )
    def reject_milestone(self, call: Call) -> Any:
        """A reason is required; the contractor may report again."""
        return self._wrote(
            call,
            self.projects.call(
                "reject_milestone",
                call.path["contract_id"],
                call.path["milestone_id"],
                call.body,
                call.actor.to_dict(),
            ),
        )

    @api(
        "POST",
        PROJECT_ID + "/evaluation",
        summary="Record the evaluation",
        tag="Projects",
        roles=MANAGERS,
        body=S.EvaluationCreate,
        response=S.ProjectOut,
        status=201,
    )
    def evaluate_project(self, call: Call) -> Any:
        """Indicator scores 0–100 with weights; the overall score defaults to their weighted
        mean."""
        return 201, self._wrote(
            call,
            self.projects.call(
                "evaluate_project", call.path["project_id"], call.body, call.actor.to_dict()
            ),
        )

    @api(
        "POST",
        PROJECT_ID + "/close",
        summary="Close an evaluated project",
        tag="Projects",
        roles=MANAGERS,
        response=S.ProjectOut,
    )
    def close_project(self, call: Call) -> Any:
        return self._wrote(
            call, self.projects.call("close_project", call.path["project_id"], call.actor.to_dict())
        )

    @api(
        "GET",
        PROJECT_ID + "/delivery",
        summary="Delivery report",
        tag="Projects",
        roles=WORKERS,
        response=S.DeliveryOut,
    )
    def delivery_report(self, call: Call) -> Any:
        """Targets against actuals: beneficiaries, indicators, volunteer hours, money
        committed/disbursed/paid, milestones on time or late."""
        return self.projects.call("delivery_report", call.path["project_id"], call.actor.to_dict())

    @api("GET", PROJECT_ID + "/ocds", summary="OCDS release package", tag="Projects", roles=WORKERS)
    def ocds_release_package(self, call: Call) -> Any:
        """The contracting process as an OCDS 1.1.5 release package (amounts in yuan). Before
        the award the tenderers are named only to admin and the staff who manage the project."""
        uri = (
            call.request.host_url.rstrip("/") + PREFIX + f"/projects/{call.path['project_id']}/ocds"
        )
        return self.projects.call(
            "ocds_release_package", call.path["project_id"], call.actor.to_dict(), uri
        )
