"""Parking messages for tests of the ops pages: put an event straight into ``<queue>.dead``
with the ``x-death`` header the broker gives a message it dead-lettered."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import kombu

from kit.queues import dead_letter_queue, declare_dead_letter_queue
from language import events as catalogue

#: funding's copy of the registry: an event parked here and replayed is applied, once
FUNDING_DIRECTORY_QUEUE = "evt-registry-organization_registered--funding.directory_registered"


def park(amqp_uri: str, queue: str, bodies: list[dict[str, Any]], *, at: datetime | None = None):
    """Messages in ``<queue>.dead`` as the broker leaves them after the delivery limit."""
    parked_at = at or datetime.now(UTC).replace(microsecond=0)
    with kombu.Connection(amqp_uri) as connection:
        declare_dead_letter_queue(connection, queue)
        producer = connection.Producer()
        for body in bodies:
            producer.publish(
                json.dumps(body),
                exchange="",
                routing_key=dead_letter_queue(queue),
                content_type="application/json",
                delivery_mode=2,
                message_id=body.get("event_id"),
                headers={
                    "x-death": [
                        {
                            "reason": "delivery_limit",
                            "count": 20,
                            "queue": queue,
                            "time": parked_at,
                            "exchange": "registry.events",
                            "routing-keys": [queue.split("--")[0].split("-", 2)[-1]],
                        }
                    ]
                },
            )


def organization_registered(name: str) -> dict[str, Any]:
    """A registry event as the catalogue demands it (a new service provider)."""
    return catalogue.outgoing(
        "registry",
        "organization_registered",
        {
            "organization_id": str(uuid.uuid4()),
            "kind": "service_provider",
            "version": 1,
            "status": "registered",
            "name": name,
            "parent_id": None,
            "level": None,
            "sector": None,
            "uscc": None,
        },
    )
