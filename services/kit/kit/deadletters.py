"""Dead letters: where an event that keeps failing goes, and how ops bring it back.

Every event queue of an ``@on_event`` handler is a quorum queue with a delivery limit. A
handler that keeps failing on one message for a permanent reason (``kit.retry.classify``)
requeues it; once the broker has delivered it ``EVENT_DELIVERY_LIMIT`` times it dead-letters it
through the ``jinguo.dead-letters`` exchange into ``<queue>.dead``, and the handler goes on
with the next. A message that kept failing for a transient reason (the database away) is
retried through delay queues (``kit.retry``) and parked here, rejected, only after
``EVENT_RETRY_HORIZON_SECONDS``. Dead-lettering is at-least-once (see
``dead_lettering_arguments``). Dead-letter queues are durable
and keep the message untouched, with the broker's ``x-death`` header saying where it came from
and why. ``jinguo_dead_letters`` counts them per queue (the DLQ alert watches it).

    jinguo-dlq services/funding/config.yaml list            # what is parked, per queue
    jinguo-dlq services/funding/config.yaml show   [--queue Q] [--limit N]
    jinguo-dlq services/funding/config.yaml replay [--queue Q] [--limit N]

``replay`` moves parked messages back onto their queue (after the cause was fixed); consumers
are idempotent, so a message that had in fact been applied changes nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import json
import sys
from datetime import UTC, datetime
from typing import Any

import kombu
import kombu.exceptions
from nameko.extensions import DependencyProvider

from kit.config import load_config
from kit.consumer import BatchEventHandler
from kit.errors import Conflict, InvalidInput, Unavailable
from kit.queues import dead_letter_queue
from kit.retry import RETRY_HEADERS, return_exchange_name

#: the most parked messages one look shows, and one replay moves
PEEK_LIMIT = 50
REPLAY_LIMIT = 10_000


def depth(connection: kombu.Connection, queue_name: str) -> int:
    """Messages parked in the dead-letter queue of ``queue_name`` (0 if it does not exist)."""
    channel = connection.channel()
    try:
        _, count, _ = channel.queue_declare(dead_letter_queue(queue_name), passive=True)
        return int(count)
    except Exception:  # noqa: BLE001 - not declared yet: nothing parked
        return 0
    finally:
        with contextlib.suppress(Exception):  # the channel may already be closed
            channel.close()


def event_queues(service_class: type) -> list[str]:
    """The queues of a service class's ``@on_event`` handlers (nameko's naming)."""
    names = []
    for method_name, member in inspect.getmembers(service_class):
        for entrypoint in getattr(member, "nameko_entrypoints", ()):
            if isinstance(entrypoint, BatchEventHandler):
                names.append(
                    f"evt-{entrypoint.source_service}-{entrypoint.event_type}"
                    f"--{service_class.name}.{method_name}"
                )
    return sorted(names)


def peek(connection: kombu.Connection, queue_name: str, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` parked messages, left where they are."""
    channel = connection.channel()
    shown, held = [], []
    try:
        queue = kombu.Queue(dead_letter_queue(queue_name))(channel)
        while len(shown) < limit:
            message = queue.get(no_ack=False)
            if message is None:
                break
            held.append(message)
            deaths = message.headers.get("x-death") or [{}]
            shown.append(
                {
                    "queue": queue_name,
                    "message_id": message.properties.get("message_id"),
                    "event_type": _event_type(message, deaths[0]),
                    "reason": deaths[0].get("reason"),
                    "deaths": deaths[0].get("count"),
                    "parked_at": _iso(deaths[0].get("time")),
                    "body": _text(message.body)[:500],
                }
            )
    finally:
        for message in held:
            message.requeue()
        channel.close()
    return shown


def _event_type(message: Any, death: dict[str, Any]) -> str | None:
    """The event's type: the routing key it was first published with (``x-death`` keeps it;
    the dead-letter exchange routes by queue name)."""
    keys = death.get("routing-keys") or []
    return str(keys[0]) if keys else message.delivery_info.get("routing_key")


def _iso(moment: Any) -> str | None:
    """The broker's ``x-death`` time (an AMQP timestamp: whole seconds, UTC) as ISO-8601."""
    if isinstance(moment, datetime):
        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if isinstance(moment, int | float):
        return datetime.fromtimestamp(moment, UTC).isoformat()
    return None


def _text(body: bytes | str) -> str:
    return body.decode("utf-8", "replace") if isinstance(body, bytes) else body


def replay(
    connection: kombu.Connection, queue_name: str, limit: int | None = None, *, exchange: str = ""
) -> int:
    """Move parked messages back onto ``queue_name``; return how many were moved.

    Through the default exchange (``jinguo-dlq``, with the broker administrator's URI), or
    through ``exchange``: the service's return exchange (``kit.retry``), which its own broker
    user may write to and which its event queues are bound to by name (the binding is made
    sure of first, so nothing taken off the dead-letter queue can go unrouted)."""
    channel = connection.channel()
    moved = 0
    try:
        if exchange:
            channel.queue_bind(queue=queue_name, exchange=exchange, routing_key=queue_name)
        producer = kombu.Producer(channel)
        queue = kombu.Queue(dead_letter_queue(queue_name))(channel)
        while limit is None or moved < limit:
            message = queue.get(no_ack=False)
            if message is None:
                break
            # a replayed message starts afresh: no broker history, no retry count or horizon
            headers = {
                k: v
                for k, v in (message.headers or {}).items()
                if not k.startswith("x-") and k not in RETRY_HEADERS
            }
            producer.publish(
                message.body,
                exchange=exchange,
                routing_key=queue_name,
                headers={**headers, "jinguo.replayed": True},
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                delivery_mode=2,
                message_id=message.properties.get("message_id"),
                retry=True,
            )
            message.ack()
            moved += 1
    finally:
        channel.close()
    return moved


class DeadLetterDesk(DependencyProvider):
    """``self.dead_letter_desk`` in a worker: what ``jinguo-dlq`` does, for this service's own
    event queues, over its own broker connection (the broker lets a service, and only it, read
    its ``.dead`` queues). ``kit.operations`` serves it over RPC to the gateway's ops pages."""

    def get_dependency(self, worker_ctx: Any) -> Desk:
        queues = sorted(
            entrypoint.queue.name
            for entrypoint in self.container.entrypoints
            if isinstance(entrypoint, BatchEventHandler)
        )
        return Desk(
            self.container.config["AMQP_URI"],
            queues,
            exchange=return_exchange_name(self.container.service_name),
        )


class Desk:
    """The dead letters of a list of event queues: counted, looked at, replayed. A queue not
    in the list is refused on ``queue``; the broker away is ``BROKER_UNAVAILABLE``."""

    def __init__(self, amqp_uri: str, queues: list[str], *, exchange: str = "") -> None:
        self.amqp_uri = amqp_uri
        self.queues = queues
        #: where replayed messages are published (see ``replay``)
        self.exchange = exchange

    @contextlib.contextmanager
    def _connection(self) -> Any:
        try:
            with kombu.Connection(self.amqp_uri, connect_timeout=5) as connection:
                connection.ensure_connection(max_retries=1, timeout=5)
                yield connection
        except (OSError, kombu.exceptions.KombuError) as exc:
            error = Unavailable(
                f"the broker did not answer ({type(exc).__name__})", dependency="rabbitmq"
            )
            error.code = "BROKER_UNAVAILABLE"
            raise error from None

    def counts(self) -> list[dict[str, Any]]:
        """Every event queue with how many messages are parked behind it."""
        if not self.queues:
            return []
        with self._connection() as connection:
            return [{"queue": queue, "parked": depth(connection, queue)} for queue in self.queues]

    def _known(self, queue: Any) -> str:
        if not isinstance(queue, str) or queue not in self.queues:
            raise InvalidInput(
                "not an event queue of this service", field="queue", rule="one_of", queue=queue
            )
        return queue

    def look(self, queue: Any, limit: Any = None) -> dict[str, Any]:
        """The first ``limit`` parked messages of ``queue``, left parked, and how many there are."""
        name = self._known(queue)
        count = _limit(limit, PEEK_LIMIT, default=20)
        with self._connection() as connection:
            parked = depth(connection, name)
            shown = peek(connection, name, count or 0) if parked else []
            return {"queue": name, "parked": parked, "messages": shown}

    def replay(self, queue: Any, limit: Any = None) -> dict[str, Any]:
        """``replay`` (at most ``limit`` messages; all when None); nothing parked is a 409."""
        name = self._known(queue)
        count = _limit(limit, REPLAY_LIMIT, default=None)
        with self._connection() as connection:
            if depth(connection, name) == 0:
                error = Conflict("nothing is parked in this queue", queue=name, parked=0)
                error.code = "NOTHING_PARKED"
                raise error
            moved = replay(connection, name, count, exchange=self.exchange)
            return {"queue": name, "replayed": moved}


def _limit(value: Any, most: int, *, default: int | None) -> int | None:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("a whole number", field="limit", rule="number")
    if not 1 <= value <= most:
        raise InvalidInput(f"from 1 to {most}", field="limit", rule="range", min=1, max=most)
    return value


def _service_class(config: dict[str, Any]) -> type:
    module = importlib.import_module(f"{config['SERVICE_PACKAGE']}.service")
    for _, member in inspect.getmembers(module, inspect.isclass):
        named = getattr(member, "name", None) == config["SERVICE_PACKAGE"]
        if member.__module__ == module.__name__ and named:
            return member
    raise SystemExit(f"no service class named {config['SERVICE_PACKAGE']!r} in {module.__name__}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Show and replay a Jinguo service's dead letters")
    parser.add_argument("config", help="the service's config.yaml")
    parser.add_argument("command", choices=("list", "show", "replay"))
    parser.add_argument("--queue", help="one event queue (default: all of the service's)")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)
    config = load_config(args.config)
    queues = [args.queue] if args.queue else event_queues(_service_class(config))
    with kombu.Connection(config["AMQP_URI"], connect_timeout=5) as connection:
        for queue_name in queues:
            if args.command == "list":
                print(f"{depth(connection, queue_name):8d}  {dead_letter_queue(queue_name)}")
            elif args.command == "show":
                for parked in peek(connection, queue_name, args.limit or 20):
                    print(json.dumps(parked, ensure_ascii=False))
            else:
                moved = replay(connection, queue_name, args.limit)
                if moved:
                    print(f"replayed {moved} message(s) onto {queue_name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
