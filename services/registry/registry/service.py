"""The registry's nameko service: entrypoints only — load, call a use case, commit, dump."""

from __future__ import annotations

from typing import Any

from marshmallow import validate
from nameko.web.handlers import http
from prometheus_client import Gauge

from kit.actor import Actor
from kit.clock import utcnow
from kit.dependencies import Database
from kit.health import Health, health_response
from kit.metrics import Metrics
from kit.paging import page_request, sorted_page_request
from kit.rpc import rpc
from registry import handlers, schemas
from registry.domain import TRANSITIONS
from registry.repository import HISTORY_ORDER, ORGANIZATION_ORDER, OrganizationRepository

ORGANIZATION = schemas.OrganizationOut()
ORGANIZATION_PAGE = schemas.OrganizationPage()
HISTORY_PAGE = schemas.StatusChangePage()
COVERAGE = schemas.CoverageOut()
IS_ACTION = validate.OneOf(TRANSITIONS)

ORGANIZATIONS = Gauge(
    "jinguo_organizations", "Organizations in the registry by kind and status", ["kind", "status"]
)
ORGANIZATION_CREATE_IN = schemas.OrganizationCreate()
ORGANIZATION_UPDATE_IN = schemas.OrganizationUpdate()
STATUS_CHANGE_REQUEST_IN = schemas.StatusChangeRequest()
ORGANIZATION_FILTERS_IN = schemas.OrganizationFilters()
PAGE_QUERY_IN = schemas.PageQuery()


class RegistryService:
    name = "registry"

    db = Database()
    health_report = Health()
    metrics = Metrics()

    @rpc
    def register_organization(
        self, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        data = ORGANIZATION_CREATE_IN.load(payload)
        with self.db() as uow:
            repo = OrganizationRepository(uow.session)
            organization = handlers.register_organization(
                repo, data, Actor.from_dict(actor), utcnow()
            )
            uow.commit()
        return ORGANIZATION.dump(organization)

    @rpc
    def update_organization(
        self, organization_id: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        changes = ORGANIZATION_UPDATE_IN.load(payload)
        with self.db() as uow:
            repo = OrganizationRepository(uow.session)
            organization = handlers.update_organization(
                repo, organization_id, changes, Actor.from_dict(actor), utcnow()
            )
            uow.commit()
        return ORGANIZATION.dump(organization)

    @rpc
    def change_status(
        self, organization_id: str, action: str, payload: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        """``action`` is one of verify, suspend, reinstate, deregister."""
        IS_ACTION(action)
        reason = STATUS_CHANGE_REQUEST_IN.load(payload or {})["reason"]
        with self.db() as uow:
            repo = OrganizationRepository(uow.session)
            organization = handlers.change_status(
                repo, organization_id, action, reason, Actor.from_dict(actor), utcnow()
            )
            uow.commit()
        return ORGANIZATION.dump(organization)

    @rpc
    def get_organization(self, organization_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        with self.db(readonly=True) as uow:
            repo = OrganizationRepository(uow.session)
            organization = handlers.get_organization(repo, organization_id, Actor.from_dict(actor))
            return ORGANIZATION.dump(organization)

    @rpc
    def list_organizations(self, filters: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        filters = ORGANIZATION_FILTERS_IN.load(filters or {})
        request = sorted_page_request(filters, ORGANIZATION_ORDER)
        with self.db(readonly=True) as uow:
            repo = OrganizationRepository(uow.session)
            result = handlers.list_organizations(repo, filters, request, Actor.from_dict(actor))
            return ORGANIZATION_PAGE.dump(result)

    @rpc
    def status_history(
        self, organization_id: str, filters: dict[str, Any], actor: dict[str, Any]
    ) -> dict[str, Any]:
        query = PAGE_QUERY_IN.load(filters or {})
        request = page_request(query["limit"], query["cursor"], ordering=HISTORY_ORDER)
        with self.db(readonly=True) as uow:
            repo = OrganizationRepository(uow.session)
            result = handlers.status_history(repo, organization_id, request, Actor.from_dict(actor))
            return HISTORY_PAGE.dump(result)

    @rpc
    def coverage(self, organization_id: str, actor: dict[str, Any]) -> dict[str, Any]:
        with self.db(readonly=True) as uow:
            repo = OrganizationRepository(uow.session)
            return COVERAGE.dump(handlers.coverage(repo, organization_id, Actor.from_dict(actor)))

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
                counts = OrganizationRepository(uow.session).counts_by_kind_and_status()
            for (kind, status), count in counts.items():
                ORGANIZATIONS.labels(kind, status).set(count)

        return self.metrics(refresh)
