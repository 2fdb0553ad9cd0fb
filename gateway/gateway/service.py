"""The gateway's nameko service: one thin method per route.

Each route authenticates (``@api`` roles), then makes one RPC call and returns its result;
object-level rules (subtree scope, own organization) are enforced by the service that owns the
data. Validation of service payloads happens in the service, against the same schemas this
gateway's OpenAPI document is generated from.
"""

from __future__ import annotations

from typing import Any

import eventlet
import kombu
import sqlalchemy as sa
from nameko.dependency_providers import Config
from nameko.timer import timer
from werkzeug.wrappers import Response

from gateway import accounts, openapi
from gateway.auth import Auth
from gateway.errors import NotFound, ValidationFailed
from gateway.http import (
    ALL_ROLES,
    DEFAULT_MAX_BODY_BYTES,
    PREFIX,
    ApiEntrypoint,
    Call,
    api,
    json_response,
)
from gateway.idempotency import IdempotencyKeys
from gateway.rpc import ServiceRpc
from gateway.schemas import (
    HealthOut,
    PageQuery,
    TokenOut,
    TokenRequest,
    UserCreate,
    UserOut,
    UserPage,
)
from gateway.store import UserStore
from kit.clock import utcnow
from kit.dependencies import Database
from kit.metrics import Metrics
from kit.paging import page, page_request
from registry import schemas as registry_schemas

MANAGERS = ("admin", "federation_staff")
USER = UserOut()


class GatewayDatabase(Database):
    """The gateway's own database (users, idempotency keys); creates the admin at start."""

    def __init__(self) -> None:
        super().__init__(outbox=False)

    def setup(self) -> None:
        # in setup, not start: nameko starts extensions concurrently, and the web server must
        # not answer a login before the admin exists
        super().setup()
        assert self.resource is not None
        accounts.ensure_admin(self.resource, self.container.config.get("ADMIN_PASSWORD"), utcnow())


class GatewayService:
    name = "gateway"

    db = GatewayDatabase()
    auth = Auth()
    config = Config()
    metrics = Metrics()
    registry = ServiceRpc("registry")

    @property
    def max_body_bytes(self) -> int:
        return int(self.config.get("MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES)

    @property
    def idempotency(self) -> IdempotencyKeys:
        return IdempotencyKeys(self.db)

    # --- identity ------------------------------------------------------------------------

    @api(
        "POST",
        "/auth/token",
        summary="Log in",
        tag="Identity",
        roles=None,
        body=TokenRequest,
        response=TokenOut,
        validate_body=True,
    )
    def issue_token(self, call: Call) -> Any:
        """Exchange a username and password for a bearer token."""
        user = accounts.authenticate(self.db, call.body["username"], call.body["password"])
        return {
            "access_token": self.auth.issue(user.as_actor()),
            "token_type": "bearer",
            "expires_in": self.auth.ttl_seconds,
        }

    @api(
        "POST",
        "/users",
        summary="Create a user",
        tag="Identity",
        roles=("admin",),
        body=UserCreate,
        response=UserOut,
        status=201,
        idempotent=True,
        validate_body=True,
    )
    def create_user(self, call: Call) -> Any:
        """Federation staff belong to a federation, contractors to a service provider."""

        def organization_kind(organization_id: str) -> str | None:
            try:
                found = self.registry.call(
                    "get_organization", organization_id, call.actor.to_dict()
                )
            except Exception as exc:
                if getattr(exc, "kind", None) == "not_found":
                    raise ValidationFailed(
                        f"no organization {organization_id}", field="organization_id", rule="exists"
                    ) from None
                raise
            return found["kind"]

        user = accounts.create_user(self.db, call.body, call.actor, utcnow(), organization_kind)
        return 201, USER.dump(user)

    @api(
        "GET",
        "/users",
        summary="List users",
        tag="Identity",
        roles=("admin",),
        query=PageQuery,
        response=UserPage,
    )
    def list_users(self, call: Call) -> Any:
        query = PageQuery().load(call.query)
        request = page_request(query.get("limit"), query.get("cursor"), arity=1)
        with self.db(readonly=True) as uow:
            users = UserStore(uow.session).list(request.limit, request.after)
        return UserPage().dump(page(users, request, key_of=lambda u: (u.username,)))

    @api("GET", "/users/me", summary="Who am I", tag="Identity", response=UserOut)
    def me(self, call: Call) -> Any:
        with self.db(readonly=True) as uow:
            user = UserStore(uow.session).get(call.actor.user_id)
        if user is None:
            raise NotFound("your user no longer exists", code="USER_NOT_FOUND")
        return USER.dump(user)

    # --- registry ------------------------------------------------------------------------

    @api(
        "POST",
        "/organizations",
        summary="Register an organization",
        tag="Registry",
        roles=MANAGERS,
        body=registry_schemas.OrganizationCreate,
        response=registry_schemas.OrganizationOut,
        status=201,
        idempotent=True,
    )
    def register_organization(self, call: Call) -> Any:
        """Federations need a level, host units a sector; the parent must fit the hierarchy."""
        return 201, self.registry.call("register_organization", call.body, call.actor.to_dict())

    @api(
        "GET",
        "/organizations",
        summary="List organizations",
        tag="Registry",
        query=registry_schemas.OrganizationFilters,
        response=registry_schemas.OrganizationPage,
    )
    def list_organizations(self, call: Call) -> Any:
        """`parent_id` lists children, `within` a whole subtree; `q` searches names (简/繁)."""
        return self.registry.call("list_organizations", call.query, call.actor.to_dict())

    @api(
        "GET",
        "/organizations/{organization_id}",
        summary="Read an organization",
        tag="Registry",
        response=registry_schemas.OrganizationOut,
    )
    def get_organization(self, call: Call) -> Any:
        return self.registry.call(
            "get_organization", call.path["organization_id"], call.actor.to_dict()
        )

    @api(
        "PATCH",
        "/organizations/{organization_id}",
        summary="Change an organization",
        tag="Registry",
        roles=MANAGERS,
        body=registry_schemas.OrganizationUpdate,
        response=registry_schemas.OrganizationOut,
    )
    def update_organization(self, call: Call) -> Any:
        """Setting `parent_id` moves the organization with its whole subtree."""
        return self.registry.call(
            "update_organization", call.path["organization_id"], call.body, call.actor.to_dict()
        )

    @api(
        "POST",
        "/organizations/{organization_id}/verify",
        summary="Verify an organization",
        tag="Registry",
        roles=MANAGERS,
        body=registry_schemas.StatusChangeRequest,
        response=registry_schemas.OrganizationOut,
    )
    def verify_organization(self, call: Call) -> Any:
        return self._change_status(call, "verify")

    @api(
        "POST",
        "/organizations/{organization_id}/suspend",
        summary="Suspend an organization",
        tag="Registry",
        roles=MANAGERS,
        body=registry_schemas.StatusChangeRequest,
        response=registry_schemas.OrganizationOut,
    )
    def suspend_organization(self, call: Call) -> Any:
        """A reason is required. A suspended provider wins no contracts and is not paid."""
        return self._change_status(call, "suspend")

    @api(
        "POST",
        "/organizations/{organization_id}/reinstate",
        summary="Reinstate an organization",
        tag="Registry",
        roles=MANAGERS,
        body=registry_schemas.StatusChangeRequest,
        response=registry_schemas.OrganizationOut,
    )
    def reinstate_organization(self, call: Call) -> Any:
        return self._change_status(call, "reinstate")

    @api(
        "POST",
        "/organizations/{organization_id}/deregister",
        summary="Deregister an organization",
        tag="Registry",
        roles=MANAGERS,
        body=registry_schemas.StatusChangeRequest,
        response=registry_schemas.OrganizationOut,
    )
    def deregister_organization(self, call: Call) -> Any:
        """Final. A reason is required; an organization with active children cannot go."""
        return self._change_status(call, "deregister")

    def _change_status(self, call: Call, action: str) -> Any:
        return self.registry.call(
            "change_status", call.path["organization_id"], action, call.body, call.actor.to_dict()
        )

    @api(
        "GET",
        "/organizations/{organization_id}/history",
        summary="Status history",
        tag="Registry",
        query=PageQuery,
        response=registry_schemas.StatusChangePage,
    )
    def organization_history(self, call: Call) -> Any:
        return self.registry.call(
            "status_history", call.path["organization_id"], call.query, call.actor.to_dict()
        )

    @api(
        "GET",
        "/organizations/{organization_id}/coverage",
        summary="Coverage report",
        tag="Registry",
        response=registry_schemas.CoverageOut,
    )
    def coverage(self, call: Call) -> Any:
        """Per sector over the whole subtree: host units, how many have an active women's
        organization as a child, and the rate in percent."""
        return self.registry.call("coverage", call.path["organization_id"], call.actor.to_dict())

    # --- operations ----------------------------------------------------------------------

    @api(
        "GET",
        "/health",
        summary="Health of the gateway and each dependency",
        tag="Operations",
        roles=None,
        response=HealthOut,
    )
    def health(self, call: Call) -> Any:
        """200 when every dependency is ok, 503 (same body) when one is not."""
        checks = {
            "gateway_database": self._database_health,
            "rabbitmq": self._broker_health,
            **{name: _service_check(self, name) for name in _services(self.config)},
        }
        pool = eventlet.GreenPool(len(checks))
        results = dict(zip(checks, pool.imap(lambda check: check(), checks.values()), strict=True))
        healthy = all(result.get("status") == "ok" for result in results.values())
        return (200 if healthy else 503), {
            "status": "ok" if healthy else "degraded",
            "dependencies": results,
        }

    def _database_health(self) -> dict[str, Any]:
        try:
            with self.db.begin(write=False) as connection:
                connection.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            return {"status": "down", "error": type(exc).__name__}
        return {"status": "ok", "backend": self.db.engine.dialect.name}

    def _broker_health(self) -> dict[str, Any]:
        try:
            with kombu.Connection(self.config["AMQP_URI"], connect_timeout=2) as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
        except Exception as exc:  # noqa: BLE001 - any failure means the broker is down
            return {"status": "down", "error": type(exc).__name__}
        return {"status": "ok"}

    @api(
        "GET",
        "/openapi.json",
        summary="This API's OpenAPI 3 document",
        tag="Operations",
        roles=None,
    )
    def openapi_document(self, call: Call) -> Any:
        return openapi.document()

    @ApiEntrypoint.decorator("GET", PREFIX + "/docs")
    def docs(self, request: Any) -> Response:
        return Response(
            openapi.DOCS_PAGE.format(prefix=PREFIX), content_type="text/html; charset=utf-8"
        )

    @ApiEntrypoint.decorator("GET", PREFIX + "/docs/static/<name>")
    def docs_asset(self, request: Any, name: str) -> Response:
        asset = openapi.swagger_asset(name)
        if asset is None:
            return json_response(
                404, {"error": {"code": "NOT_FOUND", "message": name, "details": {}}}
            )
        return Response(asset[0], content_type=asset[1], headers={"Cache-Control": "max-age=86400"})

    @ApiEntrypoint.decorator("GET", "/metrics")
    def serve_metrics(self, request: Any) -> Response:
        return self.metrics()

    @timer(interval=3600)
    def purge_idempotency_keys(self) -> None:
        self.idempotency.purge()


def _services(config: dict[str, Any]) -> list[str]:
    return list(config.get("SERVICES") or ["registry"])


def _service_check(service: GatewayService, name: str) -> Any:
    def check() -> dict[str, Any]:
        client = getattr(service, name, None)
        if client is None:
            return {"status": "down", "error": "the gateway has no client for this service"}
        try:
            report = client.call("health", timeout=3)
        except Exception as exc:  # noqa: BLE001 - any failure means the service is down
            return {"status": "down", "error": getattr(exc, "message", None) or type(exc).__name__}
        return report

    return check


__all__ = ["ALL_ROLES", "GatewayService"]
