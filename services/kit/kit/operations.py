"""The entrypoints every service has for the people who run it: ``health`` over RPC (the
gateway's ``/health`` asks it), ``/healthz`` for readiness probes and ``/metrics`` for
Prometheus — written once here, mixed into each service class.

A service with business gauges of its own overrides ``refresh_metrics(uow)``; it runs in a
read-only unit of work at each scrape, and a gauge keeps its last value while the database is
away (the scrape still answers, with ``jinguo_database_up 0``).
"""

from __future__ import annotations

from typing import Any

from nameko.web.handlers import http

from kit.health import Health, health_response
from kit.metrics import Metrics
from kit.rpc import rpc


class Operations:
    db: Any
    health_report = Health()
    metrics = Metrics()

    def refresh_metrics(self, uow: Any) -> None:
        """Set the service's own gauges from the database (none by default)."""

    @rpc
    def health(self) -> dict[str, Any]:
        return self.health_report()

    @http("GET", "/healthz")
    def serve_health(self, request: Any) -> Any:
        """For readiness probes: the database answers, the outbox backlog, the queues consumed."""
        return health_response(self.health_report())

    @http("GET", "/metrics")
    def serve_metrics(self, request: Any) -> Any:
        if type(self).refresh_metrics is Operations.refresh_metrics:
            return self.metrics()  # no gauges of its own: no database read at each scrape

        def refresh() -> None:
            with self.db(readonly=True) as uow:
                self.refresh_metrics(uow)

        return self.metrics(refresh)
