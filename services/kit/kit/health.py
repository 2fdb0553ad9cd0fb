"""What a service reports about itself to ``/health``: its database, its outbox, and whether it
consumes every queue it listens on yet.

A service's RPC queue and its event queues are consumed by different queue consumers, which
nameko starts side by side: the RPC one can answer a health check while the event queues are
still being declared. An event published in that gap reaches no queue and is lost, so a service
reports ``starting`` — and the gateway's ``/health`` 503 — until all of them consume.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from nameko.extensions import DependencyProvider
from nameko.messaging import QueueConsumer
from werkzeug.wrappers import Response

from kit.db import DatabaseResource
from kit.outbox import outbox_status


def consuming(container: Any) -> bool:
    """Whether every queue consumer of ``container`` has declared its queues and consumes them.

    Readiness is nameko 2.14's own signal: the event a queue consumer's ``start`` waits on,
    sent once kombu reports its consumers ready."""
    consumers = [ext for ext in container.extensions if isinstance(ext, QueueConsumer)]
    return all(consumer._consumers_ready.ready() for consumer in consumers)


#: after a statement failed for want of the database, health reports it down for this long
#: without asking it again (a probe would only wait for the same timeout)
RECENT_FAILURE = 3.0


def service_health(
    resource: DatabaseResource, *, outbox: bool = True, consumers_ready: bool = True
) -> dict[str, Any]:
    """The service's report. The database is ``down`` as soon as any statement of the service
    failed for want of it (``DatabaseResource.unreachable_since``), not only when this check's
    own query fails, with since when; it is ``ok`` again once a probe answers."""
    report: dict[str, Any] = {"service": resource.service_name}
    if resource.failed_within(RECENT_FAILURE):
        report["database"] = _down(resource, resource.last_error or "unreachable")
    else:
        try:
            with resource.begin(write=False) as connection:
                connection.execute(sa.text("SELECT 1"))
            resource.mark_reachable()
            report["database"] = {"status": "ok", "backend": resource.engine.dialect.name}
            if outbox:
                report["outbox"] = outbox_status(resource)
        except sa.exc.SQLAlchemyError as exc:
            report["database"] = _down(resource, type(exc).__name__)
    report["consumers"] = "ready" if consumers_ready else "starting"
    if report["database"]["status"] != "ok":
        report["status"] = "down"
    else:
        report["status"] = "ok" if consumers_ready else "starting"
    return report


def _down(resource: DatabaseResource, error: str) -> dict[str, Any]:
    down: dict[str, Any] = {"status": "down", "error": error}
    if resource.unreachable_since is not None:
        down["down_for_seconds"] = round(time.monotonic() - resource.unreachable_since, 1)
    return down


class Health(DependencyProvider):
    """``self.<attr>()`` in a worker: the service's health report (``service_health``), with
    whether its container consumes all its queues yet."""

    def __init__(self, *, db: str = "db", outbox: bool = True) -> None:
        self.db = db
        self.outbox = outbox

    def get_dependency(self, worker_ctx: Any) -> Callable[[], dict[str, Any]]:
        service = worker_ctx.service

        def report() -> dict[str, Any]:
            return service_health(
                getattr(service, self.db),
                outbox=self.outbox,
                consumers_ready=consuming(self.container),
            )

        return report


def health_response(report: dict[str, Any]) -> Any:
    """``/healthz`` for probes: the report as JSON, 200 when ok, 503 when not."""
    status = 200 if report.get("status") == "ok" else 503
    return Response(json.dumps(report, default=str), status=status, content_type="application/json")
