"""The projects service's nameko entrypoints: load, call a use case, commit, dump.

Besides its RPC methods it keeps a directory of organizations from registry events
(``DirectoryConsumer``) and follows the facts other services publish: a contractor suspended or
reinstated or deregistered, money committed or disbursed, volunteer hours verified.
"""

from __future__ import annotations

from typing import Any

from nameko.dependency_providers import Config
from nameko.exceptions import RpcTimeout, UnknownService
from nameko.extensions import DependencyProvider
from nameko.web.handlers import http
from prometheus_client import Gauge

from kit.actor import Actor
from kit.calls import SignedRpcClient
from kit.changes import ChangeNotices
from kit.clock import local_date, utcnow
from kit.consumer import on_event
from kit.db import UnitOfWork
from kit.dependencies import Database
from kit.directory import DirectoryConsumer
from kit.errors import Unavailable
from kit.health import Health, health_response
from kit.metrics import Metrics
from kit.paging import MAX_LIMIT, sorted_page_request
from kit.rpc import rpc
from projects import domain, handlers, ocds, schemas
from projects.handlers import Context
from projects.repository import CONTRACT_ORDER, PROJECT_ORDER, ProjectRepository

PROJECT = schemas.ProjectOut()
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

MILESTONES_OVERDUE = Gauge(
    "jinguo_milestones_overdue", "Milestones of live contracts past their due date, not accepted"
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


class ProjectsService(DirectoryConsumer):
    name = "projects"

    db = Database()
    health_report = Health()
    #: tells the gateway's read cache which published projects a commit changed
    changes = ChangeNotices(
        project=(domain.Project, lambda project: domain.readable_by_everyone(project.published_at))
    )
    metrics = Metrics()
    config = Config()
    funding_sources = FundingSourceFacts()

    def _write(self, actor: dict[str, Any], use_case: Any, *args: Any) -> Any:
        """Run a use case that changes state in one unit of work and commit it."""
        with self.db() as uow:
            result = use_case(
                Context(uow, Actor.from_dict(actor), ask_funding=self.funding_sources), *args
            )
            uow.commit()
        return result

    def _read(self, actor: dict[str, Any], use_case: Any, dump: Any, *args: Any) -> Any:
        with self.db(readonly=True) as uow:
            return dump(use_case(Context(uow, Actor.from_dict(actor)), *args))

    # --- projects ---------------------------------------------------------------------------

    @rpc
    def draft_project(self, payload: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        data = PROJECT_CREATE_IN.load(payload)
        return PROJECT.dump(self._write(actor, handlers.draft_project, data, utcnow()))

    @rpc
    def edit_project(
        self, project_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        changes = PROJECT_UPDATE_IN.load(payload)
        return PROJECT.dump(
            self._write(actor, handlers.edit_project, project_id, changes, utcnow())
        )

    @rpc
    def publish_project(self, project_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        return PROJECT.dump(self._write(actor, handlers.publish_project, project_id, utcnow()))

    @rpc
    def cancel_project(
        self, project_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        reason = REASON_REQUEST_IN.load(payload or {})["reason"]
        return PROJECT.dump(
            self._write(actor, handlers.cancel_project, project_id, reason, utcnow())
        )

    @rpc
    def get_project(self, project_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        return self._read(actor, handlers.get_project, PROJECT.dump, project_id)

    @rpc
    def list_projects(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        filters = PROJECT_FILTERS_IN.load(filters or {})
        request = sorted_page_request(filters, PROJECT_ORDER)
        return self._read(actor, handlers.list_projects, PROJECT_PAGE.dump, filters, request)

    # --- applications and the award ---------------------------------------------------------

    @rpc
    def submit_application(
        self, project_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        data = APPLICATION_CREATE_IN.load(payload)
        return APPLICATION.dump(
            self._write(actor, handlers.submit_application, project_id, data, utcnow())
        )

    @rpc
    def list_applications(self, project_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        return self._read(
            actor,
            handlers.list_applications,
            lambda items: APPLICATIONS.dump({"items": items, "total": len(items)}),
            project_id,
        )

    @rpc
    def award_contract(
        self, project_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        data = AWARD_REQUEST_IN.load(payload)
        return CONTRACT.dump(
            self._write(actor, handlers.award_contract, project_id, data, utcnow())
        )

    # --- contracts and milestones ------------------------------------------------------------

    @rpc
    def get_contract(self, contract_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        return self._read(actor, handlers.get_contract, CONTRACT.dump, contract_id)

    @rpc
    def list_contracts(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        filters = CONTRACT_FILTERS_IN.load(filters or {})
        request = sorted_page_request(filters, CONTRACT_ORDER)
        return self._read(actor, handlers.list_contracts, CONTRACT_PAGE.dump, filters, request)

    @rpc
    def report_milestone(
        self, contract_id: str, milestone_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        data = REPORT_CREATE_IN.load(payload)
        report = self._write(
            actor, handlers.report_milestone, contract_id, milestone_id, data, utcnow()
        )
        return REPORT.dump(report)

    @rpc
    def accept_milestone(
        self, contract_id: str, milestone_id: str, actor: dict[str, Any]
    ) -> dict[str, Any]:
        contract = self._write(
            actor, handlers.decide_milestone, contract_id, milestone_id, True, None, utcnow()
        )
        return CONTRACT.dump(contract)

    @rpc
    def reject_milestone(
        self, contract_id: str, milestone_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        reason = REASON_REQUEST_IN.load(payload or {})["reason"]
        contract = self._write(
            actor, handlers.decide_milestone, contract_id, milestone_id, False, reason, utcnow()
        )
        return CONTRACT.dump(contract)

    @rpc
    def milestone_reports(
        self, contract_id: str, milestone_id: str, actor: dict[str, Any]
    ) -> dict[str, Any]:
        return self._read(
            actor,
            handlers.milestone_reports,
            lambda items: REPORTS.dump({"items": items, "total": len(items)}),
            contract_id,
            milestone_id,
        )

    @rpc
    def contract_briefs(self, contract_ids: list[str], actor: dict[str, Any]) -> dict[str, Any]:
        """For finance screens: per contract the actor reads, its project's title and each
        milestone's latest report; others are left out."""
        ids = [str(c) for c in (contract_ids or [])][:MAX_BRIEFS]
        return self._read(
            actor,
            handlers.contract_briefs,
            lambda items: CONTRACT_BRIEFS.dump({"items": items}),
            ids,
        )

    # --- evidence files (the bytes are in the gateway's blob store) ----------------------------

    @rpc
    def register_file(self, payload: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        data = FILE_REGISTER_IN.load(payload)
        return FILE.dump(self._write(actor, handlers.register_file, data, utcnow()))

    @rpc
    def readable_file(self, file_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        """The file's metadata if the actor may download it (else FILE_NOT_FOUND)."""
        return self._read(actor, handlers.readable_file, FILE.dump, str(file_id))

    # --- evaluation, close, reports ------------------------------------------------------------

    @rpc
    def evaluate_project(
        self, project_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        data = EVALUATION_CREATE_IN.load(payload)
        return PROJECT.dump(
            self._write(actor, handlers.evaluate_project, project_id, data, utcnow())
        )

    @rpc
    def close_project(self, project_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        return PROJECT.dump(self._write(actor, handlers.close_project, project_id, utcnow()))

    @rpc
    def delivery_report(self, project_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        return self._read(actor, handlers.delivery, DELIVERY.dump, project_id, local_date(utcnow()))

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
                published_at=utcnow(),
                uri=uri,
            )

        return self._read(actor, handlers.contracting_process, export, project_id)

    @rpc
    def health(self) -> dict[str, Any]:
        return self.health_report()

    @http("GET", "/healthz")
    def serve_health(self, request: Any) -> Any:
        """For readiness probes: the database answers, the outbox backlog, the queues consumed."""
        return health_response(self.health_report())

    @http("GET", "/metrics")
    def serve_metrics(self, request: Any) -> Any:
        def refresh() -> None:  # kept at their last value while the database is away
            with self.db(readonly=True) as uow:
                figures = ProjectRepository(uow.session).operational_figures(local_date(utcnow()))
            MILESTONES_OVERDUE.set(figures["milestones_overdue"])
            COMMITMENTS_REJECTED.set(figures["commitments_rejected"])
            for status, count in figures["projects"].items():
                PROJECTS.labels(status).set(count)

        return self.metrics(refresh)

    # --- facts from other services ---------------------------------------------------------

    @on_event("registry", "organization_suspended")
    def contractor_suspended(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        handlers.contractor_standing(uow, event, True, utcnow())

    @on_event("registry", "organization_reinstated")
    def contractor_reinstated(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        handlers.contractor_standing(uow, event, False, utcnow())

    @on_event("registry", "organization_deregistered")
    def contractor_deregistered(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        handlers.contractor_deregistered(uow, event, utcnow())

    @on_event("funding", "funding_source_created")
    def funding_source_created(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        handlers.funding_source_created(uow, event)

    @on_event("funding", "commitment_made")
    def commitment_made(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        handlers.commitment(uow, event, True)

    @on_event("funding", "commitment_rejected")
    def commitment_rejected(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        handlers.commitment(uow, event, False)

    @on_event("funding", "disbursement_requested")
    def disbursement_requested(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        handlers.payment(uow, "disbursement_requested", event)

    @on_event("funding", "disbursement_approved")
    def disbursement_approved(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        handlers.payment(uow, "disbursement_approved", event)

    @on_event("funding", "disbursement_rejected")
    def disbursement_rejected(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        handlers.payment(uow, "disbursement_rejected", event)

    @on_event("funding", "disbursement_held")
    def disbursement_held(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        handlers.payment(uow, "disbursement_held", event)

    @on_event("funding", "disbursement_released")
    def disbursement_released(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        handlers.payment(uow, "disbursement_released", event)

    @on_event("funding", "disbursement_paid")
    def disbursement_paid(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        handlers.payment(uow, "disbursement_paid", event)

    @on_event("volunteers", "service_hours_verified")
    def service_hours_verified(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        handlers.volunteer_hours(uow, event)
