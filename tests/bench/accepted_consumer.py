"""A consumer of ``milestone_accepted`` in a process of its own, for the projects benchmark.

It stands where funding will stand: ``kit.consumer.on_event`` (inbox row and effect in one
transaction, batches of up to 100 events or 5 ms) on its own SQLite database. For every event
it records when the event occurred (``occurred_at``, set by the projects domain when the
milestone is accepted) and when the handler ran (``handled_at``), so the benchmark can read
the time from acceptance to "another service knows". ``handled`` has no unique constraint on
purpose: an event applied twice would show as a second row.

Run as ``nameko run --config tests/bench/accepted_consumer.yaml
tests.bench.accepted_consumer:AcceptedConsumer`` with ``BENCH_CONSUMER_DATABASE_URL`` set and
the tables made by ``create_tables`` first.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kit.clock import utcnow
from kit.consumer import on_event
from kit.db import UnitOfWork, UTCDateTime
from kit.dependencies import Database
from kit.tables import metadata as kit_metadata
from language import events

metadata = sa.MetaData()
handled = sa.Table(
    "handled",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("milestone_id", sa.String(36), nullable=False),
    sa.Column("occurred_at", UTCDateTime(), nullable=False),
    sa.Column("handled_at", UTCDateTime(), nullable=False),
)

RECORD = sa.insert(handled)


def create_tables(url: str) -> None:
    """The inbox (kit) and ``handled``; test support only, so no Alembic."""
    from kit.db import create_engine

    engine = create_engine(url)
    kit_metadata.create_all(engine)
    metadata.create_all(engine)
    engine.dispose()


class AcceptedConsumer:
    name = "bench_accepted"
    db = Database(outbox=False, catalogue=events)

    @on_event("projects", "milestone_accepted")
    def on_milestone_accepted(self, event: dict[str, Any], uow: UnitOfWork) -> None:
        assert uow.session is not None
        uow.session.execute(
            RECORD,
            {
                "event_id": str(event["event_id"]),
                "milestone_id": str(event["milestone_id"]),
                "occurred_at": event["occurred_at"],
                "handled_at": utcnow(),
            },
        )
