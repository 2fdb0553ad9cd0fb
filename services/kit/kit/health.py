"""What a service reports about itself to ``/health``: its database and its outbox."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kit.db import DatabaseResource
from kit.outbox import outbox_status


def service_health(resource: DatabaseResource, *, outbox: bool = True) -> dict[str, Any]:
    report: dict[str, Any] = {"service": resource.service_name}
    try:
        with resource.begin(write=False) as connection:
            connection.execute(sa.text("SELECT 1"))
        report["database"] = {"status": "ok", "backend": resource.engine.dialect.name}
        if outbox:
            report["outbox"] = outbox_status(resource)
    except sa.exc.SQLAlchemyError as exc:
        report["database"] = {"status": "down", "error": type(exc).__name__}
    report["status"] = "ok" if report["database"]["status"] == "ok" else "down"
    return report


def health_response(report: dict[str, Any]) -> Any:
    """``/healthz`` for probes: the report as JSON, 200 when ok, 503 when not."""
    import json

    from werkzeug.wrappers import Response

    status = 200 if report.get("status") == "ok" else 503
    return Response(json.dumps(report, default=str), status=status, content_type="application/json")
