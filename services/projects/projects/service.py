"""The projects service's nameko entrypoints: load, call a use case, commit, dump.

Besides its RPC methods it keeps a directory of organizations from registry events
(``DirectoryConsumer``) and follows the facts other services publish: a contractor suspended or
reinstated or deregistered, money committed or disbursed, volunteer hours verified.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from nameko.dependency_providers import Config
from nameko.exceptions import RpcTimeout, UnknownService
from nameko.extensions import DependencyProvider
from prometheus_client import Gauge

from kit.anchoring import AuditKeeper, GatewayAnchors, anchors_from
from kit.audit import AuditDesk
from kit.calls import SignedRpcClient
from kit.changes import ChangeNotices
from kit.consumer import on_event
from kit.db import UnitOfWork
from kit.dependencies import Database
from kit.errors import Unavailable
from kit.operations import Operations
from kit.paging import MAX_LIMIT, sorted_page_request
from kit.rpc import rpc
from kit.schedule import SentNotices, moment_of, scheduled
from kit.usecase import SystemClock, UseCases
from language.actor import SYSTEM, Actor
from language.directory import Directory, DirectoryConsumer
from projects import commands, handlers, ocds, schemas
from projects.assessment_repository import AssessmentRepository
from projects.context import Context
from projects.domain.payments import Disbursement
from projects.domain.project import Project
from projects.domain.reminders import DEFAULT_GRACE_DAYS
from projects.domain.scope import readable_by_everyone
from projects.handlers import assessment as assessment_handlers
from projects.models import reminders_sent
from projects.public_service import PublicEntrypoints
from projects.repository import (
    CONTRACT_ORDER,
    MILESTONE_ORDER,
    PROJECT_ORDER,
    ProjectRepository,
)
from projects.sources import FundingSources

PROJECT = schemas.ProjectOut()
ASSESSMENT = schemas.AssessmentProjectsOut()
PROJECT_PAGE = schemas.ProjectPage()
APPLICATION = schemas.ApplicationOut()
APPLICATIONS = schemas.ApplicationList()
CONTRACT = schemas.ContractOut()
CONTRACT_PAGE = schemas.ContractPage()
REPORT = schemas.ReportOut()
REPORTS = schemas.ReportList()
CONTRACT_BRIEFS = schemas.ContractBriefs()
#: contracts one briefs request may name: as many as a page of funding's rows can hold
MAX_BRIEFS = MAX_LIMIT
DELIVERY = schemas.DeliveryOut()

#: seconds to wait for funding's answer about a source not heard of yet
DEFAULT_FUNDING_RPC_TIMEOUT = 5.0
CLOCK = SystemClock()

MILESTONES_OVERDUE = Gauge(
    "jinguo_milestones_overdue", "Milestones of live contracts past their due date, not accepted"
)
MILESTONES_OVERDUE_HELD = Gauge(
    "jinguo_milestones_overdue_beyond_grace",
    "Milestones of live contracts overdue beyond the grace period (MILESTONE_GRACE_DAYS), not"
    " accepted: funding holds their contracts' open disbursements",
)
COMMITMENTS_REJECTED = Gauge(
    "jinguo_contracts_commitment_rejected",
    "Contracts whose money funding could not commit (the source lacked it)",
)
PROJECTS = Gauge("jinguo_projects", "Projects by status", ["status"])
PROJECT_CREATE_IN = schemas.ProjectCreate()
PROJECT_UPDATE_IN = schemas.ProjectUpdate()
REASON_REQUEST_IN = schemas.ReasonRequest()
PROJECT_FILTERS_IN = schemas.ProjectFilters()
APPLICATION_CREATE_IN = schemas.ApplicationCreate()
AWARD_REQUEST_IN = schemas.AwardRequest()
CONTRACT_FILTERS_IN = schemas.ContractFilters()
REPORT_CREATE_IN = schemas.ReportCreate()
EVALUATION_CREATE_IN = schemas.EvaluationCreate()
FILE_REGISTER_IN = schemas.FileRegister()
FILE = schemas.FileOut()
MILESTONE_FILTERS_IN = schemas.MilestoneFilters()
MILESTONE_PAGE = schemas.MilestonePage()
WORKBENCH = schemas.ProjectsWorkbenchOut()


class FundingSourceFacts(DependencyProvider):
    """Asks funding about a source projects' copy has not heard of yet (``source_facts``),
    with a deadline: a funding service that does not answer is a 503, never a hang."""

    def get_dependency(self, worker_ctx: Any) -> Any:
        config = self.container.config
        timeout = float(config.get("FUNDING_RPC_TIMEOUT") or DEFAULT_FUNDING_RPC_TIMEOUT)

        def ask(source_id: str) -> dict[str, Any] | None:
            try:
                with SignedRpcClient(config, caller="projects", timeout=timeout) as client:
                    return client.call("funding", "source_facts", source_id)
            except (RpcTimeout, UnknownService) as exc:
                error = Unavailable("the funding service did not answer about the source")
                error.code = "FUNDING_UNAVAILABLE"
                raise error from exc

        return ask


class ProjectsService(
    UseCases[Context],
    Operations,
    AuditDesk,
    GatewayAnchors,
    DirectoryConsumer,
    PublicEntrypoints,
):
    name = "projects"

    db = Database()
    #: anchors this log's head in the others' and prunes it (``kit.anchoring``)
    audit_keeper = AuditKeeper()
    # the heads of the logs this service hears, written into its own
    registry_audit_anchor = anchors_from("registry")
    funding_audit_anchor = anchors_from("funding")
    volunteers_audit_anchor = anchors_from("volunteers")
    system_actor = SYSTEM.to_dict()
    #: tells the gateway's read cache which published projects a commit changed
    changes = ChangeNotices(
        project=(Project, lambda project: readable_by_everyone(project.published_at))
    )
    config = Config()
    funding_sources = FundingSourceFacts()

    def context(self, uow: Any, actor: dict[str, Any]) -> Context:
        return Context(
            uow=uow,
            repo=ProjectRepository(uow.session),
            sources=FundingSources(uow.session),
            directory=Directory(uow),
            actor=Actor.from_dict(actor),
            clock=CLOCK,
            ask_funding=self.funding_sources,
            assessments=AssessmentRepository(uow.session),
            notices=SentNotices(uow.session, reminders_sent),
        )

    @property
    def grace_days(self) -> int:
        return int(self.config.get("MILESTONE_GRACE_DAYS") or DEFAULT_GRACE_DAYS)

    # --- the daily checks ------------------------------------------------------------------

    @scheduled
    def scheduled_checks(self, as_of: str) -> dict[str, int]:
        """Run by the replica holding the schedule's lease, every SCHEDULE_INTERVAL_SECONDS."""
        command = commands.RunChecks(moment_of(as_of), self.grace_days)
        return self.execute(self.system_actor, handlers.run_checks, command)  # type: ignore[arg-type]

    @rpc
    def run_checks(self, payload: dict[str, Any], actor: dict[str, Any]) -> dict[str, int]:
        """``{as_of?}``: the daily checks as of a moment (default now), for the system and
        admins — tests set the time, ops catch up by hand after an outage."""
        as_of = (payload or {}).get("as_of")
        moment = moment_of(as_of) if as_of else CLOCK.now()
        command = commands.RunChecks(moment, self.grace_days)
        return self.execute(actor, handlers.run_checks, command)

    # --- projects ---------------------------------------------------------------------------

    @rpc
    def draft_project(self, payload: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        command = commands.DraftProject(**PROJECT_CREATE_IN.load(payload))
        return PROJECT.dump(self.execute(actor, handlers.draft_project, command))

    @rpc
    def edit_project(
        self, project_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        command = commands.EditProject(project_id, changes=PROJECT_UPDATE_IN.load(payload))
        return PROJECT.dump(self.execute(actor, handlers.edit_project, command))

    @rpc
    def publish_project(self, project_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        command = commands.PublishProject(project_id)
        return PROJECT.dump(self.execute(actor, handlers.publish_project, command))

    @rpc
    def cancel_project(
        self, project_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        command = commands.CancelProject(project_id, **REASON_REQUEST_IN.load(payload or {}))
        return PROJECT.dump(self.execute(actor, handlers.cancel_project, command))

    @rpc
    def get_project(self, project_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        command = commands.GetProject(project_id)
        return self.query(actor, handlers.get_project, command, PROJECT.dump)

    @rpc
    def list_projects(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        loaded = PROJECT_FILTERS_IN.load(filters or {})
        page = sorted_page_request(loaded, PROJECT_ORDER)
        command = commands.ListProjects(page=page, **loaded)
        return self.query(actor, handlers.list_projects, command, PROJECT_PAGE.dump)

    # --- applications and the award ---------------------------------------------------------

    @rpc
    def submit_application(
        self, project_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        command = commands.SubmitApplication(project_id, **APPLICATION_CREATE_IN.load(payload))
        return APPLICATION.dump(self.execute(actor, handlers.submit_application, command))

    @rpc
    def list_applications(self, project_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        command = commands.ListApplications(project_id)
        return self.query(actor, handlers.list_applications, command, _listed(APPLICATIONS))

    @rpc
    def award_contract(
        self, project_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        command = commands.AwardContract(project_id, **AWARD_REQUEST_IN.load(payload))
        return CONTRACT.dump(self.execute(actor, handlers.award_contract, command))

    # --- contracts and milestones ------------------------------------------------------------

    @rpc
    def get_contract(self, contract_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        command = commands.GetContract(contract_id)
        return self.query(actor, handlers.get_contract, command, CONTRACT.dump)

    @rpc
    def list_contracts(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        loaded = CONTRACT_FILTERS_IN.load(filters or {})
        page = sorted_page_request(loaded, CONTRACT_ORDER)
        command = commands.ListContracts(page=page, **loaded)
        return self.query(actor, handlers.list_contracts, command, CONTRACT_PAGE.dump)

    @rpc
    def list_milestones(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        loaded = MILESTONE_FILTERS_IN.load(filters or {})
        page = sorted_page_request(loaded, MILESTONE_ORDER)
        command = commands.ListMilestones(page=page, **loaded)
        return self.query(actor, handlers.list_milestones, command, MILESTONE_PAGE.dump)

    @rpc
    def workbench(self, actor: dict[str, Any]) -> dict[str, Any]:
        command = commands.ProjectsWorkbench()
        return self.query(actor, handlers.projects_workbench, command, WORKBENCH.dump)

    @rpc
    def report_milestone(
        self, contract_id: str, milestone_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        data = REPORT_CREATE_IN.load(payload)
        command = commands.ReportMilestone(contract_id, milestone_id, **data)
        return REPORT.dump(self.execute(actor, handlers.report_milestone, command))

    @rpc
    def accept_milestone(
        self, contract_id: str, milestone_id: str, actor: dict[str, Any]
    ) -> dict[str, Any]:
        command = commands.AcceptMilestone(contract_id, milestone_id)
        return CONTRACT.dump(self.execute(actor, handlers.accept_milestone, command))

    @rpc
    def reject_milestone(
        self, contract_id: str, milestone_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        reason = REASON_REQUEST_IN.load(payload or {})["reason"]
        command = commands.RejectMilestone(contract_id, milestone_id, reason)
        return CONTRACT.dump(self.execute(actor, handlers.reject_milestone, command))

    @rpc
    def milestone_reports(
        self, contract_id: str, milestone_id: str, actor: dict[str, Any]
    ) -> dict[str, Any]:
        command = commands.MilestoneReports(contract_id, milestone_id)
        return self.query(actor, handlers.milestone_reports, command, _listed(REPORTS))

    @rpc
    def contract_briefs(self, contract_ids: list[str], actor: dict[str, Any]) -> dict[str, Any]:
        """For finance screens: per contract the actor reads, its project's title and each
        milestone's latest report; others are left out."""
        ids = tuple(str(c) for c in (contract_ids or []))[:MAX_BRIEFS]
        return self.query(
            actor,
            handlers.contract_briefs,
            commands.ContractBriefs(ids),
            lambda items: CONTRACT_BRIEFS.dump({"items": items}),
        )

    # --- evidence files (the bytes are in the gateway's blob store) ----------------------------

    @rpc
    def register_file(self, payload: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        command = commands.RegisterFile(**FILE_REGISTER_IN.load(payload))
        return FILE.dump(self.execute(actor, handlers.register_file, command))

    @rpc
    def readable_file(self, file_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        """The file's metadata if the actor may download it (else FILE_NOT_FOUND)."""
        command = commands.ReadableFile(str(file_id))
        return self.query(actor, handlers.readable_file, command, FILE.dump)

    # --- evaluation, close, reports ------------------------------------------------------------

    @rpc
    def evaluate_project(
        self, project_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        command = commands.EvaluateProject(project_id, **EVALUATION_CREATE_IN.load(payload))
        return PROJECT.dump(self.execute(actor, handlers.evaluate_project, command))

    @rpc
    def close_project(self, project_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        command = commands.CloseProject(project_id)
        return PROJECT.dump(self.execute(actor, handlers.close_project, command))

    @rpc
    def delivery_report(self, project_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        command = commands.DeliveryReport(project_id)
        return self.query(actor, handlers.delivery_report, command, DELIVERY.dump)

    @rpc
    def ocds_release_package(
        self, project_id: str, actor: dict[str, Any], uri: str | None = None
    ) -> dict[str, Any]:
        def export(parts: tuple) -> dict[str, Any]:
            project, contract, applications, parties = parts
            return ocds.release_package(
                project,
                contract,
                applications,
                parties,
                ocid_prefix=self.config.get("OCDS_OCID_PREFIX") or "ocds-jinguo",
                publisher_name=self.config.get("OCDS_PUBLISHER") or "Jinguo",
                published_at=CLOCK.now(),
                uri=uri,
            )

        command = commands.ContractingProcess(project_id)
        return self.query(actor, handlers.contracting_process, command, export)

    def refresh_metrics(self, uow: UnitOfWork) -> None:
        figures = ProjectRepository(uow.session).operational_figures(CLOCK.today())  # type: ignore[arg-type]
        MILESTONES_OVERDUE.set(figures["milestones_overdue"])
        today = CLOCK.today()
        MILESTONES_OVERDUE_HELD.set(
            ProjectRepository(uow.session).overdue_milestone_count(
                today - timedelta(days=self.grace_days)
            )
        )
        COMMITMENTS_REJECTED.set(figures["commitments_rejected"])
        for status, count in figures["projects"].items():
            PROJECTS.labels(status).set(count)

    # --- facts from other services ---------------------------------------------------------

    @on_event("registry", "organization_suspended")
    def contractor_suspended(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        fact = _standing(event, suspended=True)
        self.react(uow, handlers.contractor_standing_changed, fact)

    @on_event("registry", "organization_reinstated")
    def contractor_reinstated(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        fact = _standing(event, suspended=False)
        self.react(uow, handlers.contractor_standing_changed, fact)

    @on_event("registry", "organization_deregistered")
    def contractor_deregistered(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        fact = commands.ContractorDeregistered(
            str(event["organization_id"]), event["kind"], event["version"]
        )
        self.react(uow, handlers.contractor_deregistered, fact)

    @on_event("funding", "funding_source_created")
    def funding_source_created(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        fact = commands.FundingSourceCreated(
            str(event["funding_source_id"]), str(event["owner_id"]), int(event["version"])
        )
        self.react(uow, handlers.funding_source_created, fact)

    @on_event("funding", "commitment_made")
    def commitment_made(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        self.react(uow, handlers.commitment, _commitment(event, committed=True))

    @on_event("funding", "commitment_rejected")
    def commitment_rejected(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        self.react(uow, handlers.commitment, _commitment(event, committed=False))

    @on_event("funding", "disbursement_requested")
    def disbursement_requested(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        self.react(uow, handlers.payment, _disbursement("disbursement_requested", event))

    @on_event("funding", "disbursement_approved")
    def disbursement_approved(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        self.react(uow, handlers.payment, _disbursement("disbursement_approved", event))

    @on_event("funding", "disbursement_rejected")
    def disbursement_rejected(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        self.react(uow, handlers.payment, _disbursement("disbursement_rejected", event))

    @on_event("funding", "disbursement_held")
    def disbursement_held(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        self.react(uow, handlers.payment, _disbursement("disbursement_held", event))

    @on_event("funding", "disbursement_released")
    def disbursement_released(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        self.react(uow, handlers.payment, _disbursement("disbursement_released", event))

    @on_event("funding", "disbursement_paid")
    def disbursement_paid(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        self.react(uow, handlers.payment, _disbursement("disbursement_paid", event))

    @on_event("volunteers", "service_hours_verified")
    def service_hours_verified(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        project_id = event.get("project_id")
        fact = commands.ServiceHoursVerified(
            str(project_id) if project_id else None, event["minutes"]
        )
        self.react(uow, handlers.volunteer_hours, fact)

    # --- the annual assessment (目标考核) --------------------------------------------------------

    @rpc
    def assessment_figures(
        self, federation_id: str, year: int, actor: dict[str, Any]
    ) -> dict[str, Any]:
        command = commands.GetAssessmentFigures(federation_id, year)
        return self.query(actor, assessment_handlers.assessment_figures, command, ASSESSMENT.dump)


def _listed(schema: Any) -> Any:
    """Dumps a whole list (no paging) as ``{items, total}``."""
    return lambda items: schema.dump({"items": items, "total": len(items)})


# --- facts: an event's validated body as the command its handler takes --------------------------


def _standing(event: dict[str, Any], *, suspended: bool) -> commands.ContractorStandingChanged:
    return commands.ContractorStandingChanged(
        str(event["organization_id"]), event["version"], suspended
    )


def _commitment(event: dict[str, Any], *, committed: bool) -> commands.CommitmentDecided:
    return commands.CommitmentDecided(
        contract_id=str(event["contract_id"]),
        committed=committed,
        amount=event["amount"],
        shortfall=event.get("shortfall"),
        reason=event.get("reason"),
    )


def _disbursement(event_type: str, event: dict[str, Any]) -> commands.DisbursementReported:
    disbursement_id = event.get("disbursement_id")
    return commands.DisbursementReported(
        event_type=event_type,
        contract_id=str(event["contract_id"]),
        milestone_id=str(event["milestone_id"]),
        disbursement=Disbursement(
            occurred_at=event["occurred_at"],
            disbursement_id=None if disbursement_id is None else str(disbursement_id),
            amount=event["amount"],
            status=event.get("status"),
            payment_reference=event.get("payment_reference"),
        ),
    )
