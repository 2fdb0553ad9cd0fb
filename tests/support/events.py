"""Watching what a service publishes: a queue of our own bound to its events exchange."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import kombu

from language import events as catalogue


def publish_event(amqp_uri: str, source: str, event_type: str, data: dict[str, Any]) -> dict:
    """Publish an event as ``source`` would (catalogue-valid body on ``<source>.events``)."""
    body = catalogue.outgoing(source, event_type, data)
    with kombu.Connection(amqp_uri) as connection:
        exchange = kombu.Exchange(f"{source}.events", type="topic", durable=True)
        connection.Producer().publish(
            json.dumps(body),
            exchange=exchange,
            routing_key=event_type,
            content_type="application/json",
            declare=[exchange],
        )
    return body


class EventTap:
    """Binds a fresh queue to ``<service>.events`` (all routing keys, or the given ones)."""

    def __init__(self, amqp_uri: str, service: str, routing_keys: tuple[str, ...] = ("#",)) -> None:
        self.connection = kombu.Connection(amqp_uri)
        self.exchange = kombu.Exchange(f"{service}.events", type="topic", durable=True)
        self.queue_name = f"test-tap-{service}-{uuid.uuid4().hex[:8]}"
        self.channel = self.connection.channel()
        bindings = [kombu.binding(self.exchange, routing_key=key) for key in routing_keys]
        self.queue = kombu.Queue(self.queue_name, bindings=bindings, auto_delete=True)
        self.queue(self.channel).declare()
        self.messages: list[tuple[str, dict]] = []

    def collect(self, count: int, timeout: float = 10.0) -> list[tuple[str, dict]]:
        """Wait until ``count`` events arrived in total; return (routing key, body) pairs."""
        deadline = time.monotonic() + timeout
        bound = self.queue(self.channel)
        while len(self.messages) < count and time.monotonic() < deadline:
            message = bound.get(no_ack=True)
            if message is None:
                time.sleep(0.02)
                continue
            self.messages.append((message.delivery_info["routing_key"], json.loads(message.body)))
        return list(self.messages)

    def close(self) -> None:
        try:
            self.queue(self.channel).delete()
        finally:
            self.connection.release()
