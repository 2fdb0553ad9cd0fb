"""How the kit declares its event queues, and where a message that keeps failing is parked.

Every event queue of an ``@on_event`` handler (``kit.consumer``) and every delay queue of the
retries (``kit.retry``) is declared with the arguments made here: a quorum queue, dead-lettered
at least once into ``<queue>.dead`` through the ``jinguo.dead-letters`` exchange, with a
delivery limit on event queues. Showing and replaying what was parked is ``kit.deadletters``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import amqp.exceptions
import kombu

log = logging.getLogger(__name__)

DEAD_LETTER_EXCHANGE = "jinguo.dead-letters"
DEFAULT_DELIVERY_LIMIT = 20


def dead_letter_queue(queue_name: str) -> str:
    return f"{queue_name}.dead"


#: quorum queues dead-letter at most once unless told otherwise: a message dead-lettered while
#: its target is unavailable would be dropped. ``at-least-once`` keeps it in the source queue
#: until the target confirmed it; the broker requires ``reject-publish`` overflow for that.
DEFAULT_DEAD_LETTER_STRATEGY = "at-least-once"


def dead_lettering_arguments(config: dict[str, Any]) -> dict[str, Any]:
    """Queue type and dead-letter strategy shared by event queues and delay queues.

    Config ``EVENT_QUEUE_TYPE`` (quorum, the default, or classic) and
    ``EVENT_DEAD_LETTER_STRATEGY`` (at-least-once, the default, or at-most-once for queues
    declared by an earlier version, which the broker would refuse to redeclare otherwise).
    """
    if str(config.get("EVENT_QUEUE_TYPE") or "quorum") != "quorum":
        return {}
    arguments: dict[str, Any] = {"x-queue-type": "quorum"}
    strategy = str(config.get("EVENT_DEAD_LETTER_STRATEGY") or DEFAULT_DEAD_LETTER_STRATEGY)
    if strategy == "at-least-once":
        arguments["x-dead-letter-strategy"] = "at-least-once"
        arguments["x-overflow"] = "reject-publish"
    return arguments


def queue_arguments(queue_name: str, config: dict[str, Any]) -> dict[str, Any]:
    """Arguments of an event queue: quorum, a delivery limit, dead-lettered by queue name
    (at least once)."""
    arguments: dict[str, Any] = {
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": queue_name,
        **dead_lettering_arguments(config),
    }
    if arguments.get("x-queue-type") == "quorum":
        limit = config.get("EVENT_DELIVERY_LIMIT") or DEFAULT_DELIVERY_LIMIT
        arguments["x-delivery-limit"] = int(limit)
    return arguments


def _exchange() -> kombu.Exchange:
    return kombu.Exchange(DEAD_LETTER_EXCHANGE, type="direct", durable=True)


#: how often a declaration that raced another replica's declaration of the same quorum queue is
#: tried again, and the pause before each try (seconds, growing)
DECLARE_TRIES = 5
DECLARE_PAUSE = 0.2


def declare_settled(
    connection: kombu.Connection, declare: Callable[[Any], None], *, pause: float = DECLARE_PAUSE
) -> None:
    """Run ``declare(channel)`` on a channel of its own, again on a new channel when the broker
    answers that the queue's "home node is down or inaccessible": what RabbitMQ says to the
    second of two replicas (or processes) declaring one new quorum queue at the same moment,
    while the first one's queue is still starting. Any other error is raised at once."""
    for attempt in range(1, DECLARE_TRIES + 1):
        channel = connection.channel()
        try:
            declare(channel)
            return
        except amqp.exceptions.NotFound as exc:
            if "down or inaccessible" not in str(exc) or attempt == DECLARE_TRIES:
                raise
            log.info("a queue was being declared by another process (%s); trying again", exc)
        finally:
            with contextlib.suppress(Exception):  # a channel error closed it already
                channel.close()
        time.sleep(pause * attempt)


def declare_dead_letter_queue(connection: kombu.Connection, queue_name: str) -> None:
    """The dead-letter exchange and ``<queue>.dead`` bound to it (idempotent)."""

    def declare(channel: Any) -> None:
        exchange = _exchange()
        exchange(channel).declare()
        kombu.Queue(
            dead_letter_queue(queue_name), exchange=exchange, routing_key=queue_name, durable=True
        )(channel).declare()

    declare_settled(connection, declare)
