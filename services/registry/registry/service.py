"""The registry's nameko service: entrypoints only — load, build the command, run the use case
(``kit.usecase``), dump."""

from __future__ import annotations

from typing import Any

from marshmallow import validate
from prometheus_client import Gauge

from kit.audit import AuditDesk
from kit.dependencies import Database
from kit.operations import Operations
from kit.paging import page_request, sorted_page_request
from kit.rpc import rpc
from kit.usecase import SystemClock, UseCases
from language.actor import Actor
from registry import assessment, commands, handlers, schemas
from registry.assessment_repository import AssessmentRepository
from registry.context import Context
from registry.domain.lifecycle import TRANSITIONS
from registry.repository import HISTORY_ORDER, ORGANIZATION_ORDER, OrganizationRepository

ORGANIZATION = schemas.OrganizationOut()
ORGANIZATION_PAGE = schemas.OrganizationPage()
HISTORY_PAGE = schemas.StatusChangePage()
COVERAGE = schemas.CoverageOut()
IS_ACTION = validate.OneOf(TRANSITIONS)
ASSESSMENT = schemas.AssessmentRegistryOut()
WEIGHTS = schemas.AssessmentWeightsOut()
WEIGHTS_CHANGE_IN = schemas.AssessmentWeightsChange()

ORGANIZATIONS = Gauge(
    "jinguo_organizations", "Organizations in the registry by kind and status", ["kind", "status"]
)
ORGANIZATION_CREATE_IN = schemas.OrganizationCreate()
ORGANIZATION_UPDATE_IN = schemas.OrganizationUpdate()
STATUS_CHANGE_REQUEST_IN = schemas.StatusChangeRequest()
ORGANIZATION_FILTERS_IN = schemas.OrganizationFilters()
PAGE_QUERY_IN = schemas.PageQuery()


class RegistryService(UseCases[Context], Operations, AuditDesk):
    name = "registry"

    db = Database()
    #: the auditor's subtree is read from the registry's own organizations
    audit_directory_table = "organizations"

    def context(self, uow: Any, actor: dict[str, Any]) -> Context:
        """Every call names its actor; one without is refused (``Actor.from_dict``)."""
        return Context(
            uow=uow,
            organizations=OrganizationRepository(uow.session),
            actor=Actor.from_dict(actor),
            clock=SystemClock(),
            assessments=AssessmentRepository(uow.session),
        )

    def refresh_metrics(self, uow: Any) -> None:
        counts = OrganizationRepository(uow.session).counts_by_kind_and_status()
        for (kind, status), count in counts.items():
            ORGANIZATIONS.labels(kind, status).set(count)

    @rpc
    def register_organization(
        self, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        command = commands.RegisterOrganization(**ORGANIZATION_CREATE_IN.load(payload))
        return ORGANIZATION.dump(self.execute(actor, handlers.register_organization, command))

    @rpc
    def update_organization(
        self, organization_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        changes = ORGANIZATION_UPDATE_IN.load(payload)
        version = changes.pop("version", None)
        command = commands.UpdateOrganization(organization_id, changes, version)
        return ORGANIZATION.dump(self.execute(actor, handlers.update_organization, command))

    @rpc
    def change_status(
        self, organization_id: str, action: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        """``action`` is one of verify, suspend, reinstate, deregister."""
        IS_ACTION(action)
        reason = STATUS_CHANGE_REQUEST_IN.load(payload or {})["reason"]
        command = commands.ChangeStatus(organization_id, action, reason)
        return ORGANIZATION.dump(self.execute(actor, handlers.change_status, command))

    @rpc
    def get_organization(self, organization_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        command = commands.GetOrganization(organization_id)
        return self.query(actor, handlers.get_organization, command, ORGANIZATION.dump)

    @rpc
    def list_organizations(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        filters = ORGANIZATION_FILTERS_IN.load(filters or {})
        request = sorted_page_request(filters, ORGANIZATION_ORDER)
        command = commands.ListOrganizations(page=request, **filters)
        return self.query(actor, handlers.list_organizations, command, ORGANIZATION_PAGE.dump)

    @rpc
    def status_history(
        self, organization_id: str, filters: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        query = PAGE_QUERY_IN.load(filters or {})
        request = page_request(query["limit"], query["cursor"], ordering=HISTORY_ORDER)
        command = commands.ListStatusHistory(organization_id, request)
        return self.query(actor, handlers.status_history, command, HISTORY_PAGE.dump)

    @rpc
    def coverage(self, organization_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        command = commands.GetCoverage(organization_id)
        return self.query(actor, handlers.coverage, command, COVERAGE.dump)

    @rpc
    def workbench_coverage(self, actor: dict[str, Any]) -> dict[str, Any]:
        command = commands.WorkbenchCoverage()
        return self.query(actor, handlers.workbench_coverage, command, COVERAGE.dump)

    # --- the annual assessment (目标考核) --------------------------------------------------------

    @rpc
    def assessment_figures(
        self, federation_id: str, year: int, actor: dict[str, Any]
    ) -> dict[str, Any]:
        command = commands.GetAssessmentFigures(federation_id, year)
        return self.query(actor, assessment.assessment_figures, command, ASSESSMENT.dump)

    @rpc
    def assessment_weights(
        self, federation_id: str, year: int, actor: dict[str, Any]
    ) -> dict[str, Any]:
        command = commands.GetAssessmentWeights(federation_id, year)
        return self.query(actor, assessment.assessment_weights, command, WEIGHTS.dump)

    @rpc
    def change_assessment_weights(
        self, federation_id: str, year: int, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        change = WEIGHTS_CHANGE_IN.load(payload or {})
        command = commands.ChangeAssessmentWeights(federation_id, year, **change)
        return WEIGHTS.dump(self.execute(actor, assessment.change_assessment_weights, command))
