"""Operations: health of every dependency, metrics, the API document and its docs page."""

from __future__ import annotations

from typing import Any

import eventlet
import kombu
import sqlalchemy as sa
from nameko.timer import timer
from werkzeug.wrappers import Response

from gateway import openapi
from gateway.http import PREFIX, PUBLIC, ApiEntrypoint, Call, api, json_response
from gateway.schemas import HealthOut
from kit.clock import utcnow


class OperationsRoutes:
    @api(
        "GET",
        "/health",
        summary="Health of the gateway and each dependency",
        tag="Operations",
        roles=PUBLIC,
        response=HealthOut,
    )
    def health(self, call: Call) -> Any:
        """200 when every dependency is ok, 503 (same body) when one is not. The report is
        kept a few seconds (`GATEWAY_HEALTH_CACHE_TTL`): `checked_at` says when it was made."""
        return self.health_cache.get(self._check_health)

    def _check_health(self) -> tuple[int, dict[str, Any]]:
        checks = {
            "gateway_database": self._database_health,
            "rabbitmq": self._broker_health,
            "gateway_consumers": self.own_queues.health,
            **{name: _service_check(self, name) for name in _services(self.config)},
        }
        pool = eventlet.GreenPool(len(checks))
        results = dict(zip(checks, pool.imap(lambda check: check(), checks.values()), strict=True))
        healthy = all(result.get("status") == "ok" for result in results.values())
        return (200 if healthy else 503), {
            "status": "ok" if healthy else "degraded",
            "checked_at": utcnow().isoformat(),
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
        roles=PUBLIC,
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


def _service_check(service: Any, name: str) -> Any:
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
