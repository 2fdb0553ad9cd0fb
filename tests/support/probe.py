"""A consumer of registry events in another service, for tests: records every application.

It uses the kit's idempotent consumer exactly as a real service would; ``applied`` has no
unique constraint on purpose, so a second application of one event would show as a second row.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from nameko.web.handlers import http

from kit import metrics
from kit.consumer import on_event
from kit.dependencies import Database
from kit.health import Health, health_response
from kit.rpc import rpc
from kit.tables import metadata as kit_metadata
from language import events

metadata = sa.MetaData()
applied = sa.Table(
    "applied",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("organization_id", sa.String(36), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)


def create_probe_tables(url: str) -> None:
    """Test-support tables only; services themselves are always migrated with Alembic."""
    from kit.db import create_engine

    engine = create_engine(url)
    kit_metadata.create_all(engine)
    metadata.create_all(engine)
    engine.dispose()


#: organizations whose events the probe refuses for now (a cause ops can fix, then replay)
blocked = sa.Table(
    "blocked", metadata, sa.Column("organization_id", sa.String(36), primary_key=True)
)

RECORD = sa.insert(applied)

#: an organization whose events the probe can never apply (tests of failure isolation)
POISON_ID = "00000000-dead-4bad-8bad-000000000000"


def _record(uow: Any, event: dict, event_type: str) -> None:
    organization_id = str(event["organization_id"])
    if organization_id == POISON_ID:
        raise RuntimeError("the probe cannot apply events about the poison organization")
    refused = uow.session.execute(
        sa.select(blocked.c.organization_id).where(blocked.c.organization_id == organization_id)
    ).first()
    if refused:
        raise RuntimeError(f"events about {organization_id} are blocked for now")
    uow.session.execute(
        RECORD,
        {
            "event_id": str(event["event_id"]),
            "event_type": event_type,
            "organization_id": str(event["organization_id"]),
            "version": event["version"],
        },
    )


class ProbeService:
    name = "probe"
    db = Database(outbox=False, catalogue=events)
    health_report = Health(outbox=False)

    @http("GET", "/healthz")
    def serve_health(self, request: Any) -> Any:
        """Ready once its event queues are consumed: the platform waits for that too."""
        return health_response(self.health_report())

    @on_event("registry", "organization_registered")
    def on_registered(self, event: dict, uow: Any) -> None:
        _record(uow, event, "organization_registered")

    @on_event("registry", "organization_verified")
    def on_verified(self, event: dict, uow: Any) -> None:
        _record(uow, event, "organization_verified")

    @on_event("registry", "organization_suspended")
    def on_suspended(self, event: dict, uow: Any) -> None:
        _record(uow, event, "organization_suspended")

    @rpc
    def duplicates(self, event_type: str) -> float:
        """How many deliveries of ``event_type`` this process recognised as already applied."""
        return metrics.EVENTS_CONSUMED.labels(self.name, event_type, "duplicate")._value.get()

    @rpc
    def applied(self) -> list[dict[str, Any]]:
        with self.db(readonly=True) as uow:
            rows = uow.session.execute(sa.select(applied).order_by(applied.c.seq)).all()
        return [dict(row._mapping) for row in rows]
