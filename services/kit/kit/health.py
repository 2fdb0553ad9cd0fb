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
